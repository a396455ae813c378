"""Pieces of the main loop that need no processes."""

from __future__ import annotations

from _common.supervisor import FINAL_SLEEP_S, _approach


def test_long_wait_for_a_job_stops_short_of_its_due_time() -> None:
    """A 60 s wait is cut so that the last sleep is short enough to be precise."""
    assert _approach(60.0) == 60.0 - FINAL_SLEEP_S


def test_short_wait_for_a_job_is_slept_whole() -> None:
    """A wait no longer than the final stretch is slept in one go."""
    assert _approach(FINAL_SLEEP_S) == FINAL_SLEEP_S
    assert _approach(0.25) == 0.25
