"""Cron schedules: parse an expression and compute when it is next due.

An expression has five fields (minute hour day-of-month month day-of-week),
six fields (a leading seconds field, then the five), or is one macro:
``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
(``@midnight``), ``@hourly`` or ``@reboot``.  Each field is a list of items;
an item is ``*``, a value, or a range ``a-b``, optionally followed by a step
``/n``.  A step counts from the start of its range (``1-30/5`` is 1, 6, 11 ...
26), and ``a/n`` means ``a`` to the end of the field.  Months take the names
jan-dec, days of the week sun-sat (``7`` is Sunday too, and a range may end at
``sun``, as in ``fri-sun``); names are not case sensitive.

When both day fields are restricted (neither starts with ``*``) a day is due
when *either* matches, so ``0 0 1 * mon`` runs on the first of the month and on
every Monday.  When one of them starts with ``*``, only the other one counts.

Design note: daylight saving time
---------------------------------
Fields are matched against the wall clock of the schedule's zone.  When that
clock jumps, wingmate follows the rule documented for cronie and Vixie cron,
which sorts schedules into two kinds:

* A *fixed-time* schedule (neither the minute nor the hour field starts with
  ``*``; for example ``30 2 * * *`` or ``@daily``) runs once for each wall time
  it names.  If that wall time is skipped (spring forward), it runs at the
  first instant after the gap: ``30 2 * * *`` runs at 03:00 CEST on the
  spring-forward day in Europe/Berlin, and several skipped times fold into
  that one run.  If that wall time happens twice (fall back), it runs at the
  first occurrence only.
* An *interval* schedule (the minute or the hour field starts with ``*``; for
  example ``*/10 * * * *`` or ``@hourly``) follows elapsed time: it is due at
  every instant whose wall-clock reading matches.  Readings that a gap skips
  never happen, so ``*/10 * * * *`` runs at 01:50 CET and then at 03:00 CEST,
  ten minutes later.  Readings in a repeated hour happen twice, so it runs at
  02:00 ... 02:50 CEST and again at 02:00 ... 02:50 CET: still every ten
  minutes of real time, never a silent hour.

``Schedule.next_after`` returns aware datetimes in UTC, because comparing two
datetimes that share one ``ZoneInfo`` ignores ``fold`` and gets the repeated
hour wrong; convert with ``astimezone(schedule.timezone)`` for display.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ONE_SECOND = timedelta(seconds=1)
ONE_DAY = timedelta(days=1)

# The longest each month can be; February counts its leap day.
_MONTH_LENGTHS = dict(
    zip(range(1, 13), (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), strict=True)
)
_MONTH_NAMES = tuple("jan feb mar apr may jun jul aug sep oct nov dec".split())
_DAY_NAMES = tuple("sun mon tue wed thu fri sat".split())

MACROS: Mapping[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
REBOOT = "@reboot"

_MACRO_HINT = (
    "use five fields (minute hour day-of-month month day-of-week), six with a "
    "leading seconds field, or one of @reboot, " + ", ".join(MACROS)
)


class ScheduleError(ValueError):
    """A cron expression or time zone name that cannot be used.

    ``message`` says what is wrong and ``hint`` what is accepted; the caller
    adds the file and line.
    """

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}; {hint}")
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    accepted: str
    names: tuple[str, ...] = ()
    first_name_value: int = 0

    def error(self, text: str, problem: str, hint: str | None = None) -> ScheduleError:
        return ScheduleError(
            f"{self.name} field '{text}': {problem}", hint or self.accepted
        )


_SECOND = _Field("second", 0, 59, "seconds run from 0 to 59")
_MINUTE = _Field("minute", 0, 59, "minutes run from 0 to 59")
_HOUR = _Field("hour", 0, 23, "hours run from 0 to 23")
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, "days of the month run from 1 to 31")
_MONTH = _Field(
    "month",
    1,
    12,
    "months run from 1 to 12, or jan to dec",
    names=_MONTH_NAMES,
    first_name_value=1,
)
_DAY_OF_WEEK = _Field(
    "day-of-week",
    0,
    7,
    "days of the week run from 0 to 7 (0 and 7 are Sunday), or sun to sat",
    names=_DAY_NAMES,
)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When one crontab line is due, in the wall clock of ``timezone``.

    Build it with ``parse_schedule``.  ``str(schedule)`` is the expression as
    written.  ``days_of_week`` counts Sunday as 0.
    """

    expression: str
    timezone: tzinfo
    is_reboot: bool = False
    # The minute or hour field starts with "*": see the module's DST note.
    is_interval: bool = False
    # Neither day field starts with "*": a day matching either one is due.
    has_both_day_fields: bool = False
    seconds: tuple[int, ...] = field(default=(), repr=False)
    minutes: tuple[int, ...] = field(default=(), repr=False)
    hours: tuple[int, ...] = field(default=(), repr=False)
    days_of_month: frozenset[int] = field(default=frozenset(), repr=False)
    months: frozenset[int] = field(default=frozenset(), repr=False)
    days_of_week: frozenset[int] = field(default=frozenset(), repr=False)
    # The fields as explicit lists, in croniter's six-field form (seconds first).
    wall_expression: str = field(default="", repr=False)

    def __str__(self) -> str:
        return self.expression

    def describe(self) -> str:
        """The expression and its zone, for ``wingmate check`` output."""
        if self.is_reboot:
            return f"{self.expression} (once, when wingmate starts)"
        return f"{self.expression} ({zone_name(self.timezone)})"

    def next_after(self, moment: datetime) -> datetime | None:
        """The first instant strictly after ``moment`` at which this is due.

        ``moment`` must be aware; the result is an aware datetime in UTC.
        Returns None for ``@reboot``, and when no due time is left before the
        year 10000.  Raises ValueError for a naive ``moment``.
        """
        if self.is_reboot:
            return None
        after = _as_utc(moment)
        local = after.astimezone(self.timezone)
        reading = local.replace(tzinfo=None, microsecond=0, fold=0)

        due = self._first_due_from(reading + ONE_SECOND, after)
        if (
            self.is_interval
            and local.fold == 0
            and _is_repeated(reading, self.timezone)
        ):
            # Still in the first pass of a repeated hour: the second pass
            # starts earlier on the wall clock than ``reading``.
            second_pass = self._first_in_second_pass(reading)
            if second_pass is not None and (due is None or second_pass < due):
                due = second_pass
        return due

    def _first_due_from(self, wall: datetime, after: datetime) -> datetime | None:
        """Walk matching wall times from ``wall`` until one is due after ``after``."""
        zone = self.timezone
        while True:
            found = self._next_wall(wall)
            if found is None:
                return None
            wall = found
            first, second = _offsets(wall, zone)

            if first == second:
                due = _to_utc(wall, first)
                if due > after:
                    return due
                wall += ONE_SECOND
            elif first < second:  # skipped by a spring-forward gap
                change = _transition(zone, _to_utc(wall, second), _to_utc(wall, first))
                if not self.is_interval and change > after:
                    return change
                wall = _to_wall(change, second)  # the first reading after the gap
            else:  # repeated by a fall-back
                due = _to_utc(wall, first)
                if due > after:
                    return due
                if self.is_interval:
                    return _to_utc(wall, second)
                change = _transition(zone, due, _to_utc(wall, second))
                wall = _to_wall(change, first)  # the first reading not repeated

    def _first_in_second_pass(self, reading: datetime) -> datetime | None:
        """The earliest due time in the second pass of the hour ``reading`` is in."""
        first, second = _offsets(reading, self.timezone)
        change = _transition(
            self.timezone, _to_utc(reading, first), _to_utc(reading, second)
        )
        wall = self._next_wall(_to_wall(change, second))
        if wall is None or wall >= _to_wall(change, first):
            return None
        return _to_utc(wall, second)

    def _next_wall(self, start: datetime) -> datetime | None:
        """The first naive wall time at or after ``start`` that the fields match.

        croniter walks the wall clock: on naive datetimes it knows no zone and
        no DST, which is what this half of the computation needs.  It gets the
        canonical field lists built by ``_build``, never the text as written,
        so the parsing rules above stay the only ones.
        """
        # Imported here: croniter and dateutil cost about 1.3 MB of memory,
        # which a configuration without jobs need not pay.
        from croniter import CroniterBadDateError, croniter

        if start.microsecond:
            start = start.replace(microsecond=0) + ONE_SECOND
        try:
            walker = croniter(
                self.wall_expression,
                start - ONE_SECOND,
                day_or=self.has_both_day_fields,
                second_at_beginning=True,
            )
            found: datetime = walker.get_next(datetime)
        except (CroniterBadDateError, OverflowError, ValueError):
            return None  # nothing left before the year 10000
        return found


def parse_schedule(expression: str, timezone: tzinfo) -> Schedule:
    """Parse a 5-field, 6-field (leading seconds) or ``@macro`` expression.

    The schedule is evaluated in the wall clock of ``timezone``.  Raises
    ScheduleError (a ValueError) naming the field and value that are wrong.
    """
    _check_timezone(timezone)
    words = expression.split()
    if words and words[0].startswith("@"):
        return _parse_macro(expression, words, timezone)

    if len(words) not in (5, 6):
        raise ScheduleError(
            f"expected 5 or 6 schedule fields, found {len(words)} in '{expression}'",
            _MACRO_HINT,
        )
    if len(words) == 5:
        words = ["0", *words]
    return _build(expression, words, timezone)


def _parse_macro(expression: str, words: list[str], zone: tzinfo) -> Schedule:
    macro = words[0].lower()
    if len(words) > 1:
        raise ScheduleError(
            f"macro {words[0]} takes no fields, found '{' '.join(words[1:])}'",
            "write the macro alone, or five fields instead of it",
        )
    if macro == REBOOT:
        return Schedule(expression=expression, timezone=zone, is_reboot=True)
    if macro not in MACROS:
        raise ScheduleError(f"unknown macro '{words[0]}'", _MACRO_HINT)
    return _build(expression, ["0", *MACROS[macro].split()], zone)


def _build(expression: str, words: list[str], zone: tzinfo) -> Schedule:
    second, minute, hour, day_of_month, month, day_of_week = words
    days_of_month = _parse_field(day_of_month, _DAY_OF_MONTH)
    months = _parse_field(month, _MONTH)
    days_of_week = frozenset(d % 7 for d in _parse_field(day_of_week, _DAY_OF_WEEK))
    has_both_day_fields = not day_of_month.startswith("*") and not (
        day_of_week.startswith("*")
    )
    if not has_both_day_fields:
        _check_days_exist(day_of_month, days_of_month, month, months)

    seconds = tuple(sorted(_parse_field(second, _SECOND)))
    minutes = tuple(sorted(_parse_field(minute, _MINUTE)))
    hours = tuple(sorted(_parse_field(hour, _HOUR)))
    return Schedule(
        expression=expression,
        timezone=zone,
        is_interval=minute.startswith("*") or hour.startswith("*"),
        has_both_day_fields=has_both_day_fields,
        seconds=seconds,
        minutes=minutes,
        hours=hours,
        days_of_month=days_of_month,
        months=months,
        days_of_week=days_of_week,
        wall_expression=_wall_expression(
            (seconds, minutes, hours, days_of_month, months, days_of_week),
            has_both_day_fields,
        ),
    )


def _wall_expression(
    fields: tuple[Collection[int], ...], has_both_day_fields: bool
) -> str:
    """Explicit value lists for croniter, keeping Vixie's day rule intact.

    croniter turns a list that covers its whole field into ``*``, and ``*``
    would switch its either-day-matches rule off; but with both day fields
    restricted and one of them covering every day, every day is due anyway.
    """
    lists = [",".join(map(str, sorted(values))) for values in fields]
    days_of_month, days_of_week = fields[3], fields[5]
    if has_both_day_fields and (len(days_of_month) == 31 or len(days_of_week) == 7):
        lists[3] = lists[5] = "*"
    return " ".join(lists)


def _check_days_exist(
    day_text: str, days: frozenset[int], month_text: str, months: frozenset[int]
) -> None:
    longest = max(_MONTH_LENGTHS[month] for month in months)
    if min(days) > longest:
        raise ScheduleError(
            f"day-of-month '{day_text}' never happens in month '{month_text}', "
            "so the line would never run",
            f"those months have at most {longest} days; "
            "check the day-of-month and month fields",
        )


def _parse_field(text: str, spec: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise spec.error(
                text, "has an empty list item", "separate values with single commas"
            )
        values.update(_parse_item(item, text, spec))
    return frozenset(values)


def _parse_item(item: str, text: str, spec: _Field) -> range:
    base, has_step, step_text = item.partition("/")
    step = _parse_step(step_text, text, spec) if has_step else 1
    if base == "*":
        return range(spec.low, spec.high + 1, step)

    start_text, is_range, end_text = base.partition("-")
    start = _parse_value(start_text, text, spec)
    if is_range:
        end = _parse_value(end_text, text, spec, is_range_end=True)
    else:
        end = spec.high if has_step else start
    if end < start:
        raise spec.error(
            text,
            f"range {base} runs backwards",
            "write the smaller value first; to wrap around, "
            "list two ranges such as 22-23,0-2",
        )
    return range(start, end + 1, step)


def _parse_step(step_text: str, text: str, spec: _Field) -> int:
    if not (step_text.isascii() and step_text.isdigit()) or int(step_text) < 1:
        raise spec.error(
            text,
            f"step '{step_text}' is not a whole number of at least 1",
            "write a step such as */15 or 1-30/5",
        )
    return int(step_text)


def _parse_value(
    token: str, text: str, spec: _Field, *, is_range_end: bool = False
) -> int:
    if token.isascii() and token.isdigit():
        value = int(token)
        if not spec.low <= value <= spec.high:
            raise spec.error(text, f"{value} is out of range")
        return value

    name = token.lower()
    if name in spec.names:
        value = spec.names.index(name) + spec.first_name_value
        # "fri-sun" means Friday to Sunday: a range ending at sun ends at 7.
        return 7 if is_range_end and spec is _DAY_OF_WEEK and value == 0 else value

    kind = "a number or a name" if spec.names else "a number"
    shown = f"'{token}'" if token else "an empty value"
    raise spec.error(text, f"{shown} is not {kind}")


def next_runs(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` due instants after ``after``, in UTC, oldest first.

    Shorter than ``count`` (empty for ``@reboot``) when the schedule runs out.
    """
    runs: list[datetime] = []
    moment: datetime | None = after
    while len(runs) < count and moment is not None:
        moment = schedule.next_after(moment)
        if moment is not None:
            runs.append(moment)
    return runs


def parse_timezone(name: str) -> tzinfo:
    """The zone called ``name`` in the tz database, such as ``Europe/Berlin``.

    Raises ScheduleError (a ValueError) when there is no such zone.
    """
    key = name.strip()
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"'{key}' is not a time zone name wingmate knows",
            "use a name from the tz database such as UTC, Europe/Berlin or "
            "America/New_York (POSIX rule strings such as CET-1CEST are "
            "not supported)",
        ) from None


def local_timezone(
    environ: Mapping[str, str], localtime_path: str = "/etc/localtime"
) -> tzinfo:
    """The container's local zone: ``TZ``, else ``/etc/localtime``, else UTC.

    ``TZ`` may name a zone (``Europe/Berlin``, with or without a leading
    ``:``) or a zone file by absolute path; an empty ``TZ`` means UTC, as in
    the C library.  Raises ScheduleError (a ValueError) when ``TZ`` names no
    known zone or the zone file cannot be read.
    """
    if "TZ" in environ:
        return _zone_from_tz_variable(environ["TZ"])
    if not os.path.lexists(localtime_path):
        return UTC
    return _zone_from_file(localtime_path, "remove it or point it at a zone file")


def _zone_from_tz_variable(value: str) -> tzinfo:
    name = value.strip().removeprefix(":")
    if not name:
        return UTC
    if name.startswith("/"):
        return _zone_from_file(name, "set TZ to a zone name such as Europe/Berlin")
    try:
        return parse_timezone(name)
    except ScheduleError as error:
        raise ScheduleError(
            f"TZ={value!r}: {error.message}",
            f"{error.hint}; or unset TZ to use /etc/localtime",
        ) from None


def _zone_from_file(path: str, what_to_do: str) -> tzinfo:
    # /etc/localtime is usually a symlink into a zoneinfo directory; its
    # target names the zone, which reads better in logs than a bare file.
    target = os.path.realpath(path)
    if "/zoneinfo/" in target:
        try:
            return ZoneInfo(target.rsplit("/zoneinfo/", 1)[1])
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with open(path, "rb") as zone_file:
            return ZoneInfo.from_file(zone_file, key=path)
    except (OSError, ValueError) as error:
        raise ScheduleError(
            f"cannot read the time zone file {path}: {error}", what_to_do
        ) from None


def zone_name(zone: tzinfo) -> str:
    """A readable name for ``zone``: its tz database key, or ``UTC``."""
    key = getattr(zone, "key", None)
    return key if isinstance(key, str) else str(zone)


def _check_timezone(zone: object) -> None:
    if not isinstance(zone, tzinfo) or zone.utcoffset(datetime(2000, 1, 1)) is None:
        raise TypeError(f"a schedule needs a tzinfo with a UTC offset, got {zone!r}")


def _as_utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(
            f"cannot find the next run after {moment.isoformat()}: the datetime "
            "has no time zone; pass an aware datetime such as "
            "datetime.now(UTC)"
        )
    return moment.astimezone(UTC)


def _offsets(wall: datetime, zone: tzinfo) -> tuple[timedelta, timedelta]:
    """UTC offsets of a naive wall time read with fold=0 and with fold=1.

    Equal for an ordinary time.  In a repeated hour the first is larger (it
    is the offset before the change); in a skipped hour it is smaller (PEP 495).
    """
    return (
        _offset_of(wall.replace(tzinfo=zone, fold=0)),
        _offset_of(wall.replace(tzinfo=zone, fold=1)),
    )


def _is_repeated(wall: datetime, zone: tzinfo) -> bool:
    first, second = _offsets(wall, zone)
    return first > second


def _offset_of(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    assert offset is not None, "zones are checked by parse_schedule"
    return offset


def _to_utc(wall: datetime, offset: timedelta) -> datetime:
    return (wall - offset).replace(tzinfo=UTC)


def _to_wall(instant: datetime, offset: timedelta) -> datetime:
    return (instant + offset).replace(tzinfo=None)


def _transition(zone: tzinfo, before: datetime, after: datetime) -> datetime:
    """The instant in ``(before, after]`` where the zone's offset changes.

    ``before`` and ``after`` are UTC instants with different offsets in
    ``zone``, at most a few hours apart, with one change between them.  zoneinfo
    does not expose its transitions, so this bisects on whole seconds (tz
    database changes always fall on a whole second).
    """
    target = _offset_of(after.astimezone(zone))
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_of(datetime.fromtimestamp(middle, zone)) == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
