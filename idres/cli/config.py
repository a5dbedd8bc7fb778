"""`idres config check` and `idres config show`: the effective configuration and whether it fits the store."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from domain.config_sources import COMMAND_LINE, DEFAULT, SECRET_KEYS, leaves, to_toml, value_sources
from domain.settings import Settings
from idres.cli.common import FormatOption, StoreOption, cli_context, match_config_for, settings_for
from idres.output import OutputFormat, console, emit, err_console, table
from matching.run_config import effective_settings

group = typer.Typer(
    help="The effective configuration (defaults, idres.toml, IDRES_* variables) and its check.",
    no_args_is_help=True,
)


class ShowFormat(StrEnum):
    """How `config show` prints."""

    toml = "toml"
    json = "json"


def _sources(
    ctx: typer.Context, settings: Settings, store: Path | None
) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    effective = effective_settings(settings)
    given = cli_context(ctx).store_given(store)  # `--store` after or before the command
    sources = value_sources(
        effective, settings.origin.file, settings.origin.environment, {"store"} if given else None
    )
    # a comparison or rule is the user's when [match] names it, else a built-in default
    for section in ("comparisons", "blocking_rules"):
        named = {str(item.get("name")) for item in getattr(settings.match, section)}
        raw = sources.get(("match", section), DEFAULT)
        for item in effective["match"][section]:
            sources[("match", section, item["name"])] = raw if item["name"] in named else DEFAULT
    return effective, sources


def _shown(path: tuple[str, ...], value: Any) -> str:
    if path[-1] in SECRET_KEYS and value is not None:
        return "(set, not shown)"
    if value is None:
        return "(unset)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _masked(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: "(set, not shown)" if k in SECRET_KEYS and v is not None else _masked(v)
            for k, v in data.items()
        }
    return data


def settings_rows(effective: dict[str, Any], sources: dict[tuple[str, ...], str]) -> list[dict[str, Any]]:
    """key, value and source of every setting; each comparison and blocking rule on its own row."""
    rows = []
    for path, value in leaves(effective):
        if path[:1] == ("match",) and path[1:2] in (("comparisons",), ("blocking_rules",)):
            for item in value:
                key = (*path, item["name"])
                shown = {k: v for k, v in item.items() if k != "name"}
                rows.append(
                    {"key": ".".join(key), "value": _shown(key, shown), "source": sources.get(key, DEFAULT)}
                )
            continue
        rows.append(
            {"key": ".".join(path), "value": _shown(path, value), "source": sources.get(path, DEFAULT)}
        )
    return rows


def check_store(settings: Settings) -> dict[str, Any]:
    """The configured columns against what the store's identities hold: errors, warnings, available columns."""
    from matching.attributes import column_fill, extra_columns, fill_problems, prepare_attributes
    from matching.config import ConfigError, MatchConfig
    from matching.phones import with_national_digits
    from store import StoreError, match_runs, open_store
    from store import attributes as store_attributes

    config = MatchConfig.from_settings(settings.match)
    out: dict[str, Any] = {"path": str(settings.store), "errors": [], "warnings": [], "columns": {}}
    if not settings.store.exists():
        out["warnings"].append(f"store {settings.store} does not exist yet: columns not checked")
        return out
    try:
        with open_store(
            settings.store, read_only=True, busy_timeout_s=settings.store_busy_timeout_s
        ) as store:
            available = store_attributes.available_columns(store)
            identities, _, _ = match_runs.load_match_input(store, extra_columns(config))
    except StoreError as error:  # a busy or unreadable store says nothing about the configuration
        out["warnings"].append(f"could not read the store, columns not checked: {error}")
        return out
    out["identities"] = identities.height
    out["columns"] = available
    if identities.height == 0:
        out["warnings"].append("the store holds no identities yet: columns not checked")
        return out
    try:
        # the columns the engine checks: the store's, the prepared extras and the derived phone digits
        config.check_columns(with_national_digits(prepare_attributes(identities, config)).columns)
    except ConfigError as error:
        out["errors"].append(str(error))
        return out
    errors, warnings = fill_problems(config, column_fill(identities, config), available)
    out["errors"] += errors
    out["warnings"] += warnings
    return out


@group.command("check")
def config_check(
    ctx: typer.Context, store: StoreOption = None, fmt: FormatOption = OutputFormat.text
) -> None:
    """Validate idres.toml and IDRES_* variables and the store's columns; print every value and its source."""
    settings = settings_for(ctx, store)  # a malformed file or unknown key exits 2 here
    match_config_for(settings)  # so does a bad [match]
    effective, sources = _sources(ctx, settings, store)
    file = settings.origin.file
    checked = check_store(settings)
    report: dict[str, Any] = {
        "file": str(file) if file else None,
        "ok": not checked["errors"],
        "settings": settings_rows(effective, sources),
        "store": checked,
    }
    emit(report, fmt, _render_check)
    if not report["ok"]:
        raise typer.Exit(2)


def _render_check(report: dict[str, Any]) -> None:
    console.print(
        f"configuration file: {report['file'] or '(none: defaults and IDRES_* variables)'}", highlight=False
    )
    rows = [[r["key"], r["value"], r["source"]] for r in report["settings"]]
    console.print(table("Effective configuration", ["setting", "value", "source"], rows))
    store = report["store"]
    if "identities" in store:
        console.print(f"store {store['path']}: {store['identities']} identities to match", highlight=False)
    for warning in store["warnings"]:
        err_console.print(f"warning: {warning}", markup=False, highlight=False)
    for error in store["errors"]:
        err_console.print(f"error: {error}", markup=False, highlight=False)
    console.print("configuration OK" if report["ok"] else "configuration has errors", highlight=False)


@group.command("show")
def config_show(
    ctx: typer.Context,
    store: StoreOption = None,
    fmt: Annotated[ShowFormat, typer.Option("--format", help="toml (reads back as idres.toml) or json.")] = (
        ShowFormat.toml
    ),
    sources: Annotated[
        bool, typer.Option("--sources", help="Mark values not from defaults with their source.")
    ] = (False),
) -> None:
    """Print the effective configuration (defaults merged with idres.toml and IDRES_* variables)."""
    settings = settings_for(ctx, store)
    match_config_for(settings)
    effective, where = _sources(ctx, settings, store)
    if fmt == ShowFormat.json:
        sys.stdout.write(json.dumps(_masked(effective), indent=2, ensure_ascii=False) + "\n")
        return
    marks = {p: s for p, s in where.items() if s != DEFAULT} if sources else None
    if marks is not None and where.get(("store",)) == COMMAND_LINE:
        marks[("store",)] = COMMAND_LINE
    sys.stdout.write(to_toml(effective, marks))
