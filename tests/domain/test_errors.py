"""The error hierarchy: user errors carry a message and an exit code; the old bases still catch them."""

from __future__ import annotations

import pytest

from domain.errors import BadArgument, BadInput, Busy, ConfigurationError, IdresError, UserError


def test_a_user_error_carries_its_message_and_exit_code() -> None:
    error = BadInput("people.csv row 3: no external_id")
    assert isinstance(error, UserError) and isinstance(error, IdresError)
    assert (error.message, error.exit_code) == ("people.csv row 3: no external_id", 1)
    assert BadArgument("x").exit_code == 2 and ConfigurationError("x").exit_code == 2
    assert UserError("x", exit_code=9).exit_code == 9 and UserError("y").exit_code == 1


def test_project_errors_sit_in_the_right_branch_and_keep_their_old_base() -> None:
    from domain.settings import SettingsError
    from exports.bundle import BundleError
    from flows.common import StoreBusyFailure
    from ingest.read import InputFileError
    from matching.config import ConfigError
    from review.errors import ReviewError
    from store import StoreBusyError, StoreError

    for user_error, old_base in [
        (InputFileError, ValueError),
        (ReviewError, ValueError),
        (BundleError, ValueError),
        (ConfigError, ValueError),
        (SettingsError, ValueError),
        (StoreBusyError, RuntimeError),
        (StoreBusyFailure, RuntimeError),
    ]:
        assert issubclass(user_error, UserError) and issubclass(user_error, old_base), user_error
    # a broken store is not the user's fault: it derives from the root only and shows its traceback
    assert issubclass(StoreError, IdresError) and not issubclass(StoreError, UserError)
    assert issubclass(StoreBusyError, Busy)


def test_a_store_busy_error_keeps_its_failing_statement() -> None:
    from store import StoreBusyError

    with pytest.raises(UserError, match="in statement: SELECT 1") as caught:
        raise StoreBusyError("store busy", "SELECT 1")
    assert caught.value.statement == "SELECT 1"  # type: ignore[attr-defined]
