"""The working-day calendar (RULEBOOK C1–C3, C5–C7).

Input: the calendar year files ``policies/calendar/<year>.yaml`` (one per year, transcribed from
the State Council's annual holiday notice; schema ``engine/schemas/calendar_year.json``), read from
a list of calendar dirs that goes from the root ancestor bundle's dir to the most specific fork's.
A later dir's year file replaces the earlier one, unless it says ``amends: true``, in which case
its holidays and make-up working days are added to the inherited year.

Output: an immutable :class:`Calendar` answering working-day questions in O(1) or O(log n) time
from a precomputed index (a flag per day and a prefix sum of working days over day ordinals;
outside the indexed years the count is a closed form over Monday–Friday), plus pure date
arithmetic for terms and ages (:func:`add_years`, :func:`add_months`, :func:`term_end`,
:func:`age_on`). Asking about a year that no file covers raises :class:`CalendarGap` (E040) unless
the calendar was built with ``fallback_weekdays=True``; then such years count as plain
Monday–Friday and :meth:`Calendar.is_provisional` says so. Data errors are located E041
diagnostics, all collected and raised together as :class:`PolicyError`.

Semantics (see docs/calendar.md):

* C2  ``add_workdays(d, n)`` is the n-th working day strictly after ``d``.
* C6  ``workdays_between(a, b)`` counts working days in ``(a, b]``; ``sub_workdays(d, n)`` is the
  earliest X with ``workdays_between(X, d) <= n`` (the countdown date ``D − N working days``).
* C7  pauses ``(P, R]`` remove their working days from the count ("active working days"); an open
  pause (``R is None``) that begins before the deadline is reached leaves it undetermined (None).
  A pause that begins after the deadline was reached does not move it.
* C3/C5 terms end on the corresponding day (or the month's last day); ages are completed years.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional, Sequence, Tuple

from . import schema as _schema
from . import source as _source
from .diagnostics import Diagnostic, PolicyError, did_you_mean
from .loc import NOWHERE, Loc

__all__ = [
    "Calendar",
    "CalendarGap",
    "HolidayBlock",
    "MakeUpDay",
    "Notice",
    "YearSpec",
    "Pause",
    "add_months",
    "add_years",
    "age_on",
    "term_end",
    "load_calendar",
    "shipped_calendar_dir",
    "WARN_DAYS",
    "clear_calendar_cache",
]

Pause = Tuple[_dt.date, Optional[_dt.date]]
"""A clock pause ``(P, R)``: the working days in ``(P, R]`` do not count; ``R is None`` = open."""

WARN_DAYS = 60
"""``coverage_warning`` fires when the coverage ends within this many days (C1)."""

EARLIEST_SPILL = (12, 25)
"""A year file may list days from this (month, day) of the previous year on (元旦 blocks and
their make-up days, which the new year's notice announces)."""

MAX_BLOCK_DAYS = 31
"""A longer holiday block is taken for a typo (e.g. a wrong month)."""


# --------------------------------------------------------------------------------------------
# Pure date arithmetic (C3, C5): no calendar needed.
# --------------------------------------------------------------------------------------------

def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def add_months(d: _dt.date, n: int) -> _dt.date:
    """The corresponding day ``n`` months after ``d`` (before, for negative ``n``); where that
    month has no such day, its last day (民法典第二百零二条): 2020-01-31 + 1 month = 2020-02-29."""
    y, m0 = divmod(d.year * 12 + (d.month - 1) + int(n), 12)
    m = m0 + 1
    return _dt.date(y, m, min(d.day, _days_in_month(y, m)))


def add_years(d: _dt.date, n: int) -> _dt.date:
    """The corresponding day ``n`` years after ``d``: 2020-02-29 + 1 year = 2021-02-28 (C3)."""
    return add_months(d, 12 * int(n))


def term_end(start: _dt.date, years: int = 0, months: int = 0) -> _dt.date:
    """The last day IN a term of ``years`` years and ``months`` months starting on ``start`` (C3).

    The start day is not counted (民法典第二百零一条); the term's last day is the corresponding
    day of the end month, or that month's last day: 2020-07-01 + 2 years runs through 2022-07-01
    inclusive, and the person is out of term from 2022-07-02 on.
    """
    total = 12 * int(years) + int(months)
    if total <= 0:
        raise ValueError(f"a term needs a positive length, got {years} year(s) {months} month(s)")
    return add_months(start, total)


def age_on(birth: _dt.date, d: _dt.date) -> int:
    """Age in completed years (周岁) on ``d`` (C5): the largest n with ``add_years(birth, n) <= d``.

    Someone turns 18 on their 18th birthday; a person born on 29 February turns 18 on 28 February
    of a common year.
    """
    if d < birth:
        raise ValueError(f"the date {d.isoformat()} is before the birth date {birth.isoformat()}")
    n = d.year - birth.year
    if add_years(birth, n) > d:
        n -= 1
    return n


# --------------------------------------------------------------------------------------------
# Year specs
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """The notice a year file is transcribed from."""

    title: str
    number: Optional[str] = None
    published: Optional[_dt.date] = None


@dataclass(frozen=True)
class HolidayBlock:
    """A contiguous block of days off, ``start`` to ``end`` inclusive (the file's from/to)."""

    name: str
    start: _dt.date
    end: _dt.date
    loc: Loc = field(default=NOWHERE, compare=False)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class MakeUpDay:
    """A Saturday or Sunday that is a working day (调休上班) for the holiday ``for_``."""

    date: _dt.date
    for_: str
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class YearSpec:
    """One calendar year: its holiday blocks and make-up working days."""

    year: int
    holidays: Tuple[HolidayBlock, ...] = ()
    make_up_workdays: Tuple[MakeUpDay, ...] = ()
    notice: Optional[Notice] = None
    amends: bool = False
    sources: Tuple[str, ...] = ()
    loc: Loc = field(default=NOWHERE, compare=False)

    def amended_with(self, other: "YearSpec") -> "YearSpec":
        """This year plus ``other``'s holidays and make-up days (``amends: true``)."""
        return YearSpec(
            year=self.year,
            holidays=self.holidays + other.holidays,
            make_up_workdays=self.make_up_workdays + other.make_up_workdays,
            notice=self.notice,
            amends=False,
            sources=self.sources + other.sources,
            loc=self.loc,
        )


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

class CalendarGap(PolicyError):
    """A question about a year the calendar does not cover (E040), naming the year."""

    def __init__(self, year: int, where: str = "<calendar>") -> None:
        self.year = int(year)
        diag = Diagnostic(
            "E040",
            f"calendar year {self.year} is not published",
            Loc(where),
            help=(f"add the State Council's notice for {self.year} as calendar/{self.year}.yaml, "
                  f"or evaluate with the fallback option (`--fallback-weekdays`) to treat "
                  f"{self.year} as plain Monday–Friday and mark the findings provisional"),
        )
        super().__init__([diag])

    def __reduce__(self):  # keep it picklable (PolicyError's args are a message string)
        return (CalendarGap, (self.year, self.diagnostics[0].loc.file))


# --------------------------------------------------------------------------------------------
# Weekday arithmetic over day ordinals (date.toordinal(): 0001-01-01 = 1, a Monday)
# --------------------------------------------------------------------------------------------

def _weekday(o: int) -> int:
    return (o - 1) % 7


def _F(o: int) -> int:
    """Number of Monday–Friday days in [1, o] (any integer o; periodic extension below 1)."""
    q, r = divmod(o, 7)
    return 5 * q + (r if r < 5 else 5)


def _F_inv(t: int) -> int:
    """The smallest ordinal o with _F(o) >= t."""
    q, r = divmod(t - 1, 5)
    return 7 * q + r + 1


def _year_of(o: int) -> int:
    try:
        return _dt.date.fromordinal(o).year
    except (ValueError, OverflowError):
        return 0 if o < 1 else 10000


def _from_ordinal(o: int) -> _dt.date:
    try:
        return _dt.date.fromordinal(o)
    except (ValueError, OverflowError):
        raise ValueError("the result is outside the supported date range (years 1–9999)") from None


def _int(n, what: str = "n") -> int:
    if type(n) is int:
        return n
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"{what} must be an integer, not {type(n).__name__}")
    return n.__index__()


# --------------------------------------------------------------------------------------------
# Semantic checks (E041)
# --------------------------------------------------------------------------------------------

def _e041(msg: str, loc: Loc, hlp: str = "") -> Diagnostic:
    return Diagnostic("E041", msg, loc, hlp)


_EN_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _fmt(d: _dt.date) -> str:
    return f"{d.isoformat()} ({_EN_DAYS[d.weekday()]})"


def _check_specs(specs: Sequence[YearSpec]) -> list[Diagnostic]:
    """Every data problem of the (already merged) year specs, as located E041 diagnostics."""
    diags: list[Diagnostic] = []
    seen_years: dict[int, YearSpec] = {}
    holiday_day: dict[int, HolidayBlock] = {}   # ordinal -> first block covering it
    makeup_day: dict[int, MakeUpDay] = {}
    for spec in sorted(specs, key=lambda s: s.year):
        y = spec.year
        if y in seen_years:
            diags.append(_e041(f"calendar year {y} is defined twice", spec.loc,
                               f"the other one is at {seen_years[y].loc}"))
            continue
        seen_years[y] = spec
        first_ok = _dt.date(y - 1, *EARLIEST_SPILL)
        year_start, year_end = _dt.date(y, 1, 1), _dt.date(y, 12, 31)
        names = {b.name for b in spec.holidays}
        components = {part for n in names for part in n.split("、")}
        by_file: dict[str, list[HolidayBlock]] = {}
        for b in spec.holidays:
            ok = True
            if b.start > b.end:
                diags.append(_e041(f"holiday `{b.name}` starts on {b.start.isoformat()}, after its "
                                   f"last day {b.end.isoformat()}", b.loc, "swap `from` and `to`"))
                ok = False
            if not (year_start <= b.end <= year_end):
                diags.append(_e041(f"holiday `{b.name}` ends on {b.end.isoformat()}, outside {y}",
                                   b.loc, f"a block in {y}.yaml must end in {y}"))
                ok = False
            if not (first_ok <= b.start <= year_end):
                diags.append(_e041(
                    f"holiday `{b.name}` starts on {b.start.isoformat()}, outside {y}", b.loc,
                    f"a block may start before {y} only in late december of {y - 1} "
                    f"(from {first_ok.isoformat()} on), when the notice for {y} lists it"))
                ok = False
            if ok and b.days > MAX_BLOCK_DAYS:
                diags.append(_e041(f"holiday `{b.name}` lasts {b.days} days "
                                   f"({b.start.isoformat()} to {b.end.isoformat()})", b.loc,
                                   "check the month of `from` and `to`"))
                ok = False
            if not ok:
                continue
            for other in by_file.get(b.loc.file, []):
                if b.start <= other.end and other.start <= b.end:
                    diags.append(_e041(f"holiday `{b.name}` overlaps `{other.name}` "
                                       f"({other.start.isoformat()} to {other.end.isoformat()})",
                                       b.loc, f"the other block is at {other.loc}"))
            by_file.setdefault(b.loc.file, []).append(b)
            for o in range(b.start.toordinal(), b.end.toordinal() + 1):
                holiday_day.setdefault(o, b)
        for m in spec.make_up_workdays:
            d = m.date
            if not (first_ok <= d <= year_end):
                diags.append(_e041(
                    f"make-up working day {d.isoformat()} is outside {y}", m.loc,
                    f"a make-up day in {y}.yaml lies in {y} or in late december of {y - 1} "
                    f"(from {first_ok.isoformat()} on)"))
                continue
            if d.weekday() < 5:
                diags.append(_e041(f"make-up working day {_fmt(d)} is not a saturday or sunday",
                                   m.loc, "a weekday is a working day anyway; check the date"))
                continue
            if m.for_ not in names and m.for_ not in components:
                hint = did_you_mean(m.for_, names) or (
                    "name one of this year's holidays: " + ", ".join(f"`{n}`" for n in sorted(names))
                    if names else "this year has no holidays")
                diags.append(_e041(f"make-up working day {d.isoformat()} is for `{m.for_}`, "
                                   f"which is not a holiday of {y}", m.loc, hint))
            o = d.toordinal()
            if o in makeup_day:
                diags.append(_e041(f"make-up working day {d.isoformat()} is listed twice", m.loc,
                                   f"the other entry is at {makeup_day[o].loc}"))
                continue
            makeup_day[o] = m
    for o, m in makeup_day.items():
        b = holiday_day.get(o)
        if b is not None:
            diags.append(_e041(f"{m.date.isoformat()} is both a make-up working day "
                               f"(for `{m.for_}`) and a day off of `{b.name}`", m.loc,
                               f"the holiday block is at {b.loc}"))
    return diags


# --------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------

class Calendar:
    """An immutable working-day calendar over a set of year specs.

    Build it with :func:`load_calendar` (from year files) or directly from :class:`YearSpec`
    values. Every query is O(1) or O(log n): the index holds, for each day from the first to the
    last covered year, whether it is a working day and the number of working days up to it.
    """

    __slots__ = ("_specs", "_years", "_first", "_last", "_holes", "_fallback", "_origin",
                 "_lo", "_n", "_work", "_cum", "_cum_last", "_F_lo1", "_F_hi",
                 "_cov_lo", "_cov_hi", "_holiday_names", "_makeup_for", "_frozen",
                 "_covered")

    def __init__(self, years: Iterable[YearSpec], *, fallback_weekdays: bool = False,
                 origin: str = "<calendar>", _checked: bool = False) -> None:
        specs = tuple(sorted(years, key=lambda s: s.year))
        if not specs:
            raise ValueError("a calendar needs at least one year")
        if not _checked:
            diags = _check_specs(specs)
            if diags:
                raise PolicyError(diags)
        s = object.__setattr__
        s(self, "_specs", {sp.year: sp for sp in specs})
        s(self, "_years", tuple(sp.year for sp in specs))
        s(self, "_covered", frozenset(self._years))
        s(self, "_first", specs[0].year)
        s(self, "_last", specs[-1].year)
        s(self, "_holes", tuple(y for y in range(specs[0].year, specs[-1].year + 1)
                                if y not in self._specs))
        s(self, "_fallback", bool(fallback_weekdays))
        s(self, "_origin", origin)

        holiday_names: dict[int, tuple[str, ...]] = {}
        makeup_for: dict[int, str] = {}
        earliest = _dt.date(self._first, 1, 1).toordinal()
        for sp in specs:
            for b in sp.holidays:
                for o in range(b.start.toordinal(), b.end.toordinal() + 1):
                    cur = holiday_names.get(o, ())
                    if b.name not in cur:
                        holiday_names[o] = cur + (b.name,)
                earliest = min(earliest, b.start.toordinal())
            for m in sp.make_up_workdays:
                makeup_for[m.date.toordinal()] = m.for_
                earliest = min(earliest, m.date.toordinal())
        s(self, "_holiday_names", holiday_names)
        s(self, "_makeup_for", makeup_for)

        lo = earliest
        hi = _dt.date(self._last, 12, 31).toordinal()
        n = hi - lo + 1
        work = bytearray(n)
        cum = [0] * n
        total = 0
        for i in range(n):
            o = lo + i
            if o in makeup_for:
                w = 1
            elif o in holiday_names:
                w = 0
            else:
                w = 1 if _weekday(o) < 5 else 0
            work[i] = w
            total += w
            cum[i] = total
        s(self, "_lo", lo)
        s(self, "_n", n)
        s(self, "_work", bytes(work))
        s(self, "_cum", cum)
        s(self, "_cum_last", total)
        s(self, "_F_lo1", _F(lo - 1))
        s(self, "_F_hi", _F(hi))
        s(self, "_cov_lo", _dt.date(self._first, 1, 1).toordinal())
        s(self, "_cov_hi", hi)
        s(self, "_frozen", True)

    # -- immutability ------------------------------------------------------------------------

    def __setattr__(self, name, value):
        raise AttributeError("Calendar is immutable")

    def __delattr__(self, name):
        raise AttributeError("Calendar is immutable")

    def __repr__(self) -> str:
        fb = ", fallback_weekdays=True" if self._fallback else ""
        return f"<Calendar {self._first}–{self._last}{fb}>"

    # -- coverage ----------------------------------------------------------------------------

    @property
    def first_year(self) -> int:
        return self._first

    @property
    def last_year(self) -> int:
        return self._last

    @property
    def years(self) -> tuple[int, ...]:
        """The covered years (a year file exists for each)."""
        return self._years

    @property
    def coverage_end(self) -> _dt.date:
        """The last day of the last covered year."""
        return _dt.date(self._last, 12, 31)

    @property
    def fallback_weekdays(self) -> bool:
        return self._fallback

    @property
    def origin(self) -> str:
        return self._origin

    def year_spec(self, year: int) -> YearSpec:
        """The (merged) spec of a covered year; CalendarGap otherwise."""
        try:
            return self._specs[year]
        except KeyError:
            raise CalendarGap(year, self._origin) from None

    def covers(self, year: int) -> bool:
        return year in self._specs

    @property
    def covered_years(self) -> frozenset:
        """The years the files cover: ``is_provisional(d)`` is ``d.year not in covered_years``."""
        return self._covered

    def is_provisional(self, d: _dt.date) -> bool:
        """True when ``d`` lies in a year no file covers (counted as Monday–Friday under the
        fallback; the engine marks findings touching it provisional)."""
        return d.year not in self._specs

    def touches_provisional(self, a: _dt.date, b: _dt.date) -> bool:
        """True when any year from ``a`` to ``b`` (either order) is not covered."""
        y1, y2 = sorted((a.year, b.year))
        return self._first_gap_year(y1, y2) is not None

    def coverage_warning(self, as_of: _dt.date) -> Optional[Diagnostic]:
        """W001 when the coverage ends within 60 days after ``as_of`` (or has ended)."""
        end = self.coverage_end
        days = (end - as_of).days
        if days > WARN_DAYS:
            return None
        nxt = self._last + 1
        if days >= 0:
            msg = (f"calendar coverage ends on {end.isoformat()}, {days} day(s) after "
                   f"{as_of.isoformat()}")
        else:
            msg = (f"calendar coverage ended on {end.isoformat()}, {-days} day(s) before "
                   f"{as_of.isoformat()}")
        return Diagnostic(
            "W001", msg, Loc(self._origin),
            help=(f"add calendar/{nxt}.yaml once the State Council publishes the {nxt} notice "
                  f"(usually in november); until then dates in {nxt} need the fallback option "
                  f"(`--fallback-weekdays`) and give provisional findings"),
            severity="warning")

    # -- internal: coverage checks and the counting function W ---------------------------------

    def _first_gap_year(self, y1: int, y2: int) -> Optional[int]:
        """The earliest uncovered year in [y1, y2], or None."""
        if y1 < self._first:
            return y1
        if self._holes:
            i = bisect_left(self._holes, y1)
            if i < len(self._holes) and self._holes[i] <= y2:
                return self._holes[i]
        if y2 > self._last:
            return max(y1, self._last + 1)
        return None

    def _need(self, o1: int, o2: int) -> None:
        """Raise CalendarGap unless every day in [o1, o2] is covered (or the fallback is on).
        An empty range (o1 > o2) needs nothing."""
        if (self._cov_lo <= o1 and o2 <= self._cov_hi and not self._holes) or self._fallback \
                or o1 > o2:
            return
        y = self._first_gap_year(_year_of(o1), _year_of(o2))
        if y is not None:
            raise CalendarGap(y, self._origin)

    def _W(self, o: int) -> int:
        """Working days in [lo, o] (negative before lo): W(b) - W(a) counts (a, b]."""
        i = o - self._lo
        if i < 0:
            return _F(o) - self._F_lo1
        if i < self._n:
            return self._cum[i]
        return self._cum_last + _F(o) - self._F_hi

    def _inv(self, t: int) -> int:
        """The smallest ordinal o with W(o) >= t (always a working day)."""
        if t <= 0:
            return _F_inv(t + self._F_lo1)
        if t <= self._cum_last:
            return self._lo + bisect_left(self._cum, t)
        return _F_inv(t - self._cum_last + self._F_hi)

    # -- single days (C1) --------------------------------------------------------------------

    def is_workday(self, d: _dt.date) -> bool:
        """Is ``d`` a working day (Mon–Fri minus holidays plus make-up days)?"""
        o = d.toordinal()
        self._need(o, o)
        i = o - self._lo
        if 0 <= i < self._n:
            return self._work[i] == 1
        return _weekday(o) < 5

    def why(self, d: _dt.date) -> str:
        """'工作日', '周末', the holiday's name (e.g. '春节') or '调休上班日（春节）'."""
        o = d.toordinal()
        self._need(o, o)
        m = self._makeup_for.get(o)
        if m is not None:
            return f"调休上班日（{m}）"
        names = self._holiday_names.get(o)
        if names:
            return "、".join(names)
        return "周末" if _weekday(o) >= 5 else "工作日"

    # -- counting (C2, C6) -------------------------------------------------------------------

    def add_workdays(self, d: _dt.date, n: int) -> _dt.date:
        """The n-th working day strictly after ``d`` (C2); ``n == 0`` gives ``d``; negative ``n``
        gives the |n|-th working day strictly before ``d``."""
        n = _int(n)
        o = d.toordinal()
        if n == 0:
            return d if not isinstance(d, _dt.datetime) else d.date()
        if n > 0:
            r = self._inv(self._W(o) + n)
            self._need(o + 1, r)              # the answer depends on the days in (d, r]
        else:
            r = self._inv(self._W(o - 1) + n + 1)
            self._need(r, o - 1)              # ... on the days in [r, d)
        return _from_ordinal(r)

    def workdays_between(self, a: _dt.date, b: _dt.date) -> int:
        """Working days in ``(a, b]``; if ``b < a``, minus the working days in ``(b, a]``."""
        oa, ob = a.toordinal(), b.toordinal()
        if oa <= ob:
            self._need(oa + 1, ob)            # only the days in (a, b] matter
        else:
            self._need(ob + 1, oa)
        return self._W(ob) - self._W(oa)

    def sub_workdays(self, d: _dt.date, n: int) -> _dt.date:
        """The earliest X with ``workdays_between(X, d) <= n`` (C6 countdown: D − N working days).

        For a working day D and n >= 1 this is the n-th working day before D.
        """
        n = _int(n)
        o = d.toordinal()
        r = self._inv(self._W(o) - n)
        self._need(min(r, o), max(r, o))
        return _from_ordinal(r)

    def workdays_in_year(self, year: int) -> int:
        """The number of working days in ``year``."""
        return self.workdays_between(_dt.date(year - 1, 12, 31), _dt.date(year, 12, 31))

    # -- pauses (C7) -------------------------------------------------------------------------

    @staticmethod
    def _merge(pauses: Iterable[Pause]) -> list[tuple[int, Optional[int]]]:
        """The union of pause intervals (P, R] as sorted, disjoint (p, r) ordinals; r None = open."""
        items = []
        for pause in pauses:
            try:
                p, r = pause
            except (TypeError, ValueError):
                raise TypeError("a pause is a pair (P, R) of dates; R may be None") from None
            po = p.toordinal()
            ro = None if r is None else r.toordinal()
            if ro is not None and ro < po:
                raise ValueError(f"a pause cannot end ({r.isoformat()}) before it starts "
                                 f"({p.isoformat()})")
            if ro is not None and ro == po:
                continue  # (P, P] is empty
            items.append((po, ro))
        items.sort(key=lambda x: x[0])
        merged: list[list] = []
        for po, ro in items:
            if merged:
                last = merged[-1]
                if last[1] is None or po <= last[1]:
                    if last[1] is not None:
                        last[1] = None if ro is None else max(last[1], ro)
                    continue
            merged.append([po, ro])
        return [(p, r) for p, r in merged]

    def _deadline_ord(self, o: int, n: int, merged) -> Optional[int]:
        if n == 0:
            for p, r in merged:
                if r is None and p < o:
                    return None
            return o
        t = self._W(o) + n
        cand = self._inv(t)
        for p, r in merged:
            if r is not None and r <= o:
                continue                      # over before the clock starts
            start = p if p > o else o         # the pause removes (start, r]
            if cand <= start:
                break                         # deadline reached before this (and every later) pause
            if r is None:
                return None                   # open pause began before the deadline was reached
            t += self._W(r) - self._W(start)
            cand = self._inv(t)
        self._need(o + 1, cand)
        return cand

    def deadline(self, start: _dt.date, n: int, pauses: Iterable[Pause] = ()) -> Optional[_dt.date]:
        """The n-th active working day after ``start`` (C2 + C7), or None when an open pause
        began before that day was reached. Active = a working day inside no pause ``(P, R]``;
        overlapping pauses count once (their union). ``n == 0`` gives ``start`` (None only when
        ``start`` lies in a pause that never ends). A pause beginning on or after the deadline
        day does not move it."""
        n = _int(n)
        if n < 0:
            raise ValueError("a deadline needs n >= 0 working days")
        o = self._deadline_ord(start.toordinal(), n, self._merge(pauses))
        return None if o is None else _from_ordinal(o)

    def countdown_on(self, start: _dt.date, n: int, k: int,
                     pauses: Iterable[Pause] = ()) -> Optional[_dt.date]:
        """The first date X >= ``start`` on which the remaining active working days
        (``n`` − active working days in (start, X]) are <= ``k`` (C6 countdown with C7 pauses):
        ``start`` if n − k <= 0, else the (n − k)-th active working day after ``start``; None if
        that point lies after the start of an open pause. Without pauses this equals
        ``max(start, sub_workdays(deadline, k))``."""
        n, k = _int(n), _int(k, "k")
        if n < 0 or k < 0:
            raise ValueError("a countdown needs n >= 0 and k >= 0")
        m = n - k
        o = self._deadline_ord(start.toordinal(), max(m, 0), self._merge(pauses))
        return None if o is None else _from_ordinal(o)

    def paused_workdays(self, pauses: Iterable[Pause], *, after: Optional[_dt.date] = None,
                        until: Optional[_dt.date] = None) -> int:
        """Working days inside the union of the pauses ``(P, R]``, optionally only those in
        ``(after, until]``. An open pause counts up to ``until`` (required then)."""
        total = 0
        lo = None if after is None else after.toordinal()
        hi = None if until is None else until.toordinal()
        for p, r in self._merge(pauses):
            if r is None:
                if hi is None:
                    raise ValueError("an open pause needs `until` to be counted")
                r = hi
            a = p if lo is None else max(p, lo)
            b = r if hi is None else min(r, hi)
            if b > a:
                self._need(a + 1, b)
                total += self._W(b) - self._W(a)
        return total


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

def shipped_calendar_dir() -> Path:
    """The calendar dir shipped with the package (``govsup.policies`` / ``calendar``)."""
    return Path(str(resources.files("govsup.policies").joinpath("calendar")))


_YEAR_FILE = re.compile(r"^(\d{4})\.ya?ml$")


def _as_date(v) -> _dt.date:
    if isinstance(v, _dt.date):
        return v
    return _dt.date.fromisoformat(str(v))


def _spec_from_doc(doc: _source.Located) -> YearSpec:
    """Build a YearSpec from a schema-valid document."""
    v = doc.value
    blocks = tuple(
        HolidayBlock(h["name"], _as_date(h["from"]), _as_date(h["to"]),
                     doc.loc(("holidays", i)))
        for i, h in enumerate(v.get("holidays") or []))
    makeups = tuple(
        MakeUpDay(_as_date(m["date"]), m["for"], doc.loc(("make_up_workdays", i)))
        for i, m in enumerate(v.get("make_up_workdays") or []))
    notice = None
    if v.get("notice"):
        nv = v["notice"]
        notice = Notice(nv["title"], nv.get("number"),
                        _as_date(nv["published"]) if nv.get("published") is not None else None)
    return YearSpec(year=v["year"], holidays=blocks, make_up_workdays=makeups, notice=notice,
                    amends=bool(v.get("amends", False)), sources=(doc.file,),
                    loc=doc.loc(("year",)))


def _dir_signature(d: Path) -> tuple:
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except FileNotFoundError:
        return ("missing",)
    except NotADirectoryError:
        return ("not a dir",)
    sig = []
    for e in entries:
        if e.name.endswith((".yaml", ".yml")):
            st = e.stat()
            sig.append((e.name, st.st_mtime_ns, st.st_size))
    return tuple(sig)


@lru_cache(maxsize=128)
def _read_dir(d: Path, sig: tuple) -> tuple[tuple[YearSpec, ...], tuple[Diagnostic, ...]]:
    """Parse and check every year file of one calendar dir (cached on the dir's signature)."""
    if sig in (("missing",), ("not a dir",)):
        return (), (Diagnostic("E006", f"calendar dir not found: {d}", Loc(str(d))),)
    specs: list[YearSpec] = []
    diags: list[Diagnostic] = []
    by_year: dict[int, str] = {}
    for name, _mtime, _size in sig:
        p = d / name
        m = _YEAR_FILE.match(name)
        if not m:
            diags.append(_e041(f"calendar file `{name}` is not named after its year",
                               Loc(str(p), 1, 1), "name it like 2025.yaml"))
            continue
        try:
            doc = _source.load_yaml(p)
            _schema.validate(doc, "calendar_year")
        except PolicyError as exc:
            diags.extend(exc.diagnostics)
            continue
        spec = _spec_from_doc(doc)
        file_year = int(m.group(1))
        if spec.year != file_year:
            diags.append(_e041(f"`year: {spec.year}` does not match the file name `{name}`",
                               doc.loc(("year",)),
                               f"write `year: {file_year}` or rename the file to "
                               f"{spec.year}{Path(name).suffix}"))
            continue
        if spec.year in by_year:
            diags.append(_e041(f"calendar year {spec.year} has two files in {d}",
                               doc.loc(("year",)), f"the other one is {by_year[spec.year]}"))
            continue
        by_year[spec.year] = name
        specs.append(spec)
    return tuple(specs), tuple(diags)


@lru_cache(maxsize=32)
def _load_cached(dirs: tuple[Path, ...], sigs: tuple, fallback: bool) -> Calendar:
    diags: list[Diagnostic] = []
    merged: dict[int, YearSpec] = {}
    for d, sig in zip(dirs, sigs):
        specs, ds = _read_dir(d, sig)
        diags.extend(ds)
        for spec in specs:
            if spec.amends:
                base = merged.get(spec.year)
                if base is None:
                    diags.append(_e041(
                        f"`amends: true` but no earlier calendar dir has year {spec.year}",
                        spec.loc, "remove `amends: true` to give the whole year here, or put "
                                  "the file in a fork whose ancestor has this year"))
                    continue
                merged[spec.year] = base.amended_with(spec)
            else:
                merged[spec.year] = spec
    if not merged and not diags:
        where = str(dirs[-1]) if dirs else "<calendar>"
        diags.append(_e041("no calendar year files found", Loc(where),
                           "add one file per year, like 2025.yaml"))
    diags.extend(_check_specs(list(merged.values())))
    if diags:
        raise PolicyError(diags)
    return Calendar(merged.values(), fallback_weekdays=fallback,
                    origin=str(dirs[-1]) if dirs else "<calendar>", _checked=True)


def load_calendar(dirs: Optional[Sequence[os.PathLike | str]] = None, *,
                  fallback_weekdays: bool = False) -> Calendar:
    """Load the calendar from ``dirs`` (root ancestor's calendar dir first, most specific fork's
    last; default: the shipped dir). Results are cached on the resolved dirs, the files' sizes
    and modification times, and the fallback flag, so the year files are parsed once."""
    if dirs is None:
        dirs = [shipped_calendar_dir()]
    resolved = tuple(Path(d).resolve() for d in dirs)
    if not resolved:
        raise ValueError("load_calendar needs at least one calendar dir")
    sigs = tuple(_dir_signature(d) for d in resolved)
    return _load_cached(resolved, sigs, bool(fallback_weekdays))


def clear_calendar_cache() -> None:
    """Forget every loaded calendar (tests; long-running processes pick up edits anyway)."""
    _load_cached.cache_clear()
    _read_dir.cache_clear()
