"""A small classic daemon for the wmpidproxy tests: it forks twice and detaches.

The starting process exits 0 at once (or with --fail CODE before forking).
The daemon, a grandchild, writes its pid file and then waits for signals:

  SIGTERM, SIGINT  exit 0 (unless --ignore-term)
  SIGUSR1          exit with --exit-code
  SIGUSR2          fork a successor that rewrites the pid file, then exit 0
  others           only noted in --events

Every signal it receives is appended to the --events file, one name a line.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

WATCHED = {
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pid-file", required=True)
    parser.add_argument("--events", help="file to note each received signal in")
    parser.add_argument("--fail", type=int, help="exit with this code, no daemon")
    parser.add_argument("--exit-code", type=int, default=3, help="code on SIGUSR1")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--no-pid-file", action="store_true")
    return parser.parse_args()


def detach() -> None:
    """Fork twice so that the daemon has neither our parent nor a terminal."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def write_pid_file(path: str) -> None:
    # Write then rename, so that a reader never sees half a pid.
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as file:
        file.write(f"{os.getpid()}\n")
    os.rename(temporary, path)


def note(events: str | None, signum: int) -> None:
    if events is not None:
        with open(events, "a") as file:
            file.write(f"{signal.Signals(signum).name} {os.getpid()}\n")


def hand_over(pid_file: str) -> None:
    """Fork a successor that writes the pid file before this process exits."""
    ready_read, ready_write = os.pipe()
    if os.fork() == 0:
        os.close(ready_read)
        write_pid_file(pid_file)
        os.close(ready_write)
        return
    os.close(ready_write)
    os.read(ready_read, 1)  # returns at EOF, once the successor wrote the file
    os._exit(0)


def serve(args: argparse.Namespace) -> int:
    while True:
        signum = signal.sigwait(WATCHED)
        note(args.events, signum)
        if signum in (signal.SIGTERM, signal.SIGINT) and not args.ignore_term:
            return 0
        if signum == signal.SIGUSR1:
            return int(args.exit_code)
        if signum == signal.SIGUSR2:
            hand_over(args.pid_file)


def main() -> int:
    args = parse_args()
    if args.fail is not None:
        print(
            f"forking_daemon: failing with code {args.fail} as asked", file=sys.stderr
        )
        return int(args.fail)

    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    detach()
    if not args.no_pid_file:
        write_pid_file(args.pid_file)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
