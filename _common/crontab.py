"""Parse a crontab file into jobs, reporting every bad line at once.

The format is the usual user crontab, with these decisions spelled out:

* Blank lines, and lines whose first non-blank character is ``#``, are
  comments.  Elsewhere ``#`` belongs to the command (``echo a#b``).
* ``NAME=value`` sets an environment variable for the jobs below it.  Spaces
  around ``=`` are allowed; a value wrapped in single or double quotes loses
  the quotes and keeps its inner spaces; ``$`` is not expanded.  A later
  assignment to the same name replaces the earlier one.  ``CRON_TZ=Zone`` also
  sets the zone the schedules below it are read in (empty: back to the
  caller's default zone); ``TZ`` is an ordinary variable.  Every assignment,
  ``CRON_TZ`` included, is in the job's environment.
* A job line has five schedule fields, six, or one ``@macro``, then the
  command.  It has six (a leading seconds field) when its sixth word could be
  a day-of-week field, made only of digits, ``* , - /`` and the names sun-sat;
  otherwise it has five and the command starts at the sixth word.  So
  ``* * * * * * echo hi`` runs every second and ``* * * * * echo hi`` every
  minute.  A program whose name looks like a day-of-week field needs a path
  (``* * * * * ./5``).
* ``%`` has no special meaning: it is passed to the command as it is, and
  does not stand for a newline or for standard input as in Vixie cron.
* A command without shell syntax is split into words the way ``sh`` would
  split it, quotes and backslashes included, and executed directly.  A
  command with shell syntax runs as ``/bin/sh -c 'command'``; see
  ``shell_syntax_in`` for what counts.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, tzinfo

from _common.errors import ConfigError
from _common.schedule import Schedule, ScheduleError, parse_schedule, parse_timezone

SHELL = "/bin/sh"

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_NAMES = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat"
_FIELD_WORD = re.compile(rf"(?:[0-9*,/-]|{_NAMES})+", re.IGNORECASE)
_DAY_OF_WEEK_WORD = re.compile(
    r"(?:[0-9*,/-]|sun|mon|tue|wed|thu|fri|sat)+", re.IGNORECASE
)

# shlex's whitespace, so that the scan below and the split agree on words.
_BLANKS = frozenset(" \t\r\n")
# Special to sh anywhere outside quotes: control operators, redirections,
# expansions, subshells and the glob characters.
_SPECIAL = frozenset("|&;<>()$`*?[")
# Special to sh at the start of a word: tilde expansion and comments.
_SPECIAL_AT_WORD_START = frozenset("~#")
# Special inside double quotes: expansions still happen there.
_SPECIAL_IN_DOUBLE_QUOTES = frozenset("$`")
# A first word that only a shell understands: reserved words and builtins
# that have no program of their own on a typical image.
_SHELL_ONLY_WORDS = frozenset(
    "! { } [[ case do done elif else esac fi for function if in select then "
    "until while . : alias bg break cd continue eval exec exit export fg "
    "getopts hash jobs read readonly return set shift source times trap type "
    "ulimit umask unalias unset wait".split()
)

_LINE_FORMAT = (
    "a job line is minute hour day-of-month month day-of-week command, or "
    "@macro command, and an environment line is NAME=value"
)
_QUOTE_NAMES = {"'": "single quote (')", '"': 'double quote (")'}


@dataclass(frozen=True, slots=True)
class CrontabEntry:
    """One job line of a crontab, ready to schedule and spawn.

    ``command`` is the argv to exec: the split command, or
    ``("/bin/sh", "-c", command_text)`` when it needs a shell.  ``environ``
    holds the ``NAME=value`` lines in force, in the order first set.
    ``timezone_name`` is the ``CRON_TZ`` in force, or None for the default.
    """

    line: int
    expression: str
    schedule: Schedule
    command: tuple[str, ...]
    command_text: str
    environ: tuple[tuple[str, str], ...]
    timezone_name: str | None


class LineError(ValueError):
    """What is wrong with one crontab line and what to do; the caller adds where."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(slots=True)
class _Settings:
    """The assignments in force while reading down the file."""

    default_zone: tzinfo
    environ: dict[str, str]
    zone: tzinfo
    zone_name: str | None = None


def parse_crontab(
    text: str, path: str, has_shell: bool, *, default_timezone: tzinfo = UTC
) -> tuple[list[CrontabEntry], list[ConfigError]]:
    """Parse crontab ``text`` read from ``path`` into its job lines.

    Schedules are read in ``CRON_TZ`` when set, else in ``default_timezone``
    (pass ``local_timezone(os.environ)`` for the container's zone).  When
    ``has_shell`` is False, a command that needs ``/bin/sh`` is an error.
    Never raises for bad content: every bad line becomes one ConfigError with
    ``path``, its 1-based line number and a hint, in file order.
    """
    settings = _Settings(default_timezone, {}, default_timezone)
    entries: list[CrontabEntry] = []
    errors: list[ConfigError] = []

    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = _parse_line(line, number, settings, has_shell)
        except (LineError, ScheduleError) as error:
            errors.append(
                ConfigError(error.message, path=path, line=number, hint=error.hint)
            )
            continue
        if entry is not None:
            entries.append(entry)

    return entries, errors


def _parse_line(
    line: str, number: int, settings: _Settings, has_shell: bool
) -> CrontabEntry | None:
    first = line[0]
    if first.isalpha() or first == "_":
        _apply_assignment(line, settings)
        return None
    if first.isdigit() or first in "*@":
        return _parse_job(line, number, settings, has_shell)
    raise LineError(f"a line cannot start with '{first}'", _LINE_FORMAT)


def _apply_assignment(line: str, settings: _Settings) -> None:
    match = _ASSIGNMENT.fullmatch(line)
    if match is None:
        word = line.split()[0]
        raise LineError(
            f"'{word}' starts neither a job nor an environment assignment",
            _LINE_FORMAT,
        )
    name = match.group(1)
    value = _unquote(name, match.group(2))
    if name == "CRON_TZ":
        _apply_cron_tz(value, settings)
    settings.environ[name] = value


def _unquote(name: str, value: str) -> str:
    if not value or value[0] not in _QUOTE_NAMES:
        return value
    if len(value) < 2 or value[-1] != value[0]:
        raise LineError(
            f"the value of {name} opens a {_QUOTE_NAMES[value[0]]} that is not "
            "closed at the end of the line",
            f"end the value with {value[0]}, or leave out the quotes",
        )
    return value[1:-1]


def _apply_cron_tz(value: str, settings: _Settings) -> None:
    if not value:
        settings.zone, settings.zone_name = settings.default_zone, None
        return
    try:
        settings.zone = parse_timezone(value)
    except ScheduleError as error:
        raise LineError(f"CRON_TZ: {error.message}", error.hint) from None
    settings.zone_name = value


def _parse_job(
    line: str, number: int, settings: _Settings, has_shell: bool
) -> CrontabEntry:
    expression, command_text = _split_job(line)
    schedule = parse_schedule(expression, settings.zone)
    return CrontabEntry(
        line=number,
        expression=expression,
        schedule=schedule,
        command=command_argv(command_text, has_shell),
        command_text=command_text,
        environ=tuple(settings.environ.items()),
        timezone_name=settings.zone_name,
    )


def _split_job(line: str) -> tuple[str, str]:
    """Split a job line into its schedule expression and its command text."""
    words = list(re.finditer(r"\S+", line))
    if line.startswith("@"):
        field_count = 1
    else:
        field_count = _count_schedule_fields([word.group() for word in words])

    if len(words) <= field_count:
        raise LineError(
            f"the schedule '{line}' has no command after it",
            "write the command on the same line, after the schedule",
        )
    end = words[field_count - 1].end()
    return line[:end], line[end:].strip()


def _count_schedule_fields(words: list[str]) -> int:
    """5 or 6, by the rule in the module docstring; raises if fewer than 5."""
    found = 0
    while found < min(5, len(words)) and _FIELD_WORD.fullmatch(words[found]):
        found += 1
    if found < 5:
        stop = f" ('{words[found]}' is not a schedule field)" if words[found:] else ""
        raise LineError(
            f"expected 5 schedule fields, found {found}{stop}",
            "write minute hour day-of-month month day-of-week; the command "
            "starts after the fifth field",
        )
    if len(words) > 5 and _DAY_OF_WEEK_WORD.fullmatch(words[5]):
        return 6
    return 5


def command_argv(command_text: str, has_shell: bool) -> tuple[str, ...]:
    """The argv that runs ``command_text``: its words, or ``/bin/sh -c`` it.

    Raises LineError (a ValueError) for unbalanced quotes, a missing program
    name, or shell syntax when ``has_shell`` is False.
    """
    syntax = shell_syntax_in(command_text)
    if syntax is None:
        argv = tuple(shlex.split(command_text))
        syntax = _shell_only_start(argv)
        if syntax is None:
            return argv

    if not has_shell:
        raise LineError(
            f"the command uses {syntax}, so it needs {SHELL}, which this image "
            "does not have",
            "install a shell in the image, or write the command as a program "
            "and its arguments without shell syntax",
        )
    return (SHELL, "-c", command_text)


def _shell_only_start(argv: tuple[str, ...]) -> str | None:
    """Describe a first word that only a shell can run, or None."""
    if not argv or not argv[0]:
        raise LineError(
            "the command has no program name",
            "write the program to run right after the schedule",
        )
    if argv[0] in _SHELL_ONLY_WORDS:
        return f"the shell word '{argv[0]}'"
    if _ASSIGNMENT.fullmatch(argv[0]):
        return f"the variable assignment '{argv[0]}'"
    return None


def shell_syntax_in(command_text: str) -> str | None:
    """Describe the first piece of shell syntax in ``command_text``, or None.

    Shell syntax is, outside quotes: ``| & ; < > ( ) $`` and backquotes, the
    globs ``* ? [``, and ``~`` or ``#`` at the start of a word; inside double
    quotes: ``$`` and backquotes.  Quotes and backslashes alone are not shell
    syntax, since shlex splits them the way sh does; nor are braces, since
    brace expansion is a bash extension that POSIX sh lacks.  A first word
    that is a reserved word, a shell builtin or ``NAME=value`` also needs the
    shell (``command_argv`` checks that).  Raises LineError (a
    ValueError) for a quote left open or a trailing backslash.
    """
    found: str | None = None
    quote: str | None = None
    at_word_start = True
    index = 0
    while index < len(command_text):
        char = command_text[index]
        if quote == "'":
            quote = None if char == "'" else quote
        elif quote == '"':
            escaped = command_text[index + 1 : index + 2]
            if char == "\\" and escaped in ('"', "\\"):
                index += 1
            elif char == "\\" and escaped in _SPECIAL_IN_DOUBLE_QUOTES:
                # sh drops this backslash and shlex keeps it; let sh decide.
                found = found or _describe(escaped)
                index += 1
            elif char == '"':
                quote = None
            elif char in _SPECIAL_IN_DOUBLE_QUOTES:
                found = found or _describe(char)
        elif char == "\\":
            if index + 1 == len(command_text):
                raise LineError(
                    "the command ends with a backslash",
                    "crontab lines cannot be continued, so put the whole "
                    "command on one line",
                )
            index += 1
        elif char in "'\"":
            quote = char
        elif char in _SPECIAL or (at_word_start and char in _SPECIAL_AT_WORD_START):
            found = found or _describe(char)
        at_word_start = quote is None and char in _BLANKS
        index += 1

    if quote is not None:
        raise LineError(
            f"the command opens a {_QUOTE_NAMES[quote]} that is never closed",
            f"close the quote, or escape the {quote} with a backslash",
        )
    return found


def _describe(char: str) -> str:
    return f"the shell syntax '{char}'"
