"""Column mappings for the exports people really have, selectable by name (`--preset`, `[ingest] preset`).

A preset renames a vendor's columns (matched case- and punctuation-insensitively: "Date of Birth",
`date_of_birth` and `DATE-OF-BIRTH` are one key) to canonical ones and derives what the vendor
does not give directly (the channel of each row, the customer's side of a message log). Nested
JSON is flattened before (`ingest.flatten`), so webhook fields are named by their dotted path.
Derived values only fill what the file left empty, so a re-read of stored raw rows gives the same.

Contacts of a helpdesk or CRM become one identity each, on the channel the person can be reached
on: `email` (keyed by the address) when there is one, else `phone`, else `chat` keyed by the
vendor's id (`zendesk:123`). Pure polars; no store, no settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

Derive = Callable[[pl.DataFrame], pl.DataFrame]


@dataclass(frozen=True)
class Preset:
    """One vendor export: its kind, renames (normalized source key -> column) and derived columns."""

    name: str
    title: str
    kind: str
    columns: dict[str, str]
    channel: str | None = None  # the file's channel when its rows do not say
    derive: Derive | None = None
    formats: tuple[str, ...] = ("csv", "jsonl")
    notes: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


def header_key(name: str) -> str:
    """A column name as presets match it: lower case, runs of other characters than a-z, 0-9, '.' as '_'."""
    return re.sub(r"[^a-z0-9.]+", "_", name.strip().lower()).strip("_")


def apply_preset(frame: pl.DataFrame, preset: Preset) -> tuple[pl.DataFrame, dict[str, str]]:
    """The frame with the preset's renames and derived columns, and the renames (source -> column)."""
    by_key: dict[str, str] = {}
    for column in frame.columns:
        by_key.setdefault(header_key(column), column)
    renames: dict[str, str] = {}
    taken: set[str] = set()
    for key, target in preset.columns.items():
        source = by_key.get(key)
        if source is None or source in renames or target in taken:
            continue
        if target in frame.columns and target != source and target not in renames:
            continue  # the file has the column already under its canonical name
        renames[source] = target
        taken.add(target)
    frame = frame.rename(renames)
    if preset.derive is not None:
        frame = preset.derive(frame)
    return frame, renames


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    """The column, trimmed with empty as null, or a null column when the file lacks it."""
    if name not in frame.columns:
        return pl.lit(None, dtype=pl.Utf8)
    return pl.col(name).str.strip_chars().replace("", None)


def _fill(frame: pl.DataFrame, name: str, value: pl.Expr) -> pl.Expr:
    """`name` where the file gives it, else `value`."""
    return pl.coalesce(_col(frame, name), value).alias(name)


def _contacts(id_column: str, prefix: str, extra_phones: tuple[str, ...] = ()) -> Derive:
    """One identity per contact: email if any, else phone, else chat keyed by `prefix:id`."""

    def derive(frame: pl.DataFrame) -> pl.DataFrame:
        phone = pl.coalesce(_col(frame, "phone"), *[_col(frame, c) for c in extra_phones])
        frame = frame.with_columns(phone.alias("phone"))
        email, phone, vendor_id = _col(frame, "email"), _col(frame, "phone"), _col(frame, id_column)
        handle = _col(frame, "screen_name")
        channel = (
            pl.when(email.is_not_null())
            .then(pl.lit("email"))
            .when(phone.is_not_null())
            .then(pl.lit("phone"))
            .when(handle.is_not_null())
            .then(pl.lit("twitter"))
            .when(vendor_id.is_not_null())
            .then(pl.lit("chat"))
        )
        external_id = (
            pl.when(email.is_not_null())
            .then(email)
            .when(phone.is_not_null())
            .then(phone)
            .when(handle.is_not_null())
            .then(handle)
            .otherwise(pl.lit(f"{prefix}:") + vendor_id)
        )
        return frame.with_columns(_fill(frame, "channel", channel), _fill(frame, "external_id", external_id))

    return derive


def _crm(frame: pl.DataFrame) -> pl.DataFrame:
    """A generic CRM: Febrl-like split birth dates (`by`, `bm`, `bd`) joined, then one identity per record."""
    if "birth_date" not in frame.columns and {"by", "bm", "bd"} <= set(frame.columns):
        date = pl.concat_str(
            [_col(frame, "by"), _col(frame, "bm").str.zfill(2), _col(frame, "bd").str.zfill(2)], separator="-"
        )
        frame = frame.with_columns(date.alias("birth_date"))
    return _contacts("crm_id", "crm", ("mobile",))(frame)


_RFC2822 = "%a, %d %b %Y %H:%M:%S %z"  # the Twilio REST API's dates, "Thu, 30 Jul 2015 20:12:31 +0000"


def _twilio(frame: pl.DataFrame) -> pl.DataFrame:
    """Twilio Message records: the customer is `from` on inbound messages and `to` on outbound ones."""
    direction = _col(frame, "direction").str.to_lowercase()
    inbound = direction == "inbound"
    customer = pl.when(inbound).then(_col(frame, "from")).otherwise(_col(frame, "to"))
    business = pl.when(inbound).then(_col(frame, "to")).otherwise(_col(frame, "from"))
    prefix = customer.str.extract(r"^([a-z]+):", 1)
    channel = (
        pl.when(prefix == "whatsapp")
        .then(pl.lit("whatsapp"))
        .when(prefix == "messenger")
        .then(pl.lit("facebook"))
        .otherwise(pl.lit("sms"))
    )
    bare = customer.str.replace(r"^[a-z]+:", "")
    sent = pl.coalesce(_col(frame, "created_at"), _col(frame, "date_created"))
    # RFC 2822 dates (the REST API) become ISO-8601; the bulk export's ISO dates stay as they are
    parsed = sent.str.strptime(pl.Datetime("us", "UTC"), _RFC2822, strict=False)
    iso = pl.when(parsed.is_not_null()).then(parsed.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).otherwise(sent)
    return frame.with_columns(
        _fill(frame, "channel", channel),
        _fill(frame, "external_id", bare),
        _fill(frame, "thread_id", bare),
        _fill(frame, "author_kind", pl.when(inbound).then(pl.lit("customer")).otherwise(pl.lit("agent"))),
        _fill(frame, "agent_name", pl.when(~inbound).then(business.str.replace(r"^[a-z]+:", ""))),
        iso.alias("created_at"),
    )


def _whatsapp_webhook(frame: pl.DataFrame) -> pl.DataFrame:
    """One WhatsApp Cloud API `messages` notification per line: a customer message on its thread."""
    customer = pl.coalesce(_col(frame, "external_id"), _col(frame, "wa_contact_id"))
    return frame.with_columns(
        customer.alias("external_id"),
        _fill(frame, "thread_id", customer),
        _fill(frame, "channel", pl.lit("whatsapp")),
        _fill(frame, "author_kind", pl.lit("customer")),
    )


def _meta_webhook(frame: pl.DataFrame) -> pl.DataFrame:
    """Messenger / Instagram `messaging` events: an echo is the page's reply, else the customer's message."""
    echo = _col(frame, "is_echo").str.to_lowercase() == "true"
    sender, recipient = _col(frame, "sender_id"), _col(frame, "recipient_id")
    customer = pl.when(echo).then(recipient).otherwise(sender)
    platform = _col(frame, "object").str.to_lowercase()
    channel = pl.when(platform == "instagram").then(pl.lit("instagram")).otherwise(pl.lit("facebook"))
    return frame.with_columns(
        _fill(frame, "channel", channel),
        _fill(frame, "external_id", customer),
        _fill(frame, "thread_id", customer),
        _fill(
            frame,
            "author_kind",
            pl.when(echo.fill_null(False)).then(pl.lit("agent")).otherwise(pl.lit("customer")),
        ),
        _fill(frame, "agent_name", pl.when(echo).then(pl.lit("page ") + sender)),
    )


_WA = "entry.0.changes.0.value."
_FB = "entry.0.messaging.0."

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "zendesk-users",
            "Zendesk users export (CSV, or JSON Lines of the Users API objects)",
            "identities",
            {
                "id": "zendesk_id",
                "external_id": "zendesk_external_id",  # the customer's id in *your* system
                "name": "display_name",
                "email": "email",
                "phone": "phone",
                "created_at": "created_at",
                "updated_at": "updated_at",
                "organization_id": "zendesk_organization_id",
            },
            derive=_contacts("zendesk_id", "zendesk"),
            notes="user_fields.* (custom fields), role, tags, locale and time_zone are kept as extra attributes",
        ),
        Preset(
            "freshdesk-contacts",
            "Freshdesk contacts (the contacts export CSV, or JSON Lines of the Contacts API)",
            "identities",
            {
                "id": "freshdesk_id",
                "contact_id": "freshdesk_id",
                "name": "display_name",
                "full_name": "display_name",
                "email": "email",
                "phone": "phone",
                "work_phone": "phone",
                "mobile": "mobile",
                "mobile_phone": "mobile",
                "twitter_id": "screen_name",
                "twitter": "screen_name",
                "unique_external_id": "freshdesk_unique_external_id",
                "job_title": "job_title",
                "title": "job_title",
                "company": "company",
                "company_name": "company",
                "created_at": "created_at",
                "updated_at": "updated_at",
            },
            derive=_contacts("freshdesk_id", "freshdesk", ("mobile",)),
            notes="mobile is the phone when there is no work phone; custom_fields.* are extra attributes",
        ),
        Preset(
            "intercom-contacts",
            "Intercom contacts (JSON Lines of the Contacts API objects, or a CSV with the same names)",
            "identities",
            {
                "external_id": "intercom_external_id",  # first: the contact's id takes its name
                "id": "external_id",
                "name": "display_name",
                "email": "email",
                "phone": "phone",
                "location.city": "city",
                "location.country": "country",
                "created_at": "created_at",
                "updated_at": "updated_at",
            },
            channel="chat",
            notes="a contact is a Messenger (chat) identity keyed by its Intercom id; custom_attributes.* are extra",
        ),
        Preset(
            "twilio-messages",
            "Twilio Messaging logs, SMS and WhatsApp (BulkExport JSON Lines or the Message resource as CSV)",
            "messages",
            {
                "sid": "message_id",
                "body": "body",
                "date_sent": "created_at",
                # read by the derivation under these names, whatever the export's case ("From", "Date Created")
                **{name: name for name in ("from", "to", "direction", "date_created")},
            },
            derive=_twilio,
            notes="`whatsapp:+44...` numbers go to the whatsapp channel, others to sms; outbound messages are agent "
            "replies named by the sending number",
        ),
        Preset(
            "whatsapp-webhook",
            "WhatsApp Cloud API webhook payloads, one `messages` notification per line (JSON Lines)",
            "messages",
            {
                f"{_WA}messages.0.id": "message_id",
                f"{_WA}messages.0.from": "external_id",
                f"{_WA}contacts.0.wa_id": "wa_contact_id",
                f"{_WA}messages.0.timestamp": "created_at",
                f"{_WA}messages.0.text.body": "body",
            },
            channel="whatsapp",
            derive=_whatsapp_webhook,
            formats=("jsonl",),
        ),
        Preset(
            "meta-webhook",
            "Facebook Messenger / Instagram webhook payloads, one `messaging` event per line (JSON Lines)",
            "messages",
            {
                f"{_FB}message.mid": "message_id",
                f"{_FB}message.text": "body",
                f"{_FB}timestamp": "created_at",
                f"{_FB}sender.id": "sender_id",
                f"{_FB}recipient.id": "recipient_id",
                f"{_FB}message.is_echo": "is_echo",
            },
            derive=_meta_webhook,
            formats=("jsonl",),
            notes='`"object": "instagram"` payloads go to the instagram channel, `"page"` to facebook',
        ),
        Preset(
            "crm-contacts",
            "A generic CRM contacts CSV (Salesforce/HubSpot-like headers, Febrl-like record sets)",
            "identities",
            {
                **dict.fromkeys(["contact_id", "customer_id", "record_id", "rec_id", "id"], "crm_id"),
                **dict.fromkeys(["first_name", "firstname", "given_name", "fname_c1"], "first_name"),
                **dict.fromkeys(["last_name", "lastname", "surname", "family_name", "lname_c1"], "last_name"),
                **dict.fromkeys(["full_name", "name", "contact_name"], "display_name"),
                **dict.fromkeys(["email", "email_address", "e_mail"], "email"),
                **dict.fromkeys(["phone", "phone_number", "telephone", "business_phone"], "phone"),
                **dict.fromkeys(["mobile", "mobile_phone", "cell_phone"], "mobile"),
                **dict.fromkeys(["company", "company_name", "account_name", "organization"], "company"),
                **dict.fromkeys(["city", "town", "suburb", "mailing_city"], "city"),
                **dict.fromkeys(
                    ["postcode", "postal_code", "zip", "zip_code", "post_code", "mailing_postal_code"],
                    "postcode",
                ),
                **dict.fromkeys(["country", "mailing_country"], "country"),
                **dict.fromkeys(["date_of_birth", "birthdate", "birth_date", "dob"], "birth_date"),
                **dict.fromkeys(["gender", "sex"], "gender"),
                **dict.fromkeys(["created_date", "created_at", "create_date"], "created_at"),
                **dict.fromkeys(["last_modified_date", "updated_at", "modified_date"], "updated_at"),
            },
            derive=_crm,
            notes="delimiter, BOM and line endings are detected (Excel's `;` files too)",
        ),
    )
}


def preset_named(name: str) -> Preset:
    """The preset of that name; `KeyError` with the known names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}") from None
