"""wmexec: switch user, group or session, then become the target program."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from _common import __version__
from _common.cli import target_command
from _common.errors import UsageError, WingmateError
from _common.execute import ExecRequest, exec_request
from _common.logs import setup_logging

EPILOG = """\
environment:
  WINGMATE_USER    used as --user when the option is not given
  WINGMATE_SETSID  1/true/yes/on or 0/false/no/off: used as --setsid or
                   --no-setsid when neither is given
  Both are removed from the target's environment.  HOME is set to the
  user's home directory (/ when unknown) when --user is in effect.

exit codes:
  1    unknown user or group, not allowed to switch, or no new session
  2    bad options or no COMMAND
  126  COMMAND found but cannot be executed
  127  COMMAND not found in PATH
  otherwise the exit code of COMMAND, which replaces wmexec
"""

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wmexec",
        description="Run COMMAND in place of wmexec, as another user or in a "
        "new session.  COMMAND is looked up in PATH as the new user.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "-u",
        "--user",
        metavar="USER[:GROUP]",
        help="names or numbers; without GROUP, the user's primary and "
        "supplementary groups",
    )
    parser.add_argument(
        "-s",
        "--setsid",
        action=argparse.BooleanOptionalAction,
        help="make COMMAND the leader of a new session",
    )
    parser.add_argument("--version", action="version", version=f"wmexec {__version__}")
    # REMAINDER keeps everything from COMMAND on, so `wmexec ls -l` runs `ls -l`.
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    return parser


def parse_request(argv: Sequence[str], environ: Mapping[str, str]) -> ExecRequest:
    """Read the command line, falling back on WINGMATE_* for absent options."""
    parser = build_parser()
    args = parser.parse_args(argv)

    command = target_command(
        parser, args.command, "put the program to run after the options"
    )

    user_spec = args.user
    if user_spec is None:
        user_spec = environ.get("WINGMATE_USER") or None
    is_new_session = args.setsid
    if is_new_session is None:
        is_new_session = parse_switch("WINGMATE_SETSID", environ)
    return ExecRequest(tuple(command), user_spec, is_new_session)


def parse_switch(name: str, environ: Mapping[str, str]) -> bool:
    """Read an on/off environment variable; unset or empty means off."""
    value = environ.get(name, "")
    word = value.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise UsageError(
        f"{name}={value!r} is neither on nor off",
        hint="use 1, true, yes or on, or 0, false, no or off",
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        request = parse_request(sys.argv[1:] if argv is None else argv, os.environ)
        setup_logging("wmexec")
        exec_request(request, os.environ)
    except WingmateError as err:
        print(f"wmexec: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
