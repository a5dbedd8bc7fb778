"""The wheel's and mypy's package lists name every top-level package of the repository."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def top_level_packages(root: Path = REPO) -> set[str]:
    """Folders at the repository root holding an `__init__.py` (tests/ and bench/ are not packages)."""
    return {path.parent.name for path in root.glob("*/__init__.py")}


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_repository_has_the_packages_this_test_expects() -> None:
    found = top_level_packages()
    # a sanity floor: the glob must see the packages the project was specified with
    assert {"flows", "matching", "anonymize", "exports", "data", "store", "idres"} <= found
    assert "tests" not in found and "bench" not in found


def test_wheel_lists_every_top_level_package() -> None:
    listed = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert len(listed) == len(set(listed)), "a package is listed twice"
    missing, extra = top_level_packages() - set(listed), set(listed) - top_level_packages()
    assert not missing, f"add {sorted(missing)} to [tool.hatch.build.targets.wheel] packages"
    assert not extra, f"{sorted(extra)} listed for the wheel but not a package folder"


def test_mypy_checks_every_top_level_package() -> None:
    listed = _pyproject()["tool"]["mypy"]["packages"]
    missing, extra = top_level_packages() - set(listed), set(listed) - top_level_packages()
    assert not missing, f"add {sorted(missing)} to [tool.mypy] packages"
    assert not extra, f"{sorted(extra)} listed for mypy but not a package folder"


def test_the_lists_would_catch_a_new_package(tmp_path: Path) -> None:
    (tmp_path / "newpkg").mkdir()
    (tmp_path / "newpkg" / "__init__.py").write_text("")
    (tmp_path / "notes").mkdir()  # a plain folder is not a package
    assert top_level_packages(tmp_path) == {"newpkg"}
