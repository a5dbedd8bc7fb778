"""Presets: each vendor fixture (built from the vendor's documented field names) ingests end to end."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from domain.settings import IngestSettings
from ingest.pipeline import FileReport, ingest_file
from ingest.presets import PRESETS, apply_preset, header_key, preset_named
from ingest.read import InputFileError, read_file
from store import Store

FIXTURES = Path(__file__).parent / "fixtures"


def _ingest(store: Store, settings: IngestSettings, name: str, preset: str) -> FileReport:
    report = ingest_file(store, FIXTURES / name, settings, preset=preset)
    assert report.error is None, report.error
    assert report.rows_loaded + report.rows_quarantined == report.rows_read > 0
    assert report.rows_quarantined == 0, report.quarantine_reasons  # no hand mapping needed
    return report


def _identities(store: Store) -> dict[str, dict[str, object]]:
    rows = store.rows("SELECT * FROM identities ORDER BY identity_id")
    return {f"{row['channel']}:{row['external_id']}": row for row in rows}


def test_zendesk_users_csv(tmp_path: Path, store: Store, ingest_settings: IngestSettings) -> None:
    report = _ingest(store, ingest_settings, "zendesk_users.csv", "zendesk-users")
    assert report.detected == "CSV with delimiter ',', LF line endings; preset zendesk-users"
    # eugenef@orange.f: loaded all the same (Ofcom's drama numbers 07700 900xxx count as invalid phones)
    assert report.warnings["email"] == 1
    identities = _identities(store)
    assert set(identities) == {
        "email:johnny.agent@example.com",
        "email:ana.pereira@example.org",
        "email:eugenef@orange.f",
        "phone:+44 7700 900456",
        "chat:zendesk:9873846",
    }
    ana = identities["email:ana.pereira@example.org"]
    assert (ana["display_name"], ana["first_name_norm"], ana["phone_e164"]) == (
        "Ana Pereira",
        "ana",
        "+447700900123",
    )
    assert json.loads(str(ana["extra"]))["zendesk_id"] == "9873843"
    assert json.loads(str(ana["extra"]))["zendesk_external_id"] == "crm-1001"
    assert identities["email:eugenef@orange.f"]["email_norm"] is None


def test_zendesk_users_json(tmp_path: Path, store: Store, ingest_settings: IngestSettings) -> None:
    report = _ingest(store, ingest_settings, "zendesk_users.json", "zendesk-users")
    assert "nested JSON flattened" in report.detected
    assert report.warnings["updated_at"] == 1  # "not yet": the identity is loaded, the raw value kept
    identities = _identities(store)
    assert set(identities) == {
        "email:maria.rossi@example.com",
        "phone:+44 7700 900789",
        "email:lena.fischer@example.de",
    }
    extra = json.loads(str(identities["email:maria.rossi@example.com"]["extra"]))
    assert extra["user_fields.loyalty_tier"] == "gold"  # custom fields flattened to dotted names
    assert (
        json.loads(str(identities["email:lena.fischer@example.de"]["extra"]))["updated_at_unparsed"]
        == "not yet"
    )


def test_freshdesk_contacts(tmp_path: Path, store: Store, ingest_settings: IngestSettings) -> None:
    _ingest(store, ingest_settings, "freshdesk_contacts.csv", "freshdesk-contacts")
    identities = _identities(store)
    assert set(identities) == {
        "email:priya.n@example.com",
        "phone:+4915123456789",  # mobile only: the mobile is the phone (the id in E.164)
        "twitter:@chloe_m_example",
        "email:oscar.lindqvist@example.se",
    }
    assert identities["email:priya.n@example.com"]["company"] == "Example Logistics Ltd"
    assert identities["twitter:@chloe_m_example"]["screen_name_norm"] == "chloe_m_example"
    assert identities["phone:+4915123456789"]["display_name"] == "Tom Becker"


def test_intercom_contacts(tmp_path: Path, store: Store, ingest_settings: IngestSettings) -> None:
    _ingest(store, ingest_settings, "intercom_contacts.jsonl", "intercom-contacts")
    identities = _identities(store)
    assert set(identities) == {
        "chat:5ba682d23d7cf92bef87bfd4",
        "chat:5ba682d23d7cf92bef87bfd5",
        "chat:5ba682d23d7cf92bef87bfd6",
    }
    wash = identities["chat:5ba682d23d7cf92bef87bfd4"]
    assert (wash["display_name"], wash["email_norm"], wash["city"]) == (
        "Hoban Washburn",
        "wash@example.io",
        "Dublin",
    )
    assert wash["created_at"] is not None  # epoch seconds
    assert json.loads(str(wash["extra"]))["custom_attributes.paid_subscriber"] == "true"


def test_twilio_messages_sms_and_whatsapp(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    report = _ingest(store, ingest_settings, "twilio_messages.jsonl", "twilio-messages")
    assert report.kind == "messages" and report.identities_created == 3
    identities = _identities(store)
    assert set(identities) == {"sms:+447700900123", "whatsapp:+4915123456789", "sms:+447700900456"}
    messages = store.rows(
        """SELECT i.channel, m.author_kind, m.agent_name, m.body FROM messages m
           JOIN identities i USING (identity_id) ORDER BY m.created_at"""
    )
    assert [(m["channel"], m["author_kind"]) for m in messages] == [
        ("sms", "customer"),
        ("sms", "agent"),
        ("whatsapp", "customer"),
        ("whatsapp", "agent"),
        ("sms", "customer"),
    ]
    assert messages[1]["agent_name"] == "+447700900999"
    assert store.scalar("SELECT count(*) FROM conversations") == 3


def test_whatsapp_cloud_api_webhooks(tmp_path: Path, store: Store, ingest_settings: IngestSettings) -> None:
    report = _ingest(store, ingest_settings, "whatsapp_webhook.jsonl", "whatsapp-webhook")
    assert "nested JSON flattened" in report.detected
    # a WhatsApp id is a phone number: E.164 when valid (07700 900xxx is a reserved drama range: kept as given)
    assert set(_identities(store)) == {"whatsapp:+16505551234", "whatsapp:447700900654"}
    bodies = [r["body"] for r in store.rows("SELECT body FROM messages ORDER BY created_at")]
    assert bodies == ["Does it come in another color?", None, "Hello, I need to change my delivery address"]
    assert store.scalar("SELECT count(*) FROM conversations") == 2


def test_messenger_and_instagram_webhooks(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    _ingest(store, ingest_settings, "meta_webhook.jsonl", "meta-webhook")
    assert set(_identities(store)) == {"facebook:6789012345678901", "instagram:5432109876543210"}
    kinds = [r["author_kind"] for r in store.rows("SELECT author_kind FROM messages ORDER BY created_at")]
    assert kinds == ["customer", "agent", "customer"]  # the page's echo is its reply


def test_generic_crm_csv_from_excel(tmp_path: Path, store: Store, ingest_settings: IngestSettings) -> None:
    report = _ingest(store, ingest_settings, "crm_contacts.csv", "crm-contacts")
    assert report.detected == "CSV with delimiter ';', UTF-8 BOM, CRLF line endings; preset crm-contacts"
    assert (report.warnings["email"], report.warnings["birth_date"]) == (1, 1)  # both identities loaded
    identities = _identities(store)
    assert len(identities) == 5
    jean = identities["email:jean.dupont@example.fr"]
    assert (jean["birth_date"], jean["birth_date_norm"]) == ("35", None)  # raw kept, normalized empty
    assert identities["phone:+44 7700 900777"]["first_name"] == "Mary; Ann"  # quoted delimiter
    assert identities["chat:crm:C-0005"]["postcode_norm"] == "BS15TR"


def test_every_preset_has_a_fixture_ingested_here() -> None:
    tested = {
        "zendesk-users",
        "freshdesk-contacts",
        "intercom-contacts",
        "twilio-messages",
        "whatsapp-webhook",
        "meta-webhook",
        "crm-contacts",
    }
    assert set(PRESETS) == tested


def test_the_settings_accept_exactly_the_presets_there_are() -> None:
    from domain.columns import PRESET_NAMES

    assert tuple(PRESETS) == PRESET_NAMES


def test_preset_columns_match_whatever_the_case_and_punctuation() -> None:
    assert header_key(" Date of Birth ") == header_key("DATE-OF-BIRTH") == "date_of_birth"
    frame = pl.DataFrame({"E-mail": ["a@example.com"], "Customer ID": ["7"]})
    renamed, renames = apply_preset(frame, preset_named("crm-contacts"))
    assert renames == {"E-mail": "email", "Customer ID": "crm_id"}
    assert renamed.select("channel", "external_id").row(0) == ("email", "a@example.com")


def test_unknown_preset_is_a_clear_error(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    with pytest.raises(InputFileError, match="unknown preset 'zendsk'; presets: zendesk-users"):
        read_file(FIXTURES / "zendesk_users.csv", ingest_settings, preset="zendsk")
    with pytest.raises(ValueError, match="unknown preset"):
        IngestSettings(preset="zendsk")
    configured = IngestSettings(preset="zendesk-users", data_docs_dir=tmp_path)
    assert read_file(FIXTURES / "zendesk_users.csv", configured).detected["preset"] == "zendesk-users"


def test_twilio_rest_api_rows_as_csv_with_rfc_2822_dates() -> None:
    frame = pl.DataFrame(
        {
            "Sid": ["SM1", "SM2"],
            "From": ["+15005550006", "whatsapp:+14155238886"],
            "To": ["+14155552671", "whatsapp:+15005550006"],
            "Body": ["Hi", "Hello back"],
            "Direction": ["inbound", "outbound-api"],
            "Date Sent": ["Thu, 30 Jul 2015 20:12:31 +0000", None],
            "Date Created": ["Thu, 30 Jul 2015 20:12:30 +0000", "Fri, 31 Jul 2015 09:00:00 +0100"],
        }
    )
    renamed, _ = apply_preset(frame, preset_named("twilio-messages"))
    assert renamed.select(
        "channel", "external_id", "thread_id", "author_kind", "agent_name", "created_at"
    ).rows() == [
        ("sms", "+15005550006", "+15005550006", "customer", None, "2015-07-30T20:12:31Z"),
        ("whatsapp", "+15005550006", "+15005550006", "agent", "+14155238886", "2015-07-31T08:00:00Z"),
    ]
