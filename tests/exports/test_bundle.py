"""Bundle files, zip, private file mode, encryption and extraction."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from exports import (
    BundleError,
    build_files,
    decrypt,
    encrypt,
    extract_bundle,
    open_bundle,
    verify_files,
    write_bundle,
)
from exports.bundle import sha256
from exports.crypto import DecryptionError

WHEN = datetime(2026, 3, 1, 12, 0, 0)
TABLES = {
    "customers": pl.DataFrame({"customer_id": [1], "emails": [["zoe@example.com"]], "first_name": ["Zoë"]}),
    "messages": pl.DataFrame({"message_id": [1, 2], "body": ['hi, "quoted"\nline', None]}),
}


def _files() -> dict[str, bytes]:
    return build_files(
        TABLES, {"customer_id": 1}, {"request_id": 7, "schema_version": 5, "produced_at": WHEN}
    )


def test_files_are_a_record_a_csv_per_table_and_a_manifest() -> None:
    files = _files()
    assert set(files) == {"record.json", "customers.csv", "messages.csv", "manifest.json"}
    record = json.loads(files["record.json"])
    assert record["format"] == "idres-export" and record["tables"]["customers"][0]["emails"] == [
        "zoe@example.com"
    ]
    assert files["customers.csv"].decode().splitlines()[1] == '1,"[""zoe@example.com""]",Zoë'
    manifest = verify_files(files)
    assert manifest["counts"] == {"customers": 1, "messages": 2} and manifest["request_id"] == 7
    assert {f["name"]: f["sha256"] for f in manifest["files"]}["messages.csv"] == sha256(
        files["messages.csv"]
    )


def test_bundle_file_is_private_even_with_an_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path, checksum = write_bundle(tmp_path, "b.zip", _files(), WHEN)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sha256(path.read_bytes()) == checksum
    assert open_bundle(path.read_bytes()) == _files()
    with pytest.raises(FileExistsError):  # never overwrites a bundle
        write_bundle(tmp_path, "b.zip", _files(), WHEN)


def test_encrypted_bundle_round_trips_and_detects_tampering(tmp_path: Path) -> None:
    path, _ = write_bundle(tmp_path, "b.zip", _files(), WHEN, passphrase="s3cret pass")
    data = path.read_bytes()
    assert path.name == "b.zip.enc" and b"zoe@example.com" not in data
    assert open_bundle(data, "s3cret pass") == _files()
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(BundleError, match="wrong passphrase, or the bundle was altered"):
        open_bundle(tampered, "s3cret pass")
    assert encrypt(b"x", "p") != encrypt(b"x", "p")  # random salt and nonce
    with pytest.raises(DecryptionError, match="no IDRESENC header"):
        decrypt(b"plain zip bytes..............................", "p")


def test_extract_verifies_and_writes_private_files(tmp_path: Path) -> None:
    path, _ = write_bundle(tmp_path, "b.zip", _files(), WHEN, passphrase="pw")
    manifest = extract_bundle(path, tmp_path / "out", "pw")
    assert manifest["request_id"] == 7
    assert (tmp_path / "out" / "record.json").read_bytes() == _files()["record.json"]
    assert stat.S_IMODE((tmp_path / "out" / "messages.csv").stat().st_mode) == 0o600
    with pytest.raises(BundleError, match="exists already"):
        extract_bundle(path, tmp_path / "out", "pw")
    with pytest.raises(BundleError, match="neither a zip nor encrypted"):
        open_bundle(b"not a bundle")


def test_a_write_cut_short_never_leaves_a_short_file_under_the_real_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a key file created empty by a killed process made every later anonymization fail
    import os

    from exports.bundle import write_private

    target = tmp_path / "anonymization.key"

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # SIGINT between writing the data and putting it in place

    monkeypatch.setattr(os, "link", killed)
    with pytest.raises(KeyboardInterrupt):
        write_private(target, b"k" * 64)
    monkeypatch.undo()
    assert not target.exists() and list(tmp_path.iterdir()) == []
    (tmp_path / ".export-1.zip.999999999.partial").write_bytes(b"half a bundle")  # left by a SIGKILL
    write_private(target, b"k" * 64)
    assert target.read_bytes() == b"k" * 64 and sorted(p.name for p in tmp_path.iterdir()) == [
        "anonymization.key"
    ]
    with pytest.raises(FileExistsError):
        write_private(target, b"other")
