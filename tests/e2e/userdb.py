"""Throwaway users and groups in the real user database, for identity tests.

Everything is named ``wmt_<random>_...`` so parallel runs never collide, and
everything is removed on exit from :func:`temp_users`, even after a failure.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


@dataclass(frozen=True, slots=True)
class TempUsers:
    """Users and groups created for one test module, with their ids."""

    member: str  # in its own primary group plus group_a and group_b
    loner: str  # in its own primary group only
    group_a: str
    group_b: str
    free_uid: int  # neither a uid nor a gid of any entry
    member_home: str

    def uid(self, user: str) -> int:
        return pwd.getpwnam(user).pw_uid

    def gid(self, group: str) -> int:
        return grp.getgrnam(group).gr_gid

    def primary_gid(self, user: str) -> int:
        return pwd.getpwnam(user).pw_gid


def skip_unless_root_with_useradd() -> None:
    """Skip the calling test when it cannot create users."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create users and switch identity")
    for tool in ("useradd", "userdel", "groupadd", "groupdel"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (Debian package passwd) to create users")


@contextmanager
def temp_users() -> Iterator[TempUsers]:
    """Create the users and groups of :class:`TempUsers`; remove them after."""
    prefix = f"wmt_{secrets.token_hex(4)}"
    users: list[str] = []
    groups: list[str] = []
    try:
        group_a = _add_group(f"{prefix}_a", groups)
        group_b = _add_group(f"{prefix}_b", groups)
        member_home = f"/home/{prefix}_member"
        member = _add_user(
            f"{prefix}_member", users, "-G", f"{group_a},{group_b}", "-d", member_home
        )
        loner = _add_user(f"{prefix}_loner", users)
        yield TempUsers(member, loner, group_a, group_b, free_id(), member_home)
    finally:
        _remove_all(users, groups)


def free_id() -> int:
    """A number that no user and no group has, well above the useradd range."""
    while True:
        candidate = 3_000_000 + secrets.randbelow(1_000_000)
        if not _has_uid(candidate) and not _has_gid(candidate):
            return candidate


def _add_group(name: str, created: list[str]) -> str:
    subprocess.run(["groupadd", name], check=True)
    created.append(name)
    return name


def _add_user(name: str, created: list[str], *options: str) -> str:
    # -U gives the user a primary group of its own name; -M creates no home.
    subprocess.run(["useradd", "-U", "-M", "-s", "/bin/sh", *options, name], check=True)
    created.append(name)
    return name


def _remove_all(users: list[str], groups: list[str]) -> None:
    failures = []
    for user in users:
        # userdel also removes the user's own primary group.
        if subprocess.run(["userdel", user]).returncode != 0:
            failures.append(f"user {user}")
    for group in groups:
        if subprocess.run(["groupdel", group]).returncode != 0:
            failures.append(f"group {group}")
    assert not failures, f"could not remove {', '.join(failures)}; remove by hand"


def _has_uid(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _has_gid(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
    except KeyError:
        return False
    return True
