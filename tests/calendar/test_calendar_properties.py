"""Hypothesis properties of the calendar, checked against a slow day-by-day reference."""

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govsup.engine.calendar import add_years, age_on, load_calendar, term_end

ONE = dt.timedelta(days=1)
CAL = load_calendar(None)
FB = load_calendar(None, fallback_weekdays=True)

settings.register_profile("calendar", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("calendar")

covered = st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 8, 31))
anywhere = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 31))
small_n = st.integers(min_value=0, max_value=80)


def ref_add(cal, d, n):
    """Reference: walk day by day."""
    k = 0
    x = d
    step = ONE if n >= 0 else -ONE
    while k < abs(n):
        x += step
        if cal.is_workday(x):
            k += 1
    return x


def ref_between(cal, a, b):
    if b < a:
        return -ref_between(cal, b, a)
    k, x = 0, a
    while x < b:
        x += ONE
        k += cal.is_workday(x)
    return k


def ref_deadline(cal, start, n, pauses):
    """Reference for C7: the n-th working day after start outside every (P, R]; None if an open
    pause begins before it is reached (n = 0: None if start lies in a pause that never ends)."""
    def paused(x):
        return any(p < x and (r is None or x <= r) for p, r in pauses)

    k, x = 0, start
    if n == 0:
        # nothing to count: start, unless the clock is paused at start and never resumes
        while paused(x):
            if any(r is None and p < x for p, r in pauses):
                return None
            x += ONE
        return start
    while True:
        x += ONE
        if paused(x):
            if any(r is None and p < x for p, r in pauses):
                return None
            continue
        if cal.is_workday(x):
            k += 1
            if k == n:
                return x


@given(covered, small_n)
def test_add_matches_reference_and_lands_on_a_working_day(d, n):
    r = CAL.add_workdays(d, n)
    assert r == ref_add(CAL, d, n)
    if n > 0:
        assert CAL.is_workday(r) and r > d
    assert CAL.workdays_between(d, r) == n


@given(st.dates(min_value=dt.date(2004, 6, 1), max_value=dt.date(2026, 12, 31)), small_n)
def test_negative_add_matches_reference(d, n):
    r = CAL.add_workdays(d, -n)
    assert r == ref_add(CAL, d, -n)
    if n > 0:
        assert CAL.is_workday(r) and r < d
        # the working days in [r, d) are exactly n
        assert CAL.workdays_between(r - ONE, d - ONE) == n


@given(anywhere, st.integers(min_value=-400, max_value=400))
def test_fallback_add_and_between_are_inverse(d, n):
    r = FB.add_workdays(d, n)
    assert r == ref_add(FB, d, n)
    if n >= 0:
        assert FB.workdays_between(d, r) == n


@given(st.dates(min_value=dt.date(2005, 2, 1), max_value=dt.date(2025, 11, 30)),
       st.integers(min_value=-390, max_value=390))
def test_between_matches_reference(a, offset):
    b = a + dt.timedelta(days=offset)
    assert CAL.workdays_between(a, b) == ref_between(CAL, a, b)
    assert CAL.workdays_between(b, a) == -CAL.workdays_between(a, b)


@given(covered, small_n, small_n)
def test_add_is_monotone_in_n(d, n1, n2):
    lo, hi = sorted((n1, n2))
    assert CAL.add_workdays(d, lo) <= CAL.add_workdays(d, hi)


@given(covered, covered, small_n)
def test_add_is_monotone_in_the_date(d1, d2, n):
    a, b = sorted((d1, d2))
    assert CAL.add_workdays(a, n) <= CAL.add_workdays(b, n)


@given(covered, covered, covered)
def test_between_is_monotone(a, b, c):
    x, y = sorted((b, c))
    assert CAL.workdays_between(a, x) <= CAL.workdays_between(a, y)   # growing end
    assert CAL.workdays_between(x, a) >= CAL.workdays_between(y, a)   # growing start


@given(st.dates(min_value=dt.date(2004, 6, 1), max_value=dt.date(2026, 12, 31)), small_n)
def test_sub_workdays_is_the_earliest_date_within_n(d, n):
    x = CAL.sub_workdays(d, n)
    assert CAL.workdays_between(x, d) <= n
    assert CAL.workdays_between(x - ONE, d) > n
    if n >= 1 and CAL.is_workday(d):
        assert x == CAL.add_workdays(d, -n)


# from March 2004: D − k working days (k ≤ 30) must stay inside the calendar for the reference
# side, even when a is a holiday (2004-01-01, n = k = 1 stepped back into 2003)
@given(st.dates(min_value=dt.date(2004, 3, 1), max_value=dt.date(2026, 8, 31)),
       st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=30))
def test_countdown_without_pauses_is_max_of_start_and_d_minus_k(a, n, k):
    d = CAL.add_workdays(a, n)
    assert CAL.countdown_on(a, n, k) == max(a, CAL.sub_workdays(d, k))


pause = st.tuples(st.integers(min_value=-10, max_value=60), st.integers(min_value=0, max_value=40),
                  st.booleans())


def make_pauses(start, raw):
    out = []
    for off, length, is_open in raw:
        p = start + dt.timedelta(days=off)
        out.append((p, None if is_open else p + dt.timedelta(days=length)))
    return out


@given(st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 6, 30)),
       st.integers(min_value=0, max_value=40), st.lists(pause, max_size=4))
def test_deadline_matches_the_reference(start, n, raw):
    pauses = make_pauses(start, raw)
    assert CAL.deadline(start, n, pauses) == ref_deadline(CAL, start, n, pauses)


@given(st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 6, 30)),
       st.integers(min_value=0, max_value=40), st.lists(pause, min_size=1, max_size=4))
def test_adding_a_pause_never_makes_the_deadline_earlier(start, n, raw):
    pauses = make_pauses(start, raw)
    before = CAL.deadline(start, n, pauses[:-1])
    after = CAL.deadline(start, n, pauses)
    if before is None:
        assert after is None          # undetermined stays undetermined
    elif after is not None:
        assert after >= before


@given(st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 6, 30)),
       st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=30),
       st.lists(pause, max_size=3))
def test_countdown_is_never_after_the_deadline(start, n, k, raw):
    pauses = make_pauses(start, raw)
    dl = CAL.deadline(start, n, pauses)
    cd = CAL.countdown_on(start, n, k, pauses)
    if dl is not None:
        assert cd is not None and start <= cd <= dl


dates_all = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))


@given(dates_all, st.integers(min_value=0, max_value=100))
def test_add_years_is_the_same_month_day_or_one_day_off(d, n):
    r = add_years(d, n)
    y = d.year + n
    if (d.month, d.day) == (2, 29):
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        assert r == (dt.date(y, 2, 29) if leap else dt.date(y, 2, 28))
        assert abs((r - dt.date(y, 3, 1)).days) <= 1
    else:
        assert r == d.replace(year=y)
    if n:
        assert term_end(d, years=n) == r


@given(dates_all, st.integers(min_value=0, max_value=40000),
       st.integers(min_value=0, max_value=40000))
def test_age_is_monotone_and_counts_completed_years(birth, off1, off2):
    a, b = (birth + dt.timedelta(days=x) for x in sorted((off1, off2)))
    assert age_on(birth, a) <= age_on(birth, b)
    n = age_on(birth, a)
    assert add_years(birth, n) <= a < add_years(birth, n + 1)


@given(dates_all, st.integers(min_value=0, max_value=120))
def test_age_on_the_birthday(birth, n):
    assert age_on(birth, add_years(birth, n)) == n
