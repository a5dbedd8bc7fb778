"""The one error type of review actions: a message an agent can act on."""

from __future__ import annotations

from domain.errors import UserError


class ReviewError(UserError, ValueError):
    """An action an agent asked for cannot be done; the message says why and what to do."""
