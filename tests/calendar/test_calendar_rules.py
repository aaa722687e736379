"""Hand-computed examples for C2, C3, C5, C6 and C7 (expected dates written out by hand)."""

import datetime as dt

import pytest

from govsup.engine.calendar import (
    CalendarGap,
    add_months,
    add_years,
    age_on,
    load_calendar,
    term_end,
)

D = dt.date


@pytest.fixture(scope="module")
def cal():
    return load_calendar(None)


# ---------------------------------------------------------------- C2: N working days after E

def test_spring_festival_2019(cal):
    # 春节 2019-02-04 (Mon) .. 02-10 (Sun); make-up 02-02 (Sat), 02-03 (Sun)
    e = D(2019, 2, 1)  # Fri
    assert cal.add_workdays(e, 1) == D(2019, 2, 2)   # 1: Sat 02-02 (make-up)
    assert cal.add_workdays(e, 2) == D(2019, 2, 3)   # 2: Sun 02-03 (make-up)
    assert cal.add_workdays(e, 3) == D(2019, 2, 11)  # 3: Mon 02-11, after the block
    assert cal.workdays_between(e, D(2019, 2, 11)) == 3  # 02-02, 02-03, 02-11


def test_spring_festival_2020_extension(cal):
    # 春节 2020-01-24 (Fri) .. 02-02 (Sun), extended; make-up only 01-19 (Sun); 02-01 is off
    assert not cal.is_workday(D(2020, 2, 1))
    assert cal.why(D(2020, 2, 1)) == "春节"
    assert cal.why(D(2020, 1, 19)) == "调休上班日（春节）"
    assert cal.add_workdays(D(2020, 1, 23), 1) == D(2020, 2, 3)  # 1: Mon 02-03
    # (01-17, 02-07]: 01-19, 01-20, 01-21, 01-22, 01-23 (5), 02-03 .. 02-07 (10)
    assert cal.workdays_between(D(2020, 1, 17), D(2020, 2, 7)) == 10


def test_spring_festival_2023(cal):
    # 春节 2023-01-21 (Sat) .. 01-27 (Fri); make-up 01-28 (Sat), 01-29 (Sun)
    assert cal.add_workdays(D(2023, 1, 20), 1) == D(2023, 1, 28)  # 1: Sat (make-up)
    assert cal.add_workdays(D(2023, 1, 20), 2) == D(2023, 1, 29)  # 2: Sun (make-up)
    assert cal.add_workdays(D(2023, 1, 20), 3) == D(2023, 1, 30)  # 3: Mon


def test_mid_autumn_national_day_2023(cal):
    # 中秋节、国庆节 2023-09-29 (Fri) .. 10-06 (Fri); make-up 10-07 (Sat), 10-08 (Sun)
    assert cal.why(D(2023, 9, 29)) == "中秋节、国庆节"
    e = D(2023, 9, 28)  # Thu
    assert cal.add_workdays(e, 1) == D(2023, 10, 7)  # 1: Sat (make-up)
    assert cal.add_workdays(e, 2) == D(2023, 10, 8)  # 2: Sun (make-up)
    assert cal.add_workdays(e, 3) == D(2023, 10, 9)  # 3: Mon


def test_spring_festival_and_national_day_2024(cal):
    # 春节 2024-02-10 (Sat) .. 02-17 (Sat); make-up 02-04 (Sun), 02-18 (Sun)
    # (02-02, 02-19]: 02-04 (1), 02-05..02-09 (6), 02-18 (7), 02-19 (8)
    assert cal.workdays_between(D(2024, 2, 2), D(2024, 2, 19)) == 8
    # 国庆节 2024-10-01 (Tue) .. 10-07 (Mon); make-up 09-29 (Sun), 10-12 (Sat)
    e = D(2024, 9, 27)  # Fri
    assert cal.add_workdays(e, 1) == D(2024, 9, 29)  # 1: Sun (make-up)
    assert cal.add_workdays(e, 2) == D(2024, 9, 30)  # 2: Mon
    assert cal.add_workdays(e, 3) == D(2024, 10, 8)  # 3: Tue, after the block


def test_spring_festival_and_national_day_2025(cal):
    # 春节 2025-01-28 (Tue) .. 02-04 (Tue); make-up 01-26 (Sun), 02-08 (Sat)
    e = D(2025, 1, 24)  # Fri
    assert cal.add_workdays(e, 1) == D(2025, 1, 26)  # 1: Sun (make-up)
    assert cal.add_workdays(e, 2) == D(2025, 1, 27)  # 2: Mon
    assert cal.add_workdays(e, 3) == D(2025, 2, 5)   # 3: Wed, after the block
    # (01-24, 02-10]: 01-26, 01-27, 02-05, 02-06, 02-07, 02-08 (Sat make-up), 02-10
    assert cal.workdays_between(e, D(2025, 2, 10)) == 7
    # 国庆节、中秋节 2025-10-01 (Wed) .. 10-08 (Wed); make-up 09-28 (Sun), 10-11 (Sat)
    e = D(2025, 9, 30)  # Tue
    assert cal.add_workdays(e, 1) == D(2025, 10, 9)   # 1: Thu
    assert cal.add_workdays(e, 2) == D(2025, 10, 10)  # 2: Fri
    assert cal.add_workdays(e, 3) == D(2025, 10, 11)  # 3: Sat (make-up)
    assert cal.add_workdays(e, 4) == D(2025, 10, 13)  # 4: Mon
    # (09-26, 10-12]: 09-28, 09-29, 09-30, 10-09, 10-10, 10-11
    assert cal.workdays_between(D(2025, 9, 26), D(2025, 10, 12)) == 6


def test_make_up_saturdays_and_sundays(cal):
    assert cal.is_workday(D(2025, 1, 26)) and cal.why(D(2025, 1, 26)) == "调休上班日（春节）"
    assert cal.is_workday(D(2025, 2, 8)) and D(2025, 2, 8).weekday() == 5
    assert cal.why(D(2025, 10, 11)) == "调休上班日（国庆节、中秋节）"
    assert not cal.is_workday(D(2025, 2, 1)) and cal.why(D(2025, 2, 1)) == "春节"
    assert not cal.is_workday(D(2025, 3, 1)) and cal.why(D(2025, 3, 1)) == "周末"


def test_year_ends(cal):
    # 元旦 2025-01-01 (Wed) only
    e = D(2024, 12, 30)  # Mon
    assert cal.add_workdays(e, 1) == D(2024, 12, 31)  # 1: Tue
    assert cal.add_workdays(e, 2) == D(2025, 1, 2)    # 2: Thu (01-01 off)
    assert cal.add_workdays(e, 3) == D(2025, 1, 3)    # 3: Fri
    # 元旦 2019: 2018-12-30 .. 2019-01-01, make-up 2018-12-29 (Sat) — listed in 2019.yaml
    assert cal.why(D(2018, 12, 29)) == "调休上班日（元旦）"
    assert cal.add_workdays(D(2018, 12, 28), 1) == D(2018, 12, 29)  # 1: Sat (make-up)
    assert cal.add_workdays(D(2018, 12, 28), 2) == D(2019, 1, 2)    # 2: Wed
    # 元旦 2023: 2022-12-31 .. 2023-01-02 (listed in 2023.yaml)
    assert cal.why(D(2022, 12, 31)) == "元旦"
    assert cal.add_workdays(D(2022, 12, 30), 1) == D(2023, 1, 3)    # 1: Tue


def test_zero_and_negative(cal):
    assert cal.add_workdays(D(2025, 2, 1), 0) == D(2025, 2, 1)
    e = D(2025, 2, 5)  # Wed
    assert cal.add_workdays(e, -1) == D(2025, 1, 27)  # 1st before: Mon
    assert cal.add_workdays(e, -2) == D(2025, 1, 26)  # 2nd before: Sun (make-up)
    assert cal.add_workdays(e, -3) == D(2025, 1, 24)  # 3rd before: Fri
    assert cal.workdays_between(D(2025, 2, 10), D(2025, 1, 24)) == -7
    assert cal.workdays_between(D(2025, 2, 10), D(2025, 2, 10)) == 0


# ------------------------------------------------------------------------------- C6 countdown

def test_countdown_is_max_of_open_date_and_deadline_minus_n(cal):
    a = D(2025, 1, 20)  # Mon, opened; promised limit 8 working days
    # 1: 01-21, 2: 01-22, 3: 01-23, 4: 01-24, 5: 01-26 (Sun), 6: 01-27, 7: 02-05, 8: 02-06
    d = cal.add_workdays(a, 8)
    assert d == D(2025, 2, 6)
    # D − 2 working days: (01-27, 02-06] holds 02-05, 02-06 → 2; (01-26, 02-06] holds 3
    assert cal.sub_workdays(d, 2) == D(2025, 1, 27)
    assert cal.countdown_on(a, 8, 2) == max(a, cal.sub_workdays(d, 2)) == D(2025, 1, 27)
    # opened late: A = 02-05 with 1 working day left → the countdown is A itself
    a2 = D(2025, 2, 5)
    assert cal.add_workdays(a2, 1) == d
    assert cal.countdown_on(a2, 1, 2) == a2 == max(a2, cal.sub_workdays(d, 2))
    # D − 2 over a make-up Sunday: (01-26, 02-05] holds 01-27, 02-05
    assert cal.sub_workdays(D(2025, 2, 5), 2) == D(2025, 1, 26)
    # n = 0 on a non-working day: the latest working day before it
    assert cal.sub_workdays(D(2025, 3, 2), 0) == D(2025, 2, 28)


# ---------------------------------------------------------------------------- C7 pauses

def test_pause_moves_the_deadline_by_its_working_days(cal):
    s = D(2025, 3, 3)  # Mon; 5 working days: 03-04, 03-05, 03-06, 03-07, 03-10
    assert cal.deadline(s, 5) == D(2025, 3, 10)
    p = [(D(2025, 3, 4), D(2025, 3, 6))]  # removes 03-05, 03-06 (2 working days)
    assert cal.paused_workdays(p) == 2
    # active: 03-04 (1), 03-07 (2), 03-10 (3), 03-11 (4), 03-12 (5) = 03-10 + 2 working days
    assert cal.deadline(s, 5, p) == D(2025, 3, 12) == cal.add_workdays(D(2025, 3, 10), 2)


def test_pause_after_the_deadline_does_not_move_it(cal):
    s = D(2025, 3, 3)
    assert cal.deadline(s, 5, [(D(2025, 3, 10), D(2025, 3, 20))]) == D(2025, 3, 10)
    assert cal.deadline(s, 5, [(D(2025, 3, 10), None)]) == D(2025, 3, 10)
    # a pause from Sunday 03-09 covers the deadline day: 03-10..03-12 removed → 03-13
    assert cal.deadline(s, 5, [(D(2025, 3, 9), D(2025, 3, 12))]) == D(2025, 3, 13)


def test_open_pause_makes_the_deadline_undetermined(cal):
    s = D(2025, 3, 3)
    assert cal.deadline(s, 5, [(D(2025, 3, 5), None)]) is None
    assert cal.countdown_on(s, 5, 2, [(D(2025, 3, 4), None)]) is None
    # the countdown (3rd active working day, 03-06) comes before the open pause starts (03-06)
    assert cal.countdown_on(s, 5, 2, [(D(2025, 3, 6), None)]) == D(2025, 3, 6)


def test_overlapping_pauses_are_a_union(cal):
    s = D(2025, 3, 3)
    p = [(D(2025, 3, 4), D(2025, 3, 6)), (D(2025, 3, 5), D(2025, 3, 7))]
    assert cal.paused_workdays(p) == 3  # 03-05, 03-06, 03-07
    # active: 03-04 (1), 03-10 (2), 03-11 (3), 03-12 (4), 03-13 (5)
    assert cal.deadline(s, 5, p) == D(2025, 3, 13)
    assert cal.deadline(s, 5, list(reversed(p))) == D(2025, 3, 13)


def test_pause_across_a_holiday(cal):
    s = D(2025, 9, 26)  # Fri; 3 working days: 09-28 (Sun make-up), 09-29, 09-30
    assert cal.deadline(s, 3) == D(2025, 9, 30)
    p = [(D(2025, 9, 28), D(2025, 10, 10))]  # removes 09-29, 09-30, 10-09, 10-10 (4)
    assert cal.paused_workdays(p) == 4
    # active: 09-28 (1), 10-11 (Sat make-up, 2), 10-13 (3)
    assert cal.deadline(s, 3, p) == D(2025, 10, 13)
    assert cal.countdown_on(s, 3, 1, p) == D(2025, 10, 11)


def test_pause_that_started_before_the_clock(cal):
    s = D(2025, 3, 3)
    # (02-27, 03-05]: only 03-04, 03-05 lie after the start
    p = [(D(2025, 2, 27), D(2025, 3, 5))]
    assert cal.paused_workdays(p, after=s) == 2
    assert cal.deadline(s, 5, p) == D(2025, 3, 12)
    assert cal.paused_workdays([(D(2025, 3, 4), None)], until=D(2025, 3, 7)) == 3


def test_bad_pauses(cal):
    with pytest.raises(ValueError):
        cal.deadline(D(2025, 3, 3), 5, [(D(2025, 3, 6), D(2025, 3, 4))])
    with pytest.raises(ValueError):
        cal.paused_workdays([(D(2025, 3, 4), None)])


# ------------------------------------------------------------------------- C3 terms, C5 ages

def test_terms():
    assert term_end(D(2020, 7, 1), years=2) == D(2022, 7, 1)    # C3: runs through 2022-07-01
    assert term_end(D(2020, 2, 29), years=1) == D(2021, 2, 28)  # C3: no 02-29 in 2021
    assert term_end(D(2020, 2, 29), years=4) == D(2024, 2, 29)
    assert term_end(D(2020, 1, 31), months=1) == D(2020, 2, 29)
    assert term_end(D(2019, 1, 31), months=1) == D(2019, 2, 28)
    assert term_end(D(2020, 8, 31), years=1, months=6) == D(2022, 2, 28)
    assert add_years(D(2020, 2, 29), 1) == D(2021, 2, 28)
    assert add_months(D(2020, 3, 31), -1) == D(2020, 2, 29)
    with pytest.raises(ValueError):
        term_end(D(2020, 7, 1))


def test_ages():
    born = D(2000, 5, 10)
    assert age_on(born, D(2018, 5, 9)) == 17
    assert age_on(born, D(2018, 5, 10)) == 18   # turns 18 on the birthday: "18周岁以上" met
    leap = D(2000, 2, 29)
    assert age_on(leap, D(2018, 2, 27)) == 17
    assert age_on(leap, D(2018, 2, 28)) == 18   # 2018 has no 02-29
    assert age_on(leap, D(2020, 2, 28)) == 19
    assert age_on(leap, D(2020, 2, 29)) == 20
    # "18周岁以上、65周岁以下" (18 ≤ age ≤ 65): born 1958-05-10
    old = D(1958, 5, 10)
    assert age_on(old, D(2024, 5, 9)) == 65     # last day inside the bound
    assert age_on(old, D(2024, 5, 10)) == 66    # turns 66
    assert age_on(old, D(2024, 5, 11)) == 66    # the day after turning 66: out of bound
    with pytest.raises(ValueError):
        age_on(born, D(1999, 1, 1))


# ------------------------------------------------------------------------------- coverage

def test_uncovered_years_raise_calendar_gap(cal):
    with pytest.raises(CalendarGap) as exc:
        cal.is_workday(D(2027, 3, 1))
    assert exc.value.year == 2027
    (diag,) = exc.value.diagnostics
    assert diag.code == "E040" and "2027" in diag.message and "fallback" in diag.help
    with pytest.raises(CalendarGap) as exc:
        cal.add_workdays(D(2026, 12, 30), 5)  # runs into 2027
    assert exc.value.year == 2027
    with pytest.raises(CalendarGap) as exc:
        cal.workdays_between(D(2003, 6, 1), D(2004, 6, 1))
    assert exc.value.year == 2003
    # only the days the answer depends on must be covered: (2003-12-31, 2004-01-02]
    assert cal.workdays_between(D(2003, 12, 31), D(2004, 1, 2)) == 1


def test_fallback_marks_provisional():
    fb = load_calendar(None, fallback_weekdays=True)
    assert fb.fallback_weekdays
    assert fb.is_workday(D(2027, 2, 8))            # a plain Monday in 2027
    assert fb.why(D(2027, 2, 6)) == "周末"
    assert fb.is_provisional(D(2027, 2, 8)) and not fb.is_provisional(D(2026, 2, 8))
    assert fb.touches_provisional(D(2026, 12, 1), D(2027, 1, 5))
    assert not fb.touches_provisional(D(2025, 12, 1), D(2026, 1, 5))
    # 2026-12-30 (Wed): 12-31 (1), 2027-01-01 Fri (2), 01-04 (3), 01-05 (4), 01-06 (5)
    assert fb.add_workdays(D(2026, 12, 30), 5) == D(2027, 1, 6)
    assert fb.is_provisional(D(2003, 5, 1))
    # before 2004-01-05 (Mon): 01-02 (1), 01-01 is 元旦, 2003-12-31 (2, provisional), 12-30 (3)
    assert fb.add_workdays(D(2004, 1, 5), -3) == D(2003, 12, 30)
    assert fb.workdays_in_year(2030) == 261


def test_coverage_warning(cal):
    # coverage ends 2026-12-31
    assert cal.coverage_warning(D(2026, 10, 31)) is None          # 61 days left
    w = cal.coverage_warning(D(2026, 11, 1))                      # 60 days left
    assert w is not None and w.code == "W001" and w.severity == "warning"
    assert "2026-12-31" in w.message and "2027" in w.help
    assert cal.coverage_warning(D(2027, 1, 15)).code == "W001"    # already passed


def test_calendar_is_immutable(cal):
    with pytest.raises(AttributeError):
        cal._first = 1999
    with pytest.raises(AttributeError):
        cal.first_year = 1999
