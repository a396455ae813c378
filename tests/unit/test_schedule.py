"""When cron schedules are due: fields, macros, time zones and DST."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tzdata  # type: ignore[import-untyped]
from croniter import croniter

from _common.schedule import (
    Schedule,
    ScheduleError,
    local_timezone,
    next_runs,
    parse_schedule,
    parse_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(zone: tzinfo, text: str) -> datetime:
    """An aware datetime from 'YYYY-MM-DD HH:MM[:SS]' read in ``zone``."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def walls(runs: list[datetime], zone: tzinfo) -> list[str]:
    """Runs as wall-clock text with the offset, which shows DST passes."""
    return [run.astimezone(zone).strftime("%m-%d %H:%M:%S%z") for run in runs]


def runs_of(expression: str, after: str, count: int, zone: tzinfo = UTC) -> list[str]:
    schedule = parse_schedule(expression, zone)
    return walls(next_runs(schedule, at(zone, after), count), zone)


# --- fields ---------------------------------------------------------------


def test_five_fields_run_at_second_zero() -> None:
    """A five-field line is due at second 0 of each matching minute."""
    assert runs_of("*/15 * * * *", "2024-01-01 10:07:30", 3) == [
        "01-01 10:15:00+0000",
        "01-01 10:30:00+0000",
        "01-01 10:45:00+0000",
    ]


def test_six_fields_lead_with_a_seconds_field() -> None:
    """With six fields the first one is seconds: */2 runs every two seconds."""
    assert runs_of("*/2 * * * * *", "2024-01-01 10:00:00", 3) == [
        "01-01 10:00:02+0000",
        "01-01 10:00:04+0000",
        "01-01 10:00:06+0000",
    ]


def test_seconds_field_combines_with_minutes() -> None:
    """A seconds list applies inside each matching minute."""
    assert runs_of("0,30 5 * * * *", "2024-01-01 10:05:10", 3) == [
        "01-01 10:05:30+0000",
        "01-01 11:05:00+0000",
        "01-01 11:05:30+0000",
    ]


def test_step_in_range_counts_from_range_start() -> None:
    """1-30/5 is 1, 6, 11, 16, 21 and 26, as in Vixie cron."""
    schedule = parse_schedule("1-30/5 * * * *", UTC)
    assert schedule.minutes == (1, 6, 11, 16, 21, 26)


def test_value_with_step_runs_to_end_of_field() -> None:
    """5/20 in the minute field means 5-59/20."""
    assert parse_schedule("5/20 * * * *", UTC).minutes == (5, 25, 45)


def test_lists_mix_values_ranges_and_steps() -> None:
    """A list joins its items, whatever their order."""
    schedule = parse_schedule("50,1-3,*/20 * * * *", UTC)
    assert schedule.minutes == (0, 1, 2, 3, 20, 40, 50)


def test_month_and_weekday_names_ignore_case() -> None:
    """Names work in any case, alone, in lists and as range ends."""
    schedule = parse_schedule("0 0 * JAN,Mar-may Mon-WED,fri", UTC)
    assert schedule.months == frozenset({1, 3, 4, 5})
    assert schedule.days_of_week == frozenset({1, 2, 3, 5})


def test_seven_means_sunday() -> None:
    """7 in the day-of-week field is Sunday, like 0."""
    assert parse_schedule("0 0 * * 7", UTC).days_of_week == frozenset({0})
    assert runs_of("0 0 * * 7", "2024-01-01 00:00", 1) == ["01-07 00:00:00+0000"]


def test_weekday_range_may_end_at_sunday() -> None:
    """fri-sun and 5-7 both mean Friday, Saturday and Sunday."""
    assert parse_schedule("0 0 * * fri-sun", UTC).days_of_week == {5, 6, 0}
    assert parse_schedule("0 0 * * 5-7", UTC).days_of_week == {5, 6, 0}


def test_both_day_fields_restricted_match_either_day() -> None:
    """With both day fields set, the 13th and every Friday are due (Vixie)."""
    assert runs_of("0 0 13 * fri", "2024-09-01 00:00", 4) == [
        "09-06 00:00:00+0000",
        "09-13 00:00:00+0000",
        "09-20 00:00:00+0000",
        "09-27 00:00:00+0000",
    ]
    assert runs_of("0 0 13 * fri", "2024-10-01 00:00", 2) == [
        "10-04 00:00:00+0000",
        "10-11 00:00:00+0000",
    ]


def test_star_day_of_week_leaves_only_day_of_month() -> None:
    """When day-of-week is *, only day-of-month decides."""
    assert runs_of("0 0 13 * *", "2024-09-01 00:00", 2) == [
        "09-13 00:00:00+0000",
        "10-13 00:00:00+0000",
    ]


def test_star_day_of_month_leaves_only_day_of_week() -> None:
    """When day-of-month is *, only day-of-week decides."""
    assert runs_of("0 0 * * fri", "2024-09-01 00:00", 2) == [
        "09-06 00:00:00+0000",
        "09-13 00:00:00+0000",
    ]


def test_starred_step_counts_as_star_for_the_day_rule() -> None:
    """*/2 starts with *, so both day fields must match (odd days that are Mondays)."""
    assert runs_of("0 0 */2 * mon", "2024-01-01 00:00", 3) == [
        "01-15 00:00:00+0000",
        "01-29 00:00:00+0000",
        "02-05 00:00:00+0000",
    ]


def test_leap_day_runs_only_in_leap_years() -> None:
    """0 0 29 2 * waits for the next 29 February."""
    assert runs_of("0 0 29 2 *", "2024-03-01 00:00", 1) == ["02-29 00:00:00+0000"]
    schedule = parse_schedule("0 0 29 2 *", UTC)
    assert schedule.next_after(at(UTC, "2024-03-01 00:00")) == at(UTC, "2028-02-29")


@pytest.mark.parametrize(
    "expression",
    ["*/7 3-20/4 * * *", "0 0 1,15 * mon-fri", "5 4 * feb sun", "15 */6 1-7 * 1"],
)
def test_matches_croniter_in_utc(expression: str) -> None:
    """Without DST, next_after agrees with croniter on random moments."""
    schedule = parse_schedule(expression, UTC)
    pick = random.Random(expression)
    for _ in range(100):
        moment = at(UTC, "2020-01-01") + timedelta(seconds=pick.randrange(10**8))
        expected = croniter(expression, moment).get_next(datetime)
        assert schedule.next_after(moment) == expected, moment


# --- macros and @reboot --------------------------------------------------------


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@yearly", "01-01 00:00:00+0000"),
        ("@annually", "01-01 00:00:00+0000"),
        ("@monthly", "07-01 00:00:00+0000"),
        ("@weekly", "06-16 00:00:00+0000"),
        ("@daily", "06-13 00:00:00+0000"),
        ("@midnight", "06-13 00:00:00+0000"),
        ("@hourly", "06-12 11:00:00+0000"),
        ("@DAILY", "06-13 00:00:00+0000"),
    ],
)
def test_macros_expand_to_their_schedules(macro: str, expected: str) -> None:
    """Each macro is due when its five-field equivalent is."""
    assert runs_of(macro, "2024-06-12 10:30", 1) == [expected]


def test_reboot_is_never_due_on_the_clock() -> None:
    """@reboot is flagged for start-up and next_after returns None."""
    schedule = parse_schedule("@reboot", BERLIN)
    assert schedule.is_reboot
    assert schedule.next_after(at(UTC, "2024-01-01")) is None
    assert next_runs(schedule, at(UTC, "2024-01-01"), 3) == []


# --- results ---------------------------------------------------------------


def test_next_after_is_strictly_later_and_in_utc() -> None:
    """A moment that is itself due gives the following run, as a UTC datetime."""
    schedule = parse_schedule("0 * * * *", BERLIN)
    due = schedule.next_after(at(BERLIN, "2024-01-01 10:00"))
    assert due == at(UTC, "2024-01-01 10:00")
    assert due is not None and due.tzinfo is UTC


def test_next_after_ignores_fractions_of_a_second() -> None:
    """A moment just past a due second moves on to the next due second."""
    schedule = parse_schedule("* * * * * *", UTC)
    moment = at(UTC, "2024-01-01 10:00:00.250000")
    assert schedule.next_after(moment) == at(UTC, "2024-01-01 10:00:01")


def test_next_after_accepts_moments_in_any_zone() -> None:
    """The moment's own zone does not matter, only the instant."""
    schedule = parse_schedule("0 12 * * *", BERLIN)
    expected = at(BERLIN, "2024-01-02 12:00")
    assert schedule.next_after(at(NEW_YORK, "2024-01-01 12:00")) == expected


def test_next_after_refuses_a_naive_moment() -> None:
    """A datetime without a zone is a programming error, reported clearly."""
    schedule = parse_schedule("* * * * *", UTC)
    with pytest.raises(ValueError, match="has no time zone"):
        schedule.next_after(datetime(2024, 1, 1))


def test_str_is_the_expression_and_describe_adds_the_zone() -> None:
    """str() gives the expression as written; describe() names the zone too."""
    schedule = parse_schedule("*/5  *  * * *", BERLIN)
    assert str(schedule) == "*/5  *  * * *"
    assert schedule.describe() == "*/5  *  * * * (Europe/Berlin)"
    assert parse_schedule("@hourly", UTC).describe() == "@hourly (UTC)"
    assert "starts" in parse_schedule("@reboot", UTC).describe()


def test_next_runs_lists_the_requested_count() -> None:
    """next_runs chains next_after."""
    schedule = parse_schedule("0 9 * * mon-fri", UTC)
    runs = next_runs(schedule, at(UTC, "2024-06-14 12:00"), 3)
    assert walls(runs, UTC) == [
        "06-17 09:00:00+0000",
        "06-18 09:00:00+0000",
        "06-19 09:00:00+0000",
    ]


def test_schedule_is_a_frozen_value() -> None:
    """Schedules cannot be changed after parsing and compare by value."""
    schedule = parse_schedule("0 0 * * *", UTC)
    assert schedule == parse_schedule("0 0 * * *", UTC)
    with pytest.raises(AttributeError):
        schedule.expression = "x"  # type: ignore[misc]
    assert isinstance(schedule, Schedule)


# --- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "fragments"),
    [
        ("* * * *", ["expected 5 or 6 schedule fields, found 4", "@daily"]),
        ("* * * * * * *", ["found 7"]),
        ("61 * * * *", ["minute field '61'", "out of range", "0 to 59"]),
        ("60 * * * * *", ["second field '60'", "0 to 59"]),
        ("0 24 * * *", ["hour field '24'", "0 to 23"]),
        ("0 0 0 * *", ["day-of-month field '0'", "1 to 31"]),
        ("0 0 * 13 *", ["month field '13'", "jan to dec"]),
        ("0 0 * * 8", ["day-of-week field '8'", "0 and 7 are Sunday"]),
        ("0 0 * foo *", ["'foo' is not a number or a name", "jan to dec"]),
        ("0 0 * * jan", ["day-of-week field 'jan'", "sun to sat"]),
        ("0 0 * mon *", ["month field 'mon'"]),
        ("x * * * *", ["'x' is not a number;", "minutes run"]),
        ("*/0 * * * *", ["step '0'", "at least 1", "*/15"]),
        ("*/x * * * *", ["step 'x'"]),
        ("1-30/ * * * *", ["step ''"]),
        ("30-1 * * * *", ["range 30-1 runs backwards", "22-23,0-2"]),
        ("0 0 * * sat-mon", ["range sat-mon runs backwards"]),
        ("1,,2 * * * *", ["empty list item"]),
        ("-5 * * * *", ["an empty value"]),
        ("*-5 * * * *", ["'*' is not a number"]),
        ("0 0 31 2 *", ["'31' never happens in month '2'", "at most 29 days"]),
        ("0 0 31 apr,jun *", ["never happens", "at most 30 days"]),
        ("@every", ["unknown macro '@every'", "@reboot"]),
        ("@daily 5", ["macro @daily takes no fields"]),
    ],
)
def test_bad_expressions_say_what_and_what_is_accepted(
    expression: str, fragments: list[str]
) -> None:
    """Each error names the field and value, then what would be accepted."""
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(expression, UTC)
    assert caught.value.hint
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_schedule_errors_are_value_errors() -> None:
    """Callers may catch ValueError, as the parser's contract says."""
    with pytest.raises(ValueError):
        parse_schedule("bad", UTC)


def test_day_fields_either_rule_allows_a_day_missing_from_the_month() -> None:
    """31 February is fine when the day-of-week field can still match."""
    assert runs_of("0 0 31 2 mon", "2024-01-31 12:00", 1) == ["02-05 00:00:00+0000"]


# --- daylight saving time: Europe/Berlin ---------------------------------------
# 2024-03-31: 02:00 CET becomes 03:00 CEST.  2024-10-27: 03:00 CEST becomes 02:00
# CET, so 02:00-02:59 happens twice.


def test_fixed_time_in_skipped_hour_runs_once_right_after_the_gap() -> None:
    """02:30 does not exist on the spring-forward day; the job runs at 03:00 CEST."""
    assert runs_of("30 2 * * *", "2024-03-30 12:00", 3, BERLIN) == [
        "03-31 03:00:00+0200",
        "04-01 02:30:00+0200",
        "04-02 02:30:00+0200",
    ]


def test_several_skipped_times_fold_into_one_run() -> None:
    """02:00 and 02:30 are both skipped; the job runs once, at 03:00 CEST."""
    assert runs_of("0,30 2 * * *", "2024-03-30 12:00", 2, BERLIN) == [
        "03-31 03:00:00+0200",
        "04-01 02:00:00+0200",
    ]


def test_interval_schedule_skips_readings_that_never_happen() -> None:
    """*/10 runs at 01:50 CET and then 03:00 CEST, ten minutes later."""
    runs = runs_of("*/10 * * * *", "2024-03-31 01:40", 3, BERLIN)
    assert runs == ["03-31 01:50:00+0100", "03-31 03:00:00+0200", "03-31 03:10:00+0200"]


def test_hourly_at_half_past_keeps_one_hour_apart_over_the_gap() -> None:
    """30 * * * * goes from 01:30 CET to 03:30 CEST, one real hour."""
    runs = runs_of("30 * * * *", "2024-03-31 01:00", 2, BERLIN)
    assert runs == ["03-31 01:30:00+0100", "03-31 03:30:00+0200"]


def test_every_second_continues_across_the_gap() -> None:
    """A seconds schedule jumps from 01:59:59 CET to 03:00:00 CEST."""
    runs = runs_of("* * * * * *", "2024-03-31 01:59:58", 2, BERLIN)
    assert runs == ["03-31 01:59:59+0100", "03-31 03:00:00+0200"]


def test_fixed_time_in_repeated_hour_runs_only_at_first_occurrence() -> None:
    """02:30 happens twice on the fall-back day; the job runs in CEST only."""
    assert runs_of("30 2 * * *", "2024-10-26 12:00", 2, BERLIN) == [
        "10-27 02:30:00+0200",
        "10-28 02:30:00+0100",
    ]


def test_fixed_time_is_not_repeated_when_asked_during_second_pass() -> None:
    """At 02:15 CET (second pass), 02:30 is not due again until the next day."""
    schedule = parse_schedule("30 2 * * *", BERLIN)
    second_pass = at(UTC, "2024-10-27 01:15")
    assert schedule.next_after(second_pass) == at(BERLIN, "2024-10-28 02:30")


def test_fixed_seconds_in_repeated_hour_run_once() -> None:
    """A six-field fixed time behaves like a five-field one in the fold."""
    assert runs_of("15 30 2 * * *", "2024-10-27 00:00", 2, BERLIN) == [
        "10-27 02:30:15+0200",
        "10-28 02:30:15+0100",
    ]


def test_interval_schedule_runs_through_both_passes_of_repeated_hour() -> None:
    """*/10 keeps running every ten real minutes: CEST pass, then CET pass."""
    runs = runs_of("*/10 * * * *", "2024-10-27 02:45", 5, BERLIN)
    assert runs == [
        "10-27 02:50:00+0200",
        "10-27 02:00:00+0100",
        "10-27 02:10:00+0100",
        "10-27 02:20:00+0100",
        "10-27 02:30:00+0100",
    ]
    instants = next_runs(
        parse_schedule("*/10 * * * *", BERLIN), at(UTC, "2024-10-26 23:55"), 14
    )
    gaps = {later - earlier for earlier, later in pairwise(instants)}
    assert gaps == {timedelta(minutes=10)}


def test_interval_schedule_in_first_pass_finds_the_second_pass_run() -> None:
    """At 02:50 CEST, 5 * * * * is next due at 02:05 CET, fifteen minutes later."""
    assert runs_of("5 * * * *", "2024-10-27 02:50", 2, BERLIN) == [
        "10-27 02:05:00+0100",
        "10-27 03:05:00+0100",
    ]


def test_hourly_runs_every_real_hour_on_fall_back_day() -> None:
    """@hourly runs at 02:00 CEST, 02:00 CET and 03:00 CET."""
    assert runs_of("@hourly", "2024-10-27 01:30", 4, BERLIN) == [
        "10-27 02:00:00+0200",
        "10-27 02:00:00+0100",
        "10-27 03:00:00+0100",
        "10-27 04:00:00+0100",
    ]


# --- daylight saving time: America/New_York ------------------------------------
# 2024-03-10: 02:00 EST becomes 03:00 EDT.  2024-11-03: 02:00 EDT becomes 01:00
# EST, so 01:00-01:59 happens twice.


def test_new_york_skipped_time_runs_at_three() -> None:
    """02:30 on the spring-forward day runs at 03:00 EDT."""
    assert runs_of("30 2 * * *", "2024-03-09 12:00", 2, NEW_YORK) == [
        "03-10 03:00:00-0400",
        "03-11 02:30:00-0400",
    ]


def test_new_york_repeated_time_runs_once() -> None:
    """01:30 on the fall-back day runs in EDT only."""
    assert runs_of("30 1 * * *", "2024-11-02 12:00", 2, NEW_YORK) == [
        "11-03 01:30:00-0400",
        "11-04 01:30:00-0500",
    ]


def test_new_york_interval_schedule_runs_in_both_passes() -> None:
    """*/30 runs at 01:00 and 01:30 in EDT, then again in EST."""
    assert runs_of("*/30 * * * *", "2024-11-03 00:45", 5, NEW_YORK) == [
        "11-03 01:00:00-0400",
        "11-03 01:30:00-0400",
        "11-03 01:00:00-0500",
        "11-03 01:30:00-0500",
        "11-03 02:00:00-0500",
    ]


def test_half_hour_dst_shift_is_handled() -> None:
    """Lord Howe Island moves its clock by 30 minutes; 02:15 runs at 02:30."""
    zone = ZoneInfo("Australia/Lord_Howe")
    assert runs_of("15 2 * * *", "2024-10-05 12:00", 2, zone) == [
        "10-06 02:30:00+1100",
        "10-07 02:15:00+1100",
    ]


# --- time zones ---------------------------------------------------------------


def test_local_timezone_reads_tz() -> None:
    """TZ names the zone, with or without a leading colon."""
    assert local_timezone({"TZ": "Europe/Berlin"}) == BERLIN
    assert local_timezone({"TZ": ":America/New_York"}) == NEW_YORK


def test_empty_tz_means_utc() -> None:
    """An empty TZ is UTC, as in the C library."""
    assert local_timezone({"TZ": ""}) is UTC


def test_bad_tz_is_an_error_with_a_hint() -> None:
    """An unknown TZ says which value is wrong and what to use instead."""
    with pytest.raises(ValueError) as caught:
        local_timezone({"TZ": "Mars/Olympus"})
    message = str(caught.value)
    assert "TZ='Mars/Olympus'" in message
    assert "Europe/Berlin" in message
    assert "unset TZ" in message


def test_posix_rule_strings_are_refused() -> None:
    """CET-1CEST rule strings are not zone names; the hint says so."""
    with pytest.raises(ValueError, match="POSIX rule strings"):
        local_timezone({"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"})


def tzdata_file(name: str) -> Path:
    path = Path(tzdata.__file__).parent / "zoneinfo" / name
    assert path.is_file()
    return path


def test_local_timezone_reads_a_zone_file_named_by_tz(tmp_path: Path) -> None:
    """TZ may give an absolute path to a zone file."""
    copy = tmp_path / "berlin"
    shutil.copy(tzdata_file("Europe/Berlin"), copy)
    zone = local_timezone({"TZ": str(copy)})
    assert at(zone, "2024-07-01 12:00").utcoffset() == timedelta(hours=2)


def test_local_timezone_names_the_zone_of_a_localtime_symlink(tmp_path: Path) -> None:
    """/etc/localtime pointing into a zoneinfo directory gives the named zone."""
    link = tmp_path / "localtime"
    link.symlink_to(tzdata_file("America/New_York"))
    assert local_timezone({}, str(link)) == NEW_YORK


def test_local_timezone_reads_a_copied_localtime_file(tmp_path: Path) -> None:
    """A plain copy of a zone file in /etc/localtime works too."""
    copy = tmp_path / "localtime"
    shutil.copy(tzdata_file("Europe/Berlin"), copy)
    zone = local_timezone({}, str(copy))
    assert at(zone, "2024-01-01 12:00").utcoffset() == timedelta(hours=1)


def test_local_timezone_without_tz_or_localtime_is_utc(tmp_path: Path) -> None:
    """No TZ and no /etc/localtime means UTC."""
    assert local_timezone({}, str(tmp_path / "missing")) is UTC


def test_unreadable_localtime_is_an_error_with_a_hint(tmp_path: Path) -> None:
    """A corrupt /etc/localtime names the file and what to do."""
    broken = tmp_path / "localtime"
    broken.write_text("not a zone file")
    with pytest.raises(ValueError) as caught:
        local_timezone({}, str(broken))
    assert str(broken) in str(caught.value)
    assert "remove it" in str(caught.value)


def test_parse_timezone_refuses_unknown_names() -> None:
    """parse_timezone gives a ScheduleError with a hint listing examples."""
    with pytest.raises(ScheduleError) as caught:
        parse_timezone("Europe/Atlantis")
    assert "'Europe/Atlantis'" in caught.value.message
    assert "America/New_York" in caught.value.hint


def wall_matches(schedule: Schedule, wall: datetime) -> bool:
    """The fields, read straight from their definition (Vixie day rule)."""
    in_month = wall.day in schedule.days_of_month
    in_week = wall.isoweekday() % 7 in schedule.days_of_week
    day_ok = (
        in_month or in_week if schedule.has_both_day_fields else in_month and in_week
    )
    return (
        day_ok
        and wall.month in schedule.months
        and wall.hour in schedule.hours
        and wall.minute in schedule.minutes
        and wall.second in schedule.seconds
    )


ONE_MINUTE = timedelta(minutes=1)


def offset_at(instant: datetime, zone: tzinfo) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def due_by_definition(
    schedule: Schedule, start: datetime, hours: int
) -> list[datetime]:
    """Due instants, minute by minute, following the module's DST rules literally."""
    zone, due = schedule.timezone, []
    for minute in range(hours * 60):
        instant = start + minute * ONE_MINUTE
        local = instant.astimezone(zone)
        skipped = offset_at(instant, zone) - offset_at(instant - ONE_MINUTE, zone)
        if skipped > timedelta(0) and not schedule.is_interval:
            # The clock just jumped: the skipped readings end right before ours.
            gap_start = local.replace(tzinfo=None) - skipped
            gap = [gap_start + n * ONE_MINUTE for n in range(skipped // ONE_MINUTE)]
            if any(wall_matches(schedule, wall) for wall in gap):
                due.append(instant)
                continue
        if wall_matches(schedule, local.replace(tzinfo=None)) and (
            schedule.is_interval or local.fold == 0
        ):
            due.append(instant)
    return due


@pytest.mark.parametrize(
    ("zone_name", "change_day"),
    [
        ("Europe/Berlin", "2024-03-31"),
        ("Europe/Berlin", "2024-10-27"),
        ("America/New_York", "2024-03-10"),
        ("America/New_York", "2024-11-03"),
    ],
)
@pytest.mark.parametrize(
    "expression",
    [
        "30 2 * * *",
        "0,30 1-3 * * *",
        "59 1 * * *",
        "* 2 * * *",
        "*/10 * * * *",
        "5 * * * *",
        "*/7 1-3 * * *",
    ],
)
def test_agrees_with_a_minute_by_minute_reading_of_the_dst_rules(
    zone_name: str, change_day: str, expression: str
) -> None:
    """Around each clock change, next_after finds what a literal model finds."""
    schedule = parse_schedule(expression, ZoneInfo(zone_name))
    start = at(UTC, change_day) - timedelta(hours=24)
    expected = due_by_definition(schedule, start, hours=72)
    moments = [*expected[:-1]]
    moment = start
    while moment < expected[-1]:
        moments.append(moment)
        moment += timedelta(minutes=7, seconds=13)

    for moment in moments:
        following = next(due for due in expected if due > moment)
        assert schedule.next_after(moment) == following, moment
