import pytest

from matching import ConfigError, MatchConfig, run_match
from tests.matching.idframes import make_identities


def test_defaults_and_extra_comparison_and_rule():
    cfg = MatchConfig.from_settings(
        {
            "comparisons": [
                {"name": "loyalty_no", "kind": "exact", "column": "loyalty_no"},
                {"name": "company", "enabled": False},
            ],
            "blocking_rules": [{"name": "loyalty", "on": ["loyalty_no"]}],
        }
    )
    names = [c.name for c in cfg.active_comparisons()]
    assert "loyalty_no" in names and "company" not in names
    assert cfg.active_rules()[-1].name == "loyalty"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"comparisons": [{"name": "x", "kind": "fuzzy", "column": "city_norm"}]}, "kind"),
        (
            {
                "comparisons": [
                    {"name": "x", "kind": "string", "column": "city_norm", "thresholds": [0.5, 0.9]}
                ]
            },
            "descending",
        ),
        (
            {"comparisons": [{"name": "x", "kind": "string", "column": "city_norm", "thresholds": [1.5]}]},
            "(0, 1]",
        ),
        ({"blocking_rules": [{"name": "x", "on": ["nope(city_norm)"]}]}, "unknown key function"),
        ({"review_threshold": 1.5}, "review_threshold"),
        ({"review_threshold": 0.9, "auto_approve_threshold": 0.85}, "auto_approve_threshold"),
    ],
)
def test_bad_configuration_is_a_clear_error(raw, needle):
    with pytest.raises(ConfigError, match=None) as err:
        MatchConfig.from_settings(raw)
    assert needle in str(err.value)


def test_unknown_column_names_the_column():
    cfg = MatchConfig.from_settings({"comparisons": [{"name": "zip", "kind": "exact", "column": "zip_code"}]})
    df = make_identities([{"first_name_norm": "ann"}])
    with pytest.raises(ConfigError, match="zip_code"):
        run_match(df, cfg)


def test_settings_object_is_accepted():
    from domain.settings import MatchSettings

    cfg = MatchConfig.from_settings(MatchSettings(review_threshold=0.7, max_block_size=30))
    assert cfg.review_threshold == 0.7 and cfg.max_block_size == 30
