"""Turn a ``USER[:GROUP]`` spec into the uid, gid and groups a process runs as.

wmexec switches its own identity with :func:`apply_identity` right before it
execs the target; wingmate resolves a service's identity once and hands the
numbers to the child it spawns.

How a spec resolves (as with ``docker run --user``, but see below)::

    spec           uid           gid                groups
    app            app's uid     app's primary gid  initgroups(app)
    1000 (known)   1000          its primary gid    initgroups(its name)
    1000 (unknown) 1000          0                  [0]
    app:staff      app's uid     staff's gid        [staff's gid]
    1000:1000      1000          1000               [1000]

"initgroups" means the primary gid plus every group that lists the user as a
member, as ``initgroups(3)`` and ``setpriv --init-groups`` compute them.  An
explicit GROUP replaces all of that: the process keeps no other group, so the
groups of root (or of whoever runs us) never leak into the target.  Where docker
and gosu leave the supplementary list empty (explicit GROUP, unknown uid) we put
the gid in it, which grants nothing beyond the gid itself.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass

from _common.errors import IdentityError, UsageError

PASSWD_PATH = "/etc/passwd"
GROUP_PATH = "/etc/group"

# A uid without a passwd entry gets gid 0, as docker, runc and gosu give it.
# Images built to run under an arbitrary uid (OpenShift's convention) rely on
# that gid to write their group-0 directories.  Give USER:GROUP to pick another.
UNKNOWN_USER_GID = 0
UNKNOWN_USER_HOME = "/"

# uid_t and gid_t are 32 bits; (uid_t)-1 means "leave unchanged" to setresuid(2)
# and chown(2), so it can never name a real user or group.
MAX_ID = 2**32 - 2


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a process runs as: its ids, its groups and its home directory."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str
    user_name: str | None

    def describe(self) -> str:
        """One line for logs: ``app (uid 1000, gid 1000, groups 1000,27)``."""
        who = self.user_name if self.user_name is not None else f"uid {self.uid}"
        groups = ",".join(str(gid) for gid in self.groups) or "none"
        return f"{who} (uid {self.uid}, gid {self.gid}, groups {groups})"


def parse_user_spec(spec: str) -> tuple[str, str | None]:
    """Split ``USER`` or ``USER:GROUP`` into its user and its group (or None).

    Raises:
        UsageError: the spec is empty, has an empty part or more than one colon.
    """
    user, has_colon, group = spec.partition(":")
    if not user or (has_colon and not group) or ":" in group:
        raise UsageError(
            f"user spec {spec!r} is not USER or USER:GROUP",
            hint="give a user name or uid, optionally ':' and a group name or gid",
        )
    return user, group if has_colon else None


def resolve_identity(user: str, group: str | None = None) -> Identity:
    """Look up who ``user`` (and ``group``, if given) are; names or numbers.

    A number always means an id, even when no entry has it; a name must be in
    the user or group database.  See the module docstring for the groups.

    Raises:
        IdentityError: a name is unknown, or a number is out of range.
    """
    entry = _find_user(user)
    if group is not None:
        gid = resolve_group(group)
        groups: tuple[int, ...] = (gid,)
    elif entry is not None:
        gid = entry.pw_gid
        groups = _initial_groups(entry.pw_name, gid)
    else:
        gid = UNKNOWN_USER_GID
        groups = (gid,)

    if entry is None:
        return Identity(_parse_id(user, "uid"), gid, groups, UNKNOWN_USER_HOME, None)
    home = entry.pw_dir or UNKNOWN_USER_HOME
    return Identity(entry.pw_uid, gid, groups, home, entry.pw_name)


def resolve_group(group: str) -> int:
    """Return the gid that ``group`` (a name or a number) stands for.

    Raises:
        IdentityError: the name is not a known group, or the number is out of
            range.
    """
    if _is_number(group):
        return _parse_id(group, "gid")
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise IdentityError(
            f"no group named {group!r}",
            path=GROUP_PATH,
            hint="use a numeric gid or create the group (groupadd)",
        ) from None


def apply_identity(identity: Identity) -> None:
    """Switch this process to ``identity``, for good: groups, then gid, then uid.

    The order matters: once the uid is no longer 0 the process has lost the
    right to change its groups and gid (setgroups(2), setgid(2)).  The switch
    is not atomic, so a caller that gets an error must not go on running code.

    Raises:
        IdentityError: the process may not switch (not root, no CAP_SETUID or
            CAP_SETGID), or the kernel refused the groups.
    """
    try:
        os.setgroups(list(identity.groups))
        os.setgid(identity.gid)
        os.setuid(identity.uid)
    except PermissionError:
        raise _not_allowed_error() from None
    except OSError as err:
        raise IdentityError(
            f"cannot switch to {identity.describe()}: {err.strerror}",
            hint="check that these ids exist in this user namespace and that "
            "the user is in at most 65536 groups",
        ) from None


def _not_allowed_error() -> IdentityError:
    uid = os.geteuid()
    if uid == 0:
        # Root in a user namespace, or with capabilities dropped (docker
        # --cap-drop), gets EPERM too; "run as root" would not help there.
        return IdentityError(
            "not allowed to change identity: running as uid 0 without "
            "CAP_SETUID and CAP_SETGID",
            hint="grant those capabilities to the container or drop --user",
        )
    return IdentityError(
        f"not allowed to change identity: running as uid {uid}",
        hint="run as root or drop --user",
    )


def _find_user(user: str) -> pwd.struct_passwd | None:
    """The passwd entry for ``user``; None for a number that has no entry."""
    if _is_number(user):
        try:
            return pwd.getpwuid(_parse_id(user, "uid"))
        except KeyError:
            return None
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise IdentityError(
            f"no user named {user!r}",
            path=PASSWD_PATH,
            hint="use a numeric uid:gid or create the user (useradd)",
        ) from None


def _initial_groups(user_name: str, gid: int) -> tuple[int, ...]:
    # getgrouplist(3) is what initgroups(3) uses: it asks NSS, so it sees
    # /etc/group and any other group source the image configures.
    return tuple(dict.fromkeys([gid, *os.getgrouplist(user_name, gid)]))


def _is_number(text: str) -> bool:
    # str.isdigit() alone accepts digits such as '²' that int() rejects.
    return text.isascii() and text.isdigit()


def _parse_id(text: str, kind: str) -> int:
    number = int(text)
    if number > MAX_ID:
        raise IdentityError(
            f"{kind} {number} is out of range",
            hint=f"use a {kind} between 0 and {MAX_ID}",
        )
    return number
