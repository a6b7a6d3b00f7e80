"""Load TOML files into pydantic models, strictly, with errors an operator can act on.

A pydantic error says *which field* is wrong but not *where in the file* it is.
Operators edit these files by hand, so every error is reported with the dotted
field path and the line number it sits on. Line numbers are recovered by a small
scan of the TOML text (tomllib keeps no positions); it understands table headers,
arrays of tables and dotted keys, which is all our files use.
"""

from __future__ import annotations

import datetime
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"^\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*="
)


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a file: where it is and what is wrong."""

    field: str
    line: int | None
    message: str
    origin: str | None = None
    """Where the value came from when not from the file (an environment variable)."""

    def __str__(self) -> str:
        where = self.origin or (f"line {self.line}" if self.line else "file")
        return f"{where}: {self.field or '<top level>'}: {self.message}"


class ConfigError(Exception):
    """A configuration or data file could not be accepted; nothing was applied."""

    def __init__(self, path: Path | str, problems: Iterable[ConfigProblem]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.path}: {len(self.problems)} problem(s)"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _split_dotted(key: str) -> list[str]:
    parts: list[str] = []
    for raw in re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s]+", key):
        parts.append(raw[1:-1] if raw[:1] in "\"'" else raw)
    return parts


def locate_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map every table and key path in a TOML text to the (1-based) line defining it.

    Array-of-tables entries get their index in the path, as pydantic reports it:
    the third ``[[events]]`` block is ``("events", 2)``.
    """
    index: dict[tuple[Any, ...], int] = {}
    counters: dict[tuple[Any, ...], int] = {}
    current: tuple[Any, ...] = ()
    in_multiline: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header:
            parts = _split_dotted(header.group(2))
            # Resolve parent array-of-tables to their current element.
            resolved: list[Any] = []
            for part in parts[:-1]:
                resolved.append(part)
                parent = tuple(resolved)
                if parent in counters:
                    resolved.append(counters[parent])
            resolved.append(parts[-1])
            base = tuple(resolved)
            if header.group(1) == "[[":
                counters[base] = counters.get(base, -1) + 1
                current = (*base, counters[base])
                index.setdefault(base, lineno)
            else:
                current = base
            index.setdefault(current, lineno)
            continue
        key = _KEY.match(line)
        if key:
            path = (*current, *_split_dotted(key.group(1)))
            index.setdefault(path, lineno)
            for quote in ('"""', "'''"):
                if line.count(quote) == 1:
                    in_multiline = quote
    return index


def line_of(index: Mapping[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of the longest prefix of ``loc`` present in the file."""
    for end in range(len(loc), 0, -1):
        found = index.get(tuple(loc[:end]))
        if found is not None:
            return found
    return None


def format_loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def problems_from_validation(
    error: ValidationError,
    index: Mapping[tuple[Any, ...], int],
    prefix: tuple[Any, ...] = (),
    origins: Mapping[tuple[Any, ...], str] | None = None,
) -> list[ConfigProblem]:
    problems = []
    for err in error.errors(include_url=False):
        # pydantic inserts tag names for discriminated unions; they are not in the file.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        full = (*prefix, *loc)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (misspelt, or not allowed here)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")  # our own checks' messages, as written
        problems.append(_problem_at(full, msg, index, origins))
    return problems


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; any failure to read or parse becomes a ConfigError.

    Nothing that goes wrong here may escape as another exception: a reload of a
    half-copied or binary file must be refused, never stop the controller.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, [ConfigProblem("", None, "file not found")]) from None
    except OSError as exc:
        raise ConfigError(path, [ConfigProblem("", None, f"cannot read: {exc}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            path,
            [
                ConfigProblem(
                    "",
                    line,
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                    "is this the right file, or is it still being written?",
                )
            ],
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        at_line = int(match.group(1)) if match else None
        raise ConfigError(path, [ConfigProblem("", at_line, f"TOML syntax: {exc}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. nesting too deep for the parser
        raise ConfigError(path, [ConfigProblem("", None, f"TOML: {exc}")]) from None
    return data, text


def json_text(data: Any) -> tuple[str, list[tuple[tuple[Any, ...], str]]]:
    """``data`` as JSON for strict validation, plus the places JSON cannot hold.

    TOML dates and times have no field to go to in any of our files; they are named
    as problems instead of being turned into text that a string field would accept.
    Non-finite floats pass through (as ``NaN``/``Infinity``) so that the field they
    land on refuses them by name.
    """
    bad: list[tuple[tuple[Any, ...], str]] = []

    def plain(value: Any, loc: tuple[Any, ...]) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v, (*loc, i)) for i, v in enumerate(value)]
        if isinstance(value, datetime.date | datetime.time):
            bad.append((loc, "a date or time is not a valid value here"))
            return None
        return value

    return json.dumps(plain(data, ())), bad


def load_model(model: type[M], path: Path | str, **context: Any) -> M:
    """Read ``path`` and validate it as ``model``; raise ConfigError naming field and line."""
    path = Path(path)
    data, text = read_toml(path)
    return validate_data(model, data, text, path, **context)


def validate_data(
    model: type[M],
    data: Mapping[str, Any],
    text: str,
    path: Path,
    origins: Mapping[tuple[Any, ...], str] | None = None,
    prefix: tuple[Any, ...] = (),
    **context: Any,
) -> M:
    """Validate file data strictly (see ``controller.config.strictmodel``).

    ``origins`` maps setting paths that came from elsewhere (environment variables)
    to their name, so an error about them names the variable, not a line. ``prefix``
    is where ``data`` sits in the file when it is one table of it.
    """
    index = locate_lines(text)
    encoded, bad = json_text(data)
    if bad:
        raise ConfigError(
            path, [_problem_at((*prefix, *loc), msg, index, origins) for loc, msg in bad]
        )
    try:
        return model.model_validate_json(encoded, strict=True, context={"path": path, **context})
    except ValidationError as exc:
        raise ConfigError(path, problems_from_validation(exc, index, prefix, origins)) from None


def origin_of(origins: Mapping[tuple[Any, ...], str] | None, loc: tuple[Any, ...]) -> str | None:
    """The variable that set ``loc`` or a table above it, if one did."""
    if not origins:
        return None
    for end in range(len(loc), 0, -1):
        found = origins.get(tuple(loc[:end]))
        if found is not None:
            return found
    return None


def _problem_at(
    loc: tuple[Any, ...],
    msg: str,
    index: Mapping[tuple[Any, ...], int],
    origins: Mapping[tuple[Any, ...], str] | None,
) -> ConfigProblem:
    origin = origin_of(origins, loc)
    line = None if origin else line_of(index, loc)
    return ConfigProblem(format_loc(loc), line, msg, origin)
