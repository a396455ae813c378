"""Parsing crontab files: job lines, environment lines, commands and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from _common.crontab import CrontabEntry, command_argv, parse_crontab, shell_syntax_in
from _common.errors import ConfigError

BERLIN = ZoneInfo("Europe/Berlin")


def parse(text: str, has_shell: bool = True) -> list[CrontabEntry]:
    """Parse text that must have no errors."""
    entries, errors = parse_crontab(dedent(text), "crontab", has_shell)
    assert errors == []
    return entries


def only_error(text: str, has_shell: bool = True) -> ConfigError:
    """Parse text that must give exactly one error, and return it."""
    entries, errors = parse_crontab(dedent(text), "crontab", has_shell)
    assert entries == []
    assert len(errors) == 1
    return errors[0]


# --- job lines ---------------------------------------------------------------


def test_five_field_line_becomes_an_entry() -> None:
    """A plain line keeps its line number, expression and split command."""
    [entry] = parse("\n*/5 * * * *   /usr/bin/backup --full\n")
    assert entry.line == 2
    assert entry.expression == "*/5 * * * *"
    assert entry.command == ("/usr/bin/backup", "--full")
    assert entry.command_text == "/usr/bin/backup --full"
    assert entry.environ == ()
    assert entry.timezone_name is None
    assert entry.schedule.timezone is UTC


def test_default_timezone_applies_without_cron_tz() -> None:
    """Schedules are read in the zone the caller passes."""
    entries, _ = parse_crontab(
        "30 2 * * * backup", "crontab", True, default_timezone=BERLIN
    )
    assert entries[0].schedule.timezone is BERLIN
    assert entries[0].timezone_name is None


def test_six_field_line_leads_with_seconds() -> None:
    """*/2 * * * * * runs every two seconds."""
    [entry] = parse("*/2 * * * * * echo hi")
    assert entry.expression == "*/2 * * * * *"
    assert entry.schedule.seconds == tuple(range(0, 60, 2))
    assert entry.command == ("echo", "hi")


@pytest.mark.parametrize(
    ("line", "expression", "command"),
    [
        ("* * * * * echo", "* * * * *", ("echo",)),
        ("* * * * * * echo", "* * * * * *", ("echo",)),
        ("* * * * * 5 run", "* * * * * 5", ("run",)),
        ("* * * * * mon-fri run", "* * * * * mon-fri", ("run",)),
        ("* * * * * ./5", "* * * * *", ("./5",)),
        ("* * * * * /bin/true", "* * * * *", ("/bin/true",)),
        ("0 0 * * sun 7z a x.7z", "0 0 * * sun", ("7z", "a", "x.7z")),
        ("0 0 1 * * sat", "0 0 1 * * sat", None),
    ],
)
def test_sixth_word_decides_between_five_and_six_fields(
    line: str, expression: str, command: tuple[str, ...] | None
) -> None:
    """Six fields when the sixth word could be a day-of-week field, else five."""
    entries, errors = parse_crontab(line, "crontab", True)
    if command is None:
        assert "no command" in errors[0].message
        return
    assert entries[0].expression == expression
    assert entries[0].command == command


def test_spacing_inside_the_schedule_is_kept_in_the_expression() -> None:
    """The expression is the schedule as written, tabs and all."""
    [entry] = parse("0\t12  * * *\tdate")
    assert entry.expression == "0\t12  * * *"
    assert str(entry.schedule) == "0\t12  * * *"


@pytest.mark.parametrize("macro", ["@yearly", "@monthly", "@daily", "@hourly"])
def test_macro_line_takes_the_rest_as_command(macro: str) -> None:
    """An @macro replaces the five fields."""
    [entry] = parse(f"{macro} /usr/bin/report now")
    assert entry.expression == macro
    assert entry.command == ("/usr/bin/report", "now")


def test_reboot_line_is_flagged() -> None:
    """@reboot lines give a schedule with is_reboot set."""
    [entry] = parse("@reboot /usr/bin/warm-cache")
    assert entry.schedule.is_reboot
    assert entry.command == ("/usr/bin/warm-cache",)


def test_windows_line_endings_and_byte_order_mark_are_ignored() -> None:
    """A crontab saved with CRLF and a BOM still parses."""
    entries = parse("\ufeff# top\r\nA=1\r\n0 * * * * date\r\n")
    assert entries[0].line == 3
    assert entries[0].environ == (("A", "1"),)
    assert entries[0].command == ("date",)


# --- comments ---------------------------------------------------------------


def test_blank_and_hash_lines_are_comments() -> None:
    """Blank lines and lines starting with #, after blanks, are skipped."""
    entries = parse(
        """\
        # a comment

           # an indented comment
        0 0 * * * date
        """
    )
    assert [entry.line for entry in entries] == [4]


def test_hash_inside_a_word_belongs_to_the_command() -> None:
    """echo a#b runs echo with the argument a#b."""
    [entry] = parse("* * * * * echo a#b")
    assert entry.command == ("echo", "a#b")


def test_hash_at_word_start_is_a_shell_comment() -> None:
    """echo a #b is left to sh, which drops the comment."""
    [entry] = parse("* * * * * echo a #b")
    assert entry.command == ("/bin/sh", "-c", "echo a #b")


# --- environment lines --------------------------------------------------------


def test_environment_lines_apply_to_the_lines_below() -> None:
    """Each job sees the assignments above it, not those below."""
    first, second = parse(
        """\
        PATH=/usr/local/bin:/usr/bin
        0 0 * * * first
        MAILTO=ops
        0 1 * * * second
        """
    )
    assert first.environ == (("PATH", "/usr/local/bin:/usr/bin"),)
    assert second.environ == (
        ("PATH", "/usr/local/bin:/usr/bin"),
        ("MAILTO", "ops"),
    )


def test_environment_values_allow_spaces_and_quotes() -> None:
    """Spaces around = are dropped; quotes are removed and keep inner blanks."""
    [entry] = parse(
        """\
        A = plain value
        B="  padded  "
        C='it is "quoted"'
        D=it's
        E=
        F=$HOME
        0 0 * * * date
        """
    )
    assert dict(entry.environ) == {
        "A": "plain value",
        "B": "  padded  ",
        "C": 'it is "quoted"',
        "D": "it's",
        "E": "",
        "F": "$HOME",
    }


def test_later_assignment_replaces_the_earlier_one() -> None:
    """Setting a name twice keeps one pair, with the latest value."""
    [entry] = parse("A=1\nB=2\nA=3\n0 0 * * * date")
    assert entry.environ == (("A", "3"), ("B", "2"))


def test_cron_tz_sets_the_zone_of_the_lines_below() -> None:
    """CRON_TZ changes the zone of later schedules and is named on the entry."""
    first, second, third = parse(
        """\
        0 2 * * * first
        CRON_TZ=Europe/Berlin
        0 2 * * * second
        CRON_TZ=
        0 2 * * * third
        """
    )
    assert first.schedule.timezone is UTC and first.timezone_name is None
    assert second.schedule.timezone == BERLIN
    assert second.timezone_name == "Europe/Berlin"
    assert third.schedule.timezone is UTC and third.timezone_name is None


def test_cron_tz_changes_when_the_job_is_due() -> None:
    """0 2 * * * under CRON_TZ=America/New_York is due at 07:00 UTC in winter."""
    [entry] = parse('CRON_TZ="America/New_York"\n0 2 * * * date')
    due = entry.schedule.next_after(datetime(2024, 1, 1, tzinfo=UTC))
    assert due == datetime(2024, 1, 1, 7, 0, tzinfo=UTC)


def test_tz_is_an_ordinary_variable() -> None:
    """TZ is passed to the job but does not change the schedule's zone."""
    [entry] = parse("TZ=Europe/Berlin\n0 2 * * * date")
    assert entry.environ == (("TZ", "Europe/Berlin"),)
    assert entry.schedule.timezone is UTC


def test_bad_cron_tz_is_reported_and_the_previous_zone_kept() -> None:
    """An unknown zone is an error on its own line; later lines still parse."""
    entries, errors = parse_crontab(
        "CRON_TZ=Europe/Berlin\nCRON_TZ=Mars/Olympus\n0 2 * * * date",
        "crontab",
        True,
    )
    assert [str(error) for error in errors] == [
        "crontab:2: CRON_TZ: 'Mars/Olympus' is not a time zone name wingmate "
        "knows; use a name from the tz database such as UTC, Europe/Berlin or "
        "America/New_York (POSIX rule strings such as CET-1CEST are not supported)"
    ]
    assert entries[0].schedule.timezone == BERLIN


# --- commands ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("command_text", "argv"),
    [
        ("echo hello world", ("echo", "hello", "world")),
        ('echo "hello world"', ("echo", "hello world")),
        ("echo 'a | b' \"c > d\"", ("echo", "a | b", "c > d")),
        (r"echo a\ b \| c", ("echo", "a b", "|", "c")),
        ("echo 'it''s'", ("echo", "its")),
        ('echo "it\'s"', ("echo", "it's")),
        ("echo '$HOME' '*'", ("echo", "$HOME", "*")),
        ("date +%Y-%m-%d", ("date", "+%Y-%m-%d")),
        ("echo a~b a=b", ("echo", "a~b", "a=b")),
        ("find . -exec rm {} \\;", ("find", ".", "-exec", "rm", "{}", ";")),
        ("echo a#b", ("echo", "a#b")),
    ],
)
def test_commands_without_shell_syntax_run_directly(
    command_text: str, argv: tuple[str, ...]
) -> None:
    """Quotes and backslashes alone are split like sh does, with no shell."""
    assert command_argv(command_text, has_shell=False) == argv


@pytest.mark.parametrize(
    ("command_text", "syntax"),
    [
        ("ls | wc -l", "'|'"),
        ("backup > /var/log/backup.log", "'>'"),
        ("sort < list", "'<'"),
        ("a && b", "'&'"),
        ("a || b", "'|'"),
        ("sleep 1 &", "'&'"),
        ("a; b", "';'"),
        ("echo $HOME", "'$'"),
        ('echo "$HOME"', "'$'"),
        ('echo "\\$HOME"', "'$'"),
        ("echo `date`", "'`'"),
        ("(cd /tmp)", "'('"),
        ("rm /tmp/*.log", "'*'"),
        ("ls file?", "'?'"),
        ("ls [ab]", "'['"),
        ("cat ~/notes", "'~'"),
        ("echo a #b", "'#'"),
    ],
)
def test_shell_syntax_is_found_outside_quotes(command_text: str, syntax: str) -> None:
    """Operators, redirections, expansions and globs mean the shell must run it."""
    found = shell_syntax_in(command_text)
    assert found is not None and syntax in found
    assert command_argv(command_text, has_shell=True) == (
        "/bin/sh",
        "-c",
        command_text,
    )


@pytest.mark.parametrize(
    ("command_text", "reason"),
    [
        ("cd /srv && make", "'&'"),
        ("cd /srv", "the shell word 'cd'"),
        ("exec backup", "the shell word 'exec'"),
        ("if true", "the shell word 'if'"),
        ("LANG=C sort list", "the variable assignment 'LANG=C'"),
    ],
)
def test_shell_words_and_assignments_need_the_shell(
    command_text: str, reason: str
) -> None:
    """Builtins, reserved words and leading assignments go to /bin/sh."""
    assert command_argv(command_text, has_shell=True)[0] == "/bin/sh"
    with pytest.raises(ValueError, match=reason):
        command_argv(command_text, has_shell=False)


def test_shell_command_keeps_the_original_text() -> None:
    """The whole command text, spacing and percent signs included, goes to sh -c."""
    [entry] = parse("0 * * * *  tar czf /b/$(date +%F).tgz  /data  ")
    assert entry.command_text == "tar czf /b/$(date +%F).tgz  /data"
    assert entry.command == ("/bin/sh", "-c", entry.command_text)


def test_shell_syntax_without_a_shell_is_an_error() -> None:
    """Without /bin/sh, a pipe is refused with the line and what to do."""
    error = only_error("\n\n* * * * * ls | wc -l\n", has_shell=False)
    assert error.line == 3
    assert str(error) == (
        "crontab:3: the command uses the shell syntax '|', so it needs /bin/sh, "
        "which this image does not have; install a shell in the image, or write "
        "the command as a program and its arguments without shell syntax"
    )


def test_direct_commands_need_no_shell() -> None:
    """Without /bin/sh, commands with no shell syntax still load."""
    [entry] = parse("* * * * * echo 'a | b'", has_shell=False)
    assert entry.command == ("echo", "a | b")


# --- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        (
            "* * * * echo hi",
            ["expected 5 schedule fields, found 4 ('echo' is not a schedule field)",
             "the command starts after the fifth field"],
        ),
        ("* * *", ["expected 5 schedule fields, found 3;"]),
        ("*/5 * * * *", ["has no command after it", "on the same line"]),
        ("@daily", ["'@daily' has no command", "on the same line"]),
        ("61 * * * * date", ["minute field '61': 61 is out of range", "0 to 59"]),
        ("0 0 * * 8 date", ["day-of-week field '8'", "0 and 7 are Sunday"]),
        ("0 0 * 13 * date", ["month field '13'", "jan to dec"]),
        ("0 0 * mon * date", ["month field 'mon'", "not a number or a name"]),
        ("0 0 * foo * date", ["found 3 ('foo' is not a schedule field)"]),
        ("*/0 * * * * date", ["step '0'", "at least 1"]),
        ("30-1 * * * * date", ["runs backwards", "smaller value first"]),
        ("0 0 30 2 * date", ["never happens", "at most 29 days"]),
        ("@every 5m date", ["unknown macro '@every'", "@reboot"]),
        ('* * * * * echo "open', ["double quote (\") that is never closed",
                                  "close the quote"]),
        ("* * * * * echo 'open", ["single quote (')"]),
        ("* * * * * echo \\", ["ends with a backslash", "on one line"]),
        ("* * * * * ''", ["no program name", "program to run"]),
        ("echo hello", ["'echo' starts neither a job nor an environment",
                        "NAME=value"]),
        ("-1 * * * * date", ["cannot start with '-'", "@macro command"]),
        ('GREETING="hello', ["value of GREETING opens a double quote",
                             "leave out the quotes"]),
        ("CRON_TZ=Nowhere/Land", ["CRON_TZ: 'Nowhere/Land'", "tz database"]),
    ],
)  # fmt: skip
def test_each_error_names_the_line_and_gives_a_hint(
    line: str, fragments: list[str]
) -> None:
    """Every error reads path:line: what is wrong; what to do."""
    error = only_error(f"# header\n{line}\n")
    assert error.path == "crontab"
    assert error.line == 2
    assert error.hint
    assert str(error).startswith("crontab:2: ")
    for fragment in fragments:
        assert fragment in str(error)


def test_all_errors_are_reported_at_once() -> None:
    """Parsing goes on after a bad line, so one run shows every problem."""
    entries, errors = parse_crontab(
        dedent(
            """\
            0 * * * * good-one
            61 * * * * bad-minute
            * * * * bad-count
            CRON_TZ=Nowhere
            @daily good-two
            * * * * * ls | wc
            """
        ),
        "/etc/wingmate/crontab",
        has_shell=False,
    )
    assert [entry.command for entry in entries] == [("good-one",), ("good-two",)]
    assert [(error.path, error.line) for error in errors] == [
        ("/etc/wingmate/crontab", 2),
        ("/etc/wingmate/crontab", 3),
        ("/etc/wingmate/crontab", 4),
        ("/etc/wingmate/crontab", 6),
    ]
    assert all(error.hint for error in errors)


def test_entries_are_frozen() -> None:
    """Running code cannot change a parsed entry."""
    [entry] = parse("0 0 * * * date")
    with pytest.raises(AttributeError):
        entry.line = 3  # type: ignore[misc]
