"""How long to wait before restarting a service that exited.

A service that stayed up for the stable window is restarted at once.  One
that keeps dying sooner waits twice as long each time, up to a cap, so a
crash loop costs wingmate almost nothing; the count resets once a run lasts
the stable window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_STABLE_WINDOW_S = 5.0
DEFAULT_FIRST_DELAY_S = 0.25
DEFAULT_MAX_DELAY_S = 30.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """The restart backoff settings, the same for every service."""

    stable_window_s: float = DEFAULT_STABLE_WINDOW_S
    first_delay_s: float = DEFAULT_FIRST_DELAY_S
    max_delay_s: float = DEFAULT_MAX_DELAY_S

    def next_delay(self, uptime_s: float, early_exits: int) -> tuple[float, int]:
        """(seconds to wait, new count of early exits) after one exit.

        ``early_exits`` counts consecutive runs shorter than the stable window
        before this one.
        """
        if uptime_s >= self.stable_window_s:
            return 0.0, 0
        early_exits += 1
        delay = self.first_delay_s * 2 ** (early_exits - 1)
        return min(delay, self.max_delay_s), early_exits


def backoff_from_environ(environ: Mapping[str, str]) -> Backoff:
    """Settings from ``WINGMATE_STABLE_WINDOW`` and ``WINGMATE_BACKOFF_MAX``.

    Raises:
        ValueError: a variable is set but is not a non-negative number.
    """
    return Backoff(
        stable_window_s=_seconds(
            environ, "WINGMATE_STABLE_WINDOW", DEFAULT_STABLE_WINDOW_S
        ),
        max_delay_s=_seconds(environ, "WINGMATE_BACKOFF_MAX", DEFAULT_MAX_DELAY_S),
    )


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ValueError(f"{name}={raw!r} is not a number of seconds")
    return value
