"""The data model's column names: the input contract, the normalized columns, the customer profile.

`docs/architecture.md` describes each column; ingest, the store and matching all read these lists.
"""

from __future__ import annotations

# An identity's key on its channel.
IDENTITY_KEY_COLUMNS: tuple[str, ...] = ("channel", "external_id")
# The raw identity attributes: every canonical input column but the key and the timestamps.
RAW_IDENTITY_COLUMNS: tuple[str, ...] = (
    "display_name",
    "first_name",
    "last_name",
    "screen_name",
    "email",
    "phone",
    "company",
    "gender",
    "city",
    "postcode",
    "country",
    "birth_date",
)
TIMESTAMP_COLUMNS: tuple[str, ...] = ("created_at", "updated_at")
# The input contract for identity files: any other column is an extra attribute kept as JSON.
CANONICAL_IDENTITY_COLUMNS: tuple[str, ...] = (
    *IDENTITY_KEY_COLUMNS,
    *RAW_IDENTITY_COLUMNS,
    *TIMESTAMP_COLUMNS,
)
CANONICAL_MESSAGE_COLUMNS: tuple[str, ...] = (
    "thread_id",
    "message_id",
    "channel",
    "external_id",
    "author_kind",
    "agent_name",
    "body",
    "title",
    "created_at",
)

# Kept beside the raw columns by `ingest.normalize.normalize_identities` and stored on each identity.
NORMALIZED_IDENTITY_COLUMNS: tuple[str, ...] = (
    "email_norm",
    "email_valid",
    "email_key",
    "phone_e164",
    "phone_valid",
    "phone_national",
    "first_name_norm",
    "last_name_norm",
    "first_name_key",
    "last_name_key",
    "name_from_display",
    "display_name_norm",
    "screen_name_norm",
    "company_norm",
    "city_norm",
    "postcode_norm",
    "country_norm",
    "birth_date_norm",
)
# The record times parsed by normalization (a bad one is flagged and never orders records).
PARSED_TIMESTAMP_COLUMNS: tuple[str, ...] = (
    "created_at_ts",
    "created_at_bad",
    "updated_at_ts",
    "updated_at_bad",
)

# A customer's profile: single values (one winner by survivorship) and lists of every distinct value.
PROFILE_SCALAR_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "display_name",
    "company",
    "gender",
    "city",
    "postcode",
    "country",
    "birth_date",
)
PROFILE_LIST_FIELDS: tuple[str, ...] = ("emails", "phones")
PROFILE_FIELDS: tuple[str, ...] = (*PROFILE_SCALAR_FIELDS, *PROFILE_LIST_FIELDS)

DEFAULT_CHANNELS: tuple[str, ...] = (
    "email",
    "sms",
    "whatsapp",
    "facebook",
    "twitter",
    "instagram",
    "chat",
    "phone",
)
# Columns renamed on every channel when the canonical column is not in the file (a channel's own
# `columns` win): a vendor's single `name` field is the display name, not an extra attribute.
COMMON_IDENTITY_COLUMNS: dict[str, str] = {"name": "display_name", "full_name": "display_name"}
# The vendor exports `ingest/presets.py` maps (a test keeps this list equal to its presets).
PRESET_NAMES: tuple[str, ...] = (
    "zendesk-users",
    "freshdesk-contacts",
    "intercom-contacts",
    "twilio-messages",
    "whatsapp-webhook",
    "meta-webhook",
    "crm-contacts",
)
# How the surviving customer's profile is chosen, field by field (see review/survivorship.py).
SURVIVORSHIP_RULES: tuple[str, ...] = ("agent_edited", "most_recent", "most_frequent")
# The flows `idres serve` schedules (see flows/deployments.py).
SCHEDULED_FLOWS: tuple[str, ...] = ("ingest", "match", "apply_merges", "export", "anonymize")
