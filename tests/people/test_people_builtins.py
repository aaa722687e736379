"""The people builtins `terms`, `in_term` and `periods_without` (dsl/runtime.py, dsl/checker.py).

Unit tests with hand-computed dates (RULEBOOK C3: a term's last day is the corresponding day; the
month's last day where there is none), checker errors, Hypothesis laws, and the property that the
generated code and the AST interpreter agree on rules that use them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govsup.dsl.checker import check_bundle
from govsup.dsl.compiler import compile_rule
from govsup.dsl.parser import parse_module
from govsup.dsl.runtime import (BUILTINS, Dur, EvalError, b_in_term, b_periods, b_periods_without,
                                b_terms)
from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.calendar import add_months, add_years
from govsup.engine.diagnostics import PolicyError
from govsup.engine.evaluate import Program
from govsup.engine.render import render

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "people"
D = dt.date
Y2 = Dur(2, "years")
ONE = dt.timedelta(days=1)


def spans(ts):
    return [(t["start"], t["end"]) for t in ts]


# ------------------------------------------------------------------ terms: hand-computed cases


def test_a_two_year_term_runs_through_the_corresponding_day():
    # C3: 2020-07-01 + 2 years = 2022-07-01 is the last day in office; out of term from 07-02
    ts = b_terms(None, D(2020, 7, 1), Y2, [])
    assert ts == [{"start": D(2020, 7, 1), "end": D(2022, 7, 1), "label": "2020-07-01至2022-07-01",
                   "kind": "term"}]
    assert b_in_term(None, ts, D(2022, 7, 1))
    assert not b_in_term(None, ts, D(2022, 7, 2))
    assert not b_in_term(None, ts, D(2020, 6, 30))


def test_a_term_from_29_february():
    # 2020-02-29 + 2 years: 2022 has no 29 February → the month's last day 2022-02-28 (C3);
    # + 1 year (Lu'an) → 2021-02-28; + 4 years → 2024-02-29 (a leap year again)
    assert spans(b_terms(None, D(2020, 2, 29), Y2, [])) == [(D(2020, 2, 29), D(2022, 2, 28))]
    assert spans(b_terms(None, D(2020, 2, 29), Dur(1, "years"), [])) == [
        (D(2020, 2, 29), D(2021, 2, 28))]
    assert spans(b_terms(None, D(2020, 2, 29), Dur(4, "years"), [])) == [
        (D(2020, 2, 29), D(2024, 2, 29))]
    # 2022-03-01 is the first day out of term
    ts = b_terms(None, D(2020, 2, 29), Y2, [])
    assert b_in_term(None, ts, D(2022, 2, 28)) and not b_in_term(None, ts, D(2022, 3, 1))


def test_renewal_on_the_last_day_of_a_term_chains_without_a_gap():
    # term 2020-07-01..2022-07-01; renewed on its last day 2022-07-01: the first term ends the day
    # before (2022-06-30), the second runs 2022-07-01..2024-07-01 — every day is in some term
    ts = b_terms(None, D(2020, 7, 1), Y2, [D(2022, 7, 1)])
    assert spans(ts) == [(D(2020, 7, 1), D(2022, 6, 30)), (D(2022, 7, 1), D(2024, 7, 1))]
    assert all(b_in_term(None, ts, D(2020, 7, 1) + k * ONE) for k in range(0, 1462))
    assert not b_in_term(None, ts, D(2024, 7, 2))


def test_renewal_the_day_after_the_term_also_chains_but_a_later_one_leaves_a_gap():
    ts = b_terms(None, D(2020, 7, 1), Y2, [D(2022, 7, 2)])
    assert spans(ts) == [(D(2020, 7, 1), D(2022, 7, 1)), (D(2022, 7, 2), D(2024, 7, 2))]
    ts = b_terms(None, D(2020, 7, 1), Y2, [D(2022, 8, 15)])
    assert spans(ts) == [(D(2020, 7, 1), D(2022, 7, 1)), (D(2022, 8, 15), D(2024, 8, 15))]
    assert not b_in_term(None, ts, D(2022, 7, 2)) and not b_in_term(None, ts, D(2022, 8, 14))
    assert b_in_term(None, ts, D(2022, 8, 15))


def test_dismissal_ends_the_term_the_day_before_and_drops_later_renewals():
    # dismissed on 2021-03-10: 2021-03-09 is the last day in office (the dismissal day is out)
    ts = b_terms(None, D(2020, 7, 1), Y2, [D(2022, 7, 1)], D(2021, 3, 10))
    assert spans(ts) == [(D(2020, 7, 1), D(2021, 3, 9))]
    # dismissed on the first day: no term at all
    assert b_terms(None, D(2020, 7, 1), Y2, [], D(2020, 7, 1)) == []
    # dismissed after the term expired: the expiry stands
    assert spans(b_terms(None, D(2020, 7, 1), Y2, [], D(2023, 1, 1))) == [
        (D(2020, 7, 1), D(2022, 7, 1))]


def test_renewals_are_sorted_deduplicated_and_those_before_the_start_ignored():
    ts = b_terms(None, D(2020, 7, 1), Y2, [D(2024, 7, 1), None, D(2019, 1, 1), D(2022, 7, 1),
                                           D(2022, 7, 1), D(2020, 7, 1)])
    assert spans(ts) == [(D(2020, 7, 1), D(2022, 6, 30)), (D(2022, 7, 1), D(2024, 6, 30)),
                         (D(2024, 7, 1), D(2026, 7, 1))]


def test_months_and_days():
    # 6 months from 2024-08-31: February 2025 has no 31st → 2025-02-28 (C3)
    assert spans(b_terms(None, D(2024, 8, 31), Dur(6, "months"), [])) == [
        (D(2024, 8, 31), D(2025, 2, 28))]
    assert spans(b_terms(None, D(2024, 12, 30), Dur(3, "days"), [])) == [
        (D(2024, 12, 30), D(2025, 1, 2))]


def test_bad_lengths_are_evaluation_errors():
    with pytest.raises(EvalError, match="workdays"):
        b_terms(None, D(2020, 1, 1), Dur(5, "workdays"), [])
    with pytest.raises(EvalError, match="negative"):
        b_terms(None, D(2020, 1, 1), Dur(-1, "years"), [])
    with pytest.raises(EvalError, match="start date"):
        b_terms(None, None, Y2, [])


# ------------------------------------------------------------------ periods_without


def test_periods_without_quarters_months_halves_years():
    dates = [D(2020, 8, 15), D(2021, 1, 1), D(2021, 6, 30)]
    # from 2020-05-21: Q2 2020 already runs on that day, so the first quarter asked for is Q3
    got = b_periods_without(None, "quarter", D(2020, 5, 21), D(2021, 12, 31), dates)
    assert [p["label"] for p in got] == ["2020年第4季度", "2021年第3季度", "2021年第4季度"]
    assert (got[0]["start"], got[0]["end"]) == (D(2020, 10, 1), D(2020, 12, 31))
    # a period that begins exactly on `from` is included
    got = b_periods_without(None, "half", D(2020, 7, 1), D(2021, 12, 31), dates)
    assert [p["label"] for p in got] == ["2021年下半年"]
    got = b_periods_without(None, "year", D(2020, 5, 21), D(2022, 3, 1), dates)
    assert [p["label"] for p in got] == ["2022年"]
    got = b_periods_without(None, "month", D(2024, 1, 1), D(2024, 3, 31), [D(2024, 2, 29)])
    assert [(p["start"], p["end"]) for p in got] == [(D(2024, 1, 1), D(2024, 1, 31)),
                                                     (D(2024, 3, 1), D(2024, 3, 31))]


def test_periods_without_stops_at_the_last_period_beginning_by_to():
    got = b_periods_without(None, "quarter", D(2024, 1, 1), D(2024, 4, 1), [])
    assert [p["label"] for p in got] == ["2024年第1季度", "2024年第2季度"]
    assert b_periods_without(None, "quarter", D(2024, 1, 2), D(2024, 3, 31), []) == []


def test_periods_without_unknown_kind():
    with pytest.raises(EvalError, match="unknown period kind"):
        b_periods_without(None, "week", D(2024, 1, 1), D(2024, 3, 1), [])


# ------------------------------------------------------------------ Hypothesis laws

days = st.dates(min_value=D(2016, 1, 1), max_value=D(2030, 12, 31))
lengths = st.one_of(st.integers(0, 4).map(lambda n: Dur(n, "years")),
                    st.integers(0, 30).map(lambda n: Dur(n, "months")),
                    st.integers(0, 400).map(lambda n: Dur(n, "days")))


def _plus(d, length):
    if length.unit == "years":
        return add_years(d, length.n)
    if length.unit == "months":
        return add_months(d, length.n)
    return d + dt.timedelta(days=length.n)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(start=days, length=lengths, renewals=st.lists(st.one_of(days, st.none()), max_size=5),
       end=st.one_of(st.none(), days), probe=days)
def test_terms_laws(start, length, renewals, end, probe):
    ts = b_terms(None, start, length, renewals, end)
    starts = {start} | {r for r in renewals if r is not None and r >= start}
    # every term is non-empty, starts on an appointment or renewal date, and before `end`
    for t in ts:
        assert t["start"] <= t["end"] and t["start"] in starts
        assert end is None or t["end"] < end
        assert t["end"] <= _plus(t["start"], length)
        assert t["kind"] == "term" and t["label"] == f"{t['start']}至{t['end']}"
    # terms are ordered and disjoint
    for a, b in zip(ts, ts[1:]):
        assert a["end"] < b["start"]
    # status on any date: in office iff some appointment/renewal date s has s <= d <= s + length,
    # and d is before the dismissal (the union of the untruncated terms, cut at `end`)
    want = (end is None or probe < end) and any(s <= probe <= _plus(s, length) for s in starts)
    assert b_in_term(None, ts, probe) == want
    # a later dismissal never takes a day out of office that an earlier one left in
    if end is not None:
        later = b_terms(None, start, length, renewals, end + ONE)
        assert not b_in_term(None, ts, probe) or b_in_term(None, later, probe)
    # order and repetition of renewals do not matter
    assert b_terms(None, start, length, list(reversed(renewals)) + renewals, end) == ts


@settings(max_examples=300, deadline=None, derandomize=True)
@given(kind=st.sampled_from(["month", "quarter", "half", "year"]), a=days, b=days,
       dates=st.lists(st.one_of(days, st.none()), max_size=8))
def test_periods_without_law(kind, a, b, dates):
    got = b_periods_without(None, kind, a, b, dates)
    whole = [p for p in b_periods(None, kind, a, b) if p["start"] >= a]
    present = [d for d in dates if d is not None]
    want = [p for p in whole if not any(p["start"] <= d <= p["end"] for d in present)]
    assert got == want
    assert b_periods_without(None, kind, a, b, list(reversed(dates))) == got


# ------------------------------------------------------------------ checker

@pytest.fixture(scope="module")
def fixture_bundle():
    return load_bundle(FIXTURE, policy_roots())


def _program(bundle, text: str) -> Program:
    mod = parse_module(text, "prop.rule")
    b = dataclasses.replace(bundle, rules=mod.rules)
    return Program(b, tuple(compile_rule(c) for c in check_bundle(b)))


def _errors(bundle, body: str) -> list[tuple[str, str]]:
    text = f"rule X {{\n  cites T-1\n  for p in people\n{body}\n  level notice\n  on as_of\n}}\n"
    try:
        _program(bundle, text)
    except PolicyError as e:
        return [(d.code, d.message) for d in e.diagnostics]
    return []


@pytest.mark.parametrize("body, code, part", [
    ("  let t = terms(p.start, 5 workdays, p.renewals)", "E027", "days, months or years"),
    ("  let t = terms(p.start, 2, p.renewals)", "E027", "must be a duration"),
    ("  let t = terms(p.end, 2 years, p.renewals)", "E027", "may be missing"),
    ("  let t = terms(p.start, 2 years, [1, 2])", "E027", "list of dates"),
    ("  let t = terms(p.start, 2 years)", "E026", "3 to 4"),
    ("  when in_term(p.renewals, as_of)", "E027", "list[period]"),
    ("  when in_term(terms(p.start, 2 years, []), p.end)", "E027", "may be missing"),
    ('  let q = periods_without("week", p.start, as_of, p.acts)', "E027", "unknown period kind"),
    ('  let q = periods_without("month", p.start, as_of)', "E026", "4"),
    ('  let q = periods_without("month", p.start, as_of, [p.id])', "E027", "list of dates"),
])
def test_checker_rejects(fixture_bundle, body, code, part):
    errs = _errors(fixture_bundle, body)
    assert any(c == code and part in m for c, m in errs), errs


def test_checker_accepts_optional_end_and_dates(fixture_bundle):
    assert _errors(fixture_bundle, "  let t = terms(p.start, param.term_years years, "
                   "p.renewals + [p.end], p.end)\n  when in_term(t, as_of)\n"
                   '  let q = periods_without("quarter", p.start, as_of, p.acts + [p.end])') == []


def test_every_builtin_has_a_checker_signature(fixture_bundle):
    # the checker raises AssertionError for a builtin without a signature: the new ones have one
    for name in ("terms", "in_term", "periods_without"):
        assert name in BUILTINS


# ------------------------------------------------------------------ compiled == interpreted

RULES = """
rule T "聘期" {
  cites T-1
  for p in people
  let ts = terms(p.start, param.term_years years, p.renewals, p.end)
  for t in ts
  level notice
  on t.start
  resolved t.end + 1 day
  key p.id + "/" + t.label
  message "{t.start}..{t.end} {len(ts)}"
}
rule A "聘期外活动" {
  cites T-1
  for p in people
  let ts = terms(p.start, 1 year, p.renewals, p.end)
  for d in p.acts
  when not in_term(ts, d)
  level violation
  on d
}
rule Q "季度内无活动" {
  cites T-1
  for p in people
  for q in periods_without("quarter", p.start, as_of, p.acts)
  level notice
  on q.end + 1 day
  key p.id + "/" + q.label
}
rule G "无法计算" {
  cites T-1
  for p in people
  let ts = terms(p.start, (0 - len(p.acts)) months, p.renewals)
  level notice
  on p.start
}
"""

people = st.lists(st.fixed_dictionaries(
    {"start": days, "renewals": st.lists(days, max_size=3), "acts": st.lists(days, max_size=4)},
    optional={"end": days}), max_size=4)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=people, as_of=st.dates(min_value=D(2020, 1, 1), max_value=D(2030, 12, 31)))
def test_compiled_and_interpreted_agree(fixture_bundle, rows, as_of):
    program = _program(fixture_bundle, RULES)
    facts = {"people": [dict(r, id=f"P{i}") for i, r in enumerate(rows)]}
    compiled = program.evaluate(facts, as_of)
    interpreted = program.evaluate(facts, as_of, interpret=True)
    assert render(compiled, "json") == render(interpreted, "json")
    for i, r in enumerate(rows):
        # rule A fires exactly on the activity dates outside every one-year term
        ts = b_terms(None, r["start"], Dur(1, "years"), r["renewals"], r.get("end"))
        want = sorted({d for d in r["acts"] if d <= as_of and not b_in_term(None, ts, d)})
        got = sorted({f.triggered_on for f in compiled.findings
                      if f.rule == "A" and f.key.startswith(f"P{i}/")})
        assert got == want
        # rule G: a negative length is a data gap, never a crash (only people with activities)
        gaps = [f for f in compiled.findings if f.rule == "G" and f.key == f"P{i}"]
        if r["acts"]:
            assert gaps and gaps[0].level == "data_gap" and "negative" in gaps[0].message
