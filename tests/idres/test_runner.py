"""idres/runner.py: what the warm runner imports before forking, so that a command's child need not."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from idres.runner import ROOT

# in a fresh interpreter: the runner's PRELOAD imported, then what a flow command's child does
# before its flow runs (Prefect serializes the parameters); prints the modules that imported
_CHILD = """
import importlib, json, sys
from idres.runner import PRELOAD
for name in PRELOAD:
    importlib.import_module(name)
before = set(sys.modules)
from domain.settings import Settings
from flows.ingest import ingest_flow
from flows.match import match_flow
match_flow.serialize_parameters({"store": "s.duckdb", "full": False, "settings": Settings()})
ingest_flow.serialize_parameters({"paths": ["a.csv"], "store": "s.duckdb", "settings": Settings()})
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.slow  # imports everything the runner does (several seconds)
def test_a_flow_commands_parameters_are_serialized_without_importing_anything() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []  # FastAPI's encoder: 0.2-0.8 s per command
