"""Explaining configuration: where each value came from, and the settings as TOML.

`domain/settings.py` defines the models and `domain/config_errors.py` explains their errors; this
module compares the effective settings with the file and the `IDRES_*` environment to say whether a
value is a default, from the file or from the environment. What a match run records (the [match]
section merged with its defaults) is `matching/run_config.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from domain.config_errors import env_name, in_file, read_file, section_model

DEFAULT, FILE, ENVIRONMENT, COMMAND_LINE = "default", "file", "environment", "command line"


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
        elif in_file(data, path):
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
        from domain.settings import Settings

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
