"""Run one action for a route: through the gate (done now or queued), errors shown as a message."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from web.auth import User
from web.deps import outcome_redirect, redirect, safe_next


def perform(request: Request, user: User, action: str, arguments: dict[str, Any], back: str) -> Response:
    """Apply `action` as `user` and redirect to `back` with what happened."""
    target = safe_next(back)
    try:
        outcome = request.app.state.gate.run(
            user.name, action, arguments, session=user.session or None, action_key=_action_key(request)
        )
    except ValueError as error:  # ReviewError and bad input: the message says what to do
        return redirect(request, target, "error", str(error))
    return outcome_redirect(request, target, outcome)


def _action_key(request: Request) -> str | None:
    """The form's `action_key` (set by the busy page's "send again" form), so a re-sent action counts once."""
    form = getattr(request, "_form", None)  # FastAPI parsed (and Starlette cached) the form already
    value = form.get("action_key") if form is not None else None
    return value if isinstance(value, str) else None
