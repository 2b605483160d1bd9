"""Config files for ``l2pop server|agent|evpn``: TOML whose keys are the command's flags.

Generic over a command's flags (:mod:`l2pop.cliparams`), so that a flag added to
a command is a config key at once, with no table to keep in step: the key of
``--admin-token-file`` is ``admin-token-file``; a ``--X/--no-X`` flag is
``X = true|false``; a flag whose help says "comma-separated" also takes a TOML
array (joined with commas), a repeatable flag takes an array (one flag each).

A file becomes command-line arguments placed before the user's own, and a flag
the user gives drops the file's value for it: the command line wins. The values
are then checked by the command's own parser, so a file is held to exactly the
rules of the flags. Errors name the file, the key's line and the key.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2pop.cliparams import Flag, command_flags, dry_parse

__all__ = ["ConfigFile", "Problem", "check_file", "key_line", "parse_file", "user_flags"]

# Several bad keys are reported at once; this bounds the parses that finds them.
MAX_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a config file."""

    line: int | None
    key: str | None
    message: str

    def render(self, path: Path) -> str:
        where = f"{path}:{self.line}" if self.line is not None else str(path)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass(slots=True)
class ConfigFile:
    """A parsed file: its arguments per key, and what was wrong with it."""

    args: dict[str, list[str]] = field(default_factory=dict)  # key -> argv tokens
    problems: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # required flags the file leaves out

    def argv(self, skip: frozenset[str] = frozenset()) -> list[str]:
        return [tok for key, toks in self.args.items() if key not in skip for tok in toks]


def key_line(text: str, key: str) -> int | None:
    """The 1-based line that sets ``key`` (``key =``, quoted key, or a ``[key]`` table)."""
    k = re.escape(key)
    pattern = re.compile(rf"""^\s*(?:{k}|"{k}"|'{k}')\s*=|^\s*\[+\s*{k}\s*[\].]""")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def _tokens(flag: Flag, value: Any) -> list[str] | str:
    """The argv tokens of one key, or why its value does not fit the flag."""
    if isinstance(value, dict):
        return "tables are not supported: a config file is one flat list of keys"
    if flag.is_flag:
        if not isinstance(value, bool):
            return "expected true or false"
        if value:
            return [flag.on]
        return [flag.off] if flag.off is not None else []
    if isinstance(value, bool):
        return f"{flag.on} takes a value, not true/false"
    if isinstance(value, list):
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            return "expected a list of strings"
        items = [str(v) for v in value]
        if flag.multiple:
            return [tok for item in items for tok in (flag.on, item)]
        if "comma-separated" in flag.help:
            return [flag.on, ",".join(items)]
        return "takes one value, not a list"
    if isinstance(value, str | int | float):
        return [flag.on, str(value)]
    return f"a {type(value).__name__} is no value for {flag.on}"


def parse_file(command: object, text: str) -> ConfigFile:
    """TOML -> arguments per key; unknown keys and unfit values become problems."""
    out = ConfigFile()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        out.problems.append(
            Problem(int(match.group(1)) if match else None, None, f"not valid TOML: {exc}")
        )
        return out
    flags = {flag.key: flag for flag in command_flags(command)}
    for key, value in data.items():
        flag = flags.get(key)
        if flag is None:
            near = difflib.get_close_matches(key, list(flags), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            out.problems.append(Problem(key_line(text, key), key, f"unknown key{hint}"))
            continue
        tokens = _tokens(flag, value)
        if isinstance(tokens, str):
            out.problems.append(Problem(key_line(text, key), key, tokens))
        else:
            out.args[key] = tokens
    out.missing = [f.on for f in flags.values() if f.required and f.key not in out.args]
    return out


def check_file(command: object, name: str, text: str, extra: Sequence[str] = ()) -> ConfigFile:
    """:func:`parse_file`, then every value through the command's own parser.

    ``extra`` are command-line arguments that come after the file's (and win).
    A value the parser rejects is a problem at its key's line; the key is then
    left out and the rest parsed again, so one run names every bad key.
    """
    out = parse_file(command, text)
    flags = {flag.name: flag for flag in command_flags(command)}
    given = user_flags(command, extra)
    for _ in range(MAX_PROBLEMS):
        failure = dry_parse(command, name, [*out.argv(given), *extra])
        if failure is None or failure.missing:
            # Flags given are processed before absent ones: a missing flag means
            # every given one was fine.
            break
        flag = flags.get(failure.name or "")
        if flag is None or flag.key not in out.args or flag.key in given:
            out.problems.append(Problem(None, None, failure.message))
            break
        del out.args[flag.key]
        out.problems.append(Problem(key_line(text, flag.key), flag.key, failure.message))
    return out


def user_flags(command: object, args: Sequence[str]) -> frozenset[str]:
    """The keys of the flags that ``args`` (a command line) give."""
    spelled = {s: f.key for f in command_flags(command) for s in f.spellings}
    return frozenset(
        spelled[tok.partition("=")[0]] for tok in args if tok.partition("=")[0] in spelled
    )
