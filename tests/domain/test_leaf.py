"""domain/ is the leaf every layer may import: it imports nothing of the project."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {
    path.name for path in ROOT.iterdir() if path.is_dir() and (path / "__init__.py").is_file()
} | {"tests", "bench"}


def _imported_top_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_imports_no_other_project_package() -> None:
    assert {"domain", "store", "matching", "idres"} <= PROJECT_PACKAGES  # the scan sees the packages
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_top_names(path) & (PROJECT_PACKAGES - {"domain"}))
        for path in sorted((ROOT / "domain").glob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_domain_loads_no_other_project_module() -> None:
    # lazy imports inside functions count too: load every domain module and read the loaded modules
    code = (
        "import sys, domain.columns, domain.errors, domain.statuses, domain.settings, domain.config_errors\n"
        "domain.settings.Settings(store='x.duckdb')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(eval(result.stdout))
    assert "domain" in loaded
    assert loaded & (PROJECT_PACKAGES - {"domain"}) == set()
