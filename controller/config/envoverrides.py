"""``HRC_*`` environment variables: overrides of single site-file settings.

``HRC_SETPOINTS__FWS_SUPPLY_TEMP=34`` sets ``[setpoints] fws_supply_temp``: the
prefix, then the setting's path in upper case joined by ``__``. The container and
the systemd unit set paths and the field-bus address this way.

Written here rather than left to pydantic-settings because a controller must not
guess: a variable that names no setting (a typo, a section that does not exist) is
refused by name instead of ignored, a value that does not parse is refused naming
the variable instead of raising a traceback, and values are typed by the field they
set, so the strict validation that applies to the file applies to them too. Text
fields (names, hosts, paths, choices) take the value as it is; every other field
takes JSON: ``34``, ``true``, ``[1, 2]``, ``{"name": "plant", ...}``. ``NaN`` and
``Infinity`` are refused like ``nan`` in the file.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from controller.config.tomlfile import ConfigProblem, format_loc

ENV_PREFIX = "HRC_"


@dataclass(frozen=True)
class EnvOverrides:
    """What the environment sets: values by setting path, the variable of each, and
    the variables that could not be accepted."""

    values: dict[tuple[str, ...], Any]
    origins: dict[tuple[str, ...], str]
    problems: list[ConfigProblem]


def _unwrap(annotation: Any) -> list[Any]:
    """The types an annotation admits, without Annotated metadata and None."""
    if get_origin(annotation) is Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(annotation):
            out += _unwrap(arg)
        return out
    return [] if annotation is type(None) else [annotation]


def _is_text(tp: Any) -> bool:
    if get_origin(tp) is Literal:
        return all(isinstance(v, str) for v in get_args(tp))
    return isinstance(tp, type) and issubclass(tp, str | PurePath | Enum) and tp is not bool


def _model_of(annotation: Any) -> type[BaseModel] | None:
    kinds = _unwrap(annotation)
    if len(kinds) == 1 and isinstance(kinds[0], type) and issubclass(kinds[0], BaseModel):
        return kinds[0]
    return None


def _resolve(model: type[BaseModel], parts: list[str]) -> Any | None:
    """The annotation of the field at ``parts`` below ``model``; None if there is none."""
    current: type[BaseModel] | None = model
    annotation: Any = None
    for part in parts:
        if current is None or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        current = _model_of(annotation)
    return annotation


def _decode(name: str, raw: str, annotation: Any) -> Any:
    kinds = _unwrap(annotation)
    if kinds and all(_is_text(k) for k in kinds):
        return raw

    def refuse_constant(token: str) -> Any:
        raise ValueError(f"{token} is not a finite number")

    if raw.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        refuse_constant(repr(raw))

    try:
        return json.loads(raw, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"value {raw[:40]!r} is not valid JSON ({exc.msg}); numbers, true/false, "
            "arrays and tables are given as JSON"
        ) from None


def read_env_overrides(model: type[BaseModel], environ: Mapping[str, str]) -> EnvOverrides:
    """Every ``HRC_*`` variable of ``environ``, checked against ``model``'s fields."""
    values: dict[tuple[str, ...], Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    problems: list[ConfigProblem] = []
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        origin = f"environment {name}"
        annotation = _resolve(model, parts) if all(parts) else None
        if annotation is None:
            problems.append(
                ConfigProblem(
                    format_loc(parts),
                    None,
                    "names no setting of the site file (misspelt, or not a setting)",
                    origin,
                )
            )
            continue
        try:
            values[tuple(parts)] = _decode(name, environ[name], annotation)
        except ValueError as exc:
            problems.append(ConfigProblem(format_loc(parts), None, str(exc), origin))
            continue
        origins[tuple(parts)] = origin
    return EnvOverrides(values, origins, problems)


def apply_overrides(data: dict[str, Any], values: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """A copy of the file's data with each override set at its path (tables merged)."""
    out = _copy(data)
    for path, value in values.items():
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = value
    return out


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in data.items()}
