"""Settings that cannot be silently wrong: unknown keys, malformed files and bad values are errors naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.columns import DEFAULT_CHANNELS
from domain.settings import ChannelSettings, IngestSettings, Settings, SettingsError, load_settings
from idres.cli.app import app

runner = CliRunner()


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "idres.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("IDRES_CONFIG", str(path))
    return path


@pytest.mark.parametrize(
    ("text", "key", "nearest"),
    [
        ("[match]\nreview_treshold = 0.5\n", "review_treshold", "review_threshold"),
        ('[ingest]\ndefault_regoin = "AU"\n', "default_regoin", "default_region"),
        ('[ingest.channels.viber]\nalias = ["vb"]\n', "alias", "aliases"),
        ('[schedules]\nmacth = "5 * * * *"\n', "macth", "match"),
        ("[web]\nprot = 8001\n", "prot", "port"),
        ("[dask]\npartition = 4\n", "partition", "partitions"),
        ('[compliance]\nexport_dri = "x"\n', "export_dri", "export_dir"),
        ('[review]\nlist_field = ["emails"]\n', "list_field", "list_fields"),
        ("store_busy_timeout = 5\n", "store_busy_timeout", "store_busy_timeout_s"),
    ],
)
def test_unknown_key_names_file_key_and_nearest_valid_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, key: str, nearest: str
) -> None:
    path = _config(tmp_path, monkeypatch, text)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert str(path) in message
    assert f"unknown key {key!r}" in message
    assert f"did you mean {nearest!r}" in message


def test_a_key_in_the_wrong_section_says_where_it_belongs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, monkeypatch, "review_threshold = 0.5\n")
    with pytest.raises(SettingsError, match=r"'review_threshold' belongs in \[match\]"):
        load_settings()


def test_misspelt_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDRES_CONFIG", raising=False)
    monkeypatch.chdir(Path("/"))
    monkeypatch.setenv("IDRES_MATCH__REVIEW_TRESHOLD", "0.5")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "IDRES_MATCH__REVIEW_TRESHOLD" in str(error.value)
    assert "did you mean 'review_threshold'" in str(error.value)


def test_bad_value_names_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config(tmp_path, monkeypatch, "[match]\nreview_threshold = 1.5\n")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(path) in str(error.value) and "match.review_threshold" in str(error.value)


def test_valid_file_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path, monkeypatch, '[match]\nreview_threshold = 0.7\n[ingest]\ndefault_region = "AU"\n')
    settings = load_settings()
    assert settings.match.review_threshold == 0.7 and settings.ingest.default_region == "AU"


def test_missing_explicit_config_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDRES_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match=r"nope\.toml: configuration file not found"):
        load_settings()


def test_malformed_toml_is_a_short_message_naming_file_line_column_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _config(tmp_path, monkeypatch, '[match]\nreview_threshold = 0.8\n[ingest\ndefault_region = "AU"\n')
    result = runner.invoke(app, ["status", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert str(path) in result.output and "line 3" in result.output and "column" in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) <= 4


def test_malformed_toml_through_the_installed_command(tmp_path: Path) -> None:
    path = tmp_path / "idres.toml"
    path.write_text("[match\n", encoding="utf-8")
    env = {"IDRES_CONFIG": str(path), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "idres", "status", "--store", str(tmp_path / "s.duckdb")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert str(path) in done.stderr and "line 1, column 7" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_unknown_match_keys_fail_idres_match_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _config(
        tmp_path,
        monkeypatch,
        '[match]\n[[match.comparisons]]\nname = "ssn"\nkind = "exact"\ncolum = "soc_sec_id"\n',
    )
    result = runner.invoke(app, ["match", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert str(path) in result.output and "unknown key 'colum'" in result.output
    assert "did you mean 'column'" in result.output


def test_declaring_a_built_in_channel_keeps_its_other_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "idres.toml"
    config.write_text(
        '[ingest.channels.email]\naliases = ["mail"]\n'
        '[ingest.channels.whatsapp]\ncolumns = { phone_number = "phone" }\n'
        '[ingest.channels.viber]\ncolumns = { viber_user = "external_id" }\n'
    )
    monkeypatch.setenv("IDRES_CONFIG", str(config))
    channels = Settings().ingest.channels
    # a declaration adds a channel; it no longer replaces the whole built-in list
    assert set(channels) == {*DEFAULT_CHANNELS, "viber"}
    # email keeps external_id_from = "email" while gaining an alias
    assert channels["email"].external_id_from == "email"
    assert channels["email"].aliases == ["mail"]
    # whatsapp's built-in columns are extended, not dropped
    assert channels["whatsapp"].columns == {
        "wa_id": "external_id",
        "profile_name": "display_name",
        "phone_number": "phone",
    }
    assert channels["whatsapp"].external_id_from == "phone"
    assert IngestSettings(channels=channels).channel_names()["mail"] == "email"


def test_a_declared_field_overrides_the_built_in_one() -> None:
    settings = IngestSettings(
        channels={
            "twitter": ChannelSettings(external_id_from=None),
            "chat": {"aliases": ["web"], "columns": {"visitor": "external_id"}},
        }
    )
    assert settings.channels["twitter"].external_id_from is None
    assert settings.channels["twitter"].aliases == ["x"]
    assert settings.channels["chat"].aliases == ["webchat", "livechat", "web"]


def test_channels_replace_gives_a_clean_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "idres.toml"
    config.write_text("[ingest]\nchannels_replace = true\n[ingest.channels.email]\naliases = []\n")
    monkeypatch.setenv("IDRES_CONFIG", str(config))
    channels = Settings().ingest.channels
    assert list(channels) == ["email"]
    assert channels["email"].external_id_from is None


def test_link_type_is_a_match_setting_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the third mistake: `link_type = "link_only"` passed silently before the setting existed
    from matching import MatchConfig

    _config(tmp_path, monkeypatch, 'link_type = "link_only"\n')
    with pytest.raises(
        SettingsError, match=r"unknown key 'link_type' in the top level; 'link_type' belongs in \[match\]"
    ):
        load_settings()
    _config(tmp_path, monkeypatch, '[match]\nlink_type = "link_only"\n')
    assert MatchConfig.from_settings(load_settings().match).link_type == "link_only"
    _config(tmp_path, monkeypatch, '[match]\nlink_type = "link-only"\n')
    with pytest.raises(SettingsError, match="link_only"):
        load_settings()


def test_non_utf8_config_file_is_a_short_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "idres.toml"
    path.write_bytes(b'[ingest]\ndefault_region = "\xe9"\n')
    monkeypatch.setenv("IDRES_CONFIG", str(path))
    with pytest.raises(SettingsError, match="not UTF-8 text"):
        load_settings()


def test_every_match_setting_reaches_the_engine_with_the_same_default() -> None:
    # one definition (domain.settings.MatchTuning): [match] forbids unknown keys, the engine reads them all
    from domain.settings import MatchSettings, MatchTuning
    from matching import MatchConfig

    assert issubclass(MatchConfig, MatchTuning) and issubclass(MatchSettings, MatchTuning)
    engine = MatchConfig.model_fields
    assert set(MatchSettings.model_fields) == set(engine)
    for name in set(MatchTuning.model_fields) - {"comparisons", "blocking_rules"}:
        assert MatchSettings.model_fields[name].get_default(call_default_factory=True) == engine[
            name
        ].get_default(call_default_factory=True), name


def test_tuning_keys_reach_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matching import MatchConfig

    _config(tmp_path, monkeypatch, "[match]\npossible_floor = 0.4\nem_max_pairs = 5000\nseed = 7\n")
    config = MatchConfig.from_settings(load_settings().match)
    assert (config.possible_floor, config.em_max_pairs, config.seed) == (0.4, 5000, 7)


def test_a_section_given_as_json_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDRES_CONFIG", raising=False)
    monkeypatch.chdir(Path("/"))
    monkeypatch.setenv("IDRES_MATCH", '{"review_treshold": 0.5}')
    with pytest.raises(
        SettingsError, match=r"environment variable IDRES_MATCH: unknown key 'review_treshold'"
    ):
        load_settings()


def test_loaded_settings_equal_the_same_settings_built_in_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equality compares values, not where they came from (`origin` is recorded, not compared)."""
    monkeypatch.chdir(tmp_path)
    defaults = Settings()
    assert load_settings() == defaults
    path = tmp_path / "idres.toml"
    path.write_text('[ingest]\ndefault_region = "FR"\n', encoding="utf-8")
    loaded = load_settings()
    assert loaded.origin.file == path
    assert loaded == Settings(ingest={"default_region": "FR"})
    assert loaded != defaults
    assert loaded.model_copy(update={"store": tmp_path / "x.duckdb"}) != loaded
