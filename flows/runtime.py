"""Prepare the process for running Prefect flows from the `idres` command, and pick the Prefect API.

Which API a command uses, first match wins:
1. `PREFECT_API_URL` (environment or Prefect profile): that server, checked before the flow runs;
2. the server `idres serve` started (it records itself in the warm-server folder of the Prefect home);
3. the warm server (flows/warm_server.py): started in the background on first use, one per Prefect
   home, stopped after `prefect.idle_minutes` without a command (`IDRES_PREFECT__WARM_SERVER=false`
   turns it off, and then Prefect starts its own temporary server for each command).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from domain.environment import STARTUP_TIMEOUT_VARIABLE, PrefectEnvironment
from domain.errors import Unavailable
from domain.settings import PrefectSettings
from flows.warm_server import WarmServerError, healthy, state_dir, warm_server

SERVE_FILE = "serve.json"  # `idres serve` records its server here while it runs


class PrefectUnavailable(Unavailable, RuntimeError):
    """No Prefect API could be had for a command; the message says what to do."""


def prefect_environment(settings: PrefectSettings) -> dict[str, str]:
    """The Prefect settings idres needs in force, as Prefect's environment variables."""
    return {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no route to the telemetry here
        # the temporary server needs far more than its 20 s default on a busy 2-core machine
        STARTUP_TIMEOUT_VARIABLE: str(int(settings.startup_timeout_s)),
    }


def prepare_prefect(settings: PrefectSettings | None = None) -> None:
    """Put idres' Prefect settings in the environment; call it before Prefect is first imported.

    Prefect reads its settings once, when it is imported: a variable set afterwards is not in force
    (`prefect_api` also applies them as temporary settings for that case). Values already set win.
    """
    for key, value in prefect_environment(settings or PrefectSettings()).items():
        os.environ.setdefault(key, value)


def serve_file(home: Path) -> Path:
    """Where `idres serve` records the server it runs for the Prefect home `home`."""
    return state_dir(home) / SERVE_FILE


def record_serve_server(home: Path, api_url: str) -> None:
    """Record the server of a running `idres serve` so other commands use it."""
    path = serve_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": api_url, "pid": os.getpid()}))


def forget_serve_server(home: Path) -> None:
    """Remove this process's `idres serve` record."""
    try:
        if json.loads(serve_file(home).read_text()).get("pid") == os.getpid():
            serve_file(home).unlink()
    except (OSError, ValueError):
        pass


def _serve_server(home: Path) -> str | None:
    try:
        url = str(json.loads(serve_file(home).read_text())["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if healthy(url) else None


@contextmanager
def prefect_console_level(level: int) -> Iterator[None]:
    """Show Prefect's console logs at `level` and up for the block (the API still gets every log)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    handlers = {
        id(handler): handler
        for logger in [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
        for handler in getattr(logger, "handlers", [])
        if isinstance(handler, PrefectConsoleHandler)
    }
    saved = [(handler, handler.level) for handler in handlers.values()]
    for handler, old in saved:
        handler.setLevel(max(old, level))
    try:
        yield
    finally:
        for handler, old in saved:
            handler.setLevel(old)


@contextmanager
def prefect_api(settings: PrefectSettings, *, quiet: bool = False) -> Iterator[str | None]:
    """Run the block against a Prefect API (see the module doc); yields its URL (None: temporary server).

    Raises PrefectUnavailable when the configured server does not answer or none can be started.
    """
    prepare_prefect(settings)
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        get_current_settings,
        temporary_settings,
    )

    current = get_current_settings()
    updates: dict[Any, Any] = {}
    # the value prepare_prefect left in the environment (the user's own, when they set one); if
    # Prefect was imported before it was set, put it in force now
    environment_timeout = PrefectEnvironment.read().startup_timeout_s
    wanted = settings.startup_timeout_s if environment_timeout is None else environment_timeout
    if current.server.ephemeral.startup_timeout_seconds != wanted:
        updates[PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS] = wanted
    if (
        not PrefectEnvironment.read().heartbeat_set
        and current.flows.heartbeat_frequency != settings.heartbeat_s
    ):
        updates[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = settings.heartbeat_s
    url = current.api.url
    with ExitStack() as stack:
        if url is not None:
            if not healthy(url.rstrip("/")):
                raise PrefectUnavailable(
                    f"the Prefect server in PREFECT_API_URL ({url}) does not answer: start it, or unset "
                    "PREFECT_API_URL to let idres start its own server"
                )
        else:
            home = Path(current.home)
            url = _serve_server(home)
            if url is None and settings.warm_server:
                try:
                    url = stack.enter_context(
                        warm_server(home, settings.idle_minutes * 60, settings.startup_timeout_s)
                    )
                except WarmServerError as error:
                    raise PrefectUnavailable(str(error)) from error
            if url is not None:
                updates[PREFECT_API_URL] = url
        stack.enter_context(temporary_settings(updates))
        if quiet:
            stack.enter_context(prefect_console_level(logging.WARNING))
        yield url


def is_prefect_failure(error: BaseException) -> bool:
    """True when `error` came from reaching Prefect (its server or API), not from the flow's own work."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__
        if isinstance(current, WarmServerError | PrefectUnavailable) or module.startswith("httpx"):
            return True
        if module.startswith("prefect") and "HTTP" in type(current).__name__:
            return True
        if "Prefect API server" in str(current) or "ephemeral Prefect" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False
