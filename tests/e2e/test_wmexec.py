"""wmexec as a black box: identity, session, environment and exit codes.

Identities are checked against ``setpriv`` (util-linux) run with the same user
and groups: both run ``cat /proc/self/status`` and must report the same Uid,
Gid and Groups lines.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from userdb import TempUsers, skip_unless_root_with_useradd, temp_users

REPO = Path(__file__).resolve().parents[2]
WMEXEC = str(REPO / "wmexec.py")
STATUS = ["cat", "/proc/self/status"]
IS_SESSION_LEADER = [
    sys.executable,
    "-c",
    "import os; print(os.getsid(0) == os.getpid())",
]
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def users() -> Iterator[TempUsers]:
    skip_unless_root_with_useradd()
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (Debian package util-linux) to compare with")
    with temp_users() as created:
        yield created


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINGMATE_")}
    return {**env, **extra}


def run_wmexec(
    *args: str, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, WMEXEC, *args],
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        **popen,
    )


def identity_lines(output: str) -> dict[str, str]:
    """The Uid, Gid and Groups lines of a /proc/<pid>/status dump."""
    wanted = ("Uid:", "Gid:", "Groups:")
    lines = [line.split(None, 1) for line in output.splitlines()]
    return {f[0]: (f[1] if len(f) > 1 else "") for f in lines if f[0] in wanted}


def wmexec_identity(*args: str, **popen: Any) -> dict[str, str]:
    result = run_wmexec(*args, "--", *STATUS, **popen)
    assert result.returncode == 0, result.stderr
    return identity_lines(result.stdout)


def setpriv_identity(options: Sequence[str]) -> dict[str, str]:
    result = subprocess.run(
        ["setpriv", *options, "--", *STATUS],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=True,
    )
    return identity_lines(result.stdout)


def groups_of(lines: dict[str, str]) -> set[int]:
    return {int(gid) for gid in lines["Groups:"].split()}


# Identity, compared with setpriv


def test_user_name_gives_the_same_identity_as_setpriv_init_groups(
    users: TempUsers,
) -> None:
    """A user name runs with its primary gid and its groups from /etc/group."""
    expected = setpriv_identity(
        ["--reuid", users.member, "--regid", users.member, "--init-groups"]
    )
    assert wmexec_identity("--user", users.member) == expected


def test_numeric_uid_of_a_known_user_gives_that_users_groups(
    users: TempUsers,
) -> None:
    """A uid that has a passwd entry behaves exactly like the user's name."""
    uid, gid = users.uid(users.member), users.primary_gid(users.member)
    expected = setpriv_identity(
        ["--reuid", str(uid), "--regid", str(gid), "--init-groups"]
    )
    assert wmexec_identity("--user", str(uid)) == expected


def test_user_and_group_names_give_exactly_that_group(users: TempUsers) -> None:
    """USER:GROUP runs with GROUP as gid and only supplementary group."""
    expected = setpriv_identity(
        [
            "--reuid", users.member,
            "--regid", users.group_a,
            "--groups", str(users.gid(users.group_a)),
        ]
    )  # fmt: skip
    assert wmexec_identity("--user", f"{users.member}:{users.group_a}") == expected


def test_uid_and_gid_without_entries_are_used_as_given(users: TempUsers) -> None:
    """UID:GID needs no passwd or group entry: the numbers are used as is."""
    uid, gid = str(users.free_uid), str(users.free_uid + 1)
    expected = setpriv_identity(["--reuid", uid, "--regid", gid, "--groups", gid])
    assert wmexec_identity("--user", f"{uid}:{gid}") == expected


def test_uid_without_passwd_entry_runs_with_gid_0(users: TempUsers) -> None:
    """A uid with no passwd entry gets gid 0 and no other group, as in docker."""
    uid = str(users.free_uid)
    expected = setpriv_identity(["--reuid", uid, "--regid", "0", "--groups", "0"])
    assert wmexec_identity("--user", uid) == expected


def test_user_keeps_all_of_its_supplementary_groups(users: TempUsers) -> None:
    """A user listed in two groups of /etc/group is in both, plus its own."""
    lines = wmexec_identity("--user", users.member)
    assert groups_of(lines) == {
        users.primary_gid(users.member),
        users.gid(users.group_a),
        users.gid(users.group_b),
    }


def test_groups_of_the_caller_do_not_leak_into_the_target(users: TempUsers) -> None:
    """Supplementary groups wmexec starts with are all dropped by the switch."""
    caller_groups = [0, users.gid(users.group_a), users.gid(users.group_b)]
    lines = wmexec_identity("--user", users.loner, extra_groups=caller_groups)
    assert groups_of(lines) == {users.primary_gid(users.loner)}


def test_uid_out_of_range_is_refused() -> None:
    """A uid that does not fit in uid_t fails with exit 1 and says the range."""
    result = run_wmexec("--user", "4294967295", "true")
    assert result.returncode == 1
    assert "uid 4294967295 is out of range" in result.stderr


# Environment


def test_home_is_set_to_the_users_home_directory(users: TempUsers) -> None:
    """HOME becomes the user's home from /etc/passwd, replacing the caller's."""
    result = run_wmexec(
        "--user", users.member, "printenv", "HOME", env=clean_env(HOME="/root")
    )
    assert (result.returncode, result.stdout) == (0, f"{users.member_home}\n")


def test_home_is_root_directory_for_a_uid_without_entry(users: TempUsers) -> None:
    """A uid without passwd entry has no home, so HOME is /."""
    result = run_wmexec("--user", str(users.free_uid), "printenv", "HOME")
    assert (result.returncode, result.stdout) == (0, "/\n")


def test_home_is_left_alone_without_user() -> None:
    """Without --user wmexec does not touch HOME."""
    result = run_wmexec("printenv", "HOME", env=clean_env(HOME="/somewhere"))
    assert result.stdout == "/somewhere\n"


def test_wingmate_user_variable_acts_as_user_option(users: TempUsers) -> None:
    """WINGMATE_USER switches the user when --user is not given."""
    expected = wmexec_identity("--user", users.member)
    env = clean_env(WINGMATE_USER=users.member)
    assert wmexec_identity(env=env) == expected


def test_user_option_wins_over_wingmate_user_variable(users: TempUsers) -> None:
    """--user on the command line overrides WINGMATE_USER."""
    expected = wmexec_identity("--user", users.loner)
    env = clean_env(WINGMATE_USER=users.member)
    assert wmexec_identity("--user", users.loner, env=env) == expected


def test_wingmate_variables_are_removed_from_the_target_environment(
    users: TempUsers,
) -> None:
    """The target does not see WINGMATE_USER or WINGMATE_SETSID."""
    env = clean_env(WINGMATE_USER=users.loner, WINGMATE_SETSID="1", KEPT="yes")
    result = run_wmexec("env", env=env)
    assert result.returncode == 0, result.stderr
    assert "KEPT=yes\n" in result.stdout
    assert "WINGMATE_" not in result.stdout


# PATH lookup and exec


@pytest.fixture
def root_only_bin(tmp_path: Path) -> Path:
    """A directory only root may enter, holding an executable ``wmt-hello``."""
    program = tmp_path / "bin" / "wmt-hello"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\necho hello\n")
    program.chmod(0o755)
    program.parent.chmod(0o700)
    return program.parent


def test_path_lookup_happens_as_the_new_user(
    users: TempUsers, root_only_bin: Path
) -> None:
    """A program root can reach but the user cannot is not found (127) for the user.

    The error names the PATH directory the user may not search.
    """
    env = clean_env(PATH=f"{root_only_bin}:/usr/bin:/bin")
    assert run_wmexec("wmt-hello", env=env).stdout == "hello\n"

    result = run_wmexec("--user", users.loner, "wmt-hello", env=env)
    assert result.returncode == 127
    assert "wmt-hello: not found in PATH" in result.stderr
    assert f"may not search {root_only_bin}" in result.stderr


def test_path_lookup_goes_on_past_a_directory_it_may_not_enter(
    users: TempUsers, root_only_bin: Path
) -> None:
    """Like execvp, an unreadable PATH entry is skipped if a later one works."""
    env = clean_env(PATH=f"{root_only_bin}:/usr/bin:/bin")
    result = run_wmexec("--user", users.loner, "id", "-u", env=env)
    assert (result.returncode, result.stdout) == (0, f"{users.uid(users.loner)}\n")


def test_options_after_command_are_passed_to_the_command() -> None:
    """Everything from COMMAND on, options included, goes to the target."""
    result = run_wmexec("printf", "%s\n", "--user", "nobody", "-l", "--help")
    assert result.stdout == "--user\nnobody\n-l\n--help\n"


def test_double_dash_separates_options_from_a_command_starting_with_dash(
    tmp_path: Path,
) -> None:
    """After --, even an argument that looks like an option is the command."""
    program = tmp_path / "-dash"
    program.write_text('#!/bin/sh\necho ran "$@"\n')
    program.chmod(0o755)
    env = clean_env(PATH=str(tmp_path))
    result = run_wmexec("--", "-dash", "--", "x", env=env)
    assert result.stdout == "ran -- x\n"


def test_wmexec_is_replaced_by_the_target_in_the_same_process() -> None:
    """The target runs with wmexec's pid: no child process is left behind."""
    process = subprocess.Popen(
        [sys.executable, WMEXEC, sys.executable, "-c", "import os; print(os.getpid())"],
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    stdout, _ = process.communicate(timeout=TIMEOUT_S)
    assert int(stdout) == process.pid


def test_target_starts_with_default_signal_dispositions() -> None:
    """SIGPIPE and SIGXFSZ, which Python ignores, are default again in the target."""
    result = run_wmexec("grep", "^SigIgn:", "/proc/self/status")
    ignored = int(result.stdout.split()[1], 16)
    for signum in (13, 25):  # SIGPIPE, SIGXFSZ on Linux
        assert not ignored & (1 << (signum - 1)), result.stdout


# Sessions


def test_setsid_makes_the_target_a_session_leader() -> None:
    """With --setsid the target's session id equals its pid."""
    result = run_wmexec("--setsid", *IS_SESSION_LEADER)
    assert (result.returncode, result.stdout) == (0, "True\n"), result.stderr


def test_without_setsid_the_target_stays_in_the_callers_session() -> None:
    """Without --setsid wmexec does not start a session."""
    assert run_wmexec(*IS_SESSION_LEADER).stdout == "False\n"


def test_wingmate_setsid_variable_acts_as_setsid_option() -> None:
    """WINGMATE_SETSID=yes starts a new session like --setsid."""
    result = run_wmexec(*IS_SESSION_LEADER, env=clean_env(WINGMATE_SETSID="yes"))
    assert result.stdout == "True\n"


def test_no_setsid_option_wins_over_wingmate_setsid_variable() -> None:
    """--no-setsid overrides WINGMATE_SETSID=1."""
    env = clean_env(WINGMATE_SETSID="1")
    assert run_wmexec("--no-setsid", *IS_SESSION_LEADER, env=env).stdout == "False\n"


def test_setsid_in_an_existing_session_leader_succeeds() -> None:
    """When wmexec already leads a session, --setsid has nothing left to do."""
    result = run_wmexec("--setsid", *IS_SESSION_LEADER, start_new_session=True)
    assert (result.returncode, result.stdout) == (0, "True\n")


def test_setsid_as_a_process_group_leader_fails_with_exit_1() -> None:
    """setsid(2) is refused to a group leader, and wmexec says so instead of forking."""
    result = run_wmexec("--setsid", "true", process_group=0)
    assert result.returncode == 1
    assert "cannot start a new session" in result.stderr
    assert "leads its process group" in result.stderr


def test_bad_wingmate_setsid_value_is_a_usage_error() -> None:
    """A WINGMATE_SETSID that is neither on nor off stops wmexec with exit 2."""
    result = run_wmexec("true", env=clean_env(WINGMATE_SETSID="maybe"))
    assert result.returncode == 2
    assert "WINGMATE_SETSID='maybe' is neither on nor off" in result.stderr


# Errors and exit codes


def test_unknown_user_fails_with_exit_1_naming_passwd() -> None:
    """An unknown user name stops wmexec with exit 1 and says where it looked."""
    result = run_wmexec("--user", "wmt_no_such_user", "true")
    assert result.returncode == 1
    assert result.stderr == (
        "wmexec: error: /etc/passwd: no user named 'wmt_no_such_user'; "
        "use a numeric uid:gid or create the user (useradd)\n"
    )


def test_unknown_group_fails_with_exit_1_naming_group_file() -> None:
    """An unknown group name stops wmexec with exit 1 and says where it looked."""
    result = run_wmexec("--user", "root:wmt_no_such_group", "true")
    assert result.returncode == 1
    assert "/etc/group: no group named 'wmt_no_such_group'" in result.stderr


def test_malformed_user_spec_is_a_usage_error() -> None:
    """--user with an empty group stops wmexec with exit 2."""
    result = run_wmexec("--user", "root:", "true")
    assert result.returncode == 2
    assert "wmexec: error: user spec 'root:' is not USER or USER:GROUP" in result.stderr


def test_switching_without_root_fails_with_exit_1(users: TempUsers) -> None:
    """A user who is not root may not switch, and is told what to do."""
    _skip_unless_others_can_run_wmexec()
    uid = users.uid(users.loner)
    result = run_wmexec(
        "--user", users.member, "true",
        user=uid, group=users.primary_gid(users.loner), extra_groups=[],
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "wmexec: error: not allowed to change identity: "
        f"running as uid {uid}; run as root or drop --user\n"
    )


def test_missing_command_is_a_usage_error_with_usage() -> None:
    """wmexec with options but no COMMAND exits 2 and prints the usage."""
    result = run_wmexec("--setsid")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: wmexec")
    assert "no COMMAND given" in result.stderr


def test_unknown_option_is_a_usage_error() -> None:
    """An option wmexec does not know, before COMMAND, exits 2."""
    result = run_wmexec("--frobnicate", "true")
    assert result.returncode == 2
    assert "unrecognized arguments: --frobnicate" in result.stderr


def test_command_not_in_path_exits_127() -> None:
    """A COMMAND found in no PATH directory exits 127 and names the PATH."""
    result = run_wmexec("wmt-no-such-command", env=clean_env(PATH="/usr/bin:/bin"))
    assert result.returncode == 127
    assert result.stderr == (
        "wmexec: error: wmt-no-such-command: not found in PATH (/usr/bin:/bin); "
        "check the name, give a full path or install it\n"
    )


def test_missing_file_given_by_path_exits_127() -> None:
    """A COMMAND given as a path that does not exist exits 127."""
    result = run_wmexec("/nonexistent/wmt-program")
    assert result.returncode == 127
    assert "/nonexistent/wmt-program: no such file" in result.stderr


def test_file_without_execute_permission_exits_126(tmp_path: Path) -> None:
    """A COMMAND that exists but is not executable exits 126."""
    program = tmp_path / "not-executable"
    program.write_text("#!/bin/sh\n")
    result = run_wmexec(str(program))
    assert result.returncode == 126
    assert f"{program}: permission denied" in result.stderr


def test_directory_as_command_exits_126(tmp_path: Path) -> None:
    """A COMMAND that is a directory exits 126 and says it is a directory."""
    result = run_wmexec(str(tmp_path))
    assert result.returncode == 126
    assert f"{tmp_path}: is a directory" in result.stderr


def test_script_without_interpreter_line_exits_126(tmp_path: Path) -> None:
    """An executable without a #! line or known format exits 126."""
    program = tmp_path / "no-shebang"
    program.write_text("echo hi\n")
    program.chmod(0o755)
    result = run_wmexec(str(program))
    assert result.returncode == 126
    assert "not an executable format" in result.stderr


def test_exit_code_of_the_target_is_the_exit_code_of_wmexec() -> None:
    """wmexec becomes the target, so the target's exit code is what we see."""
    assert run_wmexec("sh", "-c", "exit 42").returncode == 42


def test_version_prints_program_and_version() -> None:
    """--version prints ``wmexec <version>`` and exits 0."""
    result = run_wmexec("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("wmexec ") and result.stdout.count(" ") == 1


def test_help_lists_the_exit_codes() -> None:
    """--help documents every exit code wmexec itself can return."""
    result = run_wmexec("--help")
    assert result.returncode == 0
    for code in ("1 ", "2 ", "126", "127"):
        assert f"\n  {code}" in result.stdout


def _skip_unless_others_can_run_wmexec() -> None:
    for path in [*reversed(Path(WMEXEC).parents), Path(WMEXEC)]:
        mode = path.stat().st_mode
        needed = stat.S_IXOTH if path.is_dir() else stat.S_IROTH
        if not mode & needed:
            pytest.skip(f"{path} is not open to other users, who must run wmexec")
