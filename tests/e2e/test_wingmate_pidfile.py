"""Services with ``pidfile:``: forking daemons supervised through wmpidproxy."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from nsrun import wait_until, wingmate_in_namespace

SSHD = "/usr/sbin/sshd"
DAEMON = Path(__file__).resolve().parent / "daemons" / "forking_daemon.py"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sshd_config(tmp_path: Path) -> tuple[Path, Path, int]:
    """An sshd configuration of its own: (config, pid file, port)."""
    if not os.access(SSHD, os.X_OK) or shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH's sshd (Debian package openssh-server)")
    host_key = tmp_path / "host_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
        check=True,
        timeout=30,
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    port = free_port()
    pid_file = tmp_path / "sshd.pid"
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"PidFile {pid_file}\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nAuthorizedKeysFile none\n"
    )
    return config, pid_file, port


def ssh_banner(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        return conn.recv(64)


def test_killed_sshd_is_back_as_a_new_daemon(tmp_path: Path) -> None:
    """When sshd is killed, wingmate restarts it and a new daemon serves the port."""
    config, pid_file, port = sshd_config(tmp_path)
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  sshd:\n"
        f"    command: [{SSHD}, -f, '{config}', -E, '{tmp_path / 'sshd.log'}']\n"
        f"    pidfile: {pid_file}\n"
    )
    with wingmate_in_namespace(tmp_path, {"WINGMATE_STABLE_WINDOW": "0"}) as ns:
        wait_until(lambda: read_pid(pid_file) is not None, what="sshd's pid file")
        first = read_pid(pid_file)
        assert first is not None
        assert ssh_banner(port).startswith(b"SSH-2.0-")

        os.kill(ns.host_pid_of(first), signal.SIGKILL)

        wait_until(
            lambda: read_pid(pid_file) not in (None, first),
            what="a new sshd pid in the pid file",
        )
        assert ssh_banner(port).startswith(b"SSH-2.0-")
        ns.stderr.wait_for(r"sshd: exited with code 137; restarting now")

        ns.signal(signal.SIGTERM)
        assert ns.wait() == 0


def test_daemon_behind_pidfile_is_stopped_on_shutdown(tmp_path: Path) -> None:
    """At shutdown the daemon itself gets the stop signal through wmpidproxy."""
    pid_file = tmp_path / "daemon.pid"
    events = tmp_path / "events"
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  legacy:\n"
        f"    command: ['{sys.executable}', '{DAEMON}', --pid-file, '{pid_file}',"
        f" --events, '{events}']\n"
        f"    pidfile: {pid_file}\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"daemon running with pid \d+")
        ns.signal(signal.SIGTERM)
        assert ns.wait() == 0
        assert "SIGTERM" in events.read_text()
        assert "sending SIGKILL" not in ns.stderr.text()
