"""Restart backoff: at once after a stable run, doubling while runs stay short."""

from __future__ import annotations

import pytest

from _common.backoff import Backoff, backoff_from_environ


def test_service_that_ran_past_the_stable_window_restarts_at_once() -> None:
    """A run as long as the stable window resets the count and waits 0 s."""
    assert Backoff(stable_window_s=5).next_delay(5.0, early_exits=4) == (0.0, 0)


def test_early_exits_double_the_delay_up_to_the_cap() -> None:
    """Each early exit doubles the wait, which never passes the cap."""
    backoff = Backoff(stable_window_s=5, first_delay_s=0.25, max_delay_s=2.0)
    delays, count = [], 0
    for _ in range(6):
        delay, count = backoff.next_delay(0.1, count)
        delays.append(delay)
    assert delays == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert count == 6


def test_settings_come_from_the_environment() -> None:
    """WINGMATE_STABLE_WINDOW and WINGMATE_BACKOFF_MAX override the defaults."""
    backoff = backoff_from_environ(
        {"WINGMATE_STABLE_WINDOW": "1.5", "WINGMATE_BACKOFF_MAX": "10"}
    )
    assert (backoff.stable_window_s, backoff.max_delay_s) == (1.5, 10.0)


def test_bad_setting_names_the_variable() -> None:
    """A non-numeric setting is a ValueError naming the variable."""
    with pytest.raises(ValueError, match="WINGMATE_BACKOFF_MAX"):
        backoff_from_environ({"WINGMATE_BACKOFF_MAX": "soon"})
