"""A typed view of a typer command's flags, and a dry parse of an argument list.

The config file machinery is generic over the commands' own flags, so it needs
to list them. typer builds its commands on a click it vendors (``typer._click``
since 0.20): this module is the one place that reads those objects, through
click's documented ``Parameter`` attributes (``name``, ``opts``,
``secondary_opts``, ``is_flag``, ``multiple``, ``required``, ``help``) and
``Command.make_context``; tests/unit/test_cliparams.py fails when they change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import typer

__all__ = ["Flag", "ParseFailure", "command_flags", "dry_parse", "subcommands"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Flag:
    """One ``--flag`` of a command."""

    key: str  # the first long spelling without the dashes: the config key
    name: str  # the Python parameter name (what errors name)
    on: str  # "--x"
    off: str | None  # "--no-x" of a --x/--no-x pair
    is_flag: bool  # takes no value
    multiple: bool  # may be repeated
    required: bool
    help: str

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.on,) if self.off is None else (self.on, self.off)


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """Why a dry parse failed: the parameter it names (if any) and the message."""

    name: str | None
    missing: bool  # a required flag was absent
    message: str


def _attr(obj: object, name: str, kind: type[T]) -> T:
    value = getattr(obj, name, None)
    if not isinstance(value, kind):
        raise TypeError(f"typer changed: {type(obj).__name__}.{name} is not a {kind.__name__}")
    return value


def subcommands(app: typer.Typer) -> dict[str, object]:
    """The app's sub-commands by name (click's ``Group.commands``)."""
    root = typer.main.get_command(app)
    return dict(_attr(root, "commands", dict))


def command_flags(command: object) -> list[Flag]:
    """The long flags of a command, in declaration order (``--help`` left out)."""
    flags = []
    for param in _attr(command, "params", list):
        opts = [o for o in _attr(param, "opts", list) if o.startswith("--")]
        if getattr(param, "param_type_name", "option") != "option" or not opts:
            continue  # a positional argument has no flag and so no key
        name = _attr(param, "name", str)
        if name == "help":
            continue
        secondary = [o for o in _attr(param, "secondary_opts", list) if o.startswith("--")]
        flags.append(
            Flag(
                key=opts[0][2:],
                name=name,
                on=opts[0],
                off=secondary[0] if secondary else None,
                is_flag=_attr(param, "is_flag", bool),
                multiple=_attr(param, "multiple", bool),
                required=_attr(param, "required", bool),
                help=getattr(param, "help", None) or "",
            )
        )
    return flags


def dry_parse(command: object, name: str, args: Sequence[str]) -> ParseFailure | None:
    """Parse and convert ``args`` as the command would, without running it."""
    make_context = getattr(command, "make_context", None)
    if not callable(make_context):
        raise TypeError("typer changed: a command has no make_context")
    try:
        make_context(name, list(args))
    except typer.BadParameter as exc:
        param = getattr(exc, "param", None)
        pname = getattr(param, "name", None)
        missing = type(exc).__name__ == "MissingParameter"
        return ParseFailure(
            pname if isinstance(pname, str) else None, missing, exc.format_message()
        )
    except typer.TyperException as exc:  # any other usage error
        return ParseFailure(None, False, str(exc))
    return None
