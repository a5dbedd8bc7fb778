"""Migration 7: the effective matching configuration recorded with every match run."""

from store.schema import Migration

STATEMENTS = (
    # config_id: a short hash of the effective [match] configuration (defaults merged), so runs made
    # with the same configuration share it; config: that configuration, the file it came from and
    # which values the file or the environment set (matching/run_config.py `run_record`)
    "ALTER TABLE match_runs ADD COLUMN IF NOT EXISTS config_id VARCHAR",
    "ALTER TABLE match_runs ADD COLUMN IF NOT EXISTS config JSON",
)

MIGRATION = Migration(7, "effective matching configuration of each match run", STATEMENTS, {})
