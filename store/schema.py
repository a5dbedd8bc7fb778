"""The customer store's schema: versioned migrations and the register of personal-data columns.

Each migration lives in `store/migrations/vNNN_<name>.py` and exports `MIGRATION`. Migrations are
append-only: a released one is never edited, a change is a new module with the next number.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache


@dataclass(frozen=True)
class Migration:
    """One schema step, applied once, inside the transaction that records it.

    `personal_data` declares, per table, which columns hold personal data and of which category:
    `identifier` (an address, number or handle), `name`, `contact`, `demographic`, `free_text`
    (may contain any of the others) or `raw` (a copy of input). Anonymization erases exactly these.
    """

    version: int
    description: str
    statements: tuple[str, ...]
    personal_data: dict[str, dict[str, str]] = field(default_factory=dict)


@cache
def migrations() -> tuple[Migration, ...]:
    """All migrations in version order; versions must be unique and contiguous from 1."""
    import store.migrations as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("v"):
            module = importlib.import_module(f"store.migrations.{info.name}")
            found.append(module.MIGRATION)
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store migrations must be numbered 1..N without gaps, found {versions}")
    return tuple(found)


def personal_data() -> dict[str, dict[str, str]]:
    """The personal-data columns of every table, merged over all migrations."""
    merged: dict[str, dict[str, str]] = {}
    for migration in migrations():
        for table, columns in migration.personal_data.items():
            merged.setdefault(table, {}).update(columns)
    return merged


def schema_version() -> int:
    """The version this code expects the store to be at."""
    return migrations()[-1].version
