"""Command-line pieces that wmexec and wmpidproxy share."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def target_command(
    parser: argparse.ArgumentParser, remainder: Sequence[str], where: str
) -> list[str]:
    """The target's argv from an ``argparse.REMAINDER`` argument.

    One leading ``--`` separates options from the target and is dropped.
    No target at all is a usage error (exit 2) that says ``where`` it goes.
    """
    command = list(remainder)
    if command[:1] == ["--"]:
        del command[0]
    if not command:
        parser.error(f"no COMMAND given; {where}")
    return command
