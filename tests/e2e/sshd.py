"""A private OpenSSH sshd for the tests: its own host key, port and pid file."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
WAIT_S = 10.0


@dataclass(frozen=True)
class Sshd:
    """How to start it: ``command`` forks a daemon that writes ``pid_file``."""

    command: list[str]
    pid_file: Path
    port: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_sshd(tmp_path: Path) -> Sshd:
    """Write a configuration under ``tmp_path``; skip when sshd is missing."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run sshd")
    if not os.access(SSHD, os.X_OK) or shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH's sshd (Debian package openssh-server)")
    host_key = tmp_path / "host_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
        check=True,
        timeout=WAIT_S,
    )
    # sshd refuses to start without its privilege separation directory.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    port = free_port()
    pid_file = tmp_path / "sshd.pid"
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"PidFile {pid_file}\n"
        "UsePAM no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "AuthorizedKeysFile none\n"
    )
    log = tmp_path / "sshd.log"
    return Sshd([SSHD, "-f", str(config), "-E", str(log)], pid_file, port)


def ssh_banner(port: int) -> bytes:
    """The first bytes sshd sends on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as conn:
        return conn.recv(64)
