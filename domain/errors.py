"""The error hierarchy: one root, a branch of user errors rendered as messages, everything else a bug.

A `UserError` says what is wrong with the input, the configuration or the situation and what to do;
the CLI, the flows and the page show its message (and the CLI exits with its `exit_code`). Any other
exception is a bug in idres and shows its traceback. Errors that were `ValueError`s before keep that
base too, so code catching `ValueError` still catches them. Exit codes: 2 for bad configuration and
bad arguments (like a usage error), 1 for the rest.
"""

from __future__ import annotations


class IdresError(Exception):
    """The root of every error idres raises on purpose."""


class UserError(IdresError):
    """Something the user can fix (input, configuration, a busy store): shown as a message, no traceback."""

    exit_code: int = 1

    def __init__(self, message: str = "", *args: object, exit_code: int | None = None) -> None:
        super().__init__(message, *args)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        """The text shown to the user."""
        return str(self)


class BadInput(UserError):
    """A file, row or value that cannot be used: the message names the file, row and reason."""


class BadArgument(BadInput):
    """A command-line argument or option that cannot be used (exit code 2, like a usage error)."""

    exit_code = 2


class NotFound(UserError):
    """A customer, suggestion, request or file that does not exist."""


class Conflict(UserError):
    """The action contradicts the current state (already decided, locked, cannot-linked, ...)."""


class Busy(UserError):
    """Another process holds the store (or another resource) for longer than we wait."""


class ConfigurationError(UserError):
    """Bad configuration: a malformed file, an unknown key, an invalid value."""

    exit_code = 2


class Unavailable(UserError):
    """A service idres needs (the Prefect server, a Dask scheduler) cannot be reached or started."""
