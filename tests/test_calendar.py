"""Working-day arithmetic: the Python calendar, and on-time / late classification through the store.

Calendars used below (England & Wales):
    March 2025:  Mon 3, Tue 4, Wed 5, Thu 6, Fri 7, Sat 8, Sun 9, Mon 10, Tue 11, Wed 12, Thu 13
    Easter 2025: Thu 17 Apr, Good Friday 18 Apr, Sat 19, Sun 20, Easter Monday 21 Apr, Tue 22, Wed 23, Thu 24
    Christmas 2021: Fri 24 Dec, Christmas Day Sat 25, Boxing Day Sun 26, substitute bank holidays
                    Mon 27 and Tue 28 Dec, Wed 29, Thu 30
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from helpers import build_and_open, case, counts_of, ent, expect, period, run_counts, tables, victim
from metrics.calendar import working_day_calendar

REFERRAL = "r4_referral_to_support_service"  # 2 working days, standard and enhanced
HEARING = "r8_hearing_details"  # 1 working day, standard and enhanced
ARRESTED = "r6_suspect_arrested"  # 5 working days standard, 1 enhanced


# --- the Python calendar -----------------------------------------------------------------------

def calendar_by_day(first: date, last: date) -> dict:
    frame = working_day_calendar(first, last)
    return {row.day: row for row in frame.itertuples(index=False)}


def test_weekends_and_bank_holidays_are_not_working_days():
    cal = calendar_by_day(date(2021, 12, 20), date(2025, 4, 30))
    assert cal[date(2025, 3, 7)].is_working_day  # Friday
    assert not cal[date(2025, 3, 8)].is_working_day  # Saturday
    assert not cal[date(2025, 3, 9)].is_working_day  # Sunday
    assert not cal[date(2025, 4, 18)].is_working_day  # Good Friday
    assert not cal[date(2025, 4, 21)].is_working_day  # Easter Monday
    assert cal[date(2025, 4, 22)].is_working_day
    assert cal[date(2021, 12, 24)].is_working_day  # Christmas Eve is not a bank holiday
    assert not cal[date(2021, 12, 27)].is_working_day  # substitute for Christmas Day
    assert not cal[date(2021, 12, 28)].is_working_day  # substitute for Boxing Day
    assert cal[date(2021, 12, 29)].is_working_day


def test_substitute_bank_holidays_carry_their_names():
    cal = calendar_by_day(date(2021, 12, 24), date(2021, 12, 29))
    assert "Christmas" in cal[date(2021, 12, 25)].holiday_name
    assert "Boxing" in cal[date(2021, 12, 26)].holiday_name
    assert "Christmas" in cal[date(2021, 12, 27)].holiday_name  # the weekday off in lieu of Sat 25
    assert "Boxing" in cal[date(2021, 12, 28)].holiday_name  # the weekday off in lieu of Sun 26
    assert pd.isna(cal[date(2021, 12, 24)].holiday_name)  # no holiday: missing (NaN in a pandas str column)
    assert pd.isna(cal[date(2021, 12, 29)].holiday_name)


def test_wd_seq_counts_working_days_and_wd_seq_next_points_at_the_next_one():
    frame = working_day_calendar(date(2025, 4, 16), date(2025, 4, 23))
    # day            working  wd_seq  wd_seq_next
    # Wed 16 Apr     yes      1       1
    # Thu 17 Apr     yes      2       2
    # Fri 18 (Good Friday) no 2       3   (next working day is Tue 22, wd_seq 3)
    # Sat 19         no       2       3
    # Sun 20         no       2       3
    # Mon 21 (Easter Monday) no 2     3
    # Tue 22         yes      3       3
    # Wed 23         yes      4       4
    assert list(frame["day"]) == [date(2025, 4, d) for d in range(16, 24)]
    assert list(frame["is_working_day"]) == [True, True, False, False, False, False, True, True]
    assert list(frame["wd_seq"]) == [1, 2, 2, 2, 2, 2, 3, 4]
    assert list(frame["wd_seq_next"]) == [1, 2, 3, 3, 3, 3, 3, 4]


def test_a_calendar_that_starts_on_a_holiday_numbers_from_zero():
    frame = working_day_calendar(date(2025, 12, 25), date(2025, 12, 29))
    # Thu 25 and Fri 26 Dec 2025 are bank holidays, Sat 27 and Sun 28 the weekend, Mon 29 the first working day
    assert list(frame["wd_seq"]) == [0, 0, 0, 0, 1]
    assert list(frame["wd_seq_next"]) == [1, 1, 1, 1, 1]


def test_a_calendar_ending_before_it_starts_is_refused():
    with pytest.raises(ValueError):
        working_day_calendar(date(2025, 3, 2), date(2025, 3, 1))


# --- due dates through the store (the SQL join) ------------------------------------------------
# Each scenario is one entitlement instance in a district of its own, so filtering by the district
# isolates it. All are delivered; the question is only whether on time.

SCENARIOS = [
    # (district, entitlement, enhanced?, triggered_at, delivered_at, on_time, working)
    ("FriDueTueOnTime", REFERRAL, False, "2025-03-07", "2025-03-11", True,
     "Fri 7 Mar + 2 wd: Mon 10 = 1, Tue 11 = 2 -> due Tue 11; delivered Tue 11"),
    ("FriDueTueEarly", REFERRAL, False, "2025-03-07", "2025-03-10", True,
     "due Tue 11; delivered Mon 10"),
    ("FriDueTueLate", REFERRAL, False, "2025-03-07", "2025-03-12", False,
     "due Tue 11; delivered Wed 12"),
    ("DueFriDeliveredFri", REFERRAL, False, "2025-03-05", "2025-03-07T23:30", True,
     "Wed 5 + 2 wd: Thu 6, Fri 7 -> due Fri 7; delivered Fri 7 late evening"),
    ("DueFriDeliveredSat", REFERRAL, False, "2025-03-05", "2025-03-08", False,
     "due Fri 7; delivered Sat 8, after the due date, so late"),
    ("DueFriDeliveredSun", REFERRAL, False, "2025-03-05", "2025-03-09", False,
     "due Fri 7; delivered Sun 9"),
    ("SameDay", REFERRAL, False, "2025-03-03T09:00", "2025-03-03T17:00", True,
     "delivered on the trigger day itself"),
    ("EasterOnTime", REFERRAL, False, "2025-04-17", "2025-04-23", True,
     "Thu 17 Apr + 2 wd: Fri 18 and Mon 21 are holidays; Tue 22 = 1, Wed 23 = 2 -> due Wed 23"),
    ("EasterOnHoliday", REFERRAL, False, "2025-04-17", "2025-04-21", True,
     "due Wed 23; delivered on Easter Monday, early"),
    ("EasterLate", REFERRAL, False, "2025-04-17", "2025-04-24", False,
     "due Wed 23; delivered Thu 24"),
    ("XmasOnTime", HEARING, False, "2021-12-24", "2021-12-29", True,
     "Fri 24 Dec 2021 + 1 wd: Sat 25, Sun 26, Mon 27 (sub), Tue 28 (sub) -> due Wed 29"),
    ("XmasOnSubstituteDay", HEARING, False, "2021-12-24", "2021-12-27", True,
     "due Wed 29; delivered on the substitute holiday Mon 27, early"),
    ("XmasLate", HEARING, False, "2021-12-24", "2021-12-30", False,
     "due Wed 29; delivered Thu 30"),
    ("SatTriggerMon", HEARING, False, "2025-03-08", "2025-03-10", True,
     "Sat 8 Mar + 1 wd -> due Mon 10; delivered Mon 10"),
    ("SatTriggerTue", HEARING, False, "2025-03-08", "2025-03-11", False,
     "due Mon 10; delivered Tue 11"),
    ("EnhancedFriMon", ARRESTED, True, "2025-03-07", "2025-03-10", True,
     "enhanced: Fri 7 + 1 wd -> due Mon 10; delivered Mon 10"),
    ("EnhancedFriTue", ARRESTED, True, "2025-03-07", "2025-03-11", False,
     "enhanced: due Mon 10; delivered Tue 11"),
    ("StandardFriTue", ARRESTED, False, "2025-03-07", "2025-03-11", True,
     "standard: Fri 7 + 5 wd: Mon 10..Fri 14 -> due Fri 14; delivered Tue 11"),
    ("StandardFriFollowingMon", ARRESTED, False, "2025-03-07", "2025-03-17", False,
     "standard: due Fri 14; delivered Mon 17"),
]
AS_OF = date(2025, 6, 30)  # after every scenario


@pytest.fixture(scope="module")
def scenario_store(tmp_path_factory):
    cases, victims, instances = [], [], []
    for i, (district, code, enhanced, triggered, delivered, _, _) in enumerate(SCENARIOS, start=1):
        cases.append(case(f"C{i}", district=district))
        victims.append(victim(f"V{i}", f"C{i}", "vulnerable" if enhanced else None))
        instances.append(ent(f"E{i}", code, triggered, delivered, "delivered", victim_id=f"V{i}"))
    store = build_and_open(tmp_path_factory.mktemp("calendar"),
                           tables(cases=cases, victims=victims, entitlements=instances), AS_OF)
    yield store
    store.close()


@pytest.mark.parametrize("district, code, enhanced, triggered, delivered, on_time, working", SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
def test_on_time_follows_the_working_day_due_date(scenario_store, district, code, enhanced, triggered,
                                                 delivered, on_time, working):
    first = date(int(triggered[:4]), int(triggered[5:7]), 1)
    counts = run_counts(scenario_store, period(first, as_of=AS_OF, district=[district]), codes=[code])
    assert counts_of(counts, code) == expect(eligible=1, delivered=1, delivered_on_time=int(on_time),
                                             eligible_timed=1), working


def test_the_store_calendar_marks_the_christmas_2021_substitute_days(scenario_store):
    days = scenario_store.query(
        "SELECT day, is_working_day, holiday_name FROM calendar "
        "WHERE day BETWEEN DATE '2021-12-24' AND DATE '2021-12-29' ORDER BY day")
    assert list(days["is_working_day"]) == [True, False, False, False, False, True]
    assert days["holiday_name"].iloc[3].startswith("Christmas")  # Mon 27 Dec
    assert days["holiday_name"].iloc[4].startswith("Boxing")  # Tue 28 Dec


# --- not yet due, as of a date, through the store ----------------------------------------------

@pytest.fixture(scope="module")
def undelivered_store(tmp_path_factory):
    # one referral (2 working days) triggered Fri 7 Mar 2025 and never delivered: due Tue 11 Mar
    store = build_and_open(tmp_path_factory.mktemp("undelivered"), tables(
        cases=[case("C1")], victims=[victim("V1")],
        entitlements=[ent("E1", REFERRAL, "2025-03-07")]), date(2025, 3, 31))
    yield store
    store.close()


@pytest.mark.parametrize("as_of, not_yet_due, working", [
    (date(2025, 3, 7), True, "trigger day itself: due Tue 11 is after it"),
    (date(2025, 3, 9), True, "Sunday: due Tue 11 is after it"),
    (date(2025, 3, 10), True, "Mon 10: due Tue 11 is after it"),
    (date(2025, 3, 11), False, "Tue 11 is the due date, not after it: a failure"),
    (date(2025, 3, 15), False, "Sat 15: past the due date"),
])
def test_an_undelivered_instance_is_not_yet_due_only_until_its_due_date(undelivered_store, as_of, not_yet_due,
                                                                      working):
    counts = run_counts(undelivered_store, period(date(2025, 3, 1), as_of=as_of), codes=[REFERRAL])
    if not_yet_due:
        assert counts_of(counts, REFERRAL) == expect(not_yet_due=1), working
    else:
        assert counts_of(counts, REFERRAL) == expect(eligible=1, eligible_timed=1), working
