"""wmpidproxy as a black box, in front of real forking daemons.

The daemons are OpenSSH's sshd and nginx (each on a free port on 127.0.0.1,
with its own configuration in a temporary directory) and ``forking_daemon.py``
from ``daemons/``.  Every wmpidproxy and every process it leaves behind is
ended in the fixture's teardown, also when a test fails.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from sshd import Sshd, free_port, make_sshd, ssh_banner

REPO = Path(__file__).resolve().parents[2]
WMPIDPROXY = str(REPO / "wmpidproxy.py")
FORKING_DAEMON = str(Path(__file__).parent / "daemons" / "forking_daemon.py")
NGINX = "/usr/sbin/nginx"

# The requirement is 100 ms from the daemon's death to wmpidproxy's exit.
KILL_TO_EXIT_LIMIT_S = 0.1
WAIT_S = 10.0

T = TypeVar("T")


# --- helpers ----------------------------------------------------------------


def wait_for(condition: Callable[[], T], what: str, timeout_s: float = WAIT_S) -> T:
    """Return the first truthy value of ``condition()``, or fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    delay_s = 0.005
    while True:
        value = condition()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"gave up after {timeout_s}s waiting for {what}")
        time.sleep(min(delay_s, left))
        delay_s = min(delay_s * 2, 0.1)


def is_gone(pidfd: int) -> bool:
    """A pidfd turns readable once its process has ended."""
    return bool(select.select([pidfd], [], [], 0)[0])


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text.split()[0]) if text.strip().isdigit() else None


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat, which tells a recycled pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return stat.rpartition(b")")[2].split()[19].decode()


def descendants(root_pid: int) -> dict[int, str]:
    """Every process below ``root_pid``, with its start time."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            parents[int(name)] = int(stat.rpartition(b")")[2].split()[1])
    found: dict[int, str] = {}
    frontier = [root_pid]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                started = start_time(pid)
                if started is not None:
                    found[pid] = started
                    frontier.append(pid)
    return found


def processes_mentioning(text: str) -> dict[int, str]:
    """Processes whose command line holds ``text``, with their start times."""
    found: dict[int, str] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            started = start_time(int(name))
            if text.encode() in cmdline and started is not None:
                found[int(name)] = started
    return found


def children_of(pid: int) -> set[int]:
    return set(descendants(pid))


def kill_if_same(pid: int, started: str) -> None:
    """SIGKILL ``pid`` unless it is gone or is by now another process."""
    if start_time(pid) == started:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINGMATE_")}
    return {**env, **extra}


def skip_unless_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run sshd and nginx as system daemons")


@dataclass
class Proxy:
    """One running wmpidproxy, its log file and a pidfd to time its exit."""

    process: subprocess.Popen[bytes]
    log_path: Path
    pid_file: Path
    pidfd: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = WAIT_S) -> str:
        def log_with_text() -> str:
            log = self.log()
            return log if text in log else ""

        return wait_for(log_with_text, f"{text!r} in the log", timeout_s)

    def daemon_pid(self) -> int:
        """The pid from the 'daemon running' line, once wmpidproxy logged it."""
        self.wait_for_log("daemon running with pid")
        line = next(
            line for line in self.log().splitlines() if "daemon running with" in line
        )
        return int(line.split("daemon running with pid ")[1].split()[0])

    def signal(self, signum: int) -> None:
        signal.pidfd_send_signal(self.pidfd, signum)

    def wait(self, timeout_s: float = WAIT_S) -> int:
        if not select.select([self.pidfd], [], [], timeout_s)[0]:
            raise AssertionError(
                f"wmpidproxy still running after {timeout_s}s; log:\n{self.log()}"
            )
        return self.process.wait()

    def is_running(self) -> bool:
        return not is_gone(self.pidfd)


@dataclass
class Proxies:
    """Starts wmpidproxy instances and ends them and all they left behind."""

    tmp_path: Path
    started: list[Proxy] = field(default_factory=list)
    seen: dict[int, str] = field(default_factory=dict)

    def start(
        self,
        command: list[str],
        *options: str,
        pid_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Proxy:
        pid_file = pid_file or self.tmp_path / "daemon.pid"
        log_path = self.tmp_path / f"wmpidproxy-{len(self.started)}.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, WMPIDPROXY, "--pid-file", str(pid_file), *options]
                + ["--", *command],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=clean_env() if env is None else env,
            )
        proxy = Proxy(process, log_path, pid_file, os.pidfd_open(process.pid))
        self.started.append(proxy)
        return proxy

    def remember_tree(self, proxy: Proxy) -> None:
        """Note what runs below ``proxy`` now, to be ended in teardown."""
        self.seen.update(descendants(proxy.process.pid))

    def close(self) -> None:
        for proxy in self.started:
            self.remember_tree(proxy)
        for proxy in self.started:
            self._end(proxy)
        # Daemons name files in tmp_path on their command lines: a last net
        # for any that escaped both wmpidproxy and the trees noted above.
        self.seen.update(processes_mentioning(str(self.tmp_path)))
        for pid, started in self.seen.items():
            kill_if_same(pid, started)

    def _end(self, proxy: Proxy) -> None:
        if proxy.is_running():
            proxy.signal(signal.SIGTERM)
            if not select.select([proxy.pidfd], [], [], WAIT_S)[0]:
                proxy.process.kill()
        proxy.process.wait()
        os.close(proxy.pidfd)


@pytest.fixture
def proxies(tmp_path: Path) -> Iterator[Proxies]:
    started = Proxies(tmp_path)
    try:
        yield started
    finally:
        started.close()


def daemon_command(tmp_path: Path, *extra: str) -> list[str]:
    pid_file = str(tmp_path / "daemon.pid")
    events = str(tmp_path / "events")
    return [
        sys.executable,
        FORKING_DAEMON,
        *("--pid-file", pid_file, "--events", events, *extra),
    ]


def kill_and_time_exit(proxy: Proxy, daemon_pid: int) -> tuple[int, float]:
    """SIGKILL the daemon; return wmpidproxy's exit code and seconds to exit."""
    daemon_fd = os.pidfd_open(daemon_pid)
    try:
        started = time.perf_counter()
        signal.pidfd_send_signal(daemon_fd, signal.SIGKILL)
        ready = select.select([proxy.pidfd], [], [], WAIT_S)[0]
        elapsed_s = time.perf_counter() - started
    finally:
        os.close(daemon_fd)
    assert ready, f"wmpidproxy did not exit after the daemon was killed:\n{proxy.log()}"
    print(f"kill-to-exit latency: {elapsed_s * 1000:.1f} ms")
    return proxy.process.wait(), elapsed_s


# --- the forking daemon of our own ------------------------------------------


def test_double_forking_daemon_exit_code_comes_through(
    proxies: Proxies, tmp_path: Path
) -> None:
    """The daemon, re-parented to wmpidproxy, passes on its own exit code."""
    proxy = proxies.start(daemon_command(tmp_path, "--exit-code", "7"))
    daemon_pid = proxy.daemon_pid()
    proxies.remember_tree(proxy)
    assert daemon_pid in children_of(proxy.process.pid)

    os.kill(daemon_pid, signal.SIGUSR1)

    assert proxy.wait() == 7
    assert f"daemon pid {daemon_pid} exited with code 7" in proxy.log()


def test_killed_daemon_ends_proxy_at_once(proxies: Proxies, tmp_path: Path) -> None:
    """SIGKILL of the daemon ends wmpidproxy within 100 ms, with code 137."""
    proxy = proxies.start(daemon_command(tmp_path))
    daemon_pid = proxy.daemon_pid()

    code, elapsed_s = kill_and_time_exit(proxy, daemon_pid)

    assert code == 128 + signal.SIGKILL
    assert elapsed_s < KILL_TO_EXIT_LIMIT_S, f"took {elapsed_s * 1000:.1f} ms"
    assert f"daemon pid {daemon_pid} killed by SIGKILL" in proxy.log()


def test_signals_are_forwarded_to_the_daemon(proxies: Proxies, tmp_path: Path) -> None:
    """Each forwarded signal reaches the daemon, and SIGTERM ends both (code 0)."""
    proxy = proxies.start(daemon_command(tmp_path))
    daemon_pid = proxy.daemon_pid()
    events = tmp_path / "events"
    sent = [signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH, signal.SIGTERM]

    def has_noted(count: int) -> Callable[[], bool]:
        return lambda: events.exists() and len(events.read_text().splitlines()) == count

    for count, signum in enumerate(sent, start=1):
        proxy.signal(signum)
        wait_for(has_noted(count), f"{signum.name} to reach the daemon")

    assert proxy.wait() == 0
    expected = [f"{signum.name} {daemon_pid}" for signum in sent]
    assert events.read_text().splitlines() == expected
    assert "received SIGTERM" in proxy.log()


def test_daemon_that_hands_over_to_a_successor_is_followed(
    proxies: Proxies, tmp_path: Path
) -> None:
    """When the daemon ends after rewriting its pid file, the new pid is watched."""
    proxy = proxies.start(daemon_command(tmp_path))
    first_pid = proxy.daemon_pid()

    proxy.signal(signal.SIGUSR2)
    proxy.wait_for_log("following it")
    proxies.remember_tree(proxy)
    successor = read_pid(proxy.pid_file)

    assert successor is not None and successor != first_pid
    assert f"now names pid {successor}, following it" in proxy.log()
    assert proxy.is_running()
    code, elapsed_s = kill_and_time_exit(proxy, successor)
    assert code == 128 + signal.SIGKILL
    assert elapsed_s < KILL_TO_EXIT_LIMIT_S, f"took {elapsed_s * 1000:.1f} ms"


def test_daemon_ignoring_sigterm_is_killed_after_the_stop_timeout(
    proxies: Proxies, tmp_path: Path
) -> None:
    """A daemon still running after the grace period gets SIGKILL; exit 137."""
    proxy = proxies.start(
        daemon_command(tmp_path, "--ignore-term"), "--stop-timeout", "0.3"
    )
    daemon_fd = os.pidfd_open(proxy.daemon_pid())
    try:
        proxy.signal(signal.SIGTERM)
        assert proxy.wait() == 128 + signal.SIGKILL
        assert is_gone(daemon_fd)
    finally:
        os.close(daemon_fd)
    assert "still running 0.3s after SIGTERM; killing it with SIGKILL" in proxy.log()


def test_stop_timeout_comes_from_the_environment(
    proxies: Proxies, tmp_path: Path
) -> None:
    """WINGMATE_STOP_TIMEOUT sets the grace period when no option does."""
    proxy = proxies.start(
        daemon_command(tmp_path, "--ignore-term"),
        env=clean_env(WINGMATE_STOP_TIMEOUT="0.2"),
    )
    proxy.daemon_pid()
    proxy.signal(signal.SIGTERM)

    assert proxy.wait() == 128 + signal.SIGKILL
    assert "still running 0.2s after SIGTERM" in proxy.log()


def test_daemon_that_is_not_a_descendant_is_watched_by_pidfd(
    proxies: Proxies, tmp_path: Path
) -> None:
    """A pid from elsewhere is watched too; its end gives exit code 1 at once."""
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        pid_file = tmp_path / "daemon.pid"
        write_pid = f"echo {stranger.pid} > {pid_file}"
        proxy = proxies.start(["sh", "-c", write_pid])
        assert proxy.daemon_pid() == stranger.pid

        code, elapsed_s = kill_and_time_exit(proxy, stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()

    assert code == 1
    assert elapsed_s < KILL_TO_EXIT_LIMIT_S, f"took {elapsed_s * 1000:.1f} ms"
    assert "exit status is unknown" in proxy.log()


# --- start-up failures ------------------------------------------------------


def test_missing_pid_file_times_out_with_a_clear_error(
    proxies: Proxies, tmp_path: Path
) -> None:
    """No pid file within the start timeout: exit 1, and the daemon is stopped."""
    proxy = proxies.start(
        daemon_command(tmp_path, "--no-pid-file"), "--start-timeout", "0.5"
    )

    assert proxy.wait() == 1
    log = proxy.log()
    assert (
        f"wmpidproxy: error: {proxy.pid_file}: no pid file appeared within 0.5s" in log
    )
    assert "--start-timeout" in log
    assert "processes left behind (pids " in log
    assert not processes_mentioning(str(tmp_path))


def test_start_timeout_comes_from_wingmate_startsecs(
    proxies: Proxies, tmp_path: Path
) -> None:
    """WINGMATE_STARTSECS is the default start timeout."""
    proxy = proxies.start(["true"], env=clean_env(WINGMATE_STARTSECS="0.2"))

    assert proxy.wait() == 1
    assert "no pid file appeared within 0.2s of starting 'true'" in proxy.log()


def test_bad_timeout_in_the_environment_is_a_usage_error(
    proxies: Proxies, tmp_path: Path
) -> None:
    """A WINGMATE_STARTSECS that is no duration gives exit 2 and names it."""
    proxy = proxies.start(["true"], env=clean_env(WINGMATE_STARTSECS="soon"))

    assert proxy.wait() == 2
    assert "error: WINGMATE_STARTSECS='soon': 'soon' is not a number" in proxy.log()


def test_stop_during_start_up_ends_the_command(
    proxies: Proxies, tmp_path: Path
) -> None:
    """SIGTERM before the pid file appears stops what was started; exit 0."""
    proxy = proxies.start(daemon_command(tmp_path, "--no-pid-file"))
    proxy.wait_for_log("waiting up to")
    wait_for(lambda: children_of(proxy.process.pid), "the daemon to fork")
    proxies.remember_tree(proxy)
    left = children_of(proxy.process.pid)

    proxy.signal(signal.SIGTERM)

    assert proxy.wait() == 0
    assert "received SIGTERM during start-up" in proxy.log()
    assert not any(start_time(pid) for pid in left)
    assert not processes_mentioning(str(tmp_path))


def test_garbage_pid_file_is_an_error_quoting_it(
    proxies: Proxies, tmp_path: Path
) -> None:
    """A pid file that holds no number: exit 1, naming the file and its content."""
    proxy = proxies.start(["sh", "-c", f"echo not-a-pid > {tmp_path}/daemon.pid"])

    assert proxy.wait() == 1
    assert (
        f"wmpidproxy: error: {proxy.pid_file}: pid file does not hold a pid "
        "(content 'not-a-pid\\n')"
    ) in proxy.log()


def test_pid_file_naming_init_is_an_error(proxies: Proxies, tmp_path: Path) -> None:
    """A pid file naming pid 1 is refused once the start timeout has passed."""
    proxy = proxies.start(
        ["sh", "-c", f"echo 1 > {tmp_path}/daemon.pid"], "--start-timeout", "0.3"
    )

    assert proxy.wait() == 1
    assert "names pid 1, the init process (content '1\\n')" in proxy.log()


def test_stale_pid_file_is_not_taken_for_the_daemon(
    proxies: Proxies, tmp_path: Path
) -> None:
    """A pid file left from before the start is ignored, even if its pid runs."""
    pid_file = tmp_path / "daemon.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    proxy = proxies.start(["true"], "--start-timeout", "0.3")

    assert proxy.wait() == 1
    assert "was not rewritten since the command started" in proxy.log()


def test_failing_command_passes_on_its_code(proxies: Proxies, tmp_path: Path) -> None:
    """A command that fails before writing the pid file gives its own code."""
    proxy = proxies.start(daemon_command(tmp_path, "--fail", "5"))

    assert proxy.wait() == 5
    assert "command " in proxy.log()
    assert "exited with code 5 before writing" in proxy.log()


def test_missing_command_exits_127(proxies: Proxies) -> None:
    """A command that does not exist gives 127 and one error line."""
    proxy = proxies.start(["no-such-command-for-wmpidproxy"])

    assert proxy.wait() == 127
    assert "error: command 'no-such-command-for-wmpidproxy' not found" in proxy.log()


def test_command_that_cannot_be_executed_exits_126(
    proxies: Proxies, tmp_path: Path
) -> None:
    """A command file without execute permission gives 126."""
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    proxy = proxies.start([str(script)])

    assert proxy.wait() == 126
    assert "cannot be executed: Permission denied" in proxy.log()


def test_version_is_printed() -> None:
    """--version prints the program and its version."""
    result = subprocess.run(
        [sys.executable, WMPIDPROXY, "--version"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("wmpidproxy ")


# --- sshd -------------------------------------------------------------------


@pytest.fixture
def sshd(tmp_path: Path) -> Sshd:
    return make_sshd(tmp_path)


@pytest.mark.root
def test_sshd_stops_with_proxy_on_sigterm(proxies: Proxies, sshd: Sshd) -> None:
    """SIGTERM reaches sshd; both end, and wmpidproxy exits 0."""
    proxy = proxies.start(sshd.command, pid_file=sshd.pid_file)
    daemon_fd = os.pidfd_open(proxy.daemon_pid())
    try:
        assert ssh_banner(sshd.port).startswith(b"SSH-2.0-")

        proxy.signal(signal.SIGTERM)

        assert proxy.wait() == 0
        assert is_gone(daemon_fd)
    finally:
        os.close(daemon_fd)
    assert "received SIGTERM" in proxy.log()


@pytest.mark.root
def test_killed_sshd_ends_proxy_at_once(proxies: Proxies, sshd: Sshd) -> None:
    """SIGKILL of sshd ends wmpidproxy within 100 ms, with code 137."""
    proxy = proxies.start(sshd.command, pid_file=sshd.pid_file)
    daemon_pid = proxy.daemon_pid()
    assert ssh_banner(sshd.port).startswith(b"SSH-2.0-")

    code, elapsed_s = kill_and_time_exit(proxy, daemon_pid)

    assert code == 128 + signal.SIGKILL
    assert elapsed_s < KILL_TO_EXIT_LIMIT_S, f"took {elapsed_s * 1000:.1f} ms"


# --- nginx ------------------------------------------------------------------


@dataclass(frozen=True)
class Nginx:
    command: list[str]
    config: Path
    pid_file: Path
    port: int
    prefix: Path

    def write_config(self, answer: str) -> None:
        prefix = self.prefix
        temp_paths = "".join(
            f"  {kind}_temp_path {prefix}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.config.write_text(
            "daemon on;\n"
            f"pid {self.pid_file};\n"
            f"error_log {prefix}/error.log info;\n"
            "worker_processes 1;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            "  access_log off;\n"
            f"{temp_paths}"
            f"  server {{ listen 127.0.0.1:{self.port}; "
            f'location / {{ return 200 "{answer}\\n"; }} }}\n'
            "}\n"
        )

    def get(self) -> str | None:
        url = f"http://127.0.0.1:{self.port}/"
        try:
            with urllib.request.urlopen(url, timeout=WAIT_S) as response:
                return str(response.read().decode().strip())
        except OSError:
            return None


@pytest.fixture
def nginx(tmp_path: Path) -> Nginx:
    skip_unless_root()
    if not os.access(NGINX, os.X_OK):
        pytest.skip("needs nginx (Debian package nginx-light or nginx)")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    config = prefix / "nginx.conf"
    error_log = str(prefix / "error.log")
    command = [NGINX, "-p", str(prefix), "-e", error_log, "-c", str(config)]
    server = Nginx(command, config, prefix / "nginx.pid", free_port(), prefix)
    server.write_config("v1")
    return server


@pytest.mark.root
def test_sighup_through_proxy_reloads_nginx(proxies: Proxies, nginx: Nginx) -> None:
    """SIGHUP sent to wmpidproxy makes nginx load its changed configuration."""
    proxy = proxies.start(nginx.command, pid_file=nginx.pid_file)
    proxy.daemon_pid()
    assert wait_for(nginx.get, "nginx to answer") == "v1"

    nginx.write_config("v2")
    proxy.signal(signal.SIGHUP)

    wait_for(lambda: nginx.get() == "v2", "nginx to answer with the new config")
    assert proxy.is_running()
    proxy.signal(signal.SIGTERM)
    assert proxy.wait() == 0


@pytest.mark.root
def test_nginx_binary_upgrade_is_followed(proxies: Proxies, nginx: Nginx) -> None:
    """After SIGUSR2 and SIGQUIT to the old master, the new master is watched."""
    proxy = proxies.start(nginx.command, pid_file=nginx.pid_file)
    old_master = proxy.daemon_pid()
    wait_for(nginx.get, "nginx to answer")

    def new_master_pid() -> int:
        pid = read_pid(nginx.pid_file)
        return pid if pid is not None and pid != old_master else 0

    proxy.signal(signal.SIGUSR2)
    new_master = wait_for(new_master_pid, "the new master to write nginx.pid")
    assert read_pid(nginx.pid_file.with_name("nginx.pid.oldbin")) == old_master
    os.kill(old_master, signal.SIGQUIT)

    proxy.wait_for_log(f"now names pid {new_master}, following it")
    proxies.remember_tree(proxy)
    assert proxy.is_running()
    assert nginx.get() == "v1"
    workers = children_of(new_master)
    assert workers

    code, elapsed_s = kill_and_time_exit(proxy, new_master)
    assert code == 128 + signal.SIGKILL
    assert elapsed_s < KILL_TO_EXIT_LIMIT_S, f"took {elapsed_s * 1000:.1f} ms"
    # The orphaned workers were stopped before wmpidproxy exited.
    assert not any(start_time(pid) for pid in workers)


def test_command_that_exits_after_writing_the_pid_file_is_reaped(
    proxies: Proxies, tmp_path: Path
) -> None:
    """The starting command is reaped even when it exits after the pid file appears."""
    pid_file = tmp_path / "daemon.pid"
    proxy = proxies.start(
        ["sh", "-c", f"sleep 30 & echo $! > {pid_file}"],
        pid_file=pid_file,
    )
    daemon = proxy.daemon_pid()

    def only_the_daemon_is_left() -> bool:
        return set(children_of(proxy.process.pid)) == {daemon} and all(
            state != "Z" for state in child_states(proxy.process.pid)
        )

    wait_for(only_the_daemon_is_left, "the starting command to be reaped")


def child_states(pid: int) -> list[str]:
    states = []
    for child in children_of(pid):
        try:
            stat = Path(f"/proc/{child}/stat").read_bytes()
        except OSError:
            continue
        states.append(stat[stat.rfind(b")") + 2 :].split()[0].decode())
    return states
