"""Spawning a service or job as a child in its own process group.

The user, groups, session, working directory and environment are applied in
the child between fork and exec by ``subprocess`` (no Python runs there), in
the order initgroups, setgid, setuid, as gosu does.  wingmate reaps every
child itself, so callers must keep the returned ``Popen`` until it is reaped
and never call its wait methods.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Mapping

from _common.errors import TargetError, TargetNotExecutable, TargetNotFound
from _common.spec import OutputMode, ProcessSpec, ServiceSpec


def child_environment(spec: ProcessSpec, base: Mapping[str, str]) -> dict[str, str]:
    """The inherited environment plus the spec's ``environ`` and ``HOME``."""
    environ = dict(base)
    if spec.identity is not None and spec.user is not None:
        environ["HOME"] = spec.identity.home
    environ.update(spec.environ)
    return environ


def pid_proxy_command(spec: ServiceSpec) -> tuple[str, ...]:
    """The service's command wrapped in wmpidproxy, found next to this program.

    wmpidproxy gets 80% of the service's grace period to stop the daemon, so
    that it kills a stubborn daemon itself before wingmate kills it.

    ``WINGMATE_PIDPROXY_PATH`` (set by ``--pid-proxy``) wins.  Otherwise a
    frozen wingmate runs the ``wmpidproxy`` binary beside it, and from source
    ``wmpidproxy.py`` beside ``wingmate.py`` runs under the same interpreter.
    """
    override = os.environ.get("WINGMATE_PIDPROXY_PATH")
    if override:
        proxy: tuple[str, ...] = (override,)
    elif getattr(sys, "frozen", False):
        proxy = (os.path.join(os.path.dirname(sys.executable), "wmpidproxy"),)
    else:
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        proxy = (sys.executable, os.path.join(top, "wmpidproxy.py"))
    assert spec.pid_file is not None
    options = ["--pid-file", spec.pid_file]
    options += ["--stop-timeout", f"{spec.stop_timeout_s * 0.8:g}"]
    if spec.start_timeout_s is not None:
        options += ["--start-timeout", f"{spec.start_timeout_s:g}"]
    return (*proxy, *options, "--", *spec.command)


def spawn(
    spec: ProcessSpec,
    stdout: int | None,
    stderr: int | None,
    environ: Mapping[str, str] = os.environ,
) -> subprocess.Popen[bytes]:
    """Start ``spec``'s command; ``stdout``/``stderr`` None means inherit.

    Raises:
        TargetNotFound: the program does not exist.
        TargetNotExecutable: it exists but cannot be run.
        TargetError: any other reason the child could not exec (a missing
            working directory, no right to change user).
    """
    command = spec.command
    if isinstance(spec, ServiceSpec) and spec.pid_file is not None:
        command = pid_proxy_command(spec)
    identity = spec.identity
    is_inherit = spec.output is OutputMode.INHERIT
    try:
        return subprocess.Popen(
            command,
            stdin=None if is_inherit else subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=spec.working_dir,
            env=child_environment(spec, environ),
            start_new_session=spec.is_new_session,
            process_group=None if spec.is_new_session else 0,
            user=identity.uid if identity is not None else None,
            group=identity.gid if identity is not None else None,
            extra_groups=list(identity.groups) if identity is not None else None,
        )
    except OSError as exc:
        raise _target_error(spec, command, exc) from None


def _target_error(
    spec: ProcessSpec, command: tuple[str, ...], exc: OSError
) -> TargetError:
    program = command[0]
    if exc.errno == errno.ENOENT and exc.filename == spec.working_dir:
        return TargetError(
            f"working directory {spec.working_dir} does not exist",
            path=spec.origin,
            hint="create it or change working_dir",
        )
    if exc.errno == errno.ENOENT:
        return TargetNotFound(
            f"{program}: not found",
            path=spec.origin,
            hint="check the command's path, or PATH for a bare name",
        )
    if exc.errno in (errno.EACCES, errno.ENOEXEC, errno.EISDIR):
        return TargetNotExecutable(
            f"{program}: cannot execute ({exc.strerror})",
            path=spec.origin,
            hint=f"make it executable (chmod +x {program}) and give scripts a #! line",
        )
    if exc.errno == errno.EPERM:
        return TargetError(
            f"not allowed to switch to user {spec.user or ''} group "
            f"{spec.group or ''} ({exc.strerror})",
            path=spec.origin,
            hint="run wingmate as root, or remove user/group from this entry",
        )
    return TargetError(f"cannot start {program}: {exc}", path=spec.origin)
