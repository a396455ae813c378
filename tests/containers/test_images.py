"""Smoke tests in real containers (podman with runc, as root).

The module builds, once per run, the bookworm target of Dockerfile.build on the
local debootstrap image, the docker/bookworm example on top of it, and a
busybox image holding the three programs and the C library alone; then it runs
them.  The base images are made by setup.sh and kept between runs; the images
built here are removed at the end.  Everything is named ``wingmate-test-...``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from podman_cli import (
    HERE,
    REPO,
    Container,
    environment,
    missing_prerequisite,
    podman,
    process_table,
    run_to_end,
    start,
)

pytestmark = pytest.mark.root

BASE_BOOKWORM = "localhost/wingmate-test-base-bookworm"
BASE_BUSYBOX = "localhost/wingmate-test-base-busybox"
PREFIX = f"wingmate-test-{os.getpid()}"


@dataclass(frozen=True)
class Images:
    wingmate: str
    example: str
    libc_only: str


def build(tag: str, context: Path, *options: str) -> None:
    podman("build", "--quiet", "--tag", tag, *options, str(context), timeout_s=900)


@pytest.fixture(scope="module")
def images() -> Iterator[Images]:
    if os.geteuid() == 0:
        subprocess.run(
            [str(HERE / "setup.sh")], env=environment(), check=True, timeout=900
        )
    reason = missing_prerequisite()
    if reason:
        pytest.skip(reason)

    built = Images(
        wingmate=f"{PREFIX}-wingmate:bookworm",
        example=f"{PREFIX}-example:bookworm",
        libc_only=f"{PREFIX}-libc-only:latest",
    )
    try:
        build(
            built.wingmate, REPO,
            "--file", str(REPO / "Dockerfile.build"), "--target", "bookworm",
            "--build-arg", f"BOOKWORM_BUILDER_IMAGE={BASE_BOOKWORM}",
            "--build-arg", f"BOOKWORM_IMAGE={BASE_BOOKWORM}",
        )  # fmt: skip
        build(
            built.example, REPO / "docker" / "bookworm",
            "--build-arg", f"WINGMATE_IMAGE={built.wingmate}",
        )  # fmt: skip
        build(
            built.libc_only, HERE,
            "--file", str(HERE / "Containerfile.libc-only"),
            "--build-arg", f"WINGMATE_IMAGE={built.wingmate}",
            "--build-arg", f"BUSYBOX_IMAGE={BASE_BUSYBOX}",
        )  # fmt: skip
        yield built
    finally:
        for image in (built.libc_only, built.example, built.wingmate):
            podman("rmi", "--force", image, check=False)


@pytest.fixture(scope="module")
def example(images: Images) -> Iterator[Container]:
    """One example container, running all along, for the tests that only look."""
    container = start(f"{PREFIX}-example", images.example)
    try:
        container.wait_for_output(r"^heartbeat: up as pid")
        yield container
    finally:
        container.remove()


@pytest.fixture
def fresh(images: Images, request: pytest.FixtureRequest) -> Iterator[Container]:
    """A new example container for a test that signals or stops it."""
    container = start(f"{PREFIX}-{request.node.name[:40]}", images.example)
    try:
        container.wait_for_output(r"^stubborn: ignoring SIGTERM")
        container.wait_for_output(r"^legacy: daemon running")
        container.wait_for_output(r"^signals: waiting for HUP or USR1")
        yield container
    finally:
        container.remove()


def read_pid(container: Container, path: str) -> int:
    return int(container.exec("cat", path).strip())


def kill(container: Container, pid: int) -> None:
    # The shell's builtin: minbase images have no procps, so no kill(1).
    container.exec("sh", "-c", f"kill -KILL {pid}")


def is_alive(container: Container, pid: int) -> bool:
    return any(p == pid and state != "Z" for p, _, state, _ in process_table(container))


# --- services, jobs, reaping -------------------------------------------------


def test_every_service_starts(example: Container) -> None:
    """Each service of the example prints its first line, tagged with its name."""
    for line in (
        r"^heartbeat: up as pid \d+",
        r"^signals: waiting for HUP or USR1",
        r"^stubborn: ignoring SIGTERM",
        r"^legacy: daemon running",
        r"^as-app: uid=",
    ):
        example.wait_for_output(line)


def test_wingmate_runs_under_its_bootloader_as_pid_1(example: Container) -> None:
    """PID 1 is the onefile bootloader and wingmate's Python process its child."""
    table = process_table(example)
    names = {pid: name for pid, name, _, _ in table}
    assert names[1] == "wingmate"
    assert any(name == "wingmate" and ppid == 1 for _, name, _, ppid in table)


def test_a_killed_service_is_restarted(example: Container) -> None:
    """SIGKILL on a service's main process brings a new one with a new pid."""
    first = read_pid(example, "/run/heartbeat.pid")
    kill(example, first)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        second = read_pid(example, "/run/heartbeat.pid")
        if second != first and is_alive(example, second):
            return
        time.sleep(0.2)
    pytest.fail(f"heartbeat was not restarted after pid {first} was killed")


def test_a_seconds_cron_job_fires_on_schedule(example: Container) -> None:
    """The six-field crontab line */2 runs its job every two seconds."""
    example.wait_for_output(r"^crontab:3: tick at ")
    ticks_before = example.output().count("tick at ")
    time.sleep(5)  # holds at least two even seconds, with room to relay
    assert example.output().count("tick at ") >= ticks_before + 2


def test_orphans_of_a_spawner_service_are_reaped(example: Container) -> None:
    """The spawner leaves an orphan every second; none stays a zombie."""
    time.sleep(4)  # at least four orphans, each ended after 0.2 s
    zombies = [
        (pid, name, ppid)
        for pid, name, state, ppid in process_table(example)
        if state == "Z" and name == "sleep"
    ]
    # One may be caught between its exit and wingmate's SIGCHLD handling.
    assert len(zombies) <= 1, zombies


def test_wmexec_user_runs_the_target_as_that_user(example: Container) -> None:
    """wmexec --user app makes the target uid and gid 1000 (app), both ways."""
    example.wait_for_output(r"^as-app: uid=1000\(app\) gid=1000\(app\) groups=")
    assert example.exec("wmexec", "--user", "app", "--", "id").strip() == (
        "uid=1000(app) gid=1000(app) groups=1000(app)"
    )
    assert example.exec("wmexec", "--user", "1000:0", "--", "id", "-g").strip() == "0"


def test_a_daemon_behind_wmpidproxy_comes_back_after_being_killed(
    example: Container,
) -> None:
    """Killing the forked daemon ends wmpidproxy; wingmate starts both again."""
    first = read_pid(example, "/run/legacy-daemon.pid")
    assert is_alive(example, first)
    kill(example, first)

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        second = read_pid(example, "/run/legacy-daemon.pid")
        if second != first and is_alive(example, second):
            return
        time.sleep(0.2)
    pytest.fail(f"the legacy daemon did not come back after pid {first} was killed")


# --- signals and stop --------------------------------------------------------


def test_hup_and_usr1_reach_a_service_through_the_bootloader(fresh: Container) -> None:
    """podman kill -s HUP/USR1 hits the bootloader, PID 1; the service sees it."""
    podman("kill", "--signal", "HUP", fresh.name)
    fresh.wait_for_output(r"^signals: got SIGHUP$", deadline_s=10)

    podman("kill", "--signal", "USR1", fresh.name)
    fresh.wait_for_output(r"^signals: got SIGUSR1$", deadline_s=10)


def test_podman_stop_exits_0_well_within_the_stop_timeout(fresh: Container) -> None:
    """stop -t 10 ends it with code 0 in about the 2 s grace period of the one
    service that ignores SIGTERM, which wingmate kills."""
    started = time.monotonic()
    podman("stop", "--time", "10", fresh.name, timeout_s=30)
    elapsed_s = time.monotonic() - started

    assert fresh.wait_exit(deadline_s=5) == 0
    assert elapsed_s < 6, f"podman stop took {elapsed_s:.1f}s"
    assert "stubborn" in fresh.output() and "SIGKILL" in fresh.output()


# --- read-only root and the unpack directory -----------------------------------

READ_ONLY = ("--read-only", "--read-only-tmpfs=false")
PROGRAMS = ("wmexec -- true", "wmpidproxy --version", "wingmate check")


@pytest.mark.parametrize("program", PROGRAMS)
def test_binaries_run_read_only_with_an_exec_tmpfs_on_tmp(
    images: Images, program: str
) -> None:
    """On a read-only root, a tmpfs on /tmp mounted with exec is all they need."""
    result = run_to_end(
        f"{PREFIX}-ro-ok",
        images.example,
        *program.split(),
        options=(*READ_ONLY, "--tmpfs", "/tmp:rw,exec"),
    )
    assert result.exit_code == 0, result.stderr


def test_tmpdir_points_the_binaries_elsewhere(images: Images) -> None:
    """With /tmp noexec, TMPDIR on an exec tmpfs lets them start."""
    result = run_to_end(
        f"{PREFIX}-ro-tmpdir",
        images.example,
        "wmexec", "--user", "app", "--", "id", "-u",
        options=(
            *READ_ONLY,
            "--tmpfs", "/tmp:rw,noexec",
            "--tmpfs", "/run/wingmate:rw,exec",
            "--env", "TMPDIR=/run/wingmate",
        ),
    )  # fmt: skip
    assert (result.exit_code, result.stdout.strip()) == (0, "1000"), result.stderr


def test_entry_script_explains_a_read_only_tmp(images: Images) -> None:
    """Nothing writable: the example's entry.sh says where and what to do."""
    result = run_to_end(
        f"{PREFIX}-ro-none", images.example, "wingmate", "check", options=READ_ONLY
    )
    assert result.exit_code == 1
    assert "cannot create files in /tmp" in result.stderr
    assert "TMPDIR" in result.stderr


def test_entry_script_explains_a_noexec_tmp(images: Images) -> None:
    """A noexec /tmp (Docker's --tmpfs default) is named as the cause."""
    result = run_to_end(
        f"{PREFIX}-ro-noexec",
        images.example,
        "wingmate", "check",
        options=(*READ_ONLY, "--tmpfs", "/tmp:rw,noexec"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "/tmp does not allow executing files (noexec)" in result.stderr


def test_bootloader_alone_fails_with_its_own_message(images: Images) -> None:
    """Without entry.sh, the bootloader's own error is what a user sees (the
    message documented in docs/containers.md)."""
    result = run_to_end(
        f"{PREFIX}-ro-raw",
        images.wingmate,
        "--version",
        options=READ_ONLY,
    )
    assert result.exit_code != 0
    assert "Could not create temporary directory" in result.stderr


# --- configuration errors, and what the binaries need from an image -------------


def test_wingmate_check_rejects_a_broken_crontab_with_file_and_line(
    images: Images, tmp_path: Path
) -> None:
    """A crontab line with four fields fails the check with exit 2 and file:line."""
    (tmp_path / "crontab").write_text("# fine\n* * * * /bin/true\n")
    result = run_to_end(
        f"{PREFIX}-check",
        images.example,
        "wingmate", "check", "--config", "/config",
        options=("--volume", f"{tmp_path}:/config:ro"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "/config/crontab:2:" in result.stderr


@pytest.fixture(scope="module")
def alpine_standin(images: Images) -> Iterator[str]:
    tag = f"{PREFIX}-alpine-standin:latest"
    try:
        build(
            tag, REPO / "docker" / "alpine",
            "--file", str(HERE / "Containerfile.alpine-standin"),
            "--build-arg", f"LIBC_ONLY_IMAGE={images.libc_only}",
        )  # fmt: skip
        yield tag
    finally:
        podman("rmi", "--force", tag, check=False)


def test_alpine_example_runs_under_busybox(alpine_standin: str) -> None:
    """docker/alpine's scripts work under busybox's shell, and stop cleanly."""
    container = start(f"{PREFIX}-alpine-standin", alpine_standin)
    try:
        container.wait_for_output(r"^heartbeat: up as pid")
        container.wait_for_output(r"^as-app: uid=1000\(app\) gid=1000\(app\)")
        container.wait_for_output(r"^legacy: daemon running")
        container.wait_for_output(r"^crontab:3: tick at ")
        podman("stop", "--time", "10", container.name, timeout_s=30)
        assert container.wait_exit(deadline_s=5) == 0
    finally:
        container.remove()


def test_binaries_need_only_the_c_library_and_zlib(images: Images) -> None:
    """On busybox plus glibc and zlib (no Python, no tz database, no libffi) the
    three programs do real work."""
    script = (
        "set -e; mkdir -p /tmp/config;"
        " printf 'CRON_TZ=America/New_York\\n0 12 * * * true\\n' > /tmp/config/crontab;"
        " wingmate check --config /tmp/config;"
        " wmexec --user 1000:1000 -- id -u;"
        " wmpidproxy --pid-file /tmp/d.pid -- sh -c 'sleep 0.3 & echo $! > /tmp/d.pid'"
    )
    result = run_to_end(f"{PREFIX}-libc-only", images.libc_only, "sh", "-c", script)
    assert result.exit_code == 0, result.stderr
    assert "17:00:00+00:00" in result.stdout  # noon in New York in December
    assert "\n1000\n" in result.stdout


# --- example/ssh-docker ------------------------------------------------------


@pytest.fixture(scope="module")
def ssh_image(images: Images) -> Iterator[str]:
    tag = f"{PREFIX}-ssh:latest"
    try:
        build(
            tag, REPO / "example" / "ssh-docker",
            "--build-arg", f"WINGMATE_IMAGE={images.wingmate}",
        )  # fmt: skip
        yield tag
    finally:
        podman("rmi", "--force", tag, check=False)


def is_listening(container: Container, port: int) -> bool:
    # /proc/net/tcp: local address as HEX_IP:HEX_PORT, state 0A is LISTEN.
    table = container.exec("cat", "/proc/net/tcp", "/proc/net/tcp6")
    return any(
        fields[1].endswith(f":{port:04X}") and fields[3] == "0A"
        for fields in (line.split() for line in table.splitlines()[1:])
        if len(fields) > 3
    )


def test_sshd_behind_wmpidproxy_listens_and_comes_back(ssh_image: str) -> None:
    """sshd forks away from its starter; killed, it is started again and
    listens on port 22 once more."""
    container = start(f"{PREFIX}-ssh", ssh_image)
    try:
        container.wait_for_output(r"daemon running with pid \d+")
        first = read_pid(container, "/run/sshd.pid")
        assert is_listening(container, 22)

        kill(container, first)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            second = read_pid(container, "/run/sshd.pid")
            if second != first and is_alive(container, second):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"sshd did not come back after pid {first} was killed")
        wait_until_listening = time.monotonic() + 5
        while not is_listening(container, 22):
            assert time.monotonic() < wait_until_listening, "sshd is not listening"
            time.sleep(0.2)
    finally:
        container.remove()
