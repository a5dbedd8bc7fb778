"""Explaining configuration: readable errors (file, key, nearest valid key) and where each value came from.

`idres/settings.py` defines the models; this module only looks at them: it walks the model tree
to name the valid keys of a section, and compares the effective settings with the file and the
`IDRES_*` environment to say whether a value is a default, from the file or from the environment.
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

DEFAULT, FILE, ENVIRONMENT, COMMAND_LINE = "default", "file", "environment", "command line"


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


def _all_sections(
    root: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], type[BaseModel]]]:
    yield prefix, root
    for name, field in root.model_fields.items():
        inner = _unwrap(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _all_sections(inner, (*prefix, name))


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
        elsewhere = [p for p, m in _all_sections(root) if key in m.model_fields and list(p) != list(path)]
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
    from idres.settings import environment_values  # settings.py is the one reader of the environment

    names = set(environment_values())
    for i in range(len(loc), 0, -1):
        if env_name(loc[:i]) in names:
            return env_name(loc[:i])
    return env_name(loc)


def _in_file(data: Any, path: Sequence[str | int]) -> bool:
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
    from idres.settings import Settings

    data = read_file(file)
    lines = []
    for item in error.errors():
        loc = [p for p in item["loc"] if p != "__root__"]
        where = f"{file}" if file is not None and _in_file(data, loc) else None
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


# values never printed by `idres config show/check` nor recorded with a run
SECRET_KEYS = frozenset({"export_passphrase", "anonymization_key", "secret_key"})


def leaves(data: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) of every setting: nested tables are walked, lists and scalars are leaves."""
    if isinstance(data, dict) and (not prefix or data):
        for key, value in data.items():
            yield from leaves(value, (*prefix, str(key)))
    else:
        yield prefix, data


def value_sources(
    effective: dict[str, Any], file: Path | None, env: dict[str, str], command_line: set[str] | None = None
) -> dict[tuple[str, ...], str]:
    """Where each effective value came from: command line, environment, file or default.

    A value is from the environment when an `IDRES_` variable names it or one of its sections
    (IDRES_MATCH='{...}'); from the file when the file sets it or a table it is part of.
    """
    data = read_file(file)
    names = {name.upper() for name in env}
    out = {}
    for path, _ in leaves(effective):
        if command_line and ".".join(path) in command_line:
            out[path] = COMMAND_LINE
        elif any(env_name(path[:i]) in names for i in range(1, len(path) + 1)):
            out[path] = ENVIRONMENT
        elif _in_file(data, path):
            out[path] = FILE
        else:
            out[path] = DEFAULT
    return out


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _is_table(root: type[BaseModel], path: tuple[str, ...], value: Any) -> bool:
    """Sections (models) and maps of models (channels) are TOML tables; other maps stay inline."""
    if not isinstance(value, dict):
        return False
    if section_model(root, path) is not None:
        return True
    return bool(value) and all(section_model(root, (*path, str(k))) is not None for k in value)


def to_toml(
    data: dict[str, Any],
    sources: dict[tuple[str, ...], str] | None = None,
    root: type[BaseModel] | None = None,
) -> str:
    """Settings as TOML that reads back to the same settings (unset values and secrets as comments)."""
    if root is None:
        from idres.settings import Settings

        root = Settings
    lines: list[str] = []

    def table(node: dict[str, Any], path: tuple[str, ...]) -> None:
        assert root is not None
        tables = [(k, v) for k, v in node.items() if _is_table(root, (*path, k), v)]
        scalars = [(k, v) for k, v in node.items() if not _is_table(root, (*path, k), v)]
        if path and (scalars or not tables) and section_model(root, path) is not None:
            lines.append("")
            lines.append(f"[{'.'.join(_toml_key(p) for p in path)}]")
        for key, value in scalars:
            where = f"  # {sources[(*path, key)]}" if sources and (*path, key) in sources else ""
            if key in SECRET_KEYS and value is not None:
                lines.append(f"# {_toml_key(key)} = (set, not shown){where}")
            elif value is None:
                lines.append(f"# {_toml_key(key)} = (unset){where}")
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                lines.append(f"{_toml_key(key)} = [{where}")
                lines.extend(f"  {_toml_value(item)}," for item in value)
                lines.append("]")
            else:
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}{where}")
        for key, value in tables:
            table(value, (*path, key))

    table(data, ())
    return "\n".join(lines).lstrip("\n") + "\n"


def effective_settings(settings: Any) -> dict[str, Any]:
    """Settings as plain data with [match] comparisons and blocking rules merged with the defaults."""
    from matching.config import MatchConfig

    data: dict[str, Any] = settings.model_dump(mode="json")
    config = MatchConfig.from_settings(settings.match)
    match = data["match"]
    match["comparisons"] = [_spec(c) for c in config.comparisons]
    match["blocking_rules"] = [_spec(r) for r in config.blocking_rules]
    return data


def _spec(model: BaseModel) -> dict[str, Any]:
    """A comparison or rule as its non-default fields (plus name), the way one writes it in idres.toml."""
    data = model.model_dump(mode="json", exclude_defaults=True)
    return {"name": data.pop("name"), **data}


def run_record(settings: Any, file: Path | None, env: dict[str, str]) -> dict[str, Any]:
    """The configuration a match run records: the effective [match] (defaults merged), its id and sources."""
    import hashlib
    import json

    from matching.config import MatchConfig

    config = MatchConfig.from_settings(settings.match)
    match = config.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(match, sort_keys=True).encode()).hexdigest()[:12]
    data = {"match": settings.match.model_dump(mode="json")}
    sources = value_sources(data, file, env)
    changed = {".".join(path): source for path, source in sources.items() if source != DEFAULT}
    return {"config_id": digest, "file": str(file) if file else None, "set": changed, "match": match}
