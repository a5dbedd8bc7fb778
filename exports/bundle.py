"""Export bundles: one zip per request holding record.json, a CSV per table and manifest.json.

The file is created with mode 0600 (only its owner may read it) and, when a passphrase is
configured, encrypted as a whole (see `exports.crypto`). The bundle format is documented in
docs/compliance.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from domain.errors import BadInput
from exports.crypto import decrypt, encrypt, is_encrypted

FORMAT = "idres-export"
FORMAT_VERSION = 1
RECORD = "record.json"
MANIFEST = "manifest.json"


class BundleError(BadInput, ValueError):
    """A bundle cannot be read: not a bundle, wrong passphrase, or a checksum does not match."""


def sha256(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return sha256(path.read_bytes())


def _csv(frame: pl.DataFrame) -> bytes:
    # CSV has no lists or structs: such cells are written as JSON text
    nested = [c for c, dtype in frame.schema.items() if dtype.is_nested()]
    flat = frame.with_columns(
        pl.col(c).map_elements(lambda v: json.dumps(v.to_list() if isinstance(v, pl.Series) else v,
                                                    default=str, ensure_ascii=False),
                               return_dtype=pl.String)
        for c in nested
    )  # fmt: skip
    return flat.write_csv().encode("utf-8")


def _jsonable(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return json.loads(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False))


def build_files(
    tables: dict[str, pl.DataFrame], record: dict[str, Any], meta: dict[str, Any]
) -> dict[str, bytes]:
    """The bundle's files: record.json (`record` plus every table's rows), one CSV per table, manifest.json.

    `meta` (request id, customer ids, schema version, produced_at, ...) goes into both the record and
    the manifest; the manifest also lists every file with its size and SHA-256 and the row counts.
    """
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **meta,
        **record,
        "tables": {name: _jsonable(frame) for name, frame in tables.items()},
    }
    files: dict[str, bytes] = {
        RECORD: json.dumps(document, indent=2, default=str, ensure_ascii=False).encode("utf-8")
    }
    for name, frame in tables.items():
        files[f"{name}.csv"] = _csv(frame)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **meta,
        "counts": {name: frame.height for name, frame in tables.items()},
        "files": [
            {"name": name, "bytes": len(data), "sha256": sha256(data)} for name, data in sorted(files.items())
        ],
    }
    files[MANIFEST] = json.dumps(manifest, indent=2, default=str).encode("utf-8")
    return files


def zip_files(files: dict[str, bytes], when: datetime) -> bytes:
    """The files as one zip (fixed timestamps, so the same files give the same bytes)."""
    buffer = io.BytesIO()
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def write_private(path: Path, data: bytes) -> None:
    """Create `path` readable and writable by its owner only (0600 from the start, whatever the umask).

    The data goes to a hidden temporary file first and is linked into place whole, so a process
    killed half way never leaves a short file under the real name (an empty key file, a cut bundle);
    the link fails with FileExistsError when the name is taken, as O_EXCL would.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_partial_files(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            os.fchmod(descriptor, 0o600)  # the umask can only remove bits; this also pins them
            view = memoryview(data)
            while view:
                written = os.write(descriptor, view)
                view = view[written:]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def remove_partial_files(directory: Path) -> list[Path]:
    """Remove what writers killed half way left behind (`.<name>.<pid>.partial` of a process now gone)."""
    removed = []
    for leftover in directory.glob(".*.partial"):
        pid = leftover.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_bundle(
    directory: Path, name: str, files: dict[str, bytes], when: datetime, passphrase: str | None = None
) -> tuple[Path, str]:
    """Write the bundle (encrypted when a passphrase is given); returns its path and SHA-256."""
    data = zip_files(files, when)
    if passphrase:
        data = encrypt(data, passphrase)
        name += ".enc"
    path = Path(directory) / name
    write_private(path, data)
    return path, sha256(data)


def open_bundle(data: bytes, passphrase: str | None = None) -> dict[str, bytes]:
    """The files of a bundle's bytes (decrypting first when needed)."""
    if is_encrypted(data):
        if not passphrase:
            raise BundleError("the bundle is encrypted: give the passphrase")
        try:
            data = decrypt(data, passphrase)
        except ValueError as error:
            raise BundleError(str(error)) from error
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    except zipfile.BadZipFile as error:
        raise BundleError("not an idres export bundle (neither a zip nor encrypted)") from error


def verify_files(files: dict[str, bytes]) -> dict[str, Any]:
    """The manifest, after checking every listed file is present with its checksum."""
    if MANIFEST not in files:
        raise BundleError("the bundle has no manifest.json")
    manifest: dict[str, Any] = json.loads(files[MANIFEST])
    for entry in manifest.get("files", []):
        data = files.get(entry["name"])
        if data is None:
            raise BundleError(f"{entry['name']} is listed in the manifest but missing")
        if sha256(data) != entry["sha256"]:
            raise BundleError(f"{entry['name']} does not match its checksum in the manifest")
    return manifest


def extract_bundle(path: Path, out: Path, passphrase: str | None = None) -> dict[str, Any]:
    """Verify a bundle and write its files (mode 0600) into `out`; returns the manifest."""
    files = open_bundle(Path(path).read_bytes(), passphrase)
    manifest = verify_files(files)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        target = out / Path(name).name  # names are flat; never follow a path out of `out`
        if target.exists():
            raise BundleError(f"{target} exists already: choose an empty --out folder")
        write_private(target, data)
    return manifest
