"""The configuration a match run records, and the settings with [match] merged with its defaults.

Both need `MatchConfig` (the defaults of comparisons and blocking rules), hence here and not in
`domain/config_sources.py`, which says where each value came from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from domain.config_sources import DEFAULT, value_sources
from matching.config import MatchConfig


def effective_settings(settings: Any) -> dict[str, Any]:
    """Settings as plain data with [match] comparisons and blocking rules merged with the defaults."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    config = MatchConfig.from_settings(settings.match)
    match = data["match"]
    match["comparisons"] = [_spec(c) for c in config.comparisons]
    match["blocking_rules"] = [_spec(r) for r in config.blocking_rules]
    return data


def _spec(model: BaseModel) -> dict[str, Any]:
    """A comparison or rule as its non-default fields (plus name), the way one writes it in idres.toml."""
    data = model.model_dump(mode="json", exclude_defaults=True)
    return {"name": data.pop("name"), **data}


def run_record(settings: Any, file: Path | None, env: dict[str, str]) -> dict[str, Any]:
    """The configuration a match run records: the effective [match] (defaults merged), its id and sources."""
    config = MatchConfig.from_settings(settings.match)
    match = config.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(match, sort_keys=True).encode()).hexdigest()[:12]
    data = {"match": settings.match.model_dump(mode="json")}
    sources = value_sources(data, file, env)
    changed = {".".join(path): source for path, source in sources.items() if source != DEFAULT}
    return {"config_id": digest, "file": str(file) if file else None, "set": changed, "match": match}
