"""Loading a configuration directory: sources, merging and every error."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from _common.config import config_directory, load_config, parse_duration
from _common.errors import ConfigErrors
from _common.spec import OutputMode, Overlap, RestartPolicy


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def errors_of(directory: Path, **kwargs: bool) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_config(str(directory), {}, **kwargs)
    return [str(error) for error in caught.value.errors]


def test_directory_comes_from_option_then_environment_then_default() -> None:
    """--config wins over WINGMATE_CONFIG_PATH, which wins over /etc/wingmate."""
    env = {"WINGMATE_CONFIG_PATH": "/from/env"}
    assert config_directory("/from/option", env) == "/from/option"
    assert config_directory(None, env) == "/from/env"
    assert config_directory(None, {}) == "/etc/wingmate"


def test_executable_files_in_service_dir_become_services_in_name_order(
    tmp_path: Path,
) -> None:
    """Services from service/ are sorted by name; dotfiles and dirs are ignored."""
    write(tmp_path / "service" / "b", "#!/bin/sh\n", 0o755)
    write(tmp_path / "service" / "a", "#!/bin/sh\n", 0o755)
    write(tmp_path / "service" / ".hidden", "#!/bin/sh\n", 0o755)
    (tmp_path / "service" / "subdir").mkdir()
    config = load_config(str(tmp_path), {})
    assert [service.name for service in config.services] == ["a", "b"]
    assert config.services[0].command == (str(tmp_path / "service" / "a"),)


def test_non_executable_service_file_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A service file without the execute bit is skipped; the warning says chmod +x."""
    write(tmp_path / "service" / "run", "#!/bin/sh\n", 0o755)
    write(tmp_path / "service" / "lazy", "#!/bin/sh\n", 0o644)
    config = load_config(str(tmp_path), {})
    assert [service.name for service in config.services] == ["run"]
    assert "lazy is not executable" in caplog.text
    assert "chmod +x" in caplog.text


def test_yaml_services_follow_service_files_in_file_order(tmp_path: Path) -> None:
    """wingmate.yaml services come after service/ files, in the order written."""
    write(tmp_path / "service" / "zz", "#!/bin/sh\n", 0o755)
    write(
        tmp_path / "wingmate.yaml",
        "service:\n  second:\n    command: [b]\n  first:\n    command: [a]\n",
    )
    config = load_config(str(tmp_path), {})
    assert [service.name for service in config.services] == ["zz", "second", "first"]


def test_all_yaml_service_keys_are_read(tmp_path: Path) -> None:
    """Every documented service key ends up in the spec."""
    write(
        tmp_path / "wingmate.yaml",
        "service:\n"
        "  web:\n"
        "    command: [nginx, -g, 'daemon off;']\n"
        "    environ: ['A=1', 'B=x=y']\n"
        "    working_dir: /\n"
        "    setsid: true\n"
        "    restart: on-failure\n"
        "    stop_signal: QUIT\n"
        "    stop_timeout: 1500ms\n"
        "    critical: true\n"
        "    pidfile: /run/web.pid\n"
        "    output: inherit\n",
    )
    (web,) = load_config(str(tmp_path), {}).services
    assert web.command == ("nginx", "-g", "daemon off;")
    assert web.environ == (("A", "1"), ("B", "x=y"))
    assert web.working_dir == "/"
    assert web.is_new_session
    assert web.restart is RestartPolicy.ON_FAILURE
    assert web.stop_signal is signal.SIGQUIT
    assert web.stop_timeout_s == 1.5
    assert web.is_critical
    assert web.pid_file == "/run/web.pid"
    assert web.output is OutputMode.INHERIT


def test_yaml_cron_entry_is_read(tmp_path: Path) -> None:
    """A cron entry gets its schedule, timeout, overlap and time zone."""
    write(
        tmp_path / "wingmate.yaml",
        "cron:\n"
        "  backup:\n"
        "    command: [backup.sh]\n"
        "    schedule: '30 2 * * *'\n"
        "    timeout: 2m\n"
        "    overlap: allow\n"
        "    timezone: Europe/Berlin\n",
    )
    (job,) = load_config(str(tmp_path), {}).jobs
    assert job.timeout_s == 120.0
    assert job.overlap is Overlap.ALLOW
    assert str(job.schedule) == "30 2 * * *"


def test_stop_timeout_defaults_to_environment(tmp_path: Path) -> None:
    """WINGMATE_STOP_TIMEOUT sets the grace period of services that name none."""
    write(tmp_path / "service" / "a", "#!/bin/sh\n", 0o755)
    config = load_config(str(tmp_path), {"WINGMATE_STOP_TIMEOUT": "8"})
    assert config.services[0].stop_timeout_s == 8.0


def test_crontab_lines_become_jobs_named_by_line(tmp_path: Path) -> None:
    """Each crontab line is a job named crontab:LINE."""
    write(tmp_path / "crontab", "# comment\n*/5 * * * * /bin/true\n")
    (job,) = load_config(str(tmp_path), {}).jobs
    assert job.name == "crontab:2"
    assert job.command == ("/bin/true",)


def test_missing_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    """A configuration directory that does not exist is one clear error."""
    (message,) = errors_of(tmp_path / "nope")
    assert str(tmp_path / "nope") in message
    assert "WINGMATE_CONFIG_PATH" in message


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    """A directory with nothing to run is an error, not an idle wingmate."""
    (message,) = errors_of(tmp_path)
    assert "no services and no jobs" in message
    assert str(tmp_path) in message


def test_unknown_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    """A typo in a key is reported with file:line and the list of known keys."""
    write(
        tmp_path / "wingmate.yaml",
        "service:\n  web:\n    command: [a]\n    restrat: never\n",
    )
    (message,) = errors_of(tmp_path)
    assert message.startswith(f"{tmp_path / 'wingmate.yaml'}:4: unknown key 'restrat'")
    assert "known keys:" in message and "restart" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Errors in crontab and wingmate.yaml are all collected, each with its line."""
    write(tmp_path / "crontab", "* * * * * /bin/true\n61 * * * * /bin/true\n")
    write(
        tmp_path / "wingmate.yaml",
        "service:\n"
        "  a:\n"
        "    command: []\n"
        "  b:\n"
        "    command: [x]\n"
        "    restart: sometimes\n"
        "    stop_signal: NOPE\n"
        "cron:\n"
        "  c:\n"
        "    command: [x]\n",
    )
    messages = errors_of(tmp_path)
    crontab = str(tmp_path / "crontab")
    yaml_path = str(tmp_path / "wingmate.yaml")
    assert any(message.startswith(f"{crontab}:2:") for message in messages)
    assert any(message.startswith(f"{yaml_path}:3: command:") for message in messages)
    assert any(message.startswith(f"{yaml_path}:6: restart:") for message in messages)
    assert any(
        message.startswith(f"{yaml_path}:7: stop_signal:") for message in messages
    )
    assert any(
        message.startswith(f"{yaml_path}:9:") and "no schedule" in message
        for message in messages
    )
    assert len(messages) == 5


def test_name_used_twice_is_an_error(tmp_path: Path) -> None:
    """A service file and a wingmate.yaml service with the same name clash."""
    write(tmp_path / "service" / "web", "#!/bin/sh\n", 0o755)
    write(tmp_path / "wingmate.yaml", "service:\n  web:\n    command: [a]\n")
    (message,) = errors_of(tmp_path)
    assert f"{tmp_path / 'wingmate.yaml'}:2:" in message
    assert "used twice" in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    """A YAML syntax error points at its line."""
    write(tmp_path / "wingmate.yaml", "service:\n  web:\n    command: [a\n")
    (message,) = errors_of(tmp_path)
    assert "invalid YAML" in message
    assert f"{tmp_path / 'wingmate.yaml'}:" in message


def test_unknown_user_is_a_configuration_error(tmp_path: Path) -> None:
    """A user missing from the user database fails the check, with its line."""
    write(
        tmp_path / "wingmate.yaml",
        "service:\n  web:\n    command: [a]\n    user: no_such_user_wm\n",
    )
    (message,) = errors_of(tmp_path)
    assert message.startswith(f"{tmp_path / 'wingmate.yaml'}:4:")
    assert "no_such_user_wm" in message


def test_shell_line_without_shell_is_an_error(tmp_path: Path) -> None:
    """A crontab command needing /bin/sh fails when the image has none."""
    write(tmp_path / "crontab", "* * * * * echo a | cat\n")
    (message,) = errors_of(tmp_path, has_shell=False)
    assert f"{tmp_path / 'crontab'}:1:" in message
    assert "/bin/sh" in message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10", 10.0), (3, 3.0), ("1.5s", 1.5), ("250ms", 0.25), ("2m", 120.0)],
)
def test_durations_accept_numbers_and_units(text: object, seconds: float) -> None:
    """Durations are seconds, or a number with ms, s, m or h."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["-1", "ten", "5 days", True])
def test_bad_durations_are_rejected(text: object) -> None:
    """Negative, non-numeric and unknown-unit durations raise ValueError."""
    with pytest.raises(ValueError):
        parse_duration(text)


def test_original_project_keys_are_accepted(tmp_path: Path) -> None:
    """background, startsecs, autostart and autorestart from the original still load."""
    write(
        tmp_path / "wingmate.yaml",
        "service:\n"
        "  legacy:\n"
        "    command: [daemon]\n"
        "    background: true\n"
        "    pidfile: /run/daemon.pid\n"
        "    startsecs: 3\n"
        "    autostart: false\n"
        "    autorestart: false\n",
    )
    (legacy,) = load_config(str(tmp_path), {}).services
    assert legacy.start_timeout_s == 3.0
    assert not legacy.is_autostart
    assert legacy.restart is RestartPolicy.NEVER


def test_bad_tz_is_one_error_about_the_environment(tmp_path: Path) -> None:
    """A TZ naming no zone is reported once, not as a crash."""
    write(tmp_path / "crontab", "* * * * * /bin/true\n")
    with pytest.raises(ConfigErrors) as caught:
        load_config(str(tmp_path), {"TZ": "Mars/Olympus"})
    (message,) = [str(error) for error in caught.value.errors]
    assert message.startswith("environment: cannot tell the container's time zone")
    assert "Mars/Olympus" in message
