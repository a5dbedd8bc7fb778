"""The files idres owns, and a search of their bytes for erased values.

Owned: the store (and its WAL, and stray rewrite copies), the web outbox and its SQLite side files,
the export folder (bundles are decrypted with the configured passphrase and unzipped), the kept
landing copies (Parquet is decoded, as its pages are compressed) and the GX data docs folder.
Everything else is read as raw bytes, case-folded: what someone with the files could read.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from compliance.landing import kept_copies
from exports.crypto import DecryptionError, decrypt, is_encrypted
from store.outbox_file import outbox_files
from store.rewrite import stray_copies

CHUNK = 64 << 20


@dataclass(frozen=True)
class OwnedFiles:
    """Where idres keeps files that may hold personal data."""

    export_dir: Path
    store: Path | None = None
    landing_dir: Path | None = None
    data_docs_dir: Path | None = None

    def store_files(self) -> list[Path]:
        """The store, its WAL and stray rewrite copies."""
        if self.store is None:
            return []
        return [self.store, self.store.with_name(self.store.name + ".wal"), *stray_copies(self.store)]

    def paths(self) -> list[Path]:
        """Every such file that exists now."""
        found = self.store_files()
        if self.store is not None:
            found += outbox_files(self.store)
        for folder in (self.export_dir, self.data_docs_dir):
            if folder is not None and folder.is_dir():
                found += sorted(p for p in folder.rglob("*") if p.is_file())
        found += kept_copies(self.landing_dir)
        return [p for p in dict.fromkeys(found) if p.is_file()]


@lru_cache(maxsize=256)
def _bundle_texts_cached(path: str, size: int, mtime_ns: int, passphrase: str | None) -> tuple[bytes, ...]:
    # keyed by size and mtime: a run verifying many requests decrypts each bundle once, not once per request
    return tuple(text.lower() for text in _bundle_texts(Path(path), passphrase))


def forget_file_texts() -> None:
    """Drop the decrypted export files read by verifications (called at the end of every run)."""
    _bundle_texts_cached.cache_clear()


def _bundle_texts(path: Path, passphrase: str | None) -> list[bytes]:
    data = path.read_bytes()
    if is_encrypted(data) and passphrase:
        try:
            data = decrypt(data, passphrase)
        except DecryptionError:
            return [data]  # another passphrase: cannot be searched, and cannot be read by anyone here either
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [data, *(archive.read(name) for name in archive.namelist())]
    except zipfile.BadZipFile:
        return [data]


def _parquet_text(path: Path) -> bytes:
    import polars as pl

    frame = pl.read_parquet(path)
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def _texts(path: Path, files: OwnedFiles, passphrase: str | None) -> Iterator[bytes]:
    """The case-folded contents to search in one file: decoded where the raw bytes would hide values."""
    if files.export_dir in path.parents:
        info = path.stat()
        yield from _bundle_texts_cached(str(path), info.st_size, info.st_mtime_ns, passphrase)
        return
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        yield _parquet_text(path).lower()
    if head[:2] == b"PK":
        yield from (text.lower() for text in _bundle_texts(path, None))
        return
    yield from _chunks(path)


def _chunks(path: Path, overlap: int = 4096) -> Iterator[bytes]:
    with path.open("rb") as handle:
        tail = b""
        while True:
            block = handle.read(CHUNK)
            if not block:
                return
            yield (tail + block).lower()
            tail = block[-overlap:]


_SEPARATORS = b" ().-"


def _phone_in(text: bytes, patterns: Sequence[tuple[re.Pattern[bytes], bytes]]) -> bool:
    # the digits must appear once the separators are dropped (fast, C-level) before the regex runs
    if not patterns:
        return False
    squeezed = text.translate(None, _SEPARATORS)
    return any(digits in squeezed and pattern.search(text) for pattern, digits in patterns)


def files_holding(
    files: OwnedFiles, literals: Sequence[str], phone_patterns: Sequence[str], passphrase: str | None
) -> list[str]:
    """'file <path>' for every owned file whose contents hold one of the forms (never the value)."""
    from compliance.spellings import pattern_digits

    forms = [form.encode("utf-8") for form in literals if form]
    patterns = [(re.compile(p.encode("ascii")), pattern_digits(p).encode("ascii")) for p in phone_patterns]
    found: list[str] = []
    for path in files.paths():
        try:
            # phone patterns run over every file, the store's raw bytes too (a number spelt `07491-614-434`
            # in a freed block is no literal form): `_phone_in` runs the regex only where the digits are
            for text in _texts(path, files, passphrase):
                if any(form in text for form in forms) or _phone_in(text, patterns):
                    found.append(f"file {path}")
                    break
        except FileNotFoundError:
            # gone since it was listed (SQLite drops the outbox's -wal/-shm as the page closes it):
            # a file that no longer exists holds nothing; one still open is read to its end
            continue
    return found
