"""Readable settings errors: the file or environment variable, the key, the nearest valid key.

Used by `domain.settings.load_settings`; it only looks at the models (walks the model tree to name
the valid keys of a section).
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError


def _unwrap(annotation: Any) -> Any:
    """The model (or dict/list of models) inside Optional[...] / X | None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def section_model(root: type[BaseModel], path: Sequence[str | int]) -> type[BaseModel] | None:
    """The settings model at `path` below `root` (dict keys and list indexes skipped), None if not a model."""
    current: Any = root
    parts = list(path)
    while parts:
        part = parts.pop(0)
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        if origin is dict:
            current = typing.get_args(current)[1]
        elif origin is list:
            current = typing.get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    origin = typing.get_origin(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def all_sections(
    root: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], type[BaseModel]]]:
    yield prefix, root
    for name, field in root.model_fields.items():
        inner = _unwrap(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from all_sections(inner, (*prefix, name))


def nearest(word: str, choices: Sequence[str]) -> str | None:
    """The closest spelling among `choices` (None when nothing is close)."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def section_name(path: Sequence[str | int]) -> str:
    """`[match]`, `[ingest.channels.viber]`, or `the top level`."""
    return f"[{'.'.join(str(p) for p in path)}]" if path else "the top level"


def unknown_key_message(root: type[BaseModel], path: Sequence[str | int], key: str) -> str:
    """'unknown key ... in [section]; did you mean ...?' with the valid keys of that section."""
    model = section_model(root, path)
    valid = sorted(model.model_fields) if model is not None else []
    message = f"unknown key {key!r} in {section_name(path)}"
    guess = nearest(key, valid)
    if guess is not None:
        message += f"; did you mean {guess!r}?"
    else:
        elsewhere = [p for p, m in all_sections(root) if key in m.model_fields and list(p) != list(path)]
        if elsewhere:
            message += f"; {key!r} belongs in {section_name(elsewhere[0])}"
    if valid:
        message += f" (valid keys: {', '.join(valid)})"
    return message


def env_name(path: Sequence[str | int]) -> str:
    """The environment variable that sets `path`: IDRES_MATCH__REVIEW_THRESHOLD."""
    return "IDRES_" + "__".join(str(p).upper() for p in path)


def _env_source(loc: Sequence[str | int]) -> str:
    """The IDRES_ variable that set `loc`: itself, or a section given as JSON (IDRES_MATCH='{...}')."""
    from domain.settings import environment_values  # settings.py is the one reader of the environment

    names = set(environment_values())
    for i in range(len(loc), 0, -1):
        if env_name(loc[:i]) in names:
            return env_name(loc[:i])
    return env_name(loc)


def in_file(data: Any, path: Sequence[str | int]) -> bool:
    for part in path:
        if isinstance(data, dict) and str(part) in data:
            data = data[str(part)]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return False
    return True


def read_file(path: Path | None) -> dict[str, Any]:
    """The configuration file as a dict ({} when there is none or it cannot be parsed)."""
    if path is None or not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return {}


def explain_validation_error(error: ValidationError, file: Path | None) -> str:
    """One line per problem: where it was set (file or environment variable), the key, what is wrong."""
    from domain.settings import Settings

    data = read_file(file)
    lines = []
    for item in error.errors():
        loc = [p for p in item["loc"] if p != "__root__"]
        where = f"{file}" if file is not None and in_file(data, loc) else None
        if where is None:
            where = f"environment variable {_env_source(loc)}" if loc else "settings"
        if item["type"] == "extra_forbidden":
            lines.append(f"{where}: {unknown_key_message(Settings, loc[:-1], str(loc[-1]))}")
            continue
        key = ".".join(str(p) for p in loc)
        message = str(item["msg"]).removeprefix("Value error, ")
        shown = item.get("input")
        value = f" (got {shown!r})" if isinstance(shown, str | int | float | bool) else ""
        lines.append(f"{where}: {key}: {message}{value}" if key else f"{where}: {message}")
    return "bad configuration:\n  " + "\n  ".join(lines)
