"""Anonymization: pure polars replacement of one person's rows (see `anonymize.scrub`)."""

from anonymize.scrub import (
    CONTENT_ERASED,
    ERASED,
    MIN_VALUE_LENGTH,
    PersonValues,
    identity_key_hash,
    keyed_hash,
    person_values,
    scrub_text,
)

__all__ = [
    "CONTENT_ERASED",
    "ERASED",
    "MIN_VALUE_LENGTH",
    "PersonValues",
    "identity_key_hash",
    "keyed_hash",
    "person_values",
    "scrub_text",
]
