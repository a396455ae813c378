"""Stand in the foreground for a daemon that forks into the background.

wmpidproxy spawns the target (the command that starts the daemon), learns the
daemon's pid from its pid file, forwards signals to it and exits when it ends,
so that a supervisor sees the daemon's life as the life of one child.

Design notes, in the order a run meets them:

* wmpidproxy makes itself the child subreaper (prctl(2),
  PR_SET_CHILD_SUBREAPER), so a daemon that forks twice is re-parented to us.
  We then reap it ourselves and pass on its real exit status.
* Start-up waits for the pid file with a short backoff poll, 10 ms growing to
  100 ms, because the stdlib has no inotify.  The target's exit (SIGCHLD)
  wakes the wait early.  The file must have been written after the target was
  spawned: a stale file left by an earlier run is never taken for the daemon,
  even when its pid has since been given to another process.
* ``WINGMATE_STARTSECS`` is the default start timeout: the longest wait for
  the pid file, not a fixed delay.  ``--start-timeout`` overrides it.
* Once the daemon runs, nothing polls.  One selector blocks on the daemon's
  pidfd (pidfd_open(2)), which turns readable the moment the process ends and
  can never stand for a recycled pid, and on the signal wakeup pipe.
* When the watched pid ends, the pid file is read again.  If it names another
  running process (nginx's binary upgrade, a daemon that forks a successor),
  we follow that one.  The successor must write the file before its
  predecessor exits, as nginx does.
* A stop (SIGTERM or SIGINT) waits out the grace period (``--stop-timeout``,
  ``WINGMATE_STOP_TIMEOUT``, 10 s by default), then kills the daemon.
* Before exiting, any child still around (workers orphaned by a killed daemon
  are re-parented to us) gets SIGTERM, then SIGKILL after the grace period,
  so nothing of the daemon is left behind.

Exit codes: the daemon's own code when it was our descendant (128+N when it
was killed by signal N); 1 when it was not, as its status cannot be known; 0
after a requested stop that ended it within the grace period, 137 when it had
to be killed; the target's code when it fails before writing the pid file.
"""

from __future__ import annotations

import logging
import math
import os
import select
import selectors
import shlex
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from _common.errors import (
    PidFileError,
    TargetError,
    TargetNotExecutable,
    TargetNotFound,
    UsageError,
)
from _common.logs import ServiceLogger, service_logger
from _common.pidfile import (
    PidFileSnapshot,
    check_pid,
    parse_pid,
    read_pid_text,
    snapshot_pid_file,
)
from _common.reaper import (
    describe_status,
    exit_code_of,
    reap_children,
    set_child_subreaper,
)
from _common.signals import SignalPipe
from _common.sweep import leftover_pids

log = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT_S = 10.0
DEFAULT_STOP_TIMEOUT_S = 10.0
START_TIMEOUT_ENV = "WINGMATE_STARTSECS"
STOP_TIMEOUT_ENV = "WINGMATE_STOP_TIMEOUT"

FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
_HANDLED_SIGNALS = (*FORWARDED_SIGNALS, signal.SIGCHLD)

# Python ignores SIGPIPE and SIGXFSZ at start-up, and an ignored signal stays
# ignored across exec; the daemon gets the defaults back.  Caught signals are
# reset by exec itself (execve(2)).
_DEFAULT_IN_TARGET = (*_HANDLED_SIGNALS, signal.SIGPIPE, signal.SIGXFSZ)

_POLL_FIRST_S = 0.01
_POLL_MAX_S = 0.1
_SWEEP_RECHECK_S = 0.001
_SWEEP_KILLED_POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    """What to start, where its pid appears, and how long to wait for it."""

    pid_file: str
    command: tuple[str, ...]
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class _Context:
    options: ProxyOptions
    signals: SignalPipe
    log: ServiceLogger
    own_pid: int


@dataclass(frozen=True, slots=True)
class _Daemon:
    """The process we watch: its pid, a pidfd on it, and its status if reaped."""

    pid: int
    pidfd: int
    status: int | None = None


@dataclass(frozen=True, slots=True)
class _Stop:
    signame: str
    deadline: float
    has_killed: bool = False


def run_pid_proxy(
    pid_file: str,
    command: Sequence[str],
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
) -> int:
    """Start ``command``, follow the daemon named in ``pid_file``, return an exit code.

    For a caller that wants the proxy in-process.  The process becomes a child
    subreaper for good; while the proxy runs it owns the handlers of the
    forwarded signals and SIGCHLD (restored afterwards) and reaps every child
    of the process.  So call it from the main thread of a process that has no
    other children, such as a freshly forked one.

    Raises:
        UsageError: ``command`` is empty.
        TargetNotFound, TargetNotExecutable: ``command`` cannot be spawned.
        TargetError: ``command`` failed before writing the pid file; its
            ``exit_code`` is the command's own.
        PidFileError: the pid file did not name a running daemon in time,
            or does not hold a pid.
    """
    options = ProxyOptions(pid_file, tuple(command), start_timeout_s, stop_timeout_s)
    return run(options)


def run(options: ProxyOptions) -> int:
    """``run_pid_proxy`` with its arguments in one value."""
    if not options.command:
        raise UsageError("no command given", hint="name the command that starts it")
    become_subreaper()
    name = os.path.basename(options.command[0])
    signals = SignalPipe(_HANDLED_SIGNALS)
    context = _Context(options, signals, service_logger(log, name), os.getpid())
    try:
        daemon = start_daemon(context)
        if daemon is None:
            return 0
        return watch_daemon(context, daemon)
    finally:
        stop_leftovers(context)
        signals.close()


def seconds_from_env(
    name: str, default: float, environ: Mapping[str, str] = os.environ
) -> float:
    """The duration in environment variable ``name``, or ``default`` if unset.

    Raises:
        UsageError: the variable is set but is not a number of seconds.
    """
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse_seconds(raw)
    except ValueError as error:
        raise UsageError(
            f"{name}={raw!r}: {error}", hint="set it to e.g. 10 or 2.5, or unset it"
        ) from error


def parse_seconds(text: str) -> float:
    """Parse a non-negative, finite number of seconds; ValueError otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a number of seconds >= 0")
    return value


def become_subreaper() -> bool:
    """Have orphaned descendants re-parented to us; False if refused."""
    try:
        set_child_subreaper()
    except OSError as exc:
        log.warning(
            "cannot become the child subreaper (%s); a daemon that forks twice "
            "is still watched through its pidfd, but its exit status will be "
            "unknown",
            exc.strerror,
        )
        return False
    return True


# --- start-up ---------------------------------------------------------------


def start_daemon(context: _Context) -> _Daemon | None:
    """Spawn the target and wait for the pid file to name a running daemon.

    Returns None when a stop was requested before the daemon showed up.
    """
    options = context.options
    before = snapshot_pid_file(options.pid_file)
    target_pid = spawn_target(options.command)
    context.log.info(
        "started %s as pid %d; waiting up to %gs for %s",
        shlex.join(options.command),
        target_pid,
        options.start_timeout_s,
        options.pid_file,
    )
    return _wait_for_daemon(context, target_pid, before)


def spawn_target(command: Sequence[str]) -> int:
    """Start ``command`` as our child and return its pid.

    Raises:
        TargetNotFound: the program does not exist or is not in PATH.
        TargetNotExecutable: it exists but cannot be executed.
    """
    program = command[0]
    # Look it up ourselves: posix_spawnp(3) reports EACCES for a PATH
    # directory this user may not search even when the program is nowhere.
    found = program if "/" in program else shutil.which(program)
    if found is None:
        raise TargetNotFound(
            f"command {program!r} not found",
            hint="check its spelling, or give its full path (PATH is searched)",
        )
    try:
        return os.posix_spawn(
            found,
            list(command),
            os.environ,
            setsigdef=_DEFAULT_IN_TARGET,
            setsigmask=(),
        )
    except FileNotFoundError:
        raise TargetNotFound(
            f"command {program!r} not found",
            hint="check its spelling, or give its full path (PATH is searched)",
        ) from None
    except OSError as error:
        raise TargetNotExecutable(
            f"command {program!r} cannot be executed: {error.strerror}",
            hint="check that it is a program file with execute permission",
        ) from None


def _wait_for_daemon(
    context: _Context, target_pid: int, before: PidFileSnapshot | None
) -> _Daemon | None:
    options = context.options
    deadline = time.monotonic() + options.start_timeout_s
    delay_s = _POLL_FIRST_S
    target_status: int | None = None
    while True:
        daemon, problem = _try_pid_file(context, before)
        if daemon is not None:
            context.log.info(
                "daemon running with pid %d (from %s)", daemon.pid, options.pid_file
            )
            return daemon

        target_status = _collect_target(target_pid, target_status)
        if target_status is not None and exit_code_of(target_status) != 0:
            raise _target_failed(options, target_status)
        now = time.monotonic()
        if now >= deadline:
            raise _start_timeout(options, target_pid, target_status, problem)

        # Polled because the stdlib has no inotify; SIGCHLD ends a wait early.
        _wait_readable(context.signals.fileno(), min(delay_s, deadline - now))
        delay_s = min(delay_s * 2, _POLL_MAX_S)
        for signum in context.signals.drain():
            is_target_running = target_status is None
            if not _handle_start_signal(context, signum, target_pid, is_target_running):
                return None


def _try_pid_file(
    context: _Context, before: PidFileSnapshot | None
) -> tuple[_Daemon | None, PidFileError | None]:
    """The daemon if the pid file names it now, else why it does not yet."""
    path = context.options.pid_file
    now = snapshot_pid_file(path)
    if now is None or not now.text.strip():
        return None, None
    if now == before:
        return None, _stale_pid_file(path, now.text)

    # Garbage is no half-written pid: it will not get better, so fail now.
    pid = parse_pid(now.text, path)
    try:
        check_pid(pid, path, now.text, own_pid=context.own_pid)
    except PidFileError as problem:
        return None, problem
    pidfd = _open_pidfd(pid)
    if pidfd is None:
        return None, None
    return _Daemon(pid, pidfd), None


def _handle_start_signal(
    context: _Context, signum: int, target_pid: int, is_target_running: bool
) -> bool:
    """Act on a signal received during start-up; False means stop starting."""
    if signum == signal.SIGCHLD:
        return True
    name = signal.Signals(signum).name
    if signum in STOP_SIGNALS:
        context.log.info("received %s during start-up; stopping and exiting", name)
        return False
    if not is_target_running:
        context.log.warning(
            "received %s before the daemon wrote its pid file; ignoring it", name
        )
        return True
    # An unreaped child keeps its pid, so plain kill(2) is safe here.
    os.kill(target_pid, signum)
    context.log.debug("forwarded %s to the command, pid %d", name, target_pid)
    return True


def _collect_target(target_pid: int, target_status: int | None) -> int | None:
    for pid, status in reap_children():
        if pid == target_pid:
            return status
    return target_status


def _target_failed(options: ProxyOptions, status: int) -> TargetError:
    error = TargetError(
        f"command {options.command[0]!r} {describe_status(status)} before "
        f"writing {options.pid_file}; exiting with its code",
        hint="its own messages above should say why",
    )
    error.exit_code = exit_code_of(status)
    return error


def _start_timeout(
    options: ProxyOptions,
    target_pid: int,
    target_status: int | None,
    problem: PidFileError | None,
) -> PidFileError:
    seconds = f"{options.start_timeout_s:g}s"
    program = repr(options.command[0])
    if problem is not None:
        return PidFileError(
            f"{problem.message}, still {seconds} after starting {program}",
            path=problem.path,
            hint=problem.hint,
        )
    if target_status is None:
        state = f"it is still running as pid {target_pid}"
    else:
        state = f"it {describe_status(target_status)}"
    return PidFileError(
        f"no pid file appeared within {seconds} of starting {program} ({state})",
        path=options.pid_file,
        hint="make --pid-file name the file the daemon writes, or raise "
        f"--start-timeout ({START_TIMEOUT_ENV})",
    )


def _stale_pid_file(path: str, text: str) -> PidFileError:
    return PidFileError(
        f"pid file was not rewritten since the command started "
        f"(content {text.strip()[:40]!r})",
        path=path,
        hint="is the daemon already running outside wmpidproxy? stop it first",
    )


# --- running ----------------------------------------------------------------


def watch_daemon(context: _Context, daemon: _Daemon) -> int:
    """Forward signals to the daemon until it ends; return our exit code.

    Blocks in one selector on the daemon's pidfd and the signal pipe, with a
    timeout only while a stop waits out its grace period.
    """
    selector = selectors.DefaultSelector()
    selector.register(context.signals.fileno(), selectors.EVENT_READ)
    selector.register(daemon.pidfd, selectors.EVENT_READ)
    stop: _Stop | None = None
    # The command may have exited, and its SIGCHLD been drained, while the
    # pid file was being read: reap it now, or it stays a zombie.
    daemon = _note_status(daemon, reap_children())
    try:
        while True:
            selector.select(_time_left(stop))
            for signum in context.signals.drain():
                stop = _handle_signal(context, daemon, signum, stop)

            # Check the pidfd before reaping: once it is readable, a child
            # daemon is a zombie that the reaping below collects.
            has_ended = _is_readable(daemon.pidfd)
            daemon = _note_status(daemon, reap_children())
            if has_ended:
                successor = _find_successor(context, daemon)
                if successor is None:
                    return _final_exit_code(context, daemon, stop)
                selector.unregister(daemon.pidfd)
                os.close(daemon.pidfd)
                daemon = successor
                selector.register(daemon.pidfd, selectors.EVENT_READ)
            elif stop is not None and time.monotonic() >= stop.deadline:
                stop = _kill_overdue(context, daemon, stop)
    finally:
        os.close(daemon.pidfd)
        selector.close()


def _handle_signal(
    context: _Context, daemon: _Daemon, signum: int, stop: _Stop | None
) -> _Stop | None:
    if signum == signal.SIGCHLD:
        return stop
    forward_signal(context, daemon, signum)
    if signum not in STOP_SIGNALS or stop is not None:
        return stop

    grace_s = context.options.stop_timeout_s
    name = signal.Signals(signum).name
    context.log.info(
        "received %s; waiting up to %gs for daemon pid %d to exit",
        name,
        grace_s,
        daemon.pid,
    )
    return _Stop(name, time.monotonic() + grace_s)


def forward_signal(context: _Context, daemon: _Daemon, signum: int) -> None:
    """Send ``signum`` to the pid the pid file names now.

    A stop signal also goes to the watched pid when the file names another
    process, so that a stop never leaves the watched daemon running.
    """
    name = signal.Signals(signum).name
    current = _pid_for_signal(context, daemon, name)
    if current != daemon.pid:
        context.log.info(
            "%s now names pid %d; sending %s there (still watching pid %d)",
            context.options.pid_file,
            current,
            name,
            daemon.pid,
        )
        _send_to_pid(current, signum)
        if signum not in STOP_SIGNALS:
            return
    _send_to_daemon(daemon, signum)
    context.log.debug("forwarded %s to pid %d", name, daemon.pid)


def _pid_for_signal(context: _Context, daemon: _Daemon, signame: str) -> int:
    path = context.options.pid_file
    text = read_pid_text(path)
    if text is None:
        context.log.warning(
            "%s is gone; sending %s to the watched pid %d", path, signame, daemon.pid
        )
        return daemon.pid
    try:
        pid = parse_pid(text, path)
        check_pid(pid, path, text, own_pid=context.own_pid)
    except PidFileError as error:
        context.log.warning(
            "%s; sending %s to the watched pid %d instead", error, signame, daemon.pid
        )
        return daemon.pid
    return pid


def _send_to_daemon(daemon: _Daemon, signum: int) -> None:
    try:
        signal.pidfd_send_signal(daemon.pidfd, signum)
    except ProcessLookupError:
        log.debug("pid %d ended before signal %d reached it", daemon.pid, signum)


def _send_to_pid(pid: int, signum: int) -> None:
    pidfd = _open_pidfd(pid)
    if pidfd is None:
        return
    try:
        signal.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        log.debug("pid %d ended before signal %d reached it", pid, signum)
    finally:
        os.close(pidfd)


def _kill_overdue(context: _Context, daemon: _Daemon, stop: _Stop) -> _Stop:
    context.log.warning(
        "daemon pid %d still running %gs after %s; killing it with SIGKILL",
        daemon.pid,
        context.options.stop_timeout_s,
        stop.signame,
    )
    _send_to_daemon(daemon, signal.SIGKILL)
    return replace(stop, deadline=math.inf, has_killed=True)


def _note_status(daemon: _Daemon, reaped: list[tuple[int, int]]) -> _Daemon:
    for pid, status in reaped:
        if pid == daemon.pid:
            daemon = replace(daemon, status=status)
    return daemon


def _find_successor(context: _Context, daemon: _Daemon) -> _Daemon | None:
    """The process the pid file names now, if it is running and not the old one."""
    path = context.options.pid_file
    text = read_pid_text(path)
    if text is None:
        return None
    try:
        pid = parse_pid(text, path)
        check_pid(pid, path, text, own_pid=context.own_pid)
    except PidFileError:
        return None
    # The same pid again is the dead daemon's, or already someone else's.
    pidfd = _open_pidfd(pid) if pid != daemon.pid else None
    if pidfd is None:
        return None
    context.log.info(
        "daemon pid %d %s; %s now names pid %d, following it",
        daemon.pid,
        _describe_end(daemon),
        path,
        pid,
    )
    return _Daemon(pid, pidfd)


def _final_exit_code(context: _Context, daemon: _Daemon, stop: _Stop | None) -> int:
    ending = _describe_end(daemon)
    if stop is not None and stop.has_killed:
        context.log.info("daemon pid %d %s; exiting with code 137", daemon.pid, ending)
        return 128 + signal.SIGKILL
    if stop is not None:
        context.log.info("daemon pid %d %s; exiting with code 0", daemon.pid, ending)
        return 0
    if daemon.status is None:
        context.log.warning("daemon pid %d %s; exiting with code 1", daemon.pid, ending)
        return 1

    code = exit_code_of(daemon.status)
    level = logging.INFO if code == 0 else logging.WARNING
    context.log.log(
        level, "daemon pid %d %s; exiting with its code %d", daemon.pid, ending, code
    )
    return code


def _describe_end(daemon: _Daemon) -> str:
    if daemon.status is None:
        return "ended (not our descendant, so its exit status is unknown)"
    return describe_status(daemon.status)


def _time_left(stop: _Stop | None) -> float | None:
    if stop is None or stop.has_killed:
        return None
    return max(0.0, stop.deadline - time.monotonic())


# --- leaving ----------------------------------------------------------------


def stop_leftovers(context: _Context) -> None:
    """Stop every child still around: SIGTERM, then SIGKILL after the grace period.

    These are the target if it still runs, and workers of a daemon that died
    without taking them along; as our orphans they are ours to end.  Returns
    once we have no child left, running or zombie.
    """
    grace_s = context.options.stop_timeout_s
    deadline = time.monotonic() + grace_s
    signum = signal.SIGTERM
    signalled: set[int] = set()
    has_warned = False
    while _has_children():
        live = set(leftover_pids(False, context.own_pid))
        if live and not has_warned:
            has_warned = True
            context.log.warning(
                "processes left behind (pids %s); sending SIGTERM, "
                "then SIGKILL after %gs",
                _join_pids(live),
                grace_s,
            )
        if live and signum == signal.SIGTERM and time.monotonic() >= deadline:
            context.log.warning(
                "pids %s still running %gs after SIGTERM; killing them with SIGKILL",
                _join_pids(live),
                grace_s,
            )
            signum, signalled = signal.SIGKILL, set()
        _signal_children(live - signalled, signum)
        signalled |= live

        _wait_readable(context.signals.fileno(), _sweep_wait_s(live, signum, deadline))
        context.signals.drain()


def _has_children() -> bool:
    """Reap what has exited; True while any child, running or zombie, remains.

    Asked of the kernel (waitid(2) with WNOWAIT), not of /proc: a listing of
    /proc is no snapshot, and misses a grandchild that is re-parented to us
    while the listing is read.
    """
    reap_children()
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _sweep_wait_s(live: set[int], signum: int, deadline: float) -> float:
    if not live:
        # Only zombies, or a child our read of /proc missed: look again soon.
        return _SWEEP_RECHECK_S
    if signum == signal.SIGKILL:
        # A child re-parented to us when a grandchild dies sends us no
        # SIGCHLD, so keep looking while the killed ones go.
        return _SWEEP_KILLED_POLL_S
    return deadline - time.monotonic()


def _signal_children(pids: set[int], signum: int) -> None:
    # Our own unreaped children cannot have their pids recycled, so kill(2)
    # by pid reaches the right process.
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _join_pids(pids: set[int]) -> str:
    return ", ".join(str(pid) for pid in sorted(pids))


# --- file descriptors -------------------------------------------------------


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


def _is_readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def _wait_readable(fd: int, timeout_s: float | None) -> None:
    if timeout_s is not None:
        timeout_s = max(0.0, timeout_s)
    select.select([fd], [], [], timeout_s)
