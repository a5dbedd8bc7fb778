"""What a request in state `erasing` still has to verify, kept encrypted beside the store until it is done.

The verification searches for the person's values after the store was rewritten; a run that stops
in between (a crash, kill -9, Ctrl-C) leaves the request `erasing` and the next run verifies it, so the
values must outlive the process. They are kept in `.<store>.erasing/<request id>.bin` (folder 0700,
file 0600), AES-256-GCM encrypted under a key derived from the anonymization key, and deleted as soon
as the request is done. Never in the store: the store must not hold them again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.db import fsync_dir, private_dir

_NONCE = 12


def folder(store_path: Path) -> Path:
    """The folder of the pending verification sets of a store."""
    return store_path.with_name(f".{store_path.name}.erasing")


def _path(store_path: Path, request_id: int) -> Path:
    return folder(store_path) / f"{int(request_id)}.bin"


def _cipher(key: bytes) -> AESGCM:
    return AESGCM(hmac.new(key, b"idres erasure verification set", hashlib.sha256).digest())


def save(store_path: Path, key: bytes, request_id: int, payload: dict[str, Any]) -> Path:
    """Write (durably, replacing an older one) the encrypted verification set of a request."""
    directory = private_dir(folder(store_path))
    target = _path(store_path, request_id)
    nonce = os.urandom(_NONCE)
    data = nonce + _cipher(key).encrypt(nonce, json.dumps(payload).encode("utf-8"), str(request_id).encode())
    temporary = target.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, target)
    fsync_dir(directory)
    return target


def load(store_path: Path, key: bytes, request_id: int) -> dict[str, Any] | None:
    """The verification set of a request, or None when there is none (or it cannot be read with this key)."""
    target = _path(store_path, request_id)
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        return None
    try:
        plain = _cipher(key).decrypt(data[:_NONCE], data[_NONCE:], str(request_id).encode())
    except (InvalidTag, ValueError):
        return None
    document: dict[str, Any] = json.loads(plain)
    return document


def delete(store_path: Path, request_id: int) -> None:
    """Remove a request's verification set (its request is done)."""
    _path(store_path, request_id).unlink(missing_ok=True)
    _path(store_path, request_id).with_suffix(".tmp").unlink(missing_ok=True)


def prune(store_path: Path, keep: set[int]) -> None:
    """Remove the sets of requests no longer `erasing` (a run stopped between `done` and the removal)."""
    directory = folder(store_path)
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        stem = path.name.split(".", 1)[0]
        if not stem.isdigit() or int(stem) not in keep:
            path.unlink(missing_ok=True)
