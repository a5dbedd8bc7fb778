"""A Prefect database migrated once at `make setup`, copied into each new Prefect home the warm server starts in.

A Prefect server started on a home without a database creates `<PREFECT_HOME>/prefect.db` and runs
every migration: the largest single cost of a cold command (`prefect server database upgrade -y`
on an empty home: 19 s wall on a quiet machine; the server's start to first answer is 15.3 s CPU
with a fresh home, 7.0 s with the database already migrated). The migrated file is the same for
every home, so `make setup` makes it once per Prefect version (`<venv>/idres-prefect-<version>.db`,
`python -m flows.prefect_template`) and the warm server copies it into a home that has no
database yet and no database setting of its own. Without the template, the server migrates as before.

Only the standard library is imported here: the warm-server supervisor imports it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from domain.environment import UnreadablePrefectConfig, configured_database

DATABASE_FILE = "prefect.db"  # Prefect's default database: sqlite+aiosqlite:///<PREFECT_HOME>/prefect.db


def template_path(version: str | None = None) -> Path | None:
    """Where the migrated database of the installed Prefect (or of `version`) is kept; None without Prefect."""
    if version is None:
        try:
            version = importlib.metadata.version("prefect")
        except importlib.metadata.PackageNotFoundError:
            return None
    return Path(sys.prefix) / f"idres-prefect-{version}.db"


def build(path: Path) -> bool:
    """Migrate a new database with the installed Prefect into `path`, unless it is there; True when built now."""
    if path.exists():
        return False
    with tempfile.TemporaryDirectory(prefix="idres-prefect-template-") as scratch:
        folder = Path(scratch)
        database = folder / DATABASE_FILE
        # only this scratch home: no profile, prefect.toml or database variable of the user's applies
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=str(folder),
            PREFECT_PROFILES_PATH=str(folder / "profiles.toml"),
            PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{database}",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        subprocess.run(
            [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            check=True,
        )
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        # SQLite's backup: one self-contained file (nothing left in a -wal file beside it)
        with sqlite3.connect(database) as source, sqlite3.connect(partial) as target:
            source.backup(target)
        source.close()
        target.close()
        _check(partial)
        partial.replace(path)  # atomic: a warm server sees no template or a whole one
    return True


def _check(path: Path) -> None:
    """Raise unless `path` is a migrated Prefect database (Alembic recorded a revision)."""
    with sqlite3.connect(path) as connection:
        revisions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    connection.close()
    if not revisions:
        raise RuntimeError(f"{path}: the Prefect migrations recorded no revision")


def seed_home(
    home: Path,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    template: Path | None = None,
) -> bool:
    """Copy the template into `home` when a server would create a new database there; True when copied.

    Only when the template exists, `home` has no database yet and no database setting moves it
    (`configured_database`, with `environ` and `cwd`: the server's). Otherwise nothing happens and
    the server migrates, or uses, its database as it always did.
    """
    template = template or template_path()
    target = Path(home) / DATABASE_FILE
    if template is None or not template.is_file() or target.exists():
        return False
    try:
        if configured_database(environ, cwd) is not None:
            return False
    except UnreadablePrefectConfig:
        return False  # the server says what is wrong with the file
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{DATABASE_FILE}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(template, partial)
        partial.replace(target)  # atomic: the server opens no half-copied database
    finally:
        partial.unlink(missing_ok=True)
    return True


def main() -> int:
    """`python -m flows.prefect_template`: make the installed Prefect's template if it is missing (make setup)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    path = template_path()
    if path is None:
        print("Prefect is not installed: no database template", file=sys.stderr)
        return 0
    if build(path):
        print(f"made the migrated Prefect database template {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
