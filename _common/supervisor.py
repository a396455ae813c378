"""wingmate's main loop: spawn, reap, restart, run jobs, shut down.

Everything happens on one thread.  The loop sleeps in ``select`` until a
signal arrives (SIGCHLD included, through the wakeup pipe), a child writes
output, or the earliest timer is due; it never wakes on a fixed tick.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial

from _common.backoff import Backoff
from _common.cron import CronTable, DueRun
from _common.errors import TargetError
from _common.logs import ServiceLogger, is_json_format, service_logger
from _common.memory import release_free_memory
from _common.output import LineRelay, open_output_pipe, read_available
from _common.reaper import (
    describe_status,
    exit_code_of,
    is_container_init,
    reap_children,
    set_child_subreaper,
)
from _common.services import Child, JobRun, Service, ServiceState
from _common.signals import SignalPipe
from _common.spawn import spawn
from _common.spec import (
    Config,
    OutputMode,
    Overlap,
    ProcessSpec,
    RestartPolicy,
)
from _common.sweep import leftover_pids
from _common.timers import Timer, Timers

log = logging.getLogger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
FORWARDED_SIGNALS = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
HANDLED_SIGNALS = (signal.SIGCHLD, *SHUTDOWN_SIGNALS, *FORWARDED_SIGNALS)
SWEEP_GRACE_S = 2.0
REPEAT_SIGNAL_S = 0.5
FINAL_SLEEP_S = 1.0


class Supervisor:
    """Runs one configuration until shutdown; ``run`` returns the exit code."""

    def __init__(
        self,
        config: Config,
        backoff: Backoff,
        environ: Mapping[str, str] = os.environ,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.backoff = backoff
        self.environ = dict(environ)
        self.monotonic = monotonic
        self.wall_clock = wall_clock
        self.is_json = is_json_format(environ)
        self.is_init = False

        self.selector = selectors.DefaultSelector()
        self.timers = Timers()
        self.services = [
            Service(spec, service_logger(log, spec.name)) for spec in config.services
        ]
        self.cron = CronTable(config.jobs, wall_clock())
        self.children: dict[int, Child] = {}
        self.job_runs: dict[str, list[JobRun]] = {job.name: [] for job in config.jobs}
        self.relays: dict[int, LineRelay] = {}

        self.is_stopping = False
        self.stopping_since = 0.0
        self.is_finished = False
        self.exit_code = 0
        self.sweep_pids: set[int] = set()
        self.sweep_kill_timer: Timer | None = None
        self.is_sweep_grace_over = False

    # --- the loop -------------------------------------------------------------

    def run(self) -> int:
        """Start everything, then serve events until the shutdown is complete."""
        signals = self._prepare()
        try:
            self._start_services()
            self._start_reboot_jobs()
            self._check_anything_left()
            while not self.is_finished:
                self._wait_for_events()
        finally:
            self._flush_output()
            signals.close()
            self.selector.close()
        return self.exit_code

    def _prepare(self) -> SignalPipe:
        self.is_init = is_container_init()
        if os.getpid() != 1:
            try:
                set_child_subreaper()
            except OSError as exc:
                log.warning(
                    "cannot become the child subreaper (%s); orphans of "
                    "services will not be reaped by wingmate",
                    exc.strerror,
                )
        release_free_memory()
        signals = SignalPipe(HANDLED_SIGNALS)
        self.selector.register(
            signals.fileno(),
            selectors.EVENT_READ,
            lambda: self._handle_signals(signals.drain()),
        )
        log.info(
            "wingmate %s starting %d services and %d jobs from %s%s",
            _version(),
            len(self.services),
            len(self.config.jobs),
            self.config.directory,
            " as the container's init" if self.is_init else "",
        )
        return signals

    def _wait_for_events(self) -> None:
        for key, _ in self.selector.select(self._timeout()):
            key.data()
        self.timers.run_due(self.monotonic())
        if not self.is_stopping:
            self._run_due_jobs()

    def _timeout(self) -> float | None:
        deadlines = []
        timer_deadline = self.timers.next_deadline()
        if timer_deadline is not None:
            deadlines.append(timer_deadline - self.monotonic())
        cron_due = None if self.is_stopping else self.cron.earliest()
        if cron_due is not None:
            deadlines.append(_approach(cron_due - self.wall_clock()))
        return max(0.0, min(deadlines)) if deadlines else None

    # --- signals --------------------------------------------------------------

    def _handle_signals(self, numbers: list[int]) -> None:
        has_child_exited = False
        for number in numbers:
            if number == signal.SIGCHLD:
                has_child_exited = True
            elif number in SHUTDOWN_SIGNALS:
                self._on_shutdown_signal(signal.Signals(number))
            elif number in FORWARDED_SIGNALS:
                self._forward_signal(signal.Signals(number))
        if has_child_exited:
            self._reap()

    def _on_shutdown_signal(self, sig: signal.Signals) -> None:
        if not self.is_stopping:
            self.begin_shutdown(f"received {sig.name}", 0)
            return
        if self.monotonic() - self.stopping_since < REPEAT_SIGNAL_S:
            return  # the same signal sent to wingmate and to its process group
        log.warning("received %s again; killing what is left now", sig.name)
        for child in list(self.children.values()):
            self._kill(child)
        self._kill_sweep()

    def _forward_signal(self, sig: signal.Signals) -> None:
        for service in self.services:
            if service.child is not None:
                service.log.debug(
                    "forwarding %s to pid %d", sig.name, service.child.pid
                )
                _send(service.child.pid, sig)

    # --- services -------------------------------------------------------------

    def _start_services(self) -> None:
        for service in self.services:
            if service.spec.is_autostart:
                self._start_service(service)
            else:
                service.state = ServiceState.EXITED
                service.log.info("not started (autostart: false)")

    def _start_service(self, service: Service) -> None:
        service.restart_timer = None
        process = self._spawn(service.spec, service.log)
        if isinstance(process, TargetError):
            if service.spec.is_critical:
                service.state = ServiceState.FAILED
                self.begin_shutdown(
                    f"critical service {service.spec.name} cannot start",
                    process.exit_code,
                )
                return
            service.state = ServiceState.BACKOFF
            self._schedule_restart(service, uptime_s=0.0)
            return
        child = Child(process, self.monotonic(), service.log)
        self.children[child.pid] = child
        service.child = child
        service.state = ServiceState.RUNNING
        service.log.info("started, pid %d", child.pid)

    def _on_service_exit(self, service: Service, status: int) -> None:
        child = service.child
        assert child is not None
        child.cancel_timers()
        service.child = None
        uptime_s = self.monotonic() - child.started_at
        code = exit_code_of(status)
        service.last_exit_code = code

        if self.is_stopping:
            service.state = ServiceState.EXITED
            service.log.info("%s", describe_status(status))
            return
        if service.spec.is_critical:
            service.state = ServiceState.EXITED
            service.log.warning(
                "critical service %s; shutting down with code %d",
                describe_status(status),
                code,
            )
            self.begin_shutdown(f"critical service {service.spec.name} ended", code)
            return
        if not self._should_restart(service, code):
            service.state = ServiceState.EXITED
            service.log.info(
                "%s; not restarting (restart: %s)",
                describe_status(status),
                service.spec.restart.value,
            )
            self._check_anything_left()
            return
        self._schedule_restart(service, uptime_s, status)

    def _should_restart(self, service: Service, code: int) -> bool:
        policy = service.spec.restart
        if policy is RestartPolicy.NEVER:
            return False
        return policy is RestartPolicy.ALWAYS or code != 0

    def _schedule_restart(
        self, service: Service, uptime_s: float, status: int | None = None
    ) -> None:
        delay_s, service.early_exits = self.backoff.next_delay(
            uptime_s, service.early_exits
        )
        what = "could not start" if status is None else describe_status(status)
        if delay_s == 0.0:
            service.log.info("%s; restarting now", what)
            self._start_service(service)
            return
        service.state = ServiceState.BACKOFF
        service.log.warning(
            "%s after %.2fs; restarting in %.2fs (%d early exits in a row)",
            what,
            uptime_s,
            delay_s,
            service.early_exits,
        )
        service.restart_timer = self.timers.call_at(
            self.monotonic() + delay_s, lambda: self._start_service(service)
        )

    def _check_anything_left(self) -> None:
        """Shut down once no service can run again and no job is configured."""
        if self.is_stopping or self.config.jobs:
            return
        if any(service.state is not ServiceState.EXITED for service in self.services):
            return
        failed = any(service.last_exit_code != 0 for service in self.services)
        self.begin_shutdown("every service has ended for good", 1 if failed else 0)

    # --- jobs -----------------------------------------------------------------

    def _start_reboot_jobs(self) -> None:
        now_s = self.wall_clock()
        for job in self.cron.reboot_jobs():
            self._start_job(DueRun(job, now_s, 0))

    def _run_due_jobs(self) -> None:
        for due in self.cron.pop_due(self.wall_clock()):
            self._start_job(due)

    def _start_job(self, due: DueRun) -> None:
        job = due.job
        job_log = service_logger(log, job.name)
        running = self.job_runs[job.name]
        if running and job.overlap is Overlap.SKIP:
            job_log.warning(
                "still running (pid %d) at its next time %s; skipping this run",
                running[0].pid,
                _format_time(due.scheduled_s),
            )
            return
        process = self._spawn(job, job_log)
        if isinstance(process, TargetError):
            return
        run = JobRun(
            process,
            self.monotonic(),
            job_log,
            spec=job,
            scheduled_s=due.scheduled_s,
        )
        self.children[run.pid] = run
        running.append(run)
        late_ms = (self.wall_clock() - due.scheduled_s) * 1000
        job_log.info("started, pid %d (%.1f ms after its time)", run.pid, late_ms)
        if job.timeout_s is not None:
            run.timeout_timer = self.timers.call_at(
                self.monotonic() + job.timeout_s, lambda: self._time_out_job(run)
            )

    def _time_out_job(self, run: JobRun) -> None:
        run.timeout_timer = None
        run.is_timed_out = True
        run.log.warning(
            "still running after its timeout of %.1fs; stopping it", run.spec.timeout_s
        )
        self._stop(run, signal.SIGTERM, run.spec.stop_timeout_s)

    def _on_job_exit(self, run: JobRun, status: int) -> None:
        run.cancel_timers()
        self.job_runs[run.spec.name].remove(run)
        duration_s = self.monotonic() - run.started_at
        if status == 0:
            run.log.info("finished after %.3fs", duration_s)
        else:
            level = logging.INFO if self.is_stopping else logging.WARNING
            run.log.log(
                level,
                "%s after %.3fs%s",
                describe_status(status),
                duration_s,
                " (timed out)" if run.is_timed_out else "",
            )

    # --- spawning and reaping -------------------------------------------------

    def _spawn(
        self, spec: ProcessSpec, spec_log: ServiceLogger
    ) -> subprocess.Popen[bytes] | TargetError:
        """Start ``spec`` with its output relayed; the caller records the child."""
        pipes = self._open_pipes(spec)
        try:
            process = spawn(spec, pipes[0][1], pipes[1][1], self.environ)
        except TargetError as exc:
            spec_log.error("cannot start: %s", exc)
            self._close_pipes(pipes)
            return exc
        finally:
            for _read_fd, write_fd in pipes:
                if write_fd is not None:
                    os.close(write_fd)
        for (read_fd, _), stream in zip(pipes, ("stdout", "stderr"), strict=True):
            if read_fd is not None:
                self._register_relay(read_fd, spec.name, stream)
        return process

    def _open_pipes(
        self, spec: ProcessSpec
    ) -> list[tuple[int, int] | tuple[None, None]]:
        if spec.output is OutputMode.INHERIT:
            return [(None, None), (None, None)]
        return [open_output_pipe(), open_output_pipe()]

    def _close_pipes(self, pipes: list[tuple[int, int] | tuple[None, None]]) -> None:
        for read_fd, _write_fd in pipes:
            if read_fd is not None:
                os.close(read_fd)

    def _reap(self) -> None:
        for pid, status in reap_children():
            child = self.children.pop(pid, None)
            if child is None:
                log.debug("reaped orphan pid %d (%s)", pid, describe_status(status))
            else:
                child.process.returncode = exit_code_of(status)
                self._on_child_exit(child, status)
            self.sweep_pids.discard(pid)
        if self.is_stopping:
            self._continue_shutdown()

    def _on_child_exit(self, child: Child, status: int) -> None:
        if isinstance(child, JobRun):
            self._on_job_exit(child, status)
            return
        for service in self.services:
            if service.child is child:
                self._on_service_exit(service, status)
                return

    # --- output ---------------------------------------------------------------

    def _register_relay(self, read_fd: int, name: str, stream: str) -> None:
        destination = 1 if stream == "stdout" else 2
        self.relays[read_fd] = LineRelay(name, stream, destination, self.is_json)
        self.selector.register(
            read_fd, selectors.EVENT_READ, lambda: self._relay_output(read_fd)
        )

    def _relay_output(self, read_fd: int) -> None:
        relay = self.relays[read_fd]
        data = read_available(read_fd)
        if data is None:
            return
        if data:
            relay.feed(data)
            return
        relay.close()
        self.selector.unregister(read_fd)
        os.close(read_fd)
        del self.relays[read_fd]

    def _flush_output(self) -> None:
        """Copy what the pipes still hold, so no last words are lost."""
        for read_fd in list(self.relays):
            while True:
                data = read_available(read_fd)
                if not data:
                    break
                self.relays[read_fd].feed(data)
            self.relays[read_fd].close()
            os.close(read_fd)
        self.relays.clear()

    # --- shutdown -------------------------------------------------------------

    def begin_shutdown(self, reason: str, exit_code: int) -> None:
        """Stop every service and job; ``run`` returns ``exit_code`` when done."""
        if self.is_stopping:
            return
        self.is_stopping = True
        self.stopping_since = self.monotonic()
        self.exit_code = exit_code
        running = [service for service in self.services if service.child is not None]
        log.info(
            "shutting down (%s): stopping %d services and %d jobs",
            reason,
            len(running),
            sum(len(runs) for runs in self.job_runs.values()),
        )
        for service in self.services:
            if service.restart_timer is not None:
                service.restart_timer.cancel()
                service.restart_timer = None
            if service.child is not None:
                service.state = ServiceState.STOPPING
                spec = service.spec
                self._stop(service.child, spec.stop_signal, spec.stop_timeout_s)
        for runs in self.job_runs.values():
            for run in runs:
                self._stop(run, signal.SIGTERM, run.spec.stop_timeout_s)
        self._continue_shutdown()

    def _stop(self, child: Child, sig: signal.Signals, grace_s: float) -> None:
        """Send ``sig`` to the child's process group; kill it after ``grace_s``."""
        child.log.debug("stopping pid %d with %s", child.pid, sig.name)
        _send_group(child.pid, sig)
        if child.kill_timer is None:
            child.kill_timer = self.timers.call_at(
                self.monotonic() + grace_s, lambda: self._kill_late(child, grace_s)
            )

    def _kill_late(self, child: Child, grace_s: float) -> None:
        child.kill_timer = None
        if child.pid not in self.children:
            return
        child.log.warning(
            "still running %.1fs after the stop signal; sending SIGKILL to pid %d",
            grace_s,
            child.pid,
        )
        self._kill(child)

    def _kill(self, child: Child) -> None:
        _send_group(child.pid, signal.SIGKILL)

    def _continue_shutdown(self) -> None:
        """Move on once every child is gone: sweep leftovers, then finish."""
        if self.children or self.is_finished:
            return
        leftovers = leftover_pids(self.is_init, os.getpid())
        fresh = [pid for pid in leftovers if pid not in self.sweep_pids]
        if fresh:
            self._end_leftovers(fresh)
        self.sweep_pids &= set(leftovers)
        if not self.sweep_pids:
            self.is_finished = True
            log.info("shutdown complete; exiting with code %d", self.exit_code)

    def _end_leftovers(self, pids: list[int]) -> None:
        """SIGTERM, or SIGKILL once the sweep's grace is over, to new leftovers."""
        sig = signal.SIGKILL if self.is_sweep_grace_over else signal.SIGTERM
        # The first round is news; later rounds are children forked meanwhile.
        level = logging.INFO if not self.sweep_pids else logging.DEBUG
        log.log(
            level,
            "sending %s to %d leftover processes: %s",
            sig.name,
            len(pids),
            " ".join(map(str, pids)),
        )
        for pid in pids:
            _send(pid, sig)
        self.sweep_pids.update(pids)
        self._watch_leftovers(pids)

    def _watch_leftovers(self, pids: list[int]) -> None:
        for pid in pids:
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                continue
            self.selector.register(
                pidfd, selectors.EVENT_READ, partial(self._on_leftover_exit, pidfd)
            )
        if self.sweep_kill_timer is None:
            self.sweep_kill_timer = self.timers.call_at(
                self.monotonic() + SWEEP_GRACE_S, self._kill_sweep
            )

    def _on_leftover_exit(self, pidfd: int) -> None:
        self.selector.unregister(pidfd)
        os.close(pidfd)
        self._continue_shutdown()

    def _kill_sweep(self) -> None:
        self.is_sweep_grace_over = True
        for pid in self.sweep_pids:
            log.warning("pid %d still running after SIGTERM; sending SIGKILL", pid)
            _send(pid, signal.SIGKILL)


def _approach(remaining_s: float) -> float:
    """How long to sleep towards a job's due time.

    The kernel lets a poll timeout fire late by 0.1% of its length, up to
    100 ms (timer slack, select_estimate_accuracy() in fs/select.c): a 60 s
    sleep may end 60 ms late.  So a long wait stops short by FINAL_SLEEP_S,
    and the last stretch, at most that long, is late by 1 ms at most.
    """
    if remaining_s > FINAL_SLEEP_S:
        return remaining_s - FINAL_SLEEP_S
    return remaining_s


def _send(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _send_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group that ``pid`` leads (each child leads one)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _format_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")


def _version() -> str:
    from _common import __version__

    return __version__
