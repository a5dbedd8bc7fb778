"""The copies of ingested files idres keeps in `<landing>/processed/` and `<landing>/failed/`.

Two rules keep them from outliving an erasure:
- an erasure removes the erased person's rows from every kept copy (a CSV record, a JSON Lines
  line, a JSON array element or a Parquet row holding one of its spellings); the rest of the file
  stays byte for byte (text) or row for row (Parquet), and a copy left without rows is deleted;
- copies older than `ComplianceSettings.landing_copies_retention_days` (default 30) are deleted by
  every anonymize run and every ingest of the landing folder; `None` keeps them until an erasure.
Rewritten copies are written to a temporary file (0600), fsynced and renamed over the original.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from store.db import fsync_dir

KEPT_FOLDERS = ("processed", "failed")


def kept_copies(landing_dir: Path | None) -> list[Path]:
    """Every file under the processed/ and failed/ folders of the landing folder."""
    if landing_dir is None:
        return []
    found: list[Path] = []
    for name in KEPT_FOLDERS:
        folder = landing_dir / name
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*") if p.is_file())
    return found


def purge_expired(
    landing_dir: Path | None, retention_days: int | None, now: float | None = None
) -> list[Path]:
    """Delete kept copies older than the retention period; returns the deleted paths."""
    if landing_dir is None or retention_days is None:
        return []
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    deleted = []
    for path in kept_copies(landing_dir):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            deleted.append(path)
    return deleted


def _matches(text: str, literals: Sequence[str], patterns: Sequence[re.Pattern[str]]) -> bool:
    lowered = text.lower()
    return any(literal in lowered for literal in literals) or any(p.search(lowered) for p in patterns)


def csv_records(text: str) -> Iterator[str]:
    """The records of a CSV text with their line ends, quoted newlines kept inside their record."""
    start, quotes = 0, 0
    for index, char in enumerate(text):
        if char == '"':
            quotes += 1
        elif char == "\n" and quotes % 2 == 0:
            yield text[start : index + 1]
            start, quotes = index + 1, 0
    if start < len(text):
        yield text[start:]


def _filter_text(path: Path, literals: Sequence[str], patterns: Sequence[re.Pattern[str]]) -> bytes | None:
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="surrogateescape")
    if not _matches(text, literals, patterns):
        return None
    stripped = text.lstrip("\ufeff \t\r\n")
    if path.suffix.lower() == ".json" and stripped.startswith("["):
        try:
            rows = json.loads(stripped)
        except ValueError:
            rows = None
        if isinstance(rows, list):
            kept = [
                row for row in rows if not _matches(json.dumps(row, ensure_ascii=False), literals, patterns)
            ]
            kept = [row for row in kept if not _matches(json.dumps(row), literals, patterns)]
            return json.dumps(kept, ensure_ascii=False, indent=1).encode("utf-8") if kept else b""
    if path.suffix.lower() == ".csv":
        records = list(csv_records(text))
        header, body = records[:1], records[1:]
        kept_records = header + [r for r in body if not _matches(r, literals, patterns)]
        if len(kept_records) <= 1:
            return b""
        return "".join(kept_records).encode("utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    kept_lines = [line for line in lines if not _matches(line, literals, patterns)]
    return "".join(kept_lines).encode("utf-8", errors="surrogateescape") if kept_lines else b""


def _filter_parquet(path: Path, literals: Sequence[str], patterns: Sequence[re.Pattern[str]]) -> bytes | None:
    frame = pl.read_parquet(path)
    as_text = frame.select(pl.concat_str([pl.col(c).cast(pl.String) for c in frame.columns], separator="\x1f",
                                         ignore_nulls=True).str.to_lowercase().alias("row"))["row"]  # fmt: skip
    hit = pl.Series([_matches(row or "", literals, patterns) for row in as_text.to_list()], dtype=pl.Boolean)
    if not hit.any():
        return None
    kept = frame.filter(~hit)
    if kept.height == 0:
        return b""
    buffer = io.BytesIO()
    kept.write_parquet(buffer)
    return buffer.getvalue()


def _replace(path: Path, data: bytes) -> None:
    if not data:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_name(f".{path.name}.erasure-tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    fsync_dir(path.parent)


def erase_rows(landing_dir: Path | None, literals: Sequence[str], phone_patterns: Sequence[str]) -> int:
    """Remove the rows holding any of the spellings from every kept copy; returns the files changed."""
    patterns = [re.compile(p) for p in phone_patterns]
    literal_forms = sorted({literal.lower() for literal in literals})
    changed = 0
    for path in kept_copies(landing_dir):
        if path.name.endswith(".erasure-tmp"):
            path.unlink(missing_ok=True)  # left by a run killed while rewriting this copy
            continue
        head = path.read_bytes()[:4]
        filtered = (
            _filter_parquet(path, literal_forms, patterns)
            if head == b"PAR1"
            else _filter_text(path, literal_forms, patterns)
        )
        if filtered is not None:
            _replace(path, filtered)
            changed += 1
    return changed
