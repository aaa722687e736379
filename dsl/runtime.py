"""Run-time support shared by the interpreter and the compiled code.

Input: evaluation settings (as-of date, calendar, parameters, fact collections). Output:
:class:`Runtime` (what builtins may see) and the builtin implementations in ``BUILTINS``.
Builtins are plain functions over plain values; nothing here reaches the host beyond the date
arithmetic and the calendar. A builtin signals a problem by raising :class:`EvalError`, which the
evaluator turns into a ``data_gap`` finding for that rule and record.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable

from ..engine import calendar as _cal


class EvalError(Exception):
    """A value the rule needs could not be computed (missing data, bad arithmetic)."""


class NotInForce(Exception):
    """A parameter has no value on the rule's reference date: the rule is not in force then."""


@dataclass(frozen=True)
class Dur:
    n: int
    unit: str  # workdays | days | months | years

    def __str__(self) -> str:
        return f"{self.n} {self.unit}"


@dataclass(frozen=True)
class Pause:
    start: _dt.date
    end: _dt.date | None  # None while still open as of the evaluation date

    def __str__(self) -> str:
        return f"({self.start}, {self.end or '…'}]"


@dataclass
class Runtime:
    """What a running rule can see. One per evaluation (as-of date); never shared across threads."""

    as_of: _dt.date
    calendar: Any  # govsup.engine.calendar.Calendar
    params: Any  # name -> Param (with .value_on)
    indexes: dict = field(default_factory=dict)  # collection -> {key: record}
    provisional: bool = False
    flows: dict = field(default_factory=dict)  # workflow name -> engine.workflow.CompiledFlow
    _param_cache: dict = field(default_factory=dict)
    _flow_cache: dict = field(default_factory=dict)
    # date -> InForce; the evaluations of one bundle may share it (its parameters never change)
    in_force: dict = field(default_factory=dict)
    # the calendar's published years: a date in another is provisional (is_provisional, inline)
    covered: Any = None
    _pairs: tuple = (None, None)  # the last pause list given to deadline/countdown, its pairs

    def __post_init__(self):
        if self.covered is None and self.calendar is not None:
            self.covered = getattr(self.calendar, "covered_years", None)

    def param(self, name: str, on: _dt.date) -> Any:
        k = (name, on)
        try:
            return self._param_cache[k]
        except KeyError:
            pass
        v = self.params[name].value_on(on)
        if v is None:
            raise NotInForce(f"parameter `{name}` has no value on {on}")
        self._param_cache[k] = v
        return v

    def params_on(self, on: _dt.date) -> "InForce":
        """The parameters in force on ``on``: ``params_on(on)[name]`` is ``param(name, on)``."""
        p = self.in_force.get(on)
        if p is None:
            p = self.in_force[on] = InForce(self.params, on)
        return p

    def touch(self, d):
        """Note when a date lies in a year the calendar only covers by the Mon–Fri fallback."""
        if d is not None and self.calendar.is_provisional(d):
            self.provisional = True
        return d


class InForce(dict):
    """Parameter name -> its value on one date, filled as names are read; a parameter with no
    value then raises NotInForce (as ``Runtime.param``)."""

    def __init__(self, params, on: _dt.date):
        super().__init__()
        self.params = params
        self.on = on

    def __missing__(self, name: str):
        v = self.params[name].value_on(self.on)
        if v is None:
            raise NotInForce(f"parameter `{name}` has no value on {self.on}")
        self[name] = v
        return v


def _need(v, what: str):
    if v is None:
        raise EvalError(f"{what} is missing")
    return v


# ------------------------------------------------------------------ arithmetic helpers


def add_dur(rt: Runtime, d: _dt.date, dur: Dur, sign: int = 1) -> _dt.date:
    n = dur.n * sign
    if dur.unit == "workdays":
        rt.touch(d)
        return rt.touch(rt.calendar.add_workdays(d, n))
    if dur.unit == "days":
        return d + _dt.timedelta(days=n)
    if dur.unit == "months":
        return _cal.add_months(d, n)
    return _cal.add_years(d, n)


# `d ± n unit` specialised for the compiled code: exactly R.arith(rt, op, d, Dur(n, unit)),
# without building the Dur.

def add_workdays_op(rt: Runtime, d, n):
    if d is None:
        raise EvalError("missing operand of `+`")
    cov = rt.covered  # rt.touch(d), add, rt.touch(result) — without the calls
    if cov is None:
        return _add_workdays_touch(rt, d, n * 1)
    if d.year not in cov:
        rt.provisional = True
    r = rt.calendar.add_workdays(d, n * 1)
    if r.year not in cov:
        rt.provisional = True
    return r


def sub_workdays_op(rt: Runtime, d, n):
    if d is None:
        raise EvalError("missing operand of `-`")
    cov = rt.covered
    if cov is None:
        return _add_workdays_touch(rt, d, n * -1)
    if d.year not in cov:
        rt.provisional = True
    r = rt.calendar.add_workdays(d, n * -1)
    if r.year not in cov:
        rt.provisional = True
    return r


def _add_workdays_touch(rt: Runtime, d, n):
    """add_workdays with rt.touch before and after (a calendar without ``covered_years``)."""
    cal = rt.calendar
    if cal.is_provisional(d):
        rt.provisional = True
    r = cal.add_workdays(d, n)
    if cal.is_provisional(r):
        rt.provisional = True
    return r


def add_days_op(rt: Runtime, d, n):
    if d is None:
        raise EvalError("missing operand of `+`")
    return d + _dt.timedelta(days=n * 1)


def sub_days_op(rt: Runtime, d, n):
    if d is None:
        raise EvalError("missing operand of `-`")
    return d + _dt.timedelta(days=n * -1)


def memo(rt: Runtime, M: dict, key: str, compute: Callable):
    """A `let` value shared by the rules evaluated for one record: computed by the first rule
    that needs it, replayed for the others — the same value, the same error, and the same
    provisional mark (C1 fallback) as if each rule had computed it."""
    hit = M.get(key)
    if hit is not None:
        ok, v, prov = hit
        if prov:
            rt.provisional = True
        if ok:
            return v
        raise v
    before = rt.provisional
    rt.provisional = False
    try:
        v = compute()
    except Exception as exc:
        M[key] = (False, exc, rt.provisional)
        rt.provisional = before or rt.provisional
        raise
    M[key] = (True, v, rt.provisional)
    rt.provisional = before or rt.provisional
    return v


def arith(rt: Runtime, op: str, a, b):
    if a is None or b is None:
        raise EvalError(f"missing operand of `{op}`")
    if op == "+":
        if isinstance(b, Dur):
            return add_dur(rt, a, b, 1)
        return a + b
    if op == "-":
        if isinstance(b, Dur):
            return add_dur(rt, a, b, -1)
        if isinstance(a, _dt.date):
            return (a - b).days
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise EvalError("division by zero")
        return a / b
    if op == "%":
        if b == 0:
            raise EvalError("division by zero")
        return a % b
    raise EvalError(f"unknown operator {op}")


def compare(op: str, a, b) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if a is None or b is None:
        raise EvalError(f"missing operand of `{op}`")
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def member(a, b) -> bool:
    if b is None:
        raise EvalError("missing right operand of `in`")
    if isinstance(b, str):
        if a is None:
            raise EvalError("missing left operand of `in`")
        return a in b
    return a in b


def index(xs, i):
    if xs is None or i is None:
        raise EvalError("missing operand of `[]`")
    if isinstance(i, int) and -len(xs) <= i < len(xs):
        return xs[i]
    return None


def get(rec, name):
    """Field access: a missing field (absent or null) reads as missing."""
    if rec is None:
        raise EvalError(f"cannot read `{name}` of a missing value")
    return rec.get(name)


def get_missing(name):
    """What ``get(None, name)`` raises (the compiled code inlines the other case)."""
    raise EvalError(f"cannot read `{name}` of a missing value")


# ------------------------------------------------------------------ builtins


def _present(xs):
    return [x for x in xs if x is not None]


def b_count(rt, xs, f=None):
    if f is None:
        return len(xs)
    return sum(1 for x in xs if f(x))


def b_any(rt, xs, f):
    for x in xs:
        if f(x):
            return True
    return False


def b_all(rt, xs, f):
    for x in xs:
        if not f(x):
            return False
    return True


def b_filter(rt, xs, f):
    return [x for x in xs if f(x)]


def b_map(rt, xs, f):
    return [f(x) for x in xs]


def b_sum(rt, xs, f=None):
    vals = _present(xs if f is None else (f(x) for x in xs))
    return sum(vals)


def _minmax(fn, rt, args):
    if args and isinstance(args[0], (list, tuple)):
        xs = args[0]
        vals = _present(xs if len(args) == 1 else (args[1](x) for x in xs))
        return fn(vals) if vals else None
    vals = _present(args)
    return fn(vals) if vals else None


def b_min(rt, *args):
    return _minmax(min, rt, args)


def b_max(rt, *args):
    return _minmax(max, rt, args)


def b_first(rt, xs, f=None):
    for x in xs:
        if f is None or f(x):
            return x
    return None


def b_last(rt, xs, f=None):
    for x in reversed(xs):
        if f is None or f(x):
            return x
    return None


def b_sort(rt, xs, f):
    return sort_keyed([(f(x), i, x) for i, x in enumerate(xs)])


def _sort_key(t):
    return (t[0] is None, t[0] if t[0] is not None else 0, t[1])


def sort_keyed(keyed: list) -> list:
    """The elements of ``[(key, index, element), …]`` by key; missing keys last, stably."""
    if len(keyed) > 1:
        for t in keyed:
            if t[0] is None:
                keyed.sort(key=_sort_key)
                break
        else:
            # no key is missing: the tuples themselves compare as their sort keys do (key, then
            # the distinct index; never the element), in the same comparisons
            keyed.sort()
    return [x for _, _, x in keyed]


def b_distinct(rt, xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


def b_len(rt, x):
    return len(x)


def b_lookup(rt, coll: str, key):
    if key is None:
        return None
    return rt.indexes.get(coll, {}).get(key)


def b_contains(rt, t, part):
    return part in t


def b_starts_with(rt, t, prefix):
    return t.startswith(prefix)


def b_lower(rt, t):
    return t.lower()


def b_trim(rt, t):
    return t.strip()


def b_text(rt, x):
    if x is None:
        return ""
    if isinstance(x, bool):
        return "是" if x else "否"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if isinstance(x, (list, tuple)):  # a list in a message: its items joined with 、
        return b_join(rt, x, "、")
    return str(x)


def b_join(rt, xs, sep):
    """The text of each item of ``xs`` (a missing item as （缺失）), separated by ``sep``."""
    return sep.join(b_text(rt, x) if x is not None else "（缺失）" for x in xs)


def b_is_blank(rt, t):
    return t is None or (isinstance(t, str) and not t.strip())


def b_coalesce(rt, *args):
    for a in args:
        if a is not None:
            return a
    return None


def b_add_workdays(rt, d, n):
    rt.touch(d)
    return rt.touch(rt.calendar.add_workdays(d, n))


def b_sub_workdays(rt, d, n):
    rt.touch(d)
    return rt.touch(rt.calendar.sub_workdays(d, n))


def b_workdays(rt, a, b):
    rt.touch(a)
    rt.touch(b)
    return rt.calendar.workdays_between(a, b)


def b_is_workday(rt, d):
    rt.touch(d)
    return rt.calendar.is_workday(d)


def b_add_days(rt, d, n):
    return d + _dt.timedelta(days=n)


def b_add_months(rt, d, n):
    return _cal.add_months(d, n)


def b_add_years(rt, d, n):
    return _cal.add_years(d, n)


def b_term_end(rt, start, years, months=0):
    return _cal.term_end(start, years=years, months=months)


def b_age(rt, birth, on):
    return _cal.age_on(birth, on)


def b_year(rt, d):
    return d.year


def b_month(rt, d):
    return d.month


def b_quarter(rt, d):
    return (d.month - 1) // 3 + 1


def b_date(rt, y, m, d):
    try:
        return _dt.date(y, m, d)
    except ValueError as exc:
        raise EvalError(f"not a date: {y}-{m}-{d}") from exc


_PERIOD_MONTHS = {"month": 1, "quarter": 3, "half": 6, "year": 12}


def period_start(kind: str, d: _dt.date) -> _dt.date:
    span = _PERIOD_MONTHS.get(kind)
    if span is None:
        raise EvalError(f"unknown period kind `{kind}` (month, quarter, half, year)")
    m0 = ((d.month - 1) // span) * span + 1
    return _dt.date(d.year, m0, 1)


def period_end(kind: str, d: _dt.date) -> _dt.date:
    s = period_start(kind, d)
    return _cal.add_months(s, _PERIOD_MONTHS[kind]) - _dt.timedelta(days=1)


def _label(kind: str, s: _dt.date) -> str:
    if kind == "month":
        return f"{s.year}年{s.month}月"
    if kind == "quarter":
        return f"{s.year}年第{(s.month - 1) // 3 + 1}季度"
    if kind == "half":
        return f"{s.year}年{'上' if s.month <= 6 else '下'}半年"
    return f"{s.year}年"


def b_periods(rt, kind, start, end):
    out = []
    s = period_start(kind, start)
    while s <= end:
        e = period_end(kind, s)
        out.append({"start": s, "end": e, "label": _label(kind, s), "kind": kind})
        s = e + _dt.timedelta(days=1)
    return out


def b_period_start(rt, kind, d):
    return period_start(kind, d)


def b_period_end(rt, kind, d):
    return period_end(kind, d)


def b_pause(rt, start, end=None):
    if start is None:
        raise EvalError("a pause needs its start date")
    if end is not None and end > rt.as_of:
        end = None  # not yet known as of the evaluation date (C7)
    p = _new(Pause)  # Pause(start, end) without the frozen dataclass's setattr calls
    d = p.__dict__
    d["start"] = start
    d["end"] = end
    return p


_new = object.__new__


def _pairs(pauses):
    return [(p.start, p.end) for p in pauses if p.start <= _FAR]


_FAR = _dt.date(9999, 12, 31)


def _pairs_of(rt, pauses):
    """``_pairs(pauses)``, remembered for the last list (a rule's deadline and its countdown
    take the same one; lists are never changed, and the one remembered is held)."""
    last, pairs = rt._pairs
    if last is pauses and type(pauses) is list:
        return pairs
    pairs = _pairs(pauses)
    rt._pairs = (pauses, pairs)
    return pairs


def b_deadline(rt, start, n, pauses):
    cov = rt.covered  # rt.touch(start), …, rt.touch(result) — without the calls
    if cov is None:
        rt.touch(start)
        return rt.touch(rt.calendar.deadline(start, n, _pairs(pauses)))
    if start is not None and start.year not in cov:
        rt.provisional = True
    r = rt.calendar.deadline(start, n, _pairs_of(rt, pauses))
    if r is not None and r.year not in cov:
        rt.provisional = True
    return r


def b_countdown(rt, start, n, k, pauses):
    cov = rt.covered
    if cov is None:
        rt.touch(start)
        return rt.touch(rt.calendar.countdown_on(start, n, k, _pairs(pauses)))
    if start is not None and start.year not in cov:
        rt.provisional = True
    r = rt.calendar.countdown_on(start, n, k, _pairs_of(rt, pauses))
    if r is not None and r.year not in cov:
        rt.provisional = True
    return r


def b_is_paused(rt, pauses, d):
    return any(p.start <= d and (p.end is None or d < p.end) for p in pauses)


def b_id_problem(rt, t):
    from ..engine.identity import resident_id_problem

    return resident_id_problem(t, on=rt.as_of)


def b_id_birth_date(rt, t):
    from ..engine.identity import birth_date_from_id

    return birth_date_from_id(t, on=rt.as_of)


def b_phone_kind(rt, t):
    from ..engine.identity import phone_kind

    return phone_kind(t)


def b_flow(rt, name, rec):
    """The replay of workflow ``name`` for ``rec`` (docs/workflows.md), once per record."""
    k = (name, id(rec))
    hit = rt._flow_cache.get(k)
    if hit is not None and hit[0] is rec:
        return hit[1]
    run = rt.flows[name].replay(rt, rec)
    rt._flow_cache[k] = (rec, run)  # keeps rec alive, so its id is not reused meanwhile
    return run


BUILTINS: dict[str, Callable] = {
    "flow": b_flow,
    "id_problem": b_id_problem, "id_birth_date": b_id_birth_date, "phone_kind": b_phone_kind,
    "count": b_count, "any": b_any, "all": b_all, "filter": b_filter, "map": b_map,
    "sum": b_sum, "min": b_min, "max": b_max, "first": b_first, "last": b_last, "sort": b_sort,
    "distinct": b_distinct, "len": b_len, "lookup": b_lookup, "contains": b_contains,
    "starts_with": b_starts_with, "lower": b_lower, "trim": b_trim, "text": b_text,
    "join": b_join,
    "is_blank": b_is_blank, "coalesce": b_coalesce, "add_workdays": b_add_workdays,
    "sub_workdays": b_sub_workdays, "workdays": b_workdays, "is_workday": b_is_workday,
    "add_days": b_add_days, "add_months": b_add_months, "add_years": b_add_years,
    "term_end": b_term_end, "age": b_age, "year": b_year, "month": b_month,
    "quarter": b_quarter, "date": b_date, "periods": b_periods, "period_start": b_period_start,
    "period_end": b_period_end, "pause": b_pause, "deadline": b_deadline,
    "countdown": b_countdown, "is_paused": b_is_paused,
}

# Builtins that accept missing arguments themselves; for all others the caller checks presence.
ACCEPTS_MISSING = {"is_blank", "coalesce", "lookup", "pause", "min", "max", "text"}


# ------------------------------------------------------------------ people: terms and duties
# A self-contained block (RULEBOOK C3, C6; HN-SUP-5b, HN-SUP-8.x, LA-SEL-4, LA-EXP-1): terms of
# office built from an appointment, its renewals and an early end, and the calendar periods in
# which a periodic duty ("at least one … per month / quarter / half year / year") was not done.
# Both back ends call these through BUILTINS; their types are in dsl/checker.py
# (`Checker._people_call`).

TERM_UNITS = ("days", "months", "years")
_ONE_DAY = _dt.timedelta(days=1)


def term_last_day(start: _dt.date, length: Dur) -> _dt.date:
    """The last day of a term of ``length`` that starts on ``start`` (C3: the corresponding day
    ``length`` later, or that month's last day; a term of n days ends n days later)."""
    if length.unit not in TERM_UNITS:
        raise EvalError(f"a term is counted in days, months or years, not {length.unit}")
    if length.n < 0:
        raise EvalError(f"a term cannot be negative ({length})")
    if length.unit == "days":
        return start + _dt.timedelta(days=length.n)
    if length.unit == "months":
        return _cal.add_months(start, length.n)
    return _cal.add_years(start, length.n)


def b_terms(rt, start, length, renewals, end=None):
    """The terms of office, in order: the first starts on ``start``; each renewal date (on or
    after ``start``) starts a new term, which ends the running one the day before; a term lasts
    ``length`` (C3) unless the next one starts earlier; ``end`` (the first day out of office:
    dismissal, early end) cuts everything from that day on. Each term is a period record
    ``{start, end, label, kind: "term"}`` whose ``end`` is its last day in office."""
    if start is None:
        raise EvalError("`terms` needs the start date of the first term")
    if length is None or renewals is None:
        raise EvalError("`terms` needs a term length and a list of renewal dates")
    starts = sorted({start, *(r for r in renewals if r is not None and r >= start)})
    if end is not None:
        starts = [s for s in starts if s < end]
    out = []
    for i, s in enumerate(starts):
        e = term_last_day(s, length)
        if i + 1 < len(starts) and starts[i + 1] - _ONE_DAY < e:
            e = starts[i + 1] - _ONE_DAY
        if end is not None and end - _ONE_DAY < e:
            e = end - _ONE_DAY
        out.append({"start": s, "end": e, "label": f"{s}至{e}", "kind": "term"})
    return out


def b_in_term(rt, periods, d):
    """Whether ``d`` lies in one of ``periods`` (terms or calendar periods), ends included."""
    for p in periods:
        if p["start"] <= d <= p["end"]:
            return True
    return False


def b_periods_without(rt, kind, start, end, dates):
    """The calendar periods of ``kind`` that begin within [start, end] (a period already running
    on ``start`` is not included) and contain none of ``dates`` (missing dates are skipped)."""
    import bisect

    ds = sorted(d for d in dates if d is not None)
    s = period_start(kind, start)
    if s < start:
        s = period_end(kind, s) + _ONE_DAY
    out = []
    while s <= end:
        e = period_end(kind, s)
        i = bisect.bisect_left(ds, s)
        if i == len(ds) or ds[i] > e:
            out.append({"start": s, "end": e, "label": _label(kind, s), "kind": kind})
        s = e + _ONE_DAY
    return out


BUILTINS.update({"terms": b_terms, "in_term": b_in_term, "periods_without": b_periods_without})
ACCEPTS_MISSING.add("terms")  # `end` is optional: a term with no early end
