"""What a CSV export looks like before it is parsed: delimiter, byte-order mark and line endings.

Excel in many locales saves `;`-separated files with a UTF-8 BOM and CRLF line endings; reading
them with `,` gives one column named `channel;external_id;...` and contradictory errors. The
delimiter is the candidate that splits the first lines into the same number (more than one) of
fields; a one-column file is read with `,`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = (",", ";", "\t", "|")
_SAMPLE_BYTES = 64 * 1024
_SAMPLE_LINES = 20
_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


@dataclass(frozen=True)
class CsvDialect:
    """The detected delimiter, whether the file starts with a UTF-8 BOM, and its line endings."""

    delimiter: str = ","
    bom: bool = False
    line_ending: str = "LF"  # LF | CRLF | CR

    def describe(self) -> str:
        """`delimiter ';', UTF-8 BOM, CRLF line endings`, for the ingest report."""
        parts = [f"delimiter {_NAMES.get(self.delimiter, repr(self.delimiter))}"]
        if self.bom:
            parts.append("UTF-8 BOM")
        parts.append(f"{self.line_ending} line endings")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, stored with the batch."""
        return {"delimiter": self.delimiter, "bom": self.bom, "line_ending": self.line_ending}


def sniff_csv(path: Path) -> CsvDialect:
    """Detect the dialect from the first lines of the file."""
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    bom = head.startswith(b"\xef\xbb\xbf")
    text = head[3:].decode("utf-8", errors="replace") if bom else head.decode("utf-8", errors="replace")
    if "\r\n" in text:
        line_ending = "CRLF"
    elif "\r" in text:
        line_ending = "CR"
    else:
        line_ending = "LF"
    if len(head) == _SAMPLE_BYTES:  # the last line of the sample may be cut short
        text = text[: max(text.rfind("\n"), 0)]
    return CsvDialect(_delimiter(text), bom, line_ending)


def _delimiter(text: str) -> str:
    best, best_fields = ",", 1
    for candidate in CANDIDATES:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=candidate)
        try:
            counts = [len(record) for _, record in zip(range(_SAMPLE_LINES), reader, strict=False) if record]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = all(count == counts[0] for count in counts)
        if consistent and counts[0] > best_fields:
            best, best_fields = candidate, counts[0]
    return best
