"""Quarantined rows back into the pipeline: export them to a file, or retry them (stored or edited).

`export_quarantine` writes each batch's rows as JSON Lines with their own column names (plus
`_quarantine_id`, which the reader ignores), ready to fix and ingest. `retry_quarantine` runs rows
through read, normalize, validate and load again under the current configuration (after a channel
was added, say), or the edited rows of such an export: in one transaction per group, the rows load
or are quarantined again in the retry's own batch, the old quarantine rows are removed, and the
retry is audited. The retry file is kept beside the archived landing files, so nothing is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.errors import BadInput
from domain.settings import IngestSettings
from ingest.pipeline import FileReport, ProfileRebuilder, load, prepare
from ingest.read import QUARANTINE_ID_COLUMN, InputFileError, read_file
from store import Store, utcnow
from store.quarantine import delete_quarantined, rows_to_retry


class QuarantineError(BadInput, ValueError):
    """A retry or export that cannot start (no such rows, an edited file that names none)."""


@dataclass
class RetryReport:
    """One retried group (kind and preset): its new batch, and the rows it settled."""

    kind: str
    preset: str | None
    retried: list[int] = field(default_factory=list)  # quarantine ids
    file: str = ""
    report: FileReport | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "preset": self.preset,
            "rows": len(self.retried),
            "file": self.file,
            "error": self.error,
            "report": None if self.report is None else self.report.to_dict(),
        }


def export_quarantine(store: Store, out_dir: Path, actor: str, batch_id: int | None = None) -> list[Path]:
    """Write quarantined rows as JSON Lines, one file per batch (`<kind>_quarantine_batch<N>.jsonl`)."""
    rows = rows_to_retry(store, batch_id)
    if not rows:
        raise QuarantineError(
            "no quarantined rows" + (f" in batch {batch_id}" if batch_id is not None else "")
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[Path, list[str]] = {}
    for row in rows:
        path = out_dir / f"{row['kind']}_quarantine_batch{row['batch_id']}.jsonl"
        record = {QUARANTINE_ID_COLUMN: row["quarantine_id"], **json.loads(row["raw_row"])}
        files.setdefault(path, []).append(json.dumps(record, ensure_ascii=False))
    for path, lines in files.items():
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)  # raw rows are personal data
    with store.transaction():
        store.audit(
            actor,
            "quarantine_exported",
            "quarantine",
            batch_id,
            {"rows": len(rows), "files": [str(p) for p in files]},
        )
    return sorted(files)


def _edited_rows(path: Path) -> dict[int, dict[str, Any]]:
    """quarantine id -> the edited raw row, from an export file."""
    edited: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise QuarantineError(f"{path}, line {number}: not valid JSON: {error.msg}") from error
        if not isinstance(record, dict) or QUARANTINE_ID_COLUMN not in record:
            raise QuarantineError(
                f"{path}, line {number}: no {QUARANTINE_ID_COLUMN} (is it a quarantine export?)"
            )
        edited[int(record.pop(QUARANTINE_ID_COLUMN))] = record
    return edited


def retry_quarantine(
    store: Store,
    settings: IngestSettings,
    actor: str,
    *,
    batch_id: int | None = None,
    quarantine_ids: list[int] | None = None,
    edited: Path | None = None,
    rebuild_profiles: ProfileRebuilder | None = None,
) -> list[RetryReport]:
    """Retry quarantined rows (stored, or edited in an export file); audited, one transaction per group."""
    changes = _edited_rows(edited) if edited is not None else {}
    ids = sorted(changes) if edited is not None else quarantine_ids
    rows = rows_to_retry(store, batch_id, ids)
    if edited is not None:
        missing = sorted(set(changes) - {row["quarantine_id"] for row in rows})
        if missing:
            raise QuarantineError(f"{edited}: no quarantined row with id(s) {missing} (retried already?)")
    if not rows:
        raise QuarantineError("no quarantined rows to retry")
    groups: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["kind"], row["preset"]), []).append(row)
    work_dir = settings.landing_dir / "processed" / "retries" / utcnow().strftime("%Y-%m-%d")
    work_dir.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%H%M%S%f")
    results = []
    for number, ((kind, preset), members) in enumerate(sorted(groups.items(), key=lambda g: g[0][0]), 1):
        result = RetryReport(kind, preset, [row["quarantine_id"] for row in members])
        path = work_dir / f"{kind}_retry_{stamp}_{number}.jsonl"
        lines = [
            json.dumps(changes.get(row["quarantine_id"]) or json.loads(row["raw_row"]), ensure_ascii=False)
            for row in members
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result.file = str(path)
        try:
            raw = read_file(path, settings, kind=kind, preset=preset)
        except InputFileError as error:
            result.error = str(error)
            results.append(result)
            continue
        prepared = prepare(raw, settings)
        with store.transaction():
            report = load(store, prepared, rebuild_profiles)
            delete_quarantined(store, result.retried)
            store.audit(
                actor,
                "quarantine_retried",
                "ingest_batch",
                report.batch_id,
                {
                    "quarantine_ids": result.retried,
                    "from_batches": sorted({row["batch_id"] for row in members}),
                    "edited_file": None if edited is None else str(edited),
                    "rows_loaded": report.rows_loaded,
                    "rows_quarantined_again": report.rows_quarantined,
                    "file": str(path),
                },
            )
        result.report = report
        results.append(result)
    return results
