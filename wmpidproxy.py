"""wmpidproxy: run a forking daemon as if it were a foreground child."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from _common import __version__
from _common.cli import target_command
from _common.errors import WingmateError
from _common.logs import exit_now, setup_logging
from _common.pidproxy import (
    DEFAULT_START_TIMEOUT_S,
    DEFAULT_STOP_TIMEOUT_S,
    START_TIMEOUT_ENV,
    STOP_TIMEOUT_ENV,
    ProxyOptions,
    parse_seconds,
    run,
    seconds_from_env,
)

EPILOG = f"""\
signals:
  SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH go to the
  pid that FILE names at that moment.  After SIGTERM or SIGINT, wmpidproxy
  waits for the daemon to exit, kills it once the stop timeout has passed,
  then exits.  When the daemon ends and FILE names another running process
  (nginx's binary upgrade), wmpidproxy follows that one.

environment:
  {START_TIMEOUT_ENV}     used as --start-timeout when the option is not given
  {STOP_TIMEOUT_ENV}  used as --stop-timeout when the option is not given

exit codes:
  0    stopped by SIGTERM or SIGINT, and the daemon exited in time
  1    the daemon ended and was not our descendant, or FILE never named a
       running daemon, or FILE holds no pid
  2    bad options or no COMMAND
  126  COMMAND found but cannot be executed
  127  COMMAND not found in PATH
  137  the daemon had to be killed after the stop timeout
  otherwise the daemon's exit code (128+N when killed by signal N), or
  COMMAND's own when it failed before writing FILE
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wmpidproxy",
        description="Run COMMAND, which starts a daemon that writes its pid to\n"
        "FILE, and stay in the foreground until that daemon ends.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--pid-file", required=True, metavar="FILE", help="the daemon's pid file"
    )
    parser.add_argument(
        "--start-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long to wait for FILE to name a running daemon "
        f"(default {DEFAULT_START_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--stop-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="grace period after SIGTERM or SIGINT before the daemon is killed "
        f"(default {DEFAULT_STOP_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--version", action="version", version=f"wmpidproxy {__version__}"
    )
    # REMAINDER keeps everything from COMMAND on, its options included.
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    return parser


def _seconds(text: str) -> float:
    try:
        return parse_seconds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_options(argv: Sequence[str], environ: Mapping[str, str]) -> ProxyOptions:
    """Read the command line, falling back on WINGMATE_* for absent timeouts."""
    parser = build_parser()
    args = parser.parse_args(argv)

    command = target_command(
        parser, args.command, "put the command that starts the daemon last"
    )

    start_timeout_s = args.start_timeout
    if start_timeout_s is None:
        start_timeout_s = seconds_from_env(
            START_TIMEOUT_ENV, DEFAULT_START_TIMEOUT_S, environ
        )
    stop_timeout_s = args.stop_timeout
    if stop_timeout_s is None:
        stop_timeout_s = seconds_from_env(
            STOP_TIMEOUT_ENV, DEFAULT_STOP_TIMEOUT_S, environ
        )
    return ProxyOptions(args.pid_file, tuple(command), start_timeout_s, stop_timeout_s)


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging("wmpidproxy")
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv, os.environ)
        return run(options)
    except WingmateError as error:
        print(f"wmpidproxy: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    exit_now(main())
