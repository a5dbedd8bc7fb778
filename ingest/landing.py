"""The landing folder: which files are complete enough to ingest, and where they go afterwards.

A file is taken only when it is complete (docs/operations.md, "Landing folder"):
- the writer writes under a temporary name and renames it into place (names starting with `.` or
  ending in `.part`, `.partial`, `.tmp`, `.filepart`, `.crdownload` or `.ready` are never read), or
  drops a `<name>.ready` marker next to the finished file (`landing_require_ready = true` makes the
  marker mandatory);
- and in either case its size and modification time have not changed for `landing_settle_s`.
A file that changes while it is read is neither loaded nor archived: the next run tries again.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from store import utcnow
from store.db import private_dir

READY_SUFFIX = ".ready"
TEMPORARY_SUFFIXES = (".part", ".partial", ".tmp", ".filepart", ".crdownload", ".swp", READY_SUFFIX)


@dataclass(frozen=True)
class Snapshot:
    """What identifies one version of a file on disk: size, modification time and inode."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> Snapshot:
        """The file's snapshot now (raises FileNotFoundError when it went away)."""
        info = path.stat()
        return cls(info.st_size, info.st_mtime_ns, info.st_ino)


def is_temporary(path: Path) -> bool:
    """A name a writer uses while the file is not finished (or a marker): never ingested."""
    name = path.name.lower()
    return name.startswith(".") or name.startswith("~") or name.endswith(TEMPORARY_SUFFIXES)


def marker_of(path: Path) -> Path:
    """The `.ready` marker that says `path` is finished."""
    return path.with_name(path.name + READY_SUFFIX)


def waiting_reason(path: Path, settle_s: float, require_ready: bool, now: float | None = None) -> str | None:
    """Why a landed file is not taken yet (None when it is complete)."""
    if require_ready and not marker_of(path).exists():
        return f"no {marker_of(path).name} marker yet (the writer has not said it finished)"
    try:
        first = Snapshot.of(path)
    except FileNotFoundError:
        return "the file went away"
    age = (time.time() if now is None else now) - first.mtime_ns / 1e9
    if age < settle_s:
        return f"modified {max(age, 0.0):.1f} s ago (waiting until it is {settle_s:g} s unchanged)"
    return None


def landed_files(landing_dir: Path) -> list[Path]:
    """The data files directly in the landing folder (not temporary names, markers or sub-folders)."""
    if not landing_dir.is_dir():
        return []
    return sorted(p for p in landing_dir.iterdir() if p.is_file() and not is_temporary(p))


def changed_since(path: Path, before: Snapshot) -> bool:
    """Has the file been written to, replaced or removed since `before` was taken?"""
    try:
        return Snapshot.of(path) != before
    except FileNotFoundError:
        return True


def archive(path: Path, landing_dir: Path, ok: bool) -> Path:
    """Move a file into processed/ or failed/ (dated, never overwriting), and drop its marker."""
    target_dir = landing_dir / ("processed" if ok else "failed") / utcnow().strftime("%Y-%m-%d")
    private_dir(target_dir)  # kept copies hold personal data: 0700 folders, 0600 files
    target = target_dir / path.name
    counter = 1
    while target.exists():
        target = target_dir / f"{path.stem}.{counter}{path.suffix}"
        counter += 1
    shutil.move(str(path), target)
    target.chmod(0o600)
    marker = marker_of(path)
    if marker.exists():
        os.unlink(marker)
    return target
