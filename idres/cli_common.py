"""Options and helpers shared by the `idres` sub-commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from idres.output import OutputFormat, fail
from idres.settings import Settings, SettingsError, load_settings
from store import Store, StoreError, open_store

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store", help="The DuckDB store file (default: IDRES_STORE, else data/store/idres.duckdb)."
    ),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text for people, json for scripts.")]


def settings_for(store: Path | None = None) -> Settings:
    """Settings from env and config, with `--store` on top; bad configuration exits with its reason."""
    try:
        return load_settings(store=store)
    except SettingsError as error:
        fail(str(error), code=2)


def match_config_for(settings: Settings) -> Any:
    """The effective matching configuration; a bad [match] exits 2 naming the file and the problem."""
    from idres.settings import config_file
    from matching.config import ConfigError, MatchConfig

    try:
        return MatchConfig.from_settings(settings.match)
    except ConfigError as error:
        fail(f"{config_file() or 'settings'}: [match]: {error}", code=2)


@contextmanager
def store_session(store: Path | None, read_only: bool = False) -> Iterator[Store]:
    """Open the configured store for one command; store errors exit with their message."""
    settings = settings_for(store)
    try:
        with open_store(
            settings.store, read_only=read_only, busy_timeout_s=settings.store_busy_timeout_s
        ) as session:
            yield session
    except StoreError as error:
        fail(str(error))
