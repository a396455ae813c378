"""Services and jobs run as their configured user and groups, set by wingmate."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from userdb import TempUsers, skip_unless_root_with_useradd, temp_users

REPO = Path(__file__).resolve().parents[2]
REPORT = (
    "import os; "
    "print(os.getuid(), os.getgid(), sorted(os.getgroups()), os.environ['HOME'])"
)


@pytest.fixture(scope="module")
def users() -> Iterator[TempUsers]:
    skip_unless_root_with_useradd()
    with temp_users() as created:
        yield created


def run_once(tmp_path: Path, settings: str) -> str:
    """Run one service once under wingmate; its output line, without the tag."""
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  who:\n"
        f"    command: ['{sys.executable}', '-c', \"{REPORT}\"]\n"
        "    restart: never\n"
        f"{settings}"
    )
    result = subprocess.run(
        [sys.executable, str(REPO / "wingmate.py"), "--config", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("WINGMATE_")},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().removeprefix("who: ")


def test_user_name_gives_its_uid_primary_group_and_all_groups(
    tmp_path: Path, users: TempUsers
) -> None:
    """user: NAME runs with the user's uid, primary gid, every group and HOME."""
    gid = users.primary_gid(users.member)
    groups = sorted({gid, users.gid(users.group_a), users.gid(users.group_b)})
    line = run_once(tmp_path, f"    user: {users.member}\n")
    assert line == f"{users.uid(users.member)} {gid} {groups} {users.member_home}"


def test_explicit_group_is_the_only_group(tmp_path: Path, users: TempUsers) -> None:
    """user and group together give exactly that group, no supplementary ones."""
    group_gid = users.gid(users.group_a)
    line = run_once(tmp_path, f"    user: {users.member}\n    group: {users.group_a}\n")
    assert line.split(" ", 2)[:2] == [str(users.uid(users.member)), str(group_gid)]
    assert f"[{group_gid}]" in line


def test_root_groups_do_not_leak_into_the_service(
    tmp_path: Path, users: TempUsers
) -> None:
    """A user in no extra group gets only its own group, none of root's."""
    gid = users.primary_gid(users.loner)
    line = run_once(tmp_path, f"    user: {users.loner}\n")
    assert f" {gid} [{gid}] " in line
