"""How each process manager is configured for a set of services or a cron
job: one class per manager, each writing its own configuration files into a
fresh directory and returning the command that runs it as PID 1.

Each peer gets its fastest fair settings; docs/benchmarks.md explains them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"}


@dataclass(frozen=True, slots=True)
class ServiceDef:
    """A service: its name and the executable script that runs it."""

    name: str
    script: Path


@dataclass(frozen=True, slots=True)
class Launch:
    """What to run as PID 1, with which environment."""

    argv: list[str]
    env: dict[str, str]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


class Manager:
    name = ""
    is_peer = True
    can_restart = True
    can_run_services = True
    can_run_jobs = False

    def services(self, root: Path, services: list[ServiceDef], grace_s: float) -> Launch:
        raise NotImplementedError

    def cron(self, root: Path, schedule: str, job: Path) -> Launch:
        raise NotImplementedError


class Wingmate(Manager):
    is_peer = False
    can_run_jobs = True

    def __init__(self, name: str, command: list[str], tmpdir: Path) -> None:
        self.name = name
        self.command = command
        self.tmpdir = tmpdir

    def _env(self, grace_s: float = 5) -> dict[str, str]:
        # Stable window 1 s: every benchmark that kills a service waits
        # longer than that first, so no restart is held back by backoff.
        # TMPDIR: the single-file bootloader unpacks there and removes it
        # only on a clean exit; the harness SIGKILLs most namespaces, so it
        # points into the scratch directory that the harness removes.
        return BASE_ENV | {
            "WINGMATE_STABLE_WINDOW": "1",
            "WINGMATE_STOP_TIMEOUT": f"{grace_s:g}",
            "TMPDIR": str(self.tmpdir),
        }

    def services(self, root: Path, services: list[ServiceDef], grace_s: float) -> Launch:
        for service in services:
            (root / "service").mkdir(parents=True, exist_ok=True)
            shutil.copy(service.script, root / "service" / service.name)
        return Launch([*self.command, "--config", str(root)], self._env(grace_s))

    def yaml_services(self, root: Path, yaml_text: str) -> Launch:
        _write(root / "wingmate.yaml", yaml_text)
        return Launch([*self.command, "--config", str(root)], self._env())

    def cron(self, root: Path, schedule: str, job: Path) -> Launch:
        _write(root / "crontab", f"{schedule} {job}\n")
        return Launch([*self.command, "--config", str(root)], self._env())


class Supervisord(Manager):
    name = "supervisord"

    def services(self, root: Path, services: list[ServiceDef], grace_s: float) -> Launch:
        # startsecs=0: a process counts as running at once (the default 1 s
        # would only delay the RUNNING state, not the spawn, but it also
        # makes an early exit count as a failed start).
        lines = [
            "[supervisord]",
            "nodaemon=true",
            "user=root",
            "logfile=/dev/null",
            "logfile_maxbytes=0",
            f"pidfile={root}/supervisord.pid",
            "",
        ]
        for service in services:
            lines += [
                f"[program:{service.name}]",
                f"command={service.script}",
                "startsecs=0",
                "startretries=1000000",
                "autorestart=true",
                f"stopwaitsecs={grace_s:g}",
                "stdout_logfile=NONE",
                "stderr_logfile=NONE",
                "",
            ]
        _write(root / "supervisord.conf", "\n".join(lines))
        return Launch(
            ["supervisord", "-n", "-c", str(root / "supervisord.conf")], BASE_ENV
        )


class S6(Manager):
    name = "s6"

    def services(self, root: Path, services: list[ServiceDef], grace_s: float) -> Launch:
        scandir = root / "scan"
        (scandir / ".s6-svscan").mkdir(parents=True)
        for service in services:
            # Readiness notification: the run script writes a newline to fd 3
            # before it execs the service.  Without it s6-supervise holds
            # every restart back by 1 s (measured: 1015 ms).
            lines = service.script.read_text().split("\n", 1)
            run = f"{lines[0]}\necho >&3\n{lines[1]}"
            _write(scandir / service.name / "run", run, 0o755)
            _write(scandir / service.name / "notification-fd", "3\n")
            # timeout-kill: SIGKILL a service still up this long after
            # SIGTERM; without it s6-supervise waits for ever.
            _write(scandir / service.name / "timeout-kill", f"{int(grace_s * 1000)}\n")
        # -t0: no periodic rescan (the scan directory never changes here).
        return Launch(["s6-svscan", "-t0", str(scandir)], BASE_ENV)


class Runit(Manager):
    name = "runit"

    def services(self, root: Path, services: list[ServiceDef], grace_s: float) -> Launch:
        svdir = root / "sv"
        for service in services:
            (svdir / service.name).mkdir(parents=True)
            shutil.copy(service.script, svdir / service.name / "run")
        return Launch(["runsvdir", str(svdir)], BASE_ENV)


def _launcher(root: Path, services: list[ServiceDef]) -> Path:
    """A shell script that starts every service in the background and waits:
    what tini and dumb-init need to run more than one program."""
    body = "".join(f"{s.script} &\n" for s in services)
    path = root / "launch.sh"
    _write(path, f"#!/bin/sh\n{body}wait\n", 0o755)
    return path


class Tini(Manager):
    name = "tini"
    can_restart = False

    def services(self, root: Path, services: list[ServiceDef], grace_s: float) -> Launch:
        # -g: forward signals to the child's whole process group, so every
        # service gets the SIGTERM, not only the shell.
        return Launch(["tini", "-g", "--", str(_launcher(root, services))], BASE_ENV)


class DumbInit(Manager):
    name = "dumb-init"
    can_restart = False

    def services(self, root: Path, services: list[ServiceDef], grace_s: float) -> Launch:
        # The default (setsid) mode already signals the child's process group.
        return Launch(["dumb-init", str(_launcher(root, services))], BASE_ENV)


class BusyboxCrond(Manager):
    name = "crond (busybox)"
    can_run_services = False
    can_run_jobs = True

    def cron(self, root: Path, schedule: str, job: Path) -> Launch:
        _write(root / "crontabs" / "root", f"{schedule} {job}\n", 0o600)
        busybox = str(REPO / ".cache" / "bench" / "busybox")
        argv = [busybox, "crond", "-f", "-c", str(root / "crontabs"), "-L", "/dev/null"]
        return Launch(argv, BASE_ENV)


class DebianCron(Manager):
    name = "cron (Debian)"
    can_run_services = False
    can_run_jobs = True

    def cron(self, root: Path, schedule: str, job: Path) -> Launch:
        # Debian's cron reads fixed paths; in the namespace's private mount
        # namespace the host's crontabs are hidden behind our own, then the
        # shell execs cron, which so becomes PID 1.
        crontabs = root / "crontabs"
        _write(crontabs / "root", f"{schedule} {job}\n", 0o600)
        os.chmod(crontabs, 0o700)
        (root / "cron.d").mkdir()
        _write(root / "etc-crontab", "")
        script = (
            f"mount --bind {crontabs} /var/spool/cron/crontabs"
            f" && mount --bind {root / 'cron.d'} /etc/cron.d"
            f" && mount --bind {root / 'etc-crontab'} /etc/crontab"
            " && exec cron -f"
        )
        return Launch(["sh", "-c", script], BASE_ENV)


def all_managers(wingmate_binary: Path | None, tmpdir: Path) -> list[Manager]:
    """Every manager, wingmate first: binary (when built), then source."""
    found: list[Manager] = []
    if wingmate_binary is not None:
        found.append(Wingmate("wingmate (bin)", [str(wingmate_binary)], tmpdir))
    found.append(
        Wingmate(
            "wingmate (src)",
            [str(REPO / ".venv" / "bin" / "python"), str(REPO / "wingmate.py")],
            tmpdir,
        )
    )
    found += [Supervisord(), S6(), Runit(), Tini(), DumbInit(), BusyboxCrond(), DebianCron()]
    return found
