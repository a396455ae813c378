"""Replace the current process with the target, after the wmexec set-up steps.

The steps run in this order: resolve the user (while we may still read every
file), start a new session, switch identity, then look the target up in PATH
and exec it.  The lookup runs after the switch so that it honours the new
user's permissions, the way ``execvp(3)`` would if the target called it.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from _common.errors import TargetNotExecutable, TargetNotFound, WingmateError
from _common.users import apply_identity, parse_user_spec, resolve_identity

log = logging.getLogger(__name__)

# Used when the environment has no PATH: the one docker gives a container.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Errors that mean "the target is not in this PATH directory": try the next.
# The last three come from network or removable filesystems (execvp(3) skips
# such directories too rather than giving up on the whole search).
NOT_HERE_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.ESTALE, errno.ENODEV, errno.ETIMEDOUT}
)

# Variables that configure wmexec itself.  They are removed from the target's
# environment so that a wmexec the target runs in turn does not try the switch
# again, as a user who is not allowed to.
OWN_VARIABLES = ("WINGMATE_USER", "WINGMATE_SETSID")


@dataclass(frozen=True, slots=True)
class ExecRequest:
    """What wmexec was asked to do: the target's argv and the set-up steps."""

    command: tuple[str, ...]
    user_spec: str | None
    is_new_session: bool


def exec_request(request: ExecRequest, environ: Mapping[str, str]) -> NoReturn:
    """Carry out ``request`` and exec the target in place of this process.

    Returns only by raising; nothing has been exec'd then.

    Raises:
        UsageError: the user spec is malformed.
        IdentityError: the user or group is unknown, or the switch is refused.
        WingmateError: a new session was asked for and cannot be started.
        TargetNotFound: the target is not in PATH (exit 127).
        TargetNotExecutable: the target cannot be executed (exit 126).
    """
    refuse_setuid_install()
    env = {k: v for k, v in environ.items() if k not in OWN_VARIABLES}

    identity = None
    if request.user_spec is not None:
        identity = resolve_identity(*parse_user_spec(request.user_spec))

    if request.is_new_session:
        start_session()

    if identity is not None:
        log.debug("switching to %s", identity.describe())
        apply_identity(identity)
        env["HOME"] = identity.home

    exec_target(request.command, env)


def refuse_setuid_install() -> None:
    """Refuse to run with a real uid that differs from the effective one.

    A frozen wmexec with the setuid bit would let any user become anyone.

    Raises:
        WingmateError: the real and effective uids (or gids) differ.
    """
    if os.getuid() == os.geteuid() and os.getgid() == os.getegid():
        return
    real, effective = f"{os.getuid()}:{os.getgid()}", f"{os.geteuid()}:{os.getegid()}"
    raise WingmateError(
        f"real ids {real} differ from effective ids {effective}: "
        "wmexec must not be installed setuid or setgid",
        hint="remove the bit (chmod u-s,g-s) and run wmexec as root instead",
    )


def start_session() -> None:
    """Make this process the leader of a new session, with no controlling tty.

    Already leading a session counts as success: that is what was asked for.

    Raises:
        WingmateError: this process leads a process group, so setsid(2) fails
            with EPERM.  Forking around that would give the target another
            pid than the one our parent knows, so we report instead.
    """
    if os.getsid(0) == os.getpid():
        log.debug("already the leader of session %d", os.getpid())
        return
    try:
        os.setsid()
    except PermissionError:
        raise WingmateError(
            f"cannot start a new session: wmexec (pid {os.getpid()}) already "
            "leads its process group, as a shell job does",
            hint="start it from a parent that does not give it its own "
            "process group (a script, wingmate, docker run) or drop --setsid",
        ) from None
    log.debug("started session %d", os.getpid())


def exec_target(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Exec ``argv`` with ``env``, searching ``env``'s PATH if argv[0] has no '/'.

    Like execvp(3), a PATH entry that exists but cannot be executed is skipped
    and blamed only if no later entry works.  Unlike it, a file without a
    ``#!`` line is not handed to /bin/sh: that fails as not executable.

    Raises:
        TargetNotFound: no such file, or not in any PATH directory.
        TargetNotExecutable: found, but exec failed (permissions, format).
    """
    restore_default_signals()
    name = argv[0]
    log.debug("exec %r as uid %d", list(argv), os.getuid())
    if "/" in name:
        raise _exec_error(name, _try_exec(name, argv, env))

    path = env.get("PATH") or DEFAULT_PATH
    refused: tuple[str, OSError] | None = None
    unsearchable: list[str] = []
    for directory in path.split(":"):
        # An empty entry means the current directory, as in execvp(3).
        candidate = os.path.join(directory or ".", name)
        err = _try_exec(candidate, argv, env)
        if err.errno in NOT_HERE_ERRNOS:
            continue
        if err.errno == errno.EACCES and not os.path.lexists(candidate):
            # execvp(3) would report EACCES here, even when the program is
            # nowhere at all; for this user it is simply not there.
            unsearchable.append(directory or ".")
            continue
        if err.errno != errno.EACCES:
            raise _exec_error(candidate, err)
        if refused is None:
            refused = (candidate, err)

    if refused is not None:
        raise _exec_error(*refused)
    hint = "check the name, give a full path or install it"
    if unsearchable:
        hint += f"; uid {os.getuid()} may not search {', '.join(unsearchable)}"
    raise TargetNotFound(f"{name}: not found in PATH ({path})", hint=hint)


def restore_default_signals() -> None:
    """Undo the signal dispositions that the Python runtime changed at start.

    Python ignores SIGPIPE and SIGXFSZ; ignored signals stay ignored across
    execve(2), so without this ``wmexec yes | head`` would never stop ``yes``.
    """
    for name in ("SIGPIPE", "SIGXFSZ"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_DFL)


def _try_exec(path: str, argv: Sequence[str], env: Mapping[str, str]) -> OSError:
    """Exec ``path``; return the error if the kernel refused."""
    try:
        os.execve(path, list(argv), dict(env))
    except OSError as err:
        return err


def _exec_error(path: str, err: OSError) -> TargetNotFound | TargetNotExecutable:
    if err.errno in NOT_HERE_ERRNOS:
        return TargetNotFound(
            f"{path}: no such file", hint="check the path of the target"
        )
    if err.errno == errno.EACCES and os.path.isdir(path):
        reason, hint = "is a directory", "name the program inside it"
    elif err.errno == errno.EACCES:
        reason = "permission denied for this user"
        hint = "make it executable (chmod +x) and readable by this user"
    elif err.errno == errno.ENOEXEC:
        reason = "not an executable format"
        hint = "start a script with a '#!' line naming its interpreter"
    else:
        reason, hint = f"cannot execute: {err.strerror}", "check the file"
    return TargetNotExecutable(f"{path}: {reason}", hint=hint)
