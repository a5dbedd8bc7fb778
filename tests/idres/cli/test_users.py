"""`idres users add/list/disable`: accounts for the web page, passwords hashed, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from idres.cli.app import app
from store import open_store
from web.auth import authenticate

runner = CliRunner()


def test_users_add_list_and_disable(tmp_path: Path) -> None:
    store = str(tmp_path / "store.duckdb")
    added = runner.invoke(
        app, ["users", "add", "dana", "--role", "compliance", "--password-stdin", "--store", store],
        input="s3cret-enough\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(app, ["users", "list", "--store", store, "--format", "json"]).stdout)
    assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [("dana", "compliance", False)]
    assert "password_hash" not in listed[0]
    with open_store(Path(store)) as session:
        stored = session.scalar("SELECT password_hash FROM users WHERE username = 'dana'")
        assert stored.startswith("$argon2") and "s3cret-enough" not in stored
        assert authenticate(session, "dana", "s3cret-enough") is not None
        assert authenticate(session, "dana", "wrong") is None
    again = runner.invoke(
        app,
        ["users", "add", "dana", "--role", "agent", "--password-stdin", "--store", store],
        input="another-one\n",
    )
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(app, ["users", "disable", "dana", "--store", store]).exit_code == 0
    with open_store(Path(store)) as session:
        assert authenticate(session, "dana", "s3cret-enough") is None
        assert (
            session.scalar("SELECT count(*) FROM audit_log WHERE action IN ('user.add', 'user.disable')") == 2
        )
    assert runner.invoke(app, ["users", "disable", "nobody", "--store", store]).exit_code == 1


def test_users_add_refuses_bad_roles_names_and_short_passwords(tmp_path: Path) -> None:
    store = str(tmp_path / "store.duckdb")
    cases = [
        (["users", "add", "eve", "--role", "root"], "long-enough-pw\n", "role must be one of"),
        (["users", "add", "<eve>", "--role", "agent"], "long-enough-pw\n", "user name"),
        (["users", "add", "eve", "--role", "agent"], "short\n", "at least 8"),
    ]
    for args, password, message in cases:
        result = runner.invoke(app, [*args, "--password-stdin", "--store", store], input=password)
        assert result.exit_code == 2 and message in result.output, result.output


def test_users_set_role_enable_and_reset_password(tmp_path: Path) -> None:
    store = str(tmp_path / "store.duckdb")
    runner.invoke(app, ["users", "add", "eve", "--role", "agent", "--password-stdin", "--store", store],
                  input="first-secret\n")  # fmt: skip
    assert runner.invoke(app, ["users", "disable", "eve", "--store", store]).exit_code == 0
    done = runner.invoke(app, ["users", "set", "eve", "--role", "admin", "--enable", "--reset-password",
                               "--password-stdin", "--store", store], input="second-secret\n")  # fmt: skip
    assert done.exit_code == 0 and "role admin, enabled, password reset" in done.output
    with open_store(Path(store)) as session:
        assert authenticate(session, "eve", "second-secret")["role"] == "admin"  # type: ignore[index]
        assert authenticate(session, "eve", "first-secret") is None
    assert runner.invoke(app, ["users", "set", "eve", "--role", "boss", "--store", store]).exit_code == 1
    assert runner.invoke(app, ["users", "set", "eve", "--store", store]).exit_code == 2


def test_users_set_role_and_reset_password_end_open_sessions(tmp_path: Path) -> None:
    from datetime import timedelta

    from store import users as store_users

    store = str(tmp_path / "store.duckdb")
    runner.invoke(
        app,
        ["users", "add", "eve", "--role", "agent", "--password-stdin", "--store", store],
        input="first-pass\n",
    )
    for command, extra, stdin in (
        ("role", ["--role", "admin"], None),
        ("password", ["--reset-password", "--password-stdin"], "second-pass\n"),
    ):
        with open_store(Path(store)) as session:
            store_users.create_session(
                session,
                f"s-{command}",
                "eve",
                store_users.get_user(session, "eve")["role"],
                timedelta(hours=1),
            )
            assert store_users.active_session(session, f"s-{command}") is not None
        result = runner.invoke(app, ["users", "set", "eve", *extra, "--store", store], input=stdin)
        assert result.exit_code == 0, result.output
        with open_store(Path(store)) as session:
            assert store_users.active_session(session, f"s-{command}") is None
    with open_store(Path(store)) as session:
        assert session.scalar("SELECT role FROM users WHERE username = 'eve'") == "admin"
        assert authenticate(session, "eve", "second-pass") is not None
