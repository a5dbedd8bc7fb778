"""`idres users add|list|disable|set`: accounts of the web page."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from domain.errors import BadArgument
from idres.cli.common import FormatOption, StoreOption, store_session
from idres.output import OutputFormat, console, emit, fail, table
from store import users as store_users

group = typer.Typer(help="Accounts of the web page (agent, compliance, admin).", no_args_is_help=True)


def _read_password(password_stdin: bool) -> str:
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True)
        if typer.prompt("Repeat password", hide_input=True) != password:
            fail("the two passwords differ", code=2)
    return password


@group.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ -).")],
    role: Annotated[str, typer.Option("--role", help="agent, compliance or admin.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    store: StoreOption = None,
) -> None:
    """Create an account; the password is asked twice (or read from stdin) and stored as an argon2 hash."""
    from web.auth import PasswordRuleError, check_password_rules, hash_password

    if role not in store_users.ROLES:
        fail(f"role must be one of {', '.join(store_users.ROLES)}, got {role!r}", code=2)
    if not name or len(name) > 64 or not all(ch.isalnum() or ch in "._-" for ch in name):
        fail("a user name is 1-64 letters, digits, dots, underscores or hyphens", code=2)
    password = _read_password(password_stdin)
    try:
        check_password_rules(password)
    except PasswordRuleError as error:  # a usage error here: exit 2
        raise BadArgument(str(error)) from error
    with store_session(ctx, store) as session:
        store_users.add_user(session, name, role, hash_password(password), created_by="cli")
    console.print(f"user {name} added with role {role}", highlight=False)


@group.command("list")
def users_list(ctx: typer.Context, store: StoreOption = None, fmt: FormatOption = OutputFormat.text) -> None:
    """List accounts (never their password hashes)."""
    with store_session(ctx, store) as session:
        rows = store_users.list_users(session)
    emit(
        rows,
        fmt,
        lambda data: console.print(
            table(
                "Users",
                ["name", "role", "disabled", "created", "last login"],
                [
                    [u["username"], u["role"], u["disabled"], u["created_at"], u["last_login_at"]]
                    for u in data
                ],
            )
        ),
    )


@group.command("disable")
def users_disable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")], store: StoreOption = None
) -> None:
    """Disable an account: it can no longer log in, and its open sessions end at once."""
    with store_session(ctx, store) as session:
        store_users.disable_user(session, name, actor="cli")
    console.print(f"user {name} disabled", highlight=False)


@group.command("set")
def users_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str | None, typer.Option("--role", help="New role: agent, compliance or admin.")] = None,
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable a disabled account.")] = False,
    reset_password: Annotated[
        bool, typer.Option("--reset-password", help="Set a new password (asked twice, or --password-stdin).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    store: StoreOption = None,
) -> None:
    """Change an account's role, re-enable it or reset its password (audited)."""
    from web.auth import PasswordRuleError, check_password_rules, hash_password

    if role is None and not enable and not reset_password:
        fail("say what to change: --role, --enable or --reset-password", code=2)
    password_hash = None
    if reset_password:
        password = _read_password(password_stdin)
        try:
            check_password_rules(password)
        except PasswordRuleError as error:  # a usage error here: exit 2
            raise BadArgument(str(error)) from error
        password_hash = hash_password(password)
    with store_session(ctx, store) as session:
        store_users.update_user(session, name, "cli", role=role, enabled=True if enable else None,
                                password_hash=password_hash)  # fmt: skip
    done = [
        f"role {role}" if role else "",
        "enabled" if enable else "",
        "password reset" if reset_password else "",
    ]
    console.print(f"user {name}: {', '.join(d for d in done if d)}", highlight=False)
