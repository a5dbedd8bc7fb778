"""The process variables that decide how a command reaches Prefect, typed and read in one place.

Settings (`domain/settings.py`) are idres's own configuration, loaded once per entry point. These
few are read before that or beside it: the launcher decides whether the warm runner takes the
command before anything heavy is imported, and the warm-server supervisor passes its commands an
environment without the server's own variables. Hence the standard library only (no pydantic), and
nothing else reads them from `os.environ`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# the Prefect variable behind `prefect.startup_timeout_s` (flows/runtime.py puts the setting in it)
STARTUP_TIMEOUT_VARIABLE = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
# set by the warm-server supervisor for itself: the variables only its Prefect server needs
SERVER_ONLY_VARIABLE = "IDRES_SERVER_ONLY_VARIABLES"
# Prefect's flow-run heartbeat interval (and its legacy name): when the user sets one, idres keeps it
HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")
_OFF = ("0", "false", "no", "off")
_DEFAULT_PROFILE = "ephemeral"  # the `active` profile of Prefect's own default profiles file


@dataclass(frozen=True)
class PrefectEnvironment:
    """The Prefect home, whether the warm server is wanted, the server start-up timeout, server-only names.

    (The API URL the user configured is `configured_api_url`: it can come from files too.)
    """

    home: Path  # PREFECT_HOME, else Prefect's default ~/.prefect
    warm_server: (
        bool  # IDRES_PREFECT__WARM_SERVER (the `prefect.warm_server` setting, as the launcher sees it)
    )
    startup_timeout_s: float | None  # STARTUP_TIMEOUT_VARIABLE, when set (the user's own or idres's)
    server_only: frozenset[str]  # SERVER_ONLY_VARIABLE: what the supervisor keeps from its commands
    heartbeat_set: bool = False  # one of HEARTBEAT_VARIABLES is set (the user's own heartbeat interval)

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> PrefectEnvironment:
        """The variables of `environ` (the process environment by default)."""
        env = os.environ if environ is None else environ
        timeout = env.get(STARTUP_TIMEOUT_VARIABLE)
        return cls(
            home=Path(env.get("PREFECT_HOME") or str(Path.home() / ".prefect")).expanduser(),
            warm_server=env.get("IDRES_PREFECT__WARM_SERVER", "true").strip().lower() not in _OFF,
            startup_timeout_s=None if timeout is None else float(timeout),
            server_only=frozenset(name for name in env.get(SERVER_ONLY_VARIABLE, "").split(",") if name),
            heartbeat_set=any(name in env for name in HEARTBEAT_VARIABLES),
        )


class UnreadablePrefectConfig(ValueError):
    """A Prefect profiles file or prefect.toml that is not valid TOML (Prefect itself will refuse it)."""


def _toml(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UnreadablePrefectConfig(f"{path}: {error}") from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UnreadablePrefectConfig(f"{path}: {error}") from error


def _table(document: dict[str, object], *keys: str) -> dict[str, object]:
    for key in keys:
        value = document.get(key)
        document = value if isinstance(value, dict) else {}
    return document


def configured_api_url(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> str | None:
    """The Prefect API URL the user configured, where Prefect looks for it, if any (else None).

    In Prefect's order: the PREFECT_API_URL variable; `[api] url` in `prefect.toml`, then
    `[tool.prefect.api] url` in `pyproject.toml`, of the working directory; then the active profile
    of the profiles file (PREFECT_PROFILES_PATH, else `<PREFECT_HOME>/profiles.toml`; the profile is
    PREFECT_PROFILE, else the file's `active`, else Prefect's default `ephemeral`). The files are
    parsed, so a commented-out line sets nothing. Raises UnreadablePrefectConfig for a file that is
    not valid TOML. (A `.env` file is not read.)
    """
    env = os.environ if environ is None else environ
    if "PREFECT_API_URL" in env:
        return env["PREFECT_API_URL"] or None
    folder = cwd or Path.cwd()
    for document, keys in (
        (_toml(folder / "prefect.toml"), ("api",)),
        (_toml(folder / "pyproject.toml"), ("tool", "prefect", "api")),
    ):
        url = _table(document, *keys).get("url")
        if url:
            return str(url)
    url = _active_profile(env).get("PREFECT_API_URL")
    return str(url) if url else None


def _active_profile(env: Mapping[str, str]) -> dict[str, object]:
    """The settings of the active profile (PREFECT_PROFILES_PATH, else `<PREFECT_HOME>/profiles.toml`)."""
    home = PrefectEnvironment.read(env).home
    path = env.get("PREFECT_PROFILES_PATH") or str(home / "profiles.toml")
    profiles = _toml(Path(path.replace("$PREFECT_HOME", str(home))).expanduser())
    active = env.get("PREFECT_PROFILE") or profiles.get("active") or _DEFAULT_PROFILE
    return _table(profiles, "profiles", str(active))


# the settings that move Prefect's database away from its default `<PREFECT_HOME>/prefect.db`
_DATABASE_FIELDS = ("connection_url", "driver", "name")
_DATABASE_VARIABLES = tuple(
    f"PREFECT_{group}_DATABASE_{field.upper()}" for group in ("SERVER", "API") for field in _DATABASE_FIELDS
)


def configured_database(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> str | None:
    """The name of the Prefect database setting the user configured, if any (else None: the default file).

    Looked up where `configured_api_url` looks (the variables, `[server.database]` of `prefect.toml`
    and `[tool.prefect.server.database]` of `pyproject.toml` in the working directory, the active
    profile), for a connection URL, driver or database name. Raises UnreadablePrefectConfig.
    """
    env = os.environ if environ is None else environ
    profile = _active_profile(env)
    for variable in _DATABASE_VARIABLES:
        if env.get(variable) or profile.get(variable):
            return variable
    folder = cwd or Path.cwd()
    for document, keys in (
        (_toml(folder / "prefect.toml"), ("server", "database")),
        (_toml(folder / "pyproject.toml"), ("tool", "prefect", "server", "database")),
    ):
        table = _table(document, *keys)
        for field in _DATABASE_FIELDS:
            if table.get(field):
                return ".".join((*keys, field))
    return None


# a Unix socket's path must fit in sockaddr_un.sun_path (108 bytes on Linux, 104 on macOS)
_SOCKET_PATH_MAX = 100


def runner_socket_path(home: Path) -> Path:
    """Where the warm command runner of Prefect home `home` listens.

    In the home's `idres-warm-server` folder when the path fits a Unix socket; for a deep home, in
    a folder of this user's own under the temporary directory (mode 0700: whoever can connect can run
    commands as this user), named after the home so that each home still has its own runner.
    """
    path = home / "idres-warm-server" / "runner.sock"
    if len(os.fsencode(path)) <= _SOCKET_PATH_MAX:
        return path
    import hashlib
    import tempfile

    private = Path(tempfile.gettempdir()) / f"idres-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_uid != os.getuid() or private.stat().st_mode & 0o077:
        return path  # not ours or not private: no runner (binding fails; commands run in-process)
    return private / f"runner-{hashlib.sha256(os.fsencode(home)).hexdigest()[:16]}.sock"
