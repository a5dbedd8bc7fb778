"""The scheduled deployments: built from settings for `idres serve`, and the same in prefect.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from domain.settings import PROJECT_ROOT, ScheduleSettings, Settings
from flows.deployments import SCHEDULED, build_deployments, scheduled_flow

PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"
EXPECTED = {"ingest", "match", "apply_merges", "export", "anonymize"}


def _available() -> set[str]:
    """Flows whose module exists in this checkout (all five once every engineer has landed)."""
    return {spec.key for spec in SCHEDULED if (PROJECT_ROOT / f"{spec.module.replace('.', '/')}.py").exists()}


def test_the_five_flows_are_scheduled() -> None:
    assert {spec.key for spec in SCHEDULED} == EXPECTED
    assert _available() == EXPECTED  # every flow module exists, so every test below covers all five
    assert scheduled_flow("apply-merges").flow_name == "apply-merges"
    with pytest.raises(ValueError, match="unknown flow 'nope'"):
        scheduled_flow("nope")


def test_deployments_follow_the_schedule_settings(tmp_path: Path) -> None:
    schedules = ScheduleSettings(match="*/7 * * * *", export="", timezone="Europe/London")
    settings = Settings(store=tmp_path / "s.duckdb", schedules=schedules)
    plan = build_deployments(settings)
    built = {str(d.flow_name): d for d in plan.deployments}
    by_flow = {spec.flow_name: spec for spec in SCHEDULED}
    assert {by_flow[name].key for name in built} == _available()
    assert set(plan.skipped) == EXPECTED - _available()
    for name, deployment in built.items():
        spec = by_flow[name]
        assert deployment.name == spec.deployment_name
        assert deployment.parameters == {"store": str(tmp_path / "s.duckdb")}
        assert deployment.entrypoint == spec.entrypoint == f"{spec.module}.{spec.function}"
        cron = spec.cron(schedules)
        if cron:
            (schedule,) = deployment.schedules or []
            assert schedule.schedule.cron == cron  # type: ignore[union-attr]
            assert schedule.schedule.timezone == "Europe/London"  # type: ignore[union-attr]
        else:
            assert not deployment.schedules
    assert built["match"].schedules[0].schedule.cron == "*/7 * * * *"  # type: ignore[index,union-attr]


def test_disabled_flows_are_left_out(tmp_path: Path) -> None:
    settings = Settings(
        store=tmp_path / "s.duckdb", schedules=ScheduleSettings(disabled=["match", "apply-merges"])
    )
    plan = build_deployments(settings)
    assert {d.flow_name for d in plan.deployments}.isdisjoint({"match", "apply-merges"})
    assert "disabled" in plan.skipped["match"] and "disabled" in plan.skipped["apply_merges"]


def test_bad_schedule_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="cron string"):
        ScheduleSettings(export="every 15 minutes")
    with pytest.raises(ValidationError, match="unknown flow"):
        ScheduleSettings(disabled=["exports"])
    with pytest.raises(ValidationError, match="IANA zone"):
        ScheduleSettings(timezone="Mars/Olympus")


def _prefect_yaml() -> dict[str, Any]:
    return yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_prefect_yaml_declares_the_same_deployments() -> None:
    from prefect.cli.deploy._models import PrefectYamlModel

    config = _prefect_yaml()
    PrefectYamlModel.model_validate(config)  # the shape `prefect deploy` accepts
    defaults = ScheduleSettings()
    declared = {d["name"]: d for d in config["deployments"]}
    assert set(declared) == {spec.deployment_name for spec in SCHEDULED}
    for spec in SCHEDULED:
        deployment = declared[spec.deployment_name]
        assert deployment["entrypoint"] == spec.entrypoint
        assert deployment["work_pool"]["name"] == "idres"
        (schedule,) = deployment["schedules"]
        assert schedule["cron"] == spec.cron(defaults) and schedule["timezone"] == defaults.timezone
    (step,) = config["pull"]
    assert "prefect.deployments.steps.set_working_directory" in step


def test_prefect_yaml_entrypoints_load_the_flows_in_a_fresh_process() -> None:
    """As a worker does: a new interpreter in the project folder loads each entrypoint."""
    script = (
        "import json, sys\n"
        "from prefect.flows import load_flow_from_entrypoint\n"
        "flows = [load_flow_from_entrypoint(e) for e in sys.argv[1:]]\n"
        "print(json.dumps([[f.name, sorted(f.parameters.properties)] for f in flows]))\n"
    )
    entrypoints = [d["entrypoint"] for d in _prefect_yaml()["deployments"]]
    done = subprocess.run(
        [sys.executable, "-c", script, *entrypoints],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert [name for name, _ in loaded] == [spec.flow_name for spec in SCHEDULED]
    assert all("store" in parameters for _, parameters in loaded)


@pytest.mark.slow
def test_local_prefect_server_runs_for_the_block_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import httpx

    from flows.deployments import local_prefect_server

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with local_prefect_server(port, tmp_path / "server.log", timeout_s=180) as api_url:
        assert api_url == f"http://127.0.0.1:{port}/api"
        assert httpx.get(f"{api_url}/health", timeout=5).status_code == 200
        # a second `idres serve` on the same port reuses the running server
        with local_prefect_server(port, tmp_path / "other.log") as again:
            assert again == api_url
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api_url}/health", timeout=2)
