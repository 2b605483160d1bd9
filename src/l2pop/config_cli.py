"""``--config FILE`` on the long-running commands, and ``l2pop config check``.

The long-running commands (``server``, ``agent``, ``evpn``: whichever are
registered) take ``--config FILE``: :func:`expand_config` turns the file into
arguments before the command line's own (which win), so every flag of those
commands, present and future, is a key; :mod:`l2pop.configfile` does the work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from l2pop.cliparams import command_flags, subcommands
from l2pop.configfile import ConfigFile, Problem, check_file, user_flags

__all__ = ["SERVICE_COMMANDS", "describe_config", "expand_config", "register"]

# The commands that run as services and so take a config file.
SERVICE_COMMANDS = ("server", "agent", "evpn")

CONFIG_HELP = (
    "--config FILE: a TOML file whose keys are this command's flags without the "
    'leading dashes (admin-token-file = "/etc/l2pop/admin.token"; --no-X is X = false; '
    "lists as arrays); flags on the command line win. Check one with `l2pop config check`."
)


def describe_config(app: typer.Typer) -> None:
    """Say in the service commands' --help that they take --config."""
    for info in app.registered_commands:
        if info.name in SERVICE_COMMANDS and info.epilog is None:
            info.epilog = CONFIG_HELP


def _fail(name: str, path: Path, problems: list[Problem]) -> NoReturn:
    for problem in sorted(problems, key=lambda p: p.line or 0):
        typer.echo(f"l2pop {name}: {problem.render(path)}", err=True)
    raise SystemExit(2)


def _split_config(name: str, args: list[str]) -> tuple[Path | None, list[str]]:
    """(the --config path, the other arguments)."""
    path: Path | None = None
    rest: list[str] = []
    it = iter(args)
    for tok in it:
        if tok == "--config" or tok.startswith("--config="):
            value = tok.partition("=")[2] if "=" in tok else next(it, None)
            if not value or path is not None:
                typer.echo(f"l2pop {name}: give --config FILE once", err=True)
                raise SystemExit(2)
            path = Path(value)
        else:
            rest.append(tok)
    return path, rest


def expand_config(app: typer.Typer, argv: list[str]) -> list[str]:
    """``argv`` with a service command's ``--config FILE`` replaced by the file's flags
    (placed first, and dropped where the command line gives the same flag)."""
    if not argv or argv[0] not in SERVICE_COMMANDS:
        return argv
    name = argv[0]
    path, rest = _split_config(name, argv[1:])
    if path is None:
        return argv
    command = subcommands(app).get(name)
    if command is None:
        return argv
    try:
        text = path.read_text()
    except OSError as exc:
        _fail(name, path, [Problem(None, None, f"cannot read the config file: {exc.strerror}")])
    parsed = check_file(command, name, text, rest)
    if parsed.problems:
        _fail(name, path, parsed.problems)
    return [name, *parsed.argv(user_flags(command, rest)), *rest]


def _guess(commands: dict[str, object], keys: set[str]) -> list[str]:
    """The commands that know every key; else the ones that know the most."""
    known = {n: len(keys & {f.key for f in command_flags(c)}) for n, c in commands.items()}
    full = [name for name, n in known.items() if n == len(keys)]
    if full:
        return full
    best = max(known.values(), default=0)
    return [name for name, n in known.items() if n == best and best > 0]


def _report(file: Path, kind: str, parsed: ConfigFile) -> None:
    if parsed.problems:
        for problem in sorted(parsed.problems, key=lambda p: p.line or 0):
            typer.echo(problem.render(file), err=True)
        raise typer.Exit(1)
    typer.echo(f"{file}: good for l2pop {kind} ({len(parsed.args)} keys)")
    if parsed.missing:
        typer.echo(f"note: required flags the command line must give: {' '.join(parsed.missing)}")


def register(app: typer.Typer) -> None:
    config = typer.Typer(name="config", help="Config files of server, agent and evpn.")

    @config.command("check")
    def check(
        file: Annotated[Path, typer.Argument(help="The TOML file to check.")],
        kind: Annotated[
            str | None,
            typer.Option(
                "--for", help="server, agent or evpn (default: guessed from the file's keys)."
            ),
        ] = None,
    ) -> None:
        """Check a config file: every key a flag of the command, every value valid.

        Exit 0 when it is good, 1 with one line per problem (FILE:LINE: KEY: why).
        """
        import tomllib

        from l2pop.cli import build_app  # the whole CLI, as the user runs it

        commands = {n: c for n, c in subcommands(build_app()).items() if n in SERVICE_COMMANDS}
        if kind is not None and kind not in commands:
            raise typer.BadParameter(f"one of {', '.join(commands)}", param_hint="--for")
        try:
            text = file.read_text()
        except OSError as exc:
            typer.echo(f"{file}: cannot read: {exc.strerror}", err=True)
            raise typer.Exit(1) from None
        if kind is None:
            try:
                keys = set(tomllib.loads(text))
            except tomllib.TOMLDecodeError:
                keys = set()  # the check below names the syntax error
            names = _guess(commands, keys) if keys else list(commands)[:1]
            if len(names) != 1:
                why = f"could be {' or '.join(names)}" if names else "no command knows its keys"
                typer.echo(f"{file}: {why}: say which with --for", err=True)
                raise typer.Exit(1)
            kind = names[0]
        _report(file, kind, check_file(commands[kind], kind, text))

    app.add_typer(config)
