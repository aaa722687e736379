"""Eval corpus: ``cases/eval/*.yaml`` (rules + facts + as_of → the exact dated findings).

Every expected date is written out literally, computed by hand from the real calendar
(``policies/calendar/<year>.yaml``); the YAML comments show the count. Each case runs on both
back ends (generated code and the interpreter), which must agree byte for byte.
"""

from __future__ import annotations

import copy

import pytest

from core_helpers import BundleFactory, corpus, date, expected_tuple, finding_tuple
from govsup.engine.findings import to_json_value
from govsup.engine.render import render

CASES = corpus("eval")


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return BundleFactory(tmp_path_factory.mktemp("eval"))


def _find(findings, exp):
    want = expected_tuple(exp)
    for f in findings:
        if finding_tuple(f) == want:
            return f
    raise AssertionError(f"no finding {want}")


@pytest.mark.parametrize("defaults,case", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_eval_case(factory, defaults, case):
    rules = case.get("rules", defaults.get("rules"))
    program = factory.program(case.get("bundle", defaults.get("bundle", "base")), rules)
    facts = case.get("facts") or {}
    as_of = date(case["as_of"])
    opts = {"fallback_weekdays": bool(case.get("fallback_weekdays", False))}
    ev = program.evaluate(copy.deepcopy(facts), as_of, **opts)
    ev_interp = program.evaluate(copy.deepcopy(facts), as_of, interpret=True, **opts)
    # the two back ends have one meaning
    assert render(ev_interp, "json") == render(ev, "json")

    got = sorted(finding_tuple(f) for f in ev.findings)
    exp = sorted(expected_tuple(e) for e in case["expect"])
    assert got == exp, "\n".join(map(str, got))
    for e in case["expect"]:
        f = _find(ev.findings, e)
        if "message" in e:
            assert f.message == e["message"]
        if "message_contains" in e:
            assert e["message_contains"] in f.message
        for k, v in (e.get("values") or {}).items():
            assert k in f.values, f.values
            assert f.values[k] == to_json_value(v), (k, f.values)
        if "provisional" in e:
            assert f.provisional is e["provisional"]
        if "clauses" in e:
            assert f.clauses == e["clauses"]

    s = ev.summary
    assert s.read == s.evaluated + s.rejected
    for coll, cc in s.by_collection.items():
        assert cc.read == cc.evaluated + cc.rejected, coll
    assert s.findings == len(ev.findings)
    if "summary" in case:
        want = case["summary"]
        assert {k: getattr(s, k) for k in want} == want
    if "rejected" in case:
        assert [r.position for r in ev.rejected] == [r["position"] for r in case["rejected"]]
        for r, want in zip(ev.rejected, case["rejected"]):
            assert want.get("reason", "") in r.reason
    else:
        assert ev.rejected == [], ev.rejected
    for w in case.get("warnings", []):
        assert any(w in x for x in ev.warnings), ev.warnings


def test_corpus_covers_the_semantics():
    files = {c[1]["_file"] for c in CASES}
    assert {"missing.yaml", "durations.yaml", "collections.yaml", "lookup.yaml", "periods.yaml",
            "pauses.yaml", "as_of.yaml", "params.yaml", "keys.yaml", "records.yaml"} <= files
    levels = {e["level"] for _, _, c in CASES for e in c["expect"]}
    assert {"data_gap", "warning", "red_card"} <= levels
    statuses = {expected_tuple(e)[4] for _, _, c in CASES for e in c["expect"]}
    assert statuses == {"open", "resolved"}
