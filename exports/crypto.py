"""Passphrase encryption of export bundles: scrypt-derived key, AES-256-GCM.

File layout (all of it binary): the 8-byte magic `IDRESENC`, one version byte (1), a 16-byte
random salt, a 12-byte random nonce, then the AES-GCM ciphertext of the zip (with its 16-byte tag
at the end). The key is scrypt(passphrase, salt, n=2**15, r=8, p=1, 32 bytes). The header
(magic + version + salt + nonce) is authenticated as associated data, so any change is detected.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from domain.errors import BadInput

MAGIC = b"IDRESENC"
VERSION = 1
_SALT = 16
_NONCE = 12
_HEADER = len(MAGIC) + 1 + _SALT + _NONCE
_SCRYPT_N = 2**15


class PassphraseError(BadInput, ValueError):
    """A passphrase that cannot be used (empty)."""


class DecryptionError(BadInput, ValueError):
    """The data is not an idres encrypted bundle, or the passphrase is wrong."""


def _key(passphrase: str, salt: bytes) -> bytes:
    if not passphrase:
        raise PassphraseError("the export passphrase is empty")
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=8, p=1).derive(passphrase.encode("utf-8"))


def is_encrypted(data: bytes) -> bool:
    """Whether the bytes start with the idres encryption header."""
    return data[: len(MAGIC)] == MAGIC


def encrypt(data: bytes, passphrase: str) -> bytes:
    """The encrypted form of `data` (header + ciphertext)."""
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    header = MAGIC + bytes([VERSION]) + salt + nonce
    return header + AESGCM(_key(passphrase, salt)).encrypt(nonce, data, header)


def decrypt(data: bytes, passphrase: str) -> bytes:
    """The plain bytes of an encrypted bundle; a wrong passphrase or altered file raises `DecryptionError`."""
    if not is_encrypted(data) or len(data) < _HEADER + 16:
        raise DecryptionError("not an idres encrypted bundle (no IDRESENC header)")
    if data[len(MAGIC)] != VERSION:
        raise DecryptionError(f"unsupported bundle encryption version {data[len(MAGIC)]}")
    header = data[:_HEADER]
    salt = header[len(MAGIC) + 1 : len(MAGIC) + 1 + _SALT]
    nonce = header[-_NONCE:]
    try:
        return AESGCM(_key(passphrase, salt)).decrypt(nonce, data[_HEADER:], header)
    except InvalidTag as error:
        raise DecryptionError("wrong passphrase, or the bundle was altered") from error
