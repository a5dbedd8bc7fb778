"""Small helpers for building test inputs."""

from __future__ import annotations

from pathlib import Path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write a small CSV with Python's csv module (quoting as a real export would)."""
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def settled(*paths: Path, age_s: float = 120.0) -> None:
    """Backdate files as if their writer had finished `age_s` ago (the landing folder waits for that)."""
    import os
    import time

    for path in paths:
        then = time.time() - age_s
        os.utime(path, (then, then))
