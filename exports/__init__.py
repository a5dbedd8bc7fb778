"""Export bundles for data-access and portability requests (see `exports.bundle`, `exports.crypto`)."""

from exports.bundle import BundleError, build_files, extract_bundle, open_bundle, verify_files, write_bundle
from exports.crypto import DecryptionError, decrypt, encrypt, is_encrypted

__all__ = [
    "BundleError",
    "DecryptionError",
    "build_files",
    "decrypt",
    "encrypt",
    "extract_bundle",
    "is_encrypted",
    "open_bundle",
    "verify_files",
    "write_bundle",
]
