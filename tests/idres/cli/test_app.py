"""The `idres` command tree (every command path, its help and its options) is the one in command_tree.json.

The listing was generated from the Typer app before the CLI became a package, so a moved, renamed,
lost or re-ordered command or option fails here. After a deliberate change, regenerate it with
`.venv/bin/python -m tests.idres.cli.test_app --write` and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from idres.cli.app import app

EXPECTED = Path(__file__).with_name("command_tree.json")


def _type_name(annotation: Any) -> str:
    return annotation.__qualname__ if isinstance(annotation, type) else str(annotation)


def _parameter(param: Any) -> dict[str, Any]:
    return {
        "name": param.name,
        "kind": param.param_type_name,
        "opts": list(param.opts),
        "secondary_opts": list(param.secondary_opts),
        "type": _type_name(param.type_descriptor.annotation),
        "required": param.required,
        "multiple": param.multiple,
        "default": None if callable(param.default) else json.loads(json.dumps(param.default, default=str)),
        "envvar": param.envvar,
        "is_flag": bool(getattr(param, "is_flag", False)),
        "hidden": bool(getattr(param, "hidden", False)),
        "help": getattr(param, "help", None),
    }


def command_tree(command: Any, path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every command and group under `command`, in the order `--help` lists them, with its parameters."""
    entries = [
        {
            "path": " ".join(path),
            "group": hasattr(command, "commands"),
            "no_args_is_help": bool(getattr(command, "no_args_is_help", False)),
            "help": command.help,
            "hidden": command.hidden,
            "params": [_parameter(param) for param in command.params],
        }
    ]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            entries += command_tree(sub, (*path, name))
    return entries


def current_tree() -> list[dict[str, Any]]:
    """The command tree of the `idres` app as it is now."""
    return command_tree(typer.main.get_command(app))


def test_the_command_tree_is_unchanged() -> None:
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    current = current_tree()
    assert [e["path"] for e in current] == [e["path"] for e in expected]
    for now, before in zip(current, expected, strict=True):
        assert now == before, f"idres {now['path']} changed"


def listing(tree: list[dict[str, Any]]) -> str:
    """The tree as JSON with one line per command and per parameter (diffs name what changed)."""

    def line(data: Any) -> str:
        return json.dumps(data, ensure_ascii=False)

    entries = []
    for entry in tree:
        head = line({k: v for k, v in entry.items() if k != "params"})[:-1]
        params = ",\n".join(f"  {line(param)}" for param in entry["params"])
        entries.append(f'{head}, "params": [\n{params}\n]}}' if params else f'{head}, "params": []}}')
    return "[\n" + ",\n".join(entries) + "\n]\n"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    EXPECTED.write_text(listing(current_tree()), encoding="utf-8")


def test_command_modules_never_import_the_app() -> None:
    # app.py registers them explicitly; a module importing it back would bring the import-order trap back
    import ast

    package = Path(__file__).resolve().parents[3] / "idres" / "cli"
    for module in sorted(package.glob("*.py")):
        if module.name == "app.py":
            continue
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        names = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "idres.cli"
            for alias in node.names
        }
        assert "idres.cli.app" not in imported and "app" not in names, f"{module.name} imports idres.cli.app"
