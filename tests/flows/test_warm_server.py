"""The warm Prefect server: shared by commands of one Prefect home, replaced when dead, idle-stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows.warm_server import ensure, healthy, read_state, stop_warm_server, warm_server

pytestmark = pytest.mark.slow
TIMEOUT_S = 180.0


def _ensure_in_another_process(home: Path) -> dict[str, object]:
    code = (
        "import json, sys; from pathlib import Path; from flows.warm_server import ensure; "
        f"s = ensure(Path(sys.argv[1]), 1800, {TIMEOUT_S}); print(json.dumps({{'pid': s.pid, 'url': s.url}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(home)], capture_output=True, text=True, timeout=300, check=True
    )
    return dict(json.loads(result.stdout))


def test_commands_share_one_server_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    try:
        with warm_server(home, 1800, TIMEOUT_S) as url:
            first = read_state(home)
            assert first is not None and first.url == url and healthy(url)
            # another command (another process) at the same time gets the same server
            assert _ensure_in_another_process(home) == {"pid": first.pid, "url": url}
            # its UI talks to its own port, not Prefect's default 4200
            with urllib.request.urlopen(f"{url.removesuffix('/api')}/ui-settings", timeout=10) as response:
                assert f":{first.port}/api" in json.loads(response.read())["api_url"]

        os.killpg(first.pid, signal.SIGKILL)  # the server dies (crash, OOM killer, reboot of its parent)
        deadline = time.monotonic() + 10
        while healthy(first.url, timeout_s=1) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not healthy(first.url, timeout_s=1)

        replaced = ensure(home, idle_s=3, startup_timeout_s=TIMEOUT_S)
        assert replaced.pid != first.pid and healthy(replaced.url)
        # unused for idle_s, the replacement stops by itself and forgets its state
        deadline = time.monotonic() + 60
        while read_state(home) is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert read_state(home) is None and not healthy(replaced.url, timeout_s=1)
    finally:
        stop_warm_server(home)


def test_a_new_home_starts_on_a_copy_of_the_migrated_template_and_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import sqlite3

    from flows import prefect_template

    made = prefect_template.template_path()  # `make setup` makes it; built here when it did not
    template = tmp_path / "template.db"
    if made is not None and made.is_file():
        shutil.copyfile(made, template)
    else:
        prefect_template.build(template)
    with sqlite3.connect(template) as connection:  # marks the copy: the server must run on it
        connection.execute("CREATE TABLE idres_test_marker (x INTEGER)")
    connection.close()
    monkeypatch.setattr(prefect_template, "template_path", lambda: template)
    home = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    for variable in ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"):
        monkeypatch.delenv(variable, raising=False)
    try:
        state = ensure(home, 1800, TIMEOUT_S)
        request = urllib.request.Request(
            f"{state.url}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # its tables are there
            assert response.status == 200 and json.loads(response.read()) == []
        with sqlite3.connect(home / "prefect.db") as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        connection.close()
        assert {"idres_test_marker", "flow_run", "alembic_version"} <= tables
    finally:
        stop_warm_server(home)
