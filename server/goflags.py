"""Go's ``flag`` package, as etcd's command line uses it, and Go's number, bool and duration syntax.

etcd parses ``os.Args`` with Go's standard ``flag`` package: ``-flag`` and ``--flag`` are the same,
a value follows as ``=value`` or as the next argument, a boolean flag takes no next argument
(``--flag`` is true, ``--flag=false`` is false; ``--flag false`` leaves ``false`` as a stray argument),
names are matched exactly (no prefixes), a later occurrence wins, and parsing stops at ``--`` or at
the first argument that is not a flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from . import etcd_messages as msg


class FlagSyntaxError(Exception):
    """The command line cannot be parsed (etcd exits with status 2)."""


class GoValueError(ValueError):
    """A flag value Go would not accept; ``str()`` is Go's error text ("parse error", ...)."""


@dataclass
class ParsedArgs:
    #: flag name -> converted value, last occurrence wins
    values: dict[str, str] = field(default_factory=dict)
    #: arguments left after the flags (etcd refuses any)
    rest: list[str] = field(default_factory=list)
    help: bool = False


def parse_argv(argv: list[str], known: dict[str, bool],
               convert: Callable[[str, str], Any]) -> ParsedArgs:
    """Parse ``argv`` as Go's ``FlagSet.Parse`` does. ``known`` maps each flag name to whether it
    is boolean; ``convert(name, raw)`` is the flag's ``Set`` (raising GoValueError), called in
    command-line order so that the first bad argument is the one reported, as in Go."""
    parsed = ParsedArgs()
    args = list(argv)
    while args:
        arg = args[0]
        if len(arg) < 2 or arg[0] != "-":
            break
        dashes = 2 if arg[1] == "-" else 1
        if dashes == 2 and len(arg) == 2:
            args.pop(0)
            break
        name = arg[dashes:]
        if not name or name[0] in "-=":
            raise FlagSyntaxError(msg.FLAG_BAD_SYNTAX.format(arg=arg))
        args.pop(0)
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name not in known:
            if name in ("h", "help"):
                parsed.help = True
                continue
            raise FlagSyntaxError(msg.FLAG_NOT_DEFINED.format(name=name))
        if known[name]:
            if value is None:
                value = "true"
            template = msg.FLAG_INVALID_BOOLEAN
        else:
            if value is None:
                if not args:
                    raise FlagSyntaxError(msg.FLAG_NEEDS_ARGUMENT.format(name=name))
                value = args.pop(0)
            template = msg.FLAG_INVALID_VALUE
        try:
            parsed.values[name] = convert(name, value)
        except GoValueError as exc:
            raise FlagSyntaxError(template.format(value=value, name=name, error=exc)) from None
    parsed.rest = args
    return parsed


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(value: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise GoValueError(msg.PARSE_ERROR)


_GO_INT = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*)")


def parse_int(value: str, bits: int = 64, unsigned: bool = False) -> int:
    """Go's ``strconv.ParseInt(s, 0, bits)`` / ``ParseUint`` as the flag package calls them:
    decimal, ``0x``, ``0o``/leading ``0`` (octal), ``0b``, with underscores between digits."""
    if not _GO_INT.fullmatch(value) or (unsigned and value[0] in "+-") or "__" in value \
            or value.endswith("_"):
        raise GoValueError(msg.PARSE_ERROR)
    body = value.lstrip("+-")
    sign = -1 if value.startswith("-") else 1
    digits = body.replace("_", "")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXbBoO":
        number = int(digits, 8)
    else:
        number = int(digits, 0)
    number *= sign
    low, high = (0, (1 << bits) - 1) if unsigned else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    if not low <= number <= high:
        raise GoValueError(msg.OUT_OF_RANGE)
    return number


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: str) -> float:
    """Go's ``time.ParseDuration`` ("100ms", "1m30s", "-2h", "0"), in seconds."""
    body = value[1:] if value[:1] in "+-" else value
    sign = -1.0 if value.startswith("-") else 1.0
    if body == "0":
        return 0.0
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise GoValueError(msg.PARSE_ERROR)
    return sign * sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def go_duration_error(value: str) -> str:
    """The error Go's ``time.ParseDuration`` gives for a value it refuses."""
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    body = value[1:] if value[:1] in "+-" else value
    if body == "":
        return f"time: invalid duration {quoted}"
    i = 0
    while i < len(body):
        start = i
        while i < len(body) and body[i].isdigit():
            i += 1
        whole = i > start
        fraction = False
        if i < len(body) and body[i] == ".":
            i += 1
            fraction_start = i
            while i < len(body) and body[i].isdigit():
                i += 1
            fraction = i > fraction_start
        if not whole and not fraction:
            return f"time: invalid duration {quoted}"
        unit_start = i
        while i < len(body) and not (body[i].isdigit() or body[i] == "."):
            i += 1
        unit = body[unit_start:i]
        if not unit:
            return f"time: missing unit in duration {quoted}"
        if unit not in _DURATION_UNITS:
            return f'time: unknown unit "{unit}" in duration {quoted}'
    return f"time: invalid duration {quoted}"


def format_duration(seconds: float) -> str:
    """Seconds as Go prints a ``time.Duration`` for the common whole values ("10m0s", "100ms")."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def flag_to_env(name: str, prefix: str = "ETCD") -> str:
    """etcd's ``flags.FlagToEnv``: ``data-dir`` -> ``ETCD_DATA_DIR``."""
    return f"{prefix}_{name.replace('-', '_').upper()}"


def go_quote_list(values: list[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"
