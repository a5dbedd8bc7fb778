"""Typed settings: one small model per concern, read once from `IDRES_*` env vars and `idres.toml`.

Nothing else in the code base reads the environment: each entry point (the CLI callback, a flow
called without settings, the web app factory) calls `load_settings` once and passes the relevant
part down.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from domain.columns import (
    COMMON_IDENTITY_COLUMNS,
    DEFAULT_CHANNELS,
    PRESET_NAMES,
    SCHEDULED_FLOWS,
    SURVIVORSHIP_RULES,
)
from domain.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_STORE = DATA_DIR / "store" / "idres.duckdb"

# dedupe (any pair) | link_only (only pairs across sources) | link_and_dedupe (both)
LinkType = Literal["dedupe", "link_only", "link_and_dedupe"]


SECRET_SHOWN = "(set, not shown)"


def _secret_shown(value: str | None) -> str | None:
    """A secret as JSON shows it (settings recorded with a flow run, `config show`): never its value."""
    return None if value is None else SECRET_SHOWN


class ChannelSettings(BaseModel):
    """How one channel's exports are read: aliases for the channel name and column renames."""

    model_config = ConfigDict(extra="forbid")

    aliases: list[str] = Field(default_factory=list)
    # source column name -> canonical column name (see CANONICAL_*_COLUMNS)
    columns: dict[str, str] = Field(default_factory=dict)
    # the canonical column that holds the id on this channel when `external_id` is absent
    external_id_from: str | None = None


def _default_channels() -> dict[str, ChannelSettings]:
    channels = {name: ChannelSettings() for name in DEFAULT_CHANNELS}
    channels["twitter"] = ChannelSettings(aliases=["x"], external_id_from="screen_name")
    channels["email"] = ChannelSettings(external_id_from="email")
    channels["sms"] = ChannelSettings(external_id_from="phone")
    channels["whatsapp"] = ChannelSettings(
        external_id_from="phone", columns={"wa_id": "external_id", "profile_name": "display_name"}
    )
    channels["facebook"] = ChannelSettings(columns={"psid": "external_id", "full_name": "display_name"})
    channels["phone"] = ChannelSettings(aliases=["voice"], external_id_from="phone")
    channels["instagram"] = ChannelSettings(external_id_from="screen_name")
    channels["chat"] = ChannelSettings(aliases=["webchat", "livechat"])
    return channels


def _merged_channel(builtin: ChannelSettings, declared: dict[str, Any]) -> dict[str, Any]:
    """A built-in channel with a declaration on top: aliases and columns extend, the rest override.

    Returned as a mapping so pydantic validates it where it was declared (unknown keys name their place).
    """
    merged = builtin.model_dump()
    for key, value in declared.items():
        if key == "aliases" and isinstance(value, list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        elif key == "columns" and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _declared_fields(value: Any) -> dict[str, Any] | None:
    """The fields a channel declaration sets (a model's explicitly set fields, or a mapping's keys)."""
    if isinstance(value, ChannelSettings):
        return {key: getattr(value, key) for key in value.model_fields_set}
    if isinstance(value, dict):
        return dict(value)
    return None  # not a declaration: pydantic reports it


class IngestSettings(BaseModel):
    """Reading, normalizing and validating channel exports."""

    model_config = ConfigDict(extra="forbid")

    default_region: str = "GB"
    max_value_length: int = Field(default=2000, ge=16)
    max_body_length: int = Field(default=100_000, ge=256)
    landing_dir: Path = DATA_DIR / "landing"
    # a landed file is taken once unchanged this long (and, when required, with its `.ready` marker)
    landing_settle_s: float = Field(default=5.0, ge=0.0)
    landing_require_ready: bool = False
    data_docs_dir: Path = DATA_DIR / "gx_docs"
    # declarations extend and override the built-in channels field by field (see `_merged_channel`);
    # with `channels_replace = true` the declared channels are the whole list
    channels: dict[str, ChannelSettings] = Field(default_factory=_default_channels)
    channels_replace: bool = False
    # source column -> canonical identity column, on every channel (see COMMON_IDENTITY_COLUMNS)
    common_columns: dict[str, str] = Field(default_factory=lambda: dict(COMMON_IDENTITY_COLUMNS))
    # a vendor export's column mapping, by name (see ingest/presets.py; `idres ingest --preset` wins)
    preset: str | None = None

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESET_NAMES:
            raise ValueError(f"unknown preset {value!r}; presets: {', '.join(PRESET_NAMES)}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _merge_channels(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "channels" not in data or data.get("channels_replace"):
            return data
        declared = data["channels"]
        if not isinstance(declared, dict):
            return data  # pydantic reports the wrong type
        channels: dict[str, Any] = dict(_default_channels())
        for name, value in declared.items():
            fields = _declared_fields(value)
            if name in channels and fields is not None:
                channels[name] = _merged_channel(channels[name], fields)
            else:
                channels[name] = value
        return {**data, "channels": channels}

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError(f"default_region must be a two-letter region code, got {value!r}")
        return value.upper()

    def channel_names(self) -> dict[str, str]:
        """Every accepted spelling of a channel, lower-cased, mapped to its canonical name."""
        names: dict[str, str] = {}
        for name, channel in self.channels.items():
            names[name.lower()] = name
            for alias in channel.aliases:
                names[alias.lower()] = name
        return names


class MatchTuning(BaseModel):
    """The [match] fields the engine reads as they are; `matching.config.MatchConfig` extends this."""

    model_config = ConfigDict(extra="forbid")

    review_threshold: float = Field(default=0.80, gt=0.0, lt=1.0)
    auto_approve_threshold: float | None = Field(default=None, gt=0.0, le=1.0)
    # extra comparisons and blocking rules configured by a data engineer, see matching/config.py
    # (MatchConfig holds them parsed, with the defaults merged in)
    comparisons: list[Any] = Field(default_factory=list)
    blocking_rules: list[Any] = Field(default_factory=list)
    max_block_size: int = Field(default=50, ge=2)
    # dedupe: every pair, whatever its source; link_only: only pairs across sources (a CRM against
    # the channels, or two CRMs), never two identities of one source; link_and_dedupe: both
    link_type: LinkType = "dedupe"
    # the column naming an identity's source: the channel, or an extra attribute such as "source"
    source_column: str = Field(default="channel", min_length=1)
    # one compared column built from several: name -> parts, joined by a space (see attributes.py)
    composite_columns: dict[str, list[str]] = Field(default_factory=dict)
    # pairs from this probability up to the review threshold are stored in band "possible" (off
    # the default queue) so agents and `idres evaluate` can look below review; None: not stored
    possible_floor: float | None = Field(default=0.3, gt=0.0, lt=1.0)
    # a value (email/phone/handle) is "shared" when at least this many customers hold it and two
    # of them are clearly different people (matching/shared.py); two holders are usually the pair
    shared_min_holders: int = Field(default=3, ge=3)
    # ... or, whatever the names, by this many distinct customers: one person rarely has more
    # than ~5 channel identities, so 8 customers on one value is a switchboard or shared inbox
    shared_min_customers: int = Field(default=8, ge=2)
    # a value held by 2..this many customers is "private": a pair agreeing on it scores at least
    # the share of such values the data shows to be one person's (matching/clusters.py); 0: off
    private_value_max_customers: int = Field(default=5, ge=0)
    # precision first: a full name more than this many customers hold weighs no more than its other
    # holders allow, u >= (holders - this) / customers (matching/names.py); None: off. The name
    # cells (matching/name_cells.py) do most of this from the data now; at 3 gen2-100k's review
    # band goes 0.970 -> 0.972 and its cluster F1 0.596 -> 0.583 (README)
    namesake_holders: int | None = Field(default=None, ge=2)
    # random pairs sampled to estimate u; 300k gives ~1% relative error on a level with u=0.01
    u_sample_pairs: int = Field(default=300_000, ge=1000)
    # EM trains on at most this many blocked pairs (a uniform sample); enough for ~25 m values:
    # 1M -> 500k changed review-band precision and cluster F1 by <= 0.0015 at 1M identities (the
    # 100k sets have fewer pairs) and took 0.5-0.9 s off the model step there
    em_max_pairs: int = Field(default=500_000, ge=1000)
    em_max_iterations: int = Field(default=100, ge=1)
    em_tolerance: float = Field(default=1e-4, gt=0.0)
    # incremental runs with a stored model: re-estimate m on the new pairs (few EM rounds) or not
    refit_on_incremental: bool = False
    seed: int = 42

    @model_validator(mode="after")
    def _auto_above_review(self) -> MatchTuning:
        if self.auto_approve_threshold is not None and self.auto_approve_threshold < self.review_threshold:
            raise ValueError("auto_approve_threshold must be at least review_threshold")
        return self


class MatchSettings(MatchTuning):
    """Blocking, comparison and suggestion thresholds as configured (the matching package validates the rest)."""

    comparisons: list[dict[str, Any]] = Field(default_factory=list)
    blocking_rules: list[dict[str, Any]] = Field(default_factory=list)


class DaskSettings(BaseModel):
    """Scale-out of the match flow: candidate-pair partitions scored on a Dask cluster."""

    model_config = ConfigDict(extra="forbid")

    # tcp://host:port of a running scheduler; None scores in this process
    address: str | None = None
    partitions: int = Field(default=8, ge=1)


class ReviewSettings(BaseModel):
    """Decisions and merges: how the surviving customer's profile is chosen."""

    model_config = ConfigDict(extra="forbid")

    # applied in order until one picks a value; see review/survivorship.py
    survivorship: list[str] = Field(default_factory=lambda: list(SURVIVORSHIP_RULES))
    # profile fields kept as lists of every distinct value rather than one winner
    list_fields: list[str] = Field(default_factory=lambda: ["emails", "phones"])

    @field_validator("survivorship")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        unknown = [rule for rule in value if rule not in SURVIVORSHIP_RULES]
        if unknown or not value:
            raise ValueError(f"survivorship rules must be some of {SURVIVORSHIP_RULES}, got {value}")
        return value


class ComplianceSettings(BaseModel):
    """Export bundles, anonymization and retention."""

    model_config = ConfigDict(extra="forbid")

    export_dir: Path = DATA_DIR / "exports"
    # when set, bundles are encrypted (scrypt + AES-GCM, see docs/compliance.md)
    export_passphrase: str | None = None
    # HMAC key for the erased identity keys; unset: a random key kept in `anonymization_key_file`
    anonymization_key: str | None = None
    # default: `anonymization.key` next to the store file, created (mode 0600) on first use
    anonymization_key_file: Path | None = None
    retention_days: int | None = Field(default=None, ge=1)
    # kept copies of ingested files (landing processed/ and failed/) older than this are deleted by every
    # anonymize run and landing ingest; None keeps them (erasures still remove their people's rows)
    landing_copies_retention_days: int | None = Field(default=30, ge=0)

    @field_serializer("export_passphrase", "anonymization_key", when_used="json")
    def _hidden(self, value: str | None) -> str | None:
        return _secret_shown(value)


class ScheduleSettings(BaseModel):
    """Cron schedules of the deployments served by `idres serve` (see flows/deployments.py)."""

    model_config = ConfigDict(extra="forbid")

    # an empty string keeps the deployment without a schedule (runs only when started by hand)
    ingest: str = "*/10 * * * *"
    match: str = "5 * * * *"
    apply_merges: str = "15 * * * *"
    export: str = "*/15 * * * *"
    anonymize: str = "0 3 * * *"
    # IANA zone the cron strings are read in
    timezone: str = "UTC"
    # flows `idres serve` leaves out entirely, e.g. ["anonymize"] on a machine that must not erase
    disabled: list[str] = Field(default_factory=list)

    @field_validator("ingest", "match", "apply_merges", "export", "anonymize")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        value = value.strip()
        if value and len(value.split()) not in (5, 6):
            raise ValueError(f"a schedule is a cron string like '*/15 * * * *' (or empty), got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"timezone must be an IANA zone like 'Europe/London', got {value!r}") from error
        return value

    @field_validator("disabled")
    @classmethod
    def _known_flows(cls, value: list[str]) -> list[str]:
        names = [name.replace("-", "_") for name in value]
        unknown = [name for name in names if name not in SCHEDULED_FLOWS]
        if unknown:
            raise ValueError(f"disabled names unknown flow(s) {unknown}; flows are {list(SCHEDULED_FLOWS)}")
        return names


class WebSettings(BaseModel):
    """The review page."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000
    # signs session cookies; when unset one is generated once into `<store>.web-secret` (mode 0600)
    secret_key: str | None = None
    session_hours: float = Field(default=12.0, gt=0)
    # how long a page waits for a flow to let go of the store before showing "busy, retrying"
    read_wait_s: float = Field(default=3.0, ge=0)
    # how long an action waits before it is queued in the outbox to be applied when the store is free
    write_wait_s: float = Field(default=2.0, ge=0)
    # requests share one store connection, closed after `hold_idle_s` without requests and after
    # `hold_max_s` at most, then left closed `release_gap_s` so a waiting flow takes the file
    hold_idle_s: float = Field(default=0.5, ge=0)
    hold_max_s: float = Field(default=8.0, gt=0)
    release_gap_s: float = Field(default=0.6, ge=0)

    @field_serializer("secret_key", when_used="json")
    def _hidden(self, value: str | None) -> str | None:
        return _secret_shown(value)


class PrefectSettings(BaseModel):
    """How `idres` commands reach Prefect (see flows/runtime.py; PREFECT_API_URL, when set, wins)."""

    model_config = ConfigDict(extra="forbid")

    # one background Prefect server per Prefect home, started on first use and shared by commands;
    # false: every command starts Prefect's own temporary server (slow, but nothing keeps running)
    warm_server: bool = True
    # the warm server stops after this long without a command using it
    idle_minutes: float = Field(default=30.0, gt=0)
    # how long a command waits for a Prefect server (warm or temporary) to start
    startup_timeout_s: float = Field(default=300.0, ge=5)
    # seconds between Prefect's flow-run heartbeats (for a crashed-run automation), or none sent:
    # Prefect's heartbeat thread sleeps in 1 s steps and the run waits for it, up to 1 s at the end
    # of every flow command, while runs of idres last seconds to minutes (PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    # when set, wins)
    heartbeat_s: int | None = Field(default=None, ge=30)


# the file `load_settings(config=...)` reads while it builds the settings (`idres --config FILE`)
_CONFIG: ContextVar[Path | None] = ContextVar("idres_config", default=None)


def config_file(explicit: Path | None = None) -> Path | None:
    """The configuration file in use: `explicit` (`--config`), else `IDRES_CONFIG`, else `idres.toml`
    here or in the project root."""
    explicit = explicit or _CONFIG.get()
    if explicit:
        return Path(explicit)
    named = os.environ.get("IDRES_CONFIG")
    if named:
        return Path(named)
    for candidate in (Path.cwd() / "idres.toml", PROJECT_ROOT / "idres.toml"):
        if candidate.is_file():
            return candidate
    return None


def environment_values() -> dict[str, str]:
    """The `IDRES_*` environment variables (names upper-cased), for reporting where a value came from."""
    return {name.upper(): value for name, value in os.environ.items() if name.upper().startswith("IDRES_")}


class SettingsError(ConfigurationError, ValueError):
    """Bad configuration (malformed file, unknown key, invalid value): a message naming file and key."""


@dataclass(frozen=True)
class SettingsOrigin:
    """Where loaded settings came from: the configuration file and the `IDRES_*` variables, at load time."""

    file: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)


class Settings(BaseSettings):
    """All settings; `IDRES_STORE`, `IDRES_INGEST__DEFAULT_REGION`, ... override `idres.toml`."""

    model_config = SettingsConfigDict(env_prefix="IDRES_", env_nested_delimiter="__", extra="forbid")
    # set by `load_settings`; settings built in code (tests) come from nowhere but their arguments
    _origin: SettingsOrigin = PrivateAttr(default_factory=SettingsOrigin)

    store: Path = DEFAULT_STORE
    store_busy_timeout_s: float = Field(default=30.0, ge=0)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    dask: DaskSettings = Field(default_factory=DaskSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    prefect: PrefectSettings = Field(default_factory=PrefectSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = config_file()
        if config is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)

    @property
    def origin(self) -> SettingsOrigin:
        """The file and environment these settings were read from (what a match run records)."""
        return self._origin

    def __eq__(self, other: object) -> bool:
        """Equal when every value is: where they came from (`origin`) is not compared."""
        if not isinstance(other, Settings):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from env and config file (`config`, else as `config_file` finds it), with explicit
    overrides (e.g. `--store`) on top.

    Raises SettingsError with a readable message (file, line, key, nearest valid key).
    """
    import tomllib

    from domain.config_errors import explain_validation_error

    clean = {key: value for key, value in overrides.items() if value is not None}
    path = config_file(config)
    if path is not None and not path.is_file():
        named_by = "--config" if config else "IDRES_CONFIG"
        raise SettingsError(f"{path}: configuration file not found (named by {named_by})")
    token = _CONFIG.set(path)
    try:
        settings = Settings(**clean)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: malformed TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise SettingsError(f"{path}: not UTF-8 text (byte {error.start}): save it as UTF-8") from None
    except ValidationError as error:
        raise SettingsError(explain_validation_error(error, path)) from None
    finally:
        _CONFIG.reset(token)
    settings._origin = SettingsOrigin(path, environment_values())
    return settings
