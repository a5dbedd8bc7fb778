"""The layer contract: `make lint` runs import-linter, whose contracts are the table in docs/architecture.md.

The table's "may import" column is the contract; pyproject.toml's `[tool.importlinter]` spells it out
as one forbidden contract per package (everything the row does not allow). These tests keep the two
equal, and show that a deliberate violation makes lint-imports (and so `make lint`) fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "docs" / "architecture.md"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def top_level_packages() -> set[str]:
    """Folders at the repository root holding an `__init__.py`."""
    return {path.parent.name for path in REPO.glob("*/__init__.py")}


def _section(text: str) -> str:
    return text.split("\n## Packages", 1)[1].split("\n## ", 1)[0]


def architecture_table(text: str | None = None) -> dict[str, set[str]]:
    """package -> the project packages it may import, from the table under "## Packages" in architecture.md."""
    section = _section(ARCHITECTURE.read_text(encoding="utf-8") if text is None else text)
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    package_at, allowed_at = header.index("package"), header.index("may import")
    table: dict[str, set[str]] = {}
    for row in rows[2:]:  # past the header and its |---| line
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        (package,) = re.findall(r"`([a-z_]+)/?`", cells[package_at])
        table[package] = {name.rstrip("/") for name in re.findall(r"`([a-z_]+/?)`", cells[allowed_at])}
    return table


def known_exceptions(text: str | None = None) -> set[str]:
    """The imports the table does not allow but the code still has, listed under the table (`a -> b`)."""
    section = _section(ARCHITECTURE.read_text(encoding="utf-8") if text is None else text)
    return set(re.findall(r"`([a-z_.*]+ -> [a-z_.*]+)`", section))


def expected_contracts() -> list[dict[str, Any]]:
    """The `[[tool.importlinter.contracts]]` the table stands for, in table order."""
    packages = top_level_packages()
    contracts: list[dict[str, Any]] = []
    for package, allowed in architecture_table().items():
        contract: dict[str, Any] = {
            "id": f"{package}-layer",
            "name": f"{package} imports only what docs/architecture.md allows",
            "type": "forbidden",
            "source_modules": [package],
            "forbidden_modules": sorted(packages - allowed - {package}),
            "allow_indirect_imports": True,  # the table lists direct imports
        }
        ignored = sorted(e for e in known_exceptions() if e.split(".")[0] == package)
        if ignored:
            contract["ignore_imports"] = ignored
        if contract["forbidden_modules"]:
            contracts.append(contract)
    contracts.append(
        {
            "id": "pure-core",
            "name": "the pure core takes and returns polars frames: no duckdb, no prefect",
            "type": "forbidden",
            "source_modules": ["anonymize", "domain", "matching"],
            "forbidden_modules": ["duckdb", "prefect"],  # not even through another package
        }
    )
    contracts.append(
        {
            "id": "sql-in-store",
            "name": "all SQL goes through store/: nothing else imports duckdb",
            "type": "forbidden",
            "source_modules": sorted(packages - {"store"}),
            "forbidden_modules": ["duckdb"],
            "allow_indirect_imports": True,  # through store/ is the point
        }
    )
    return contracts


def _importlinter() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


def test_the_table_names_every_package_and_only_packages() -> None:
    table = architecture_table()
    assert set(table) == top_level_packages()
    for package, allowed in table.items():
        assert allowed <= top_level_packages(), (
            f"{package}: {allowed - top_level_packages()} are not packages"
        )
        assert package not in allowed


def test_the_table_is_layered_without_cycles() -> None:
    table = architecture_table()
    above: set[str] = set()
    for package, allowed in table.items():  # read top to bottom, a row imports only rows above it
        assert allowed <= above, (
            f"{package} may import {sorted(allowed - above)}, listed below it (or a cycle)"
        )
        above.add(package)
    assert next(iter(table)) == "domain" and not table["domain"]  # the leaf: data model, errors, settings


def test_import_linter_checks_what_the_table_says() -> None:
    config = _importlinter()
    assert set(config["root_packages"]) == top_level_packages()
    assert config.get("include_external_packages") is True  # for the duckdb and prefect contracts
    assert config["contracts"] == expected_contracts(), (
        "pyproject's [tool.importlinter] contracts differ from docs/architecture.md; regenerate them with "
        "`python tests/project/test_layers.py` and paste the output"
    )


def test_make_lint_runs_the_contracts() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "lint-imports" in lint


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the packages under `root` (only they are on the path, not the source tree)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def copy_of_the_packages(tmp_path: Path) -> Path:
    """The repository's packages and pyproject.toml, copied into tmp_path."""
    for package in top_level_packages():
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def render_contracts() -> str:
    """The `[tool.importlinter]` section for pyproject.toml, from the table."""
    lines = [
        "[tool.importlinter]",
        f"root_packages = {json.dumps(sorted(top_level_packages()))}",
        "include_external_packages = true",
        "",
    ]
    for contract in expected_contracts():
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in contract.items()]
        lines.append("")
    return "\n".join(lines)


def test_lint_fails_on_a_deliberate_layer_violation(copy_of_the_packages: Path) -> None:
    root = copy_of_the_packages
    clean = _lint(root)
    assert clean.returncode == 0, clean.stdout + clean.stderr  # the copy as it is keeps the contracts

    (root / "domain" / "shortcut.py").write_text('"""A leaf reaching up."""\n\nfrom store import db\n')
    (root / "matching" / "sql.py").write_text('"""Pure core reaching for SQL."""\n\nimport duckdb\n')
    broken = _lint(root)
    assert broken.returncode != 0
    assert "domain.shortcut -> store.db" in broken.stdout, broken.stdout
    assert "matching.sql -> duckdb" in broken.stdout, broken.stdout
    assert "BROKEN" in broken.stdout


if __name__ == "__main__":
    print(render_contracts())
