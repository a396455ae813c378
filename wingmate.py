#!/usr/bin/env python3
"""wingmate: init, supervisor and cron for a container, meant to run as PID 1."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from _common import __version__
from _common.config import config_directory
from _common.errors import ConfigErrors, WingmateError
from _common.logs import exit_now, setup_logging

EPILOG = """\
commands:
  run      start every service and job and supervise them (the default)
  check    validate the configuration, print each service and job with the
           next three run times, and exit; for a RUN line in a Dockerfile

signals:
  TERM, INT, QUIT   shut down: stop every service (its stop_signal, then
                    SIGKILL after its stop_timeout), stop running jobs, end
                    leftover processes, exit 0; a second TERM or INT kills
                    what is left at once
  HUP, USR1, USR2   forwarded to the main process of every running service
  CHLD              reaps exited children and orphans

exit codes:
  0    shutdown after a signal, or every service ended with code 0
  1    runtime failure, or a service ended with a failure and nothing is left
  2    configuration or usage error (nothing was started)
  N    a critical service's own exit code (128+N when killed by signal N)

environment:
  WINGMATE_CONFIG_PATH   configuration directory (default /etc/wingmate)
  WINGMATE_STOP_TIMEOUT  default grace period in seconds (default 5)
  WINGMATE_STABLE_WINDOW a run this long resets the restart backoff (default 5)
  WINGMATE_BACKOFF_MAX   longest wait before a restart, seconds (default 30)
  WINGMATE_LOG_LEVEL     DEBUG, INFO, WARNING, ERROR (default INFO)
  WINGMATE_LOG_FORMAT    text (default) or json
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="wingmate",
        description="Run the services and cron jobs of a configuration "
        "directory, as the init of a container.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", choices=("run", "check"), default="run")
    parser.add_argument(
        "-c",
        "--config",
        metavar="DIR",
        help="configuration directory (default: $WINGMATE_CONFIG_PATH, "
        "else /etc/wingmate)",
    )
    parser.add_argument(
        "--pid-proxy",
        metavar="PATH",
        help="the wmpidproxy program for services with a pidfile "
        "(default: the one next to wingmate)",
    )
    parser.add_argument(
        "--exec", metavar="PATH", help=argparse.SUPPRESS
    )  # accepted for the original's command line; users are switched in-process
    parser.add_argument(
        "-v", "--version", action="version", version=f"wingmate {__version__}"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    setup_logging("wingmate")
    if args.pid_proxy:
        os.environ["WINGMATE_PIDPROXY_PATH"] = args.pid_proxy
    directory = config_directory(args.config, os.environ)

    from _common import commands

    try:
        if args.command == "check":
            return commands.check(directory)
        return commands.run(directory)
    except ConfigErrors as exc:
        for error in exc.errors:
            sys.stderr.write(f"wingmate: error: {error}\n")
        count = len(exc.errors)
        sys.stderr.write(
            f"wingmate: {count} problem(s) in {directory}; nothing was started\n"
        )
        return exc.exit_code
    except WingmateError as exc:
        logging.getLogger("wingmate").critical("%s", exc)
        return exc.exit_code


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
