"""Read channel exports (CSV, JSON Lines, Parquet) into all-text frames in the canonical layout.

Bad files fail here with an `InputFileError` that names the file, the row or line, and the reason,
before anything touches the store.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from domain.columns import CANONICAL_IDENTITY_COLUMNS, CANONICAL_MESSAGE_COLUMNS
from domain.errors import BadInput
from domain.settings import IngestSettings
from ingest.dialect import CsvDialect, sniff_csv
from ingest.flatten import flatten_record, is_nested
from ingest.guards import JsonValueError, bounded_raw_row, strict_json
from ingest.presets import apply_preset, preset_named

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
KINDS = ("identities", "messages")
# the id a quarantine export puts on each row (ingest.retry); not data, so the reader drops it
QUARANTINE_ID_COLUMN = "_quarantine_id"
_MESSAGE_MARKERS = {"thread_id", "body", "author_kind"}


class InputFileError(BadInput, ValueError):
    """A file that cannot be read as a channel export; the message names file, row and reason."""

    def __init__(self, path: Path, reason: str, row: int | None = None) -> None:
        self.path = path
        self.row = row
        self.reason = reason
        where = f"{path}" if row is None else f"{path}, row {row}"
        super().__init__(f"{where}: {reason}")


@dataclass
class RawFile:
    """One file read into the canonical layout: all columns text, plus `row_number` and `extra`."""

    path: Path
    kind: str
    format: str
    sha256: str
    size: int
    channel: str | None
    frame: pl.DataFrame  # canonical columns (Utf8) + row_number (Int64) + extra (JSON text or null)
    source_columns: list[str]  # the file's own column names, in order (for the raw row in quarantine)
    renames: dict[str, str]  # source column -> canonical column
    # what the reader found out: CSV dialect, nested JSON flattened, the preset used
    detected: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows read from the file."""
        return self.frame.height

    def describe(self) -> str:
        """What was detected, for people: `CSV with delimiter ';', UTF-8 BOM, CRLF line endings`."""
        return raw_description(self.detected)


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, streamed."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def detect_format(path: Path) -> str:
    """The file's format from its extension, checked against its first bytes."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(path, f"unsupported file type {path.suffix!r}; use .csv, .jsonl or .parquet")
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head:
        raise InputFileError(path, "the file is empty")
    is_parquet = head[:4] == b"PAR1"
    if fmt == "parquet" and not is_parquet:
        raise InputFileError(path, "not a Parquet file (no PAR1 magic bytes), although its extension says so")
    if fmt != "parquet":
        if is_parquet or b"\x00" in head:
            raise InputFileError(path, f"binary content in a {fmt.upper()} file; is the extension wrong?")
        body = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if fmt == "jsonl" and body and body[:1] not in (b"{", b"["):
            raise InputFileError(path, "not JSON Lines: the first line does not start with '{'", row=1)
    return fmt


def _check_utf8(path: Path) -> None:
    """Fail with the line number of the first byte sequence that is not UTF-8."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_number = data.count(b"\n", 0, error.start) + 1
        raise InputFileError(
            path,
            f"not UTF-8 text (byte {data[error.start]:#04x} on line {line_number}); re-export the file as UTF-8",
        ) from error


def _locate_csv_error(path: Path, delimiter: str = ",") -> InputFileError:
    """Find the first record Python's csv module rejects, to name the line polars did not."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True, delimiter=delimiter)
        try:
            header = next(reader)
            for record in reader:
                if len(record) != len(header):
                    return InputFileError(
                        path,
                        f"line {reader.line_num}: expected {len(header)} fields, found {len(record)}",
                        row=reader.line_num - 1,
                    )
        except csv.Error as error:
            return InputFileError(
                path,
                f"broken CSV quoting at line {reader.line_num}: {error}",
                row=max(reader.line_num - 1, 1),
            )
    return InputFileError(path, "the CSV could not be parsed")


def _read_csv(path: Path, dialect: CsvDialect) -> pl.DataFrame:
    # polars reads LF and CRLF (and drops a BOM) but not old Mac CR-only line endings
    source: Path | io.BytesIO = path
    if dialect.line_ending == "CR":
        source = io.BytesIO(path.read_bytes().replace(b"\r", b"\n"))
    try:
        frame = pl.read_csv(
            source,
            separator=dialect.delimiter,
            infer_schema=False,
            encoding="utf8",
            empty_string_is_null=True,
            raise_if_empty=True,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.NoDataError as error:
        raise InputFileError(path, "the file has no header and no rows") from error
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError) as error:
        raise _locate_csv_error(path, dialect.delimiter) from error
    # polars accepts an unterminated quote at end of file; csv.reader in strict mode does not
    if frame.height and _has_unbalanced_quotes(path):
        raise _locate_csv_error(path, dialect.delimiter)
    return frame


def _has_unbalanced_quotes(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read().count(b'"') % 2 == 1


def _read_jsonl(path: Path, detected: dict[str, Any]) -> pl.DataFrame:
    records = []
    with path.open("r", encoding="utf-8-sig") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = strict_json(line)
            except json.JSONDecodeError as error:
                raise InputFileError(
                    path, f"line {line_number} is not valid JSON: {error.msg}", row=line_number
                ) from error
            except JsonValueError as error:
                raise InputFileError(path, f"line {line_number}: {error}", row=line_number) from error
            except RecursionError as error:
                raise InputFileError(
                    path, f"line {line_number} is nested too deeply to be a channel export", row=line_number
                ) from error
            if not isinstance(record, dict):
                raise InputFileError(path, f"line {line_number} is not a JSON object", row=line_number)
            if is_nested(record):  # webhook payloads: mappings name the dotted paths
                detected["flattened"] = True
                record = flatten_record(record)
            records.append({key: _as_text(value) for key, value in record.items()})
    if not records:
        raise InputFileError(path, "the file has no records")
    return pl.from_dicts(records, infer_schema_length=None).cast(pl.Utf8)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as error:  # polars raises several error types for corrupt files
        raise InputFileError(path, f"unreadable Parquet file: {error}") from error
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Utf8:
            casts.append(pl.col(name))
        elif dtype.is_nested():
            casts.append(
                pl.col(name).map_elements(lambda v: json.dumps(v, default=str), return_dtype=pl.Utf8)
            )
        else:
            casts.append(pl.col(name).cast(pl.Utf8))
    return frame.select(casts)


def _read_any(path: Path, fmt: str, detected: dict[str, Any]) -> pl.DataFrame:
    if fmt == "parquet":
        frame = _read_parquet(path)
    elif fmt == "csv":
        _check_utf8(path)
        dialect = sniff_csv(path)
        detected["csv"] = dialect.to_dict()
        frame = _read_csv(path, dialect)
    else:
        _check_utf8(path)
        frame = _read_jsonl(path, detected)
    if frame.height == 0:
        raise InputFileError(path, "the file has a header but no rows")
    _refuse_nul(path, frame)
    return frame


def _refuse_nul(path: Path, frame: pl.DataFrame) -> None:
    """A NUL character anywhere (raw, `\\u0000` in JSON, inside Parquet text) is not text: name its row."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.Utf8]
    if not text:
        return
    hits = frame.select(
        pl.any_horizontal(pl.col(c).str.contains("\x00", literal=True) for c in text).fill_null(False)
    )
    found = hits.to_series().arg_true()
    if found.len():
        row = int(found[0]) + 1
        raise InputFileError(path, f"row {row} holds a NUL character (binary data in a text field)", row=row)


def detect_kind(path: Path, columns: list[str]) -> str:
    """identities or messages, from the file name or, failing that, its columns."""
    stem = path.stem.lower()
    for kind in KINDS:
        if stem.startswith(kind) or stem.startswith(kind.rstrip("s")):
            return kind
    if _MESSAGE_MARKERS & {column.lower() for column in columns}:
        return "messages"
    return "identities"


def _channel_from_name(path: Path, names: dict[str, str]) -> str | None:
    for token in path.stem.lower().replace("-", "_").split("_"):
        if token in names:
            return names[token]
    return None


def _renames_for(
    frame: pl.DataFrame, channels: list[str], settings: IngestSettings, path: Path
) -> dict[str, str]:
    renames: dict[str, str] = {}
    for channel in channels:
        for source, target in settings.channels[channel].columns.items():
            if source in frame.columns:
                if renames.get(source, target) != target:
                    raise InputFileError(
                        path,
                        f"column {source!r} is mapped to both {renames[source]!r} "
                        f"and {target!r} by the channel mappings",
                    )
                renames[source] = target
    return renames


def _common_renames(columns: list[str], renames: dict[str, str], settings: IngestSettings) -> dict[str, str]:
    """Common vendor columns (`name`) for canonical ones the file and the channel mappings lack."""
    taken = set(columns) | set(renames.values())
    added: dict[str, str] = {}
    for source, target in settings.common_columns.items():
        if source in columns and source not in renames and target not in taken:
            added[source] = target
            taken.add(target)
    return added


def read_file(
    path: Path,
    settings: IngestSettings,
    kind: str | None = None,
    channel: str | None = None,
    preset: str | None = None,
) -> RawFile:
    """Read one export into the canonical layout (with `preset`, or the configured one), or raise `InputFileError`."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    fmt = detect_format(path)
    sha256, size = file_digest(path)
    detected: dict[str, Any] = {}
    frame = _read_any(path, fmt, detected)
    if QUARANTINE_ID_COLUMN in frame.columns:
        frame = frame.drop(QUARANTINE_ID_COLUMN)
    source_columns = list(frame.columns)
    trimmed = [name.strip() for name in frame.columns]
    repeated = sorted({name for name in trimmed if trimmed.count(name) > 1})
    if repeated:
        raise InputFileError(
            path, f"column name(s) given twice (after trimming spaces): {', '.join(repeated)}"
        )
    frame = frame.rename(dict(zip(frame.columns, trimmed, strict=True)))
    preset_renames: dict[str, str] = {}
    preset_name = preset or settings.preset
    preset_channel = None
    if preset_name:
        try:
            chosen = preset_named(preset_name)
        except KeyError as error:
            raise InputFileError(path, str(error.args[0])) from error
        frame, preset_renames = apply_preset(frame, chosen)
        detected["preset"] = chosen.name
        kind = kind or chosen.kind
        preset_channel = chosen.channel
    kind = kind or detect_kind(path, frame.columns)
    if kind not in KINDS:
        raise InputFileError(path, f"unknown input kind {kind!r}; expected one of {', '.join(KINDS)}")
    names = settings.channel_names()
    if channel is not None and channel.lower() not in names:
        raise InputFileError(
            path, f"unknown channel {channel!r}; configured channels: {', '.join(sorted(settings.channels))}"
        )
    file_channel = names[channel.lower()] if channel else _channel_from_name(path, names) or preset_channel

    present: list[str] = [file_channel] if file_channel else []
    if "channel" in frame.columns:
        seen = (
            frame.get_column("channel").drop_nulls().str.strip_chars().str.to_lowercase().unique().to_list()
        )
        present += [names[value] for value in seen if value in names and names[value] not in present]
    renames = _renames_for(frame, present, settings, path)
    if kind == "identities":
        renames |= _common_renames(frame.columns, renames, settings)
    frame = frame.rename(renames)
    renames = {**preset_renames, **renames}

    canonical = CANONICAL_IDENTITY_COLUMNS if kind == "identities" else CANONICAL_MESSAGE_COLUMNS
    if "channel" not in frame.columns:
        if file_channel is None:
            raise InputFileError(
                path, "missing required column 'channel' (and no channel in the file name or --channel)"
            )
        frame = frame.with_columns(pl.lit(file_channel).alias("channel"))
    elif file_channel is not None:
        frame = frame.with_columns(pl.col("channel").fill_null(pl.lit(file_channel)))
    frame = frame.with_columns(_canonical_channel(names))
    if "external_id" not in frame.columns:
        frame = _external_id_from_channel(frame, settings, present, path)
    required = ("channel", "external_id") if kind == "identities" else ("thread_id", "channel", "external_id")
    missing = [column for column in required if column not in frame.columns]
    if missing:
        how = f" (read as {raw_description(detected)})" if detected else ""
        raise InputFileError(
            path,
            f"missing required column(s): {', '.join(missing)}; found {', '.join(source_columns)}{how}",
        )

    extras = [column for column in frame.columns if column not in canonical]
    extra = (pl.struct(extras).struct.json_encode() if extras else pl.lit(None, dtype=pl.Utf8)).alias("extra")
    frame = frame.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row_number"),
        *[
            # an empty value means "not given" in every format (CSV already reads it as null)
            pl.col(column).replace("", None)
            if column in frame.columns
            else pl.lit(None, dtype=pl.Utf8).alias(column)
            for column in canonical
        ],
        extra,
    )
    if kind == "identities":
        frame = frame.with_columns(attributes_from_external_id(settings))
    return RawFile(path, kind, fmt, sha256, size, file_channel, frame, source_columns, renames, detected)


def raw_description(detected: dict[str, Any]) -> str:
    """The reader's findings in words: CSV dialect, flattening, preset."""
    parts = []
    if "csv" in detected:
        parts.append("CSV with " + CsvDialect(**detected["csv"]).describe())
    if detected.get("flattened"):
        parts.append("nested JSON flattened to dotted columns")
    if detected.get("preset"):
        parts.append(f"preset {detected['preset']}")
    return "; ".join(parts)


def attributes_from_external_id(settings: IngestSettings) -> list[pl.Expr]:
    """On channels whose id *is* a phone, address or handle, fill that empty column from the id.

    An SMS export often carries the number only as its id; without this the number would never be
    normalized to E.164, blocked on or shown in the profile.
    """
    targets: dict[str, list[str]] = {}
    for name, channel in settings.channels.items():
        if channel.external_id_from:
            targets.setdefault(channel.external_id_from, []).append(name)
    return [
        pl.when(pl.col(column).is_null() & pl.col("channel").is_in(channels))
        .then(pl.col("external_id"))
        .otherwise(pl.col(column))
        .alias(column)
        for column, channels in sorted(targets.items())
    ]


def _canonical_channel(names: dict[str, str]) -> pl.Expr:
    """Map channel spellings and aliases to their canonical names; unknown values stay as given."""
    lowered = pl.col("channel").str.strip_chars().str.to_lowercase()
    return lowered.replace_strict(names, default=pl.col("channel"), return_dtype=pl.Utf8).alias("channel")


def _external_id_from_channel(
    frame: pl.DataFrame, settings: IngestSettings, channels: list[str], path: Path
) -> pl.DataFrame:
    sources = {
        settings.channels[c].external_id_from for c in channels if settings.channels[c].external_id_from
    }
    usable = [source for source in sources if source in frame.columns]
    if not usable:
        return frame
    expression = pl.coalesce([pl.col(column) for column in sorted(usable)])
    return frame.with_columns(expression.alias("external_id"))


def raw_rows_json(raw: RawFile, row_numbers: list[int]) -> dict[int, str]:
    """The input rows, as JSON objects with the file's own column names, for quarantine."""
    inverse = {canonical: source for source, canonical in raw.renames.items()}
    wanted = raw.frame.filter(pl.col("row_number").is_in(row_numbers))
    result: dict[int, str] = {}
    for record in wanted.iter_rows(named=True):
        row_number = record.pop("row_number")
        extra = record.pop("extra")
        data = {inverse.get(key, key): value for key, value in record.items() if value is not None}
        if extra:
            data.update({key: value for key, value in json.loads(extra).items() if value is not None})
        result[row_number] = bounded_raw_row(data)  # a 50 MB value keeps a prefix and its hash
    return result
