"""_common.users: user specs, identity lookups against the real database, switch.

Lookups run against users and groups that a fixture creates with useradd and
groupadd (root only) and removes afterwards, even when a test fails.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _common.errors import IdentityError, UsageError
from _common.users import (
    Identity,
    parse_user_spec,
    resolve_group,
    resolve_identity,
)

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Names:
    """A user in its own group and in ``extra``; ``extra`` is a plain group."""

    user: str
    extra: str
    home: str


@pytest.fixture(scope="module")
def names() -> Iterator[Names]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create users with useradd")
    if shutil.which("useradd") is None:
        pytest.skip("needs useradd (Debian package passwd)")

    prefix = f"wmt_{secrets.token_hex(4)}"
    created = Names(f"{prefix}_u", f"{prefix}_g", f"/home/{prefix}_u")
    try:
        subprocess.run(["groupadd", created.extra], check=True)
        subprocess.run(
            ["useradd", "-U", "-M", "-G", created.extra, "-d", created.home]
            + [created.user],
            check=True,
        )
        yield created
    finally:
        # userdel also removes the user's own group; either may not exist yet.
        subprocess.run(["userdel", created.user], stderr=subprocess.DEVNULL)
        subprocess.run(["groupdel", created.extra], stderr=subprocess.DEVNULL)


def unused_id() -> int:
    """A number that is neither a uid nor a gid in the database."""
    known = {e.pw_uid for e in pwd.getpwall()} | {e.gr_gid for e in grp.getgrall()}
    return next(n for n in range(3_000_000, 4_000_000) if n not in known)


# parse_user_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("app", ("app", None)),
        ("app:staff", ("app", "staff")),
        ("1000:1000", ("1000", "1000")),
        ("0", ("0", None)),
    ],
)
def test_user_spec_splits_into_user_and_optional_group(
    spec: str, expected: tuple[str, str | None]
) -> None:
    """USER and USER:GROUP split at the colon; no colon means no group."""
    assert parse_user_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", ":", ":staff", "app:", "a:b:c"])
def test_user_spec_with_an_empty_or_extra_part_is_a_usage_error(spec: str) -> None:
    """An empty user, an empty group or a second colon raises UsageError."""
    with pytest.raises(UsageError) as caught:
        parse_user_spec(spec)
    assert str(caught.value).startswith(f"user spec {spec!r} is not USER or")
    assert caught.value.exit_code == 2


# resolve_identity and resolve_group


def test_user_name_resolves_to_primary_group_and_member_groups(names: Names) -> None:
    """A name gives the passwd uid, gid and home, plus groups listing the user."""
    entry = pwd.getpwnam(names.user)
    identity = resolve_identity(names.user)

    assert identity.uid == entry.pw_uid
    assert identity.gid == entry.pw_gid
    assert identity.groups[0] == entry.pw_gid
    assert set(identity.groups) == {entry.pw_gid, grp.getgrnam(names.extra).gr_gid}
    assert (identity.home, identity.user_name) == (names.home, names.user)


def test_known_uid_resolves_like_the_user_name(names: Names) -> None:
    """A uid that has a passwd entry gives the same identity as the name."""
    uid = pwd.getpwnam(names.user).pw_uid
    assert resolve_identity(str(uid)) == resolve_identity(names.user)


def test_explicit_group_is_the_only_group(names: Names) -> None:
    """USER:GROUP replaces the primary and supplementary groups with GROUP."""
    gid = grp.getgrnam(names.extra).gr_gid
    identity = resolve_identity(names.user, names.extra)
    assert (identity.gid, identity.groups) == (gid, (gid,))
    assert identity.home == names.home


def test_unknown_uid_gets_gid_0_and_home_root_directory() -> None:
    """A uid without passwd entry runs with gid 0, as docker does, and HOME /."""
    uid = unused_id()
    assert resolve_identity(str(uid)) == Identity(uid, 0, (0,), "/", None)


def test_unknown_uid_and_gid_are_used_as_given() -> None:
    """Numbers need no entry: UID:GID gives exactly those ids."""
    uid = unused_id()
    assert resolve_identity(str(uid), str(uid)) == Identity(uid, uid, (uid,), "/", None)


def test_unknown_user_name_says_where_it_looked_and_what_to_do() -> None:
    """An unknown name raises IdentityError naming /etc/passwd and a fix."""
    with pytest.raises(IdentityError) as caught:
        resolve_identity("wmt_nobody_here")
    assert str(caught.value) == (
        "/etc/passwd: no user named 'wmt_nobody_here'; "
        "use a numeric uid:gid or create the user (useradd)"
    )
    assert caught.value.exit_code == 1


def test_unknown_group_name_says_where_it_looked_and_what_to_do() -> None:
    """An unknown group raises IdentityError naming /etc/group and a fix."""
    with pytest.raises(IdentityError) as caught:
        resolve_identity("0", "wmt_no_group_here")
    assert str(caught.value) == (
        "/etc/group: no group named 'wmt_no_group_here'; "
        "use a numeric gid or create the group (groupadd)"
    )


@pytest.mark.parametrize(
    ("user", "group", "kind"),
    [("4294967295", None, "uid"), ("0", "4294967295", "gid")],
)
def test_ids_that_do_not_fit_uid_t_are_refused(
    user: str, group: str | None, kind: str
) -> None:
    """(uid_t)-1 and larger are not ids; the error gives the valid range."""
    with pytest.raises(IdentityError) as caught:
        resolve_identity(user, group)
    assert str(caught.value) == (
        f"{kind} 4294967295 is out of range; use a {kind} between 0 and 4294967294"
    )


def test_non_ascii_digits_are_looked_up_as_a_name() -> None:
    """'²' is not a number to us, so it is an unknown user name."""
    with pytest.raises(IdentityError, match="no user named '²'"):
        resolve_identity("²")


def test_group_resolves_from_name_or_number(names: Names) -> None:
    """resolve_group accepts a group name, or any number as that gid."""
    assert resolve_group(names.extra) == grp.getgrnam(names.extra).gr_gid
    assert resolve_group("4242") == 4242


def test_identity_is_immutable() -> None:
    """Identity is a frozen dataclass; a resolved identity cannot be edited."""
    identity = Identity(1, 1, (1,), "/", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.uid = 0  # type: ignore[misc]


def test_describe_names_the_user_and_all_ids() -> None:
    """describe() gives one log-ready line with user, uid, gid and groups."""
    identity = Identity(1000, 1000, (1000, 27), "/home/app", "app")
    assert identity.describe() == "app (uid 1000, gid 1000, groups 1000,27)"
    nameless = Identity(5, 0, (0,), "/", None)
    assert nameless.describe() == "uid 5 (uid 5, gid 0, groups 0)"


# apply_identity: each case runs in a child, since the switch is for good.


def run_python(code: str, **popen: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        **popen,
    )


def skip_unless_others_can_import_common() -> None:
    for path in [*reversed(REPO.parents), REPO, REPO / "_common"]:
        if not path.stat().st_mode & stat.S_IXOTH:
            pytest.skip(f"{path} is not open to other users, who must import it")


def test_apply_identity_switches_groups_gid_and_uid(names: Names) -> None:
    """After apply_identity, real and effective ids and groups are the user's."""
    identity = resolve_identity(names.user)
    result = run_python(
        "import os\n"
        "from _common.users import resolve_identity, apply_identity\n"
        f"apply_identity(resolve_identity({names.user!r}))\n"
        "print(os.getresuid(), os.getresgid(), sorted(os.getgroups()))\n"
    )
    ids = (identity.uid,) * 3, (identity.gid,) * 3, sorted(identity.groups)
    assert result.stdout == " ".join(str(part) for part in ids) + "\n", result.stderr


def test_apply_identity_without_root_says_to_run_as_root(names: Names) -> None:
    """A process that is not root gets IdentityError with its uid and a fix."""
    skip_unless_others_can_import_common()
    entry = pwd.getpwnam(names.user)
    result = run_python(
        "from _common.users import Identity, apply_identity\n"
        "from _common.errors import IdentityError\n"
        "try:\n"
        "    apply_identity(Identity(0, 0, (0,), '/', 'root'))\n"
        "except IdentityError as err:\n"
        "    print(err)\n",
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
    )
    assert result.stdout == (
        f"not allowed to change identity: running as uid {entry.pw_uid}; "
        "run as root or drop --user\n"
    ), result.stderr


def test_importing_the_module_sets_nothing_up() -> None:
    """Importing _common.users adds no log handler and prints nothing."""
    result = run_python(
        "import logging, _common.users\nprint(logging.getLogger().handlers)\n"
    )
    assert (result.stdout, result.stderr) == ("[]\n", "")
