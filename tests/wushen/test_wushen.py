"""The `wushen` bundle (RULEBOOK section WS): it checks clean, every WS clause is cited, its own
test cases pass, a few direct evaluations with hand-computed dates (the ledger workflow, a fork
that changes the immediate-fix window, C6 monotonicity), and the shipped examples.

Calendar facts used below (policies/calendar): 2025 劳动节 05-01 (Thu) .. 05-05 (Mon) off,
make-up working day Sun 04-27; 2024 国庆 10-01 .. 10-07 off, make-up Sun 09-29 and Sat 10-12.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.evaluate import load_program, prepare
from govsup.engine.inputs import read_file
from govsup.engine.render import render
from govsup.engine.testing import run_tests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "wushen"
RULEBOOK_WS = ["WS-1", "WS-2", "WS-3", "WS-4.1", "WS-4.2a", "WS-4.2b", "WS-4.2c", "WS-4.2d",
               "WS-4.2e", "WS-4.3a", "WS-4.3b", "WS-G4a", "WS-G4b", "WS-G5"]
D = dt.date


@pytest.fixture(scope="module")
def program():
    return load_program("wushen")


def test_bundle_is_a_root_with_its_own_levels_and_the_ledger_workflow(program):
    b = program.bundle
    assert [layer.name for layer in b.chain] == ["wushen"]  # no `extends`
    assert {"violation", "notice", "data_gap"} <= set(b.levels)
    assert sorted(b.clauses) == sorted(RULEBOOK_WS)
    assert list(b.workflows) == ["ledger"]
    wf = b.workflows["ledger"]
    assert wf.collection == "problems" and wf.history == "events"
    assert {s.name for s in wf.states} == {"登记", "派单", "立行立改", "限时整改", "不符合实际",
                                           "已整改", "不予受理"}


def test_every_ws_clause_is_cited_by_a_rule_and_every_rule_cites_ws_clauses(program):
    cited = Counter(c.id for r in program.bundle.rules for c in r.cites)
    assert set(cited) <= set(RULEBOOK_WS)
    missing = [c for c in RULEBOOK_WS if c not in cited]
    assert not missing, missing


def test_every_parameter_is_dated_and_sourced(program):
    for name, p in program.bundle.params.items():
        assert p.clauses and all(c in RULEBOOK_WS for c in p.clauses), name
        assert p.source.strip(), name
        assert p.values and p.values[0].start == D(2024, 1, 16), name
        if p.type in ("int", "number", "text"):
            assert p.unit, name
    assert program.bundle.params["immediate_fix_workdays"].value_on(D(2024, 6, 1)) == 1
    assert list(program.bundle.params["feedback_channels"].value_on(D(2024, 6, 1))) == \
        ["微信", "来信", "来电", "来访"]
    assert [g["code"] for g in program.bundle.params["rejection_grounds"].value_on(
        D(2024, 6, 1))] == [1, 2, 3, 4, 5, 6]
    assert [a["code"] for a in program.bundle.params["content_areas"].value_on(
        D(2024, 6, 1))] == list(range(1, 10))


def test_rule_bodies_hold_no_numbers_except_day_arithmetic(program):
    """Thresholds live in parameters: the only integer literal in a rule body is the `1 day`
    of a breach date (C6) and the `0` of an empty-list test."""
    for f in sorted((ROOT / "policies" / "wushen" / "rules").glob("*.rule")):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            code = re.sub(r'"[^"]*"', '""', code)  # messages and texts
            for m in re.finditer(r"(?<![\w.-])(\d+)(?![\w-])", code):
                rest = code[m.end():]
                ok = (m.group(1) == "1" and rest.lstrip().startswith("day")) or \
                     (m.group(1) == "0" and re.search(r"len\([^)]*\)\s*>\s*$", code[:m.start()]))
                assert ok, f"{f.name}:{n}: number {m.group(1)} in a rule body"


def test_the_bundles_own_cases_pass(program):
    results = run_tests(program)
    assert len(results) >= 20
    failed = [(r.name, r.problems) for r in results if not r.passed]
    assert not failed, failed


# ------------------------------------------------------------------ direct evaluations

def _ev(state, on, **kw):
    return {"state": state, "on": on, **kw}


def _problem(pid, events, **kw):
    return {"problem_id": pid, "supervisor_id": "S1", "reported_on": events[0]["on"] if events
            else "2025-04-28", "events": events, **kw}


def _fixed(on):
    return _ev("已整改", on, result="已整改", verified_by="督办员")


def _immediate(pid, classified, fixed=None):
    evs = [_ev("登记", classified), _ev("派单", classified, handler_unit="综合窗口"),
           _ev("立行立改", classified)]
    return _problem(pid, evs + ([_fixed(fixed)] if fixed else []))


def _rows(evaluation, rule=None):
    return sorted((f.rule, f.key, f.triggered_on, f.status, f.resolved_on)
                  for f in evaluation.findings if rule is None or f.rule == rule)


def test_immediate_fix_across_the_may_day_holiday(program):
    """Classified 2025-04-30 (Wed); 05-01..05-05 off → the window is 2025-05-06 (Tue)."""
    facts = {"problems": [_immediate("A", "2025-04-30", "2025-05-06"),
                          _immediate("B", "2025-04-30", "2025-05-07"),
                          _immediate("C", "2025-04-30")]}
    e = program.evaluate(facts, D(2025, 5, 31))
    assert _rows(e, "WS-4.2c") == [
        ("WS-4.2c", "B/2", D(2025, 5, 7), "resolved", D(2025, 5, 7)),
        ("WS-4.2c", "C/2", D(2025, 5, 7), "open", None),
    ]
    flows = {f.key: f for f in e.flows}
    assert (flows["A"].state, flows["A"].final, flows["A"].open_overdue) == ("已整改", True, 0)
    assert (flows["C"].state, flows["C"].since, flows["C"].open_overdue) == \
        ("立行立改", D(2025, 4, 30), 1)


def test_a_fork_that_allows_two_working_days_moves_the_deadline(tmp_path):
    """The window is the parameter, not a number in the workflow: a fork overriding
    immediate_fix_workdays to 2 makes 2025-05-07 (the 2nd working day after 04-30) on time."""
    fork = tmp_path / "wushen_test_fork"
    (fork / "parameters").mkdir(parents=True)
    (fork / "bundle.yaml").write_text(
        "name: wushen_test_fork\nversion: '1'\ntitle: 测试分支\nextends: wushen\n",
        encoding="utf-8")
    (fork / "parameters" / "ledger.yaml").write_text(
        "overrides:\n  immediate_fix_workdays:\n    from: 2024-01-16\n    value: 2\n",
        encoding="utf-8")
    prog = prepare(load_bundle("wushen_test_fork", policy_roots((tmp_path,))))
    facts = {"problems": [_immediate("B", "2025-04-30", "2025-05-07"),
                          _immediate("D", "2025-04-30", "2025-05-08")]}
    assert _rows(prog.evaluate(facts, D(2025, 5, 31)), "WS-4.2c") == [
        ("WS-4.2c", "D/2", D(2025, 5, 8), "resolved", D(2025, 5, 8)),
    ]


def test_time_limited_rectification_on_and_after_its_own_deadline(program):
    def limited(pid, deadline, fixed):
        return _problem(pid, [
            _ev("登记", "2024-09-23"), _ev("派单", "2024-09-23", handler_unit="窗口"),
            _ev("限时整改", "2024-09-24", responsible_unit="旗医保局", responsible_person="某",
                measures="更换设备", deadline=deadline), _fixed(fixed)])

    facts = {"problems": [limited("ON", "2024-10-08", "2024-10-08"),
                          limited("LATE", "2024-10-08", "2024-10-09")]}
    e = program.evaluate(facts, D(2024, 12, 31))
    assert _rows(e, "WS-4.2b-overdue") == [
        ("WS-4.2b-overdue", "LATE/2", D(2024, 10, 9), "resolved", D(2024, 10, 9))]
    # the ledger is otherwise in order: no other ledger finding for either problem
    ledger_rules = {"WS-4.2a-flow", "WS-4.2a-triage", "WS-4.2b-fields", "WS-4.2c", "WS-4.2d",
                    "WS-G4a-dispatch", "WS-G4a-fields", "WS-G4b-ground", "WS-G4b-petition"}
    assert not [f for f in e.findings if f.rule in ledger_rules]


def test_findings_are_monotonic_in_the_evaluation_date(program):
    """C6: evaluating the same facts later never removes an earlier finding or moves its date."""
    facts = _example_facts()
    seen = None
    for as_of in (D(2025, 4, 30), D(2025, 7, 1), D(2025, 12, 31), D(2026, 1, 31)):
        now = {(f.rule, f.key): f for f in program.evaluate(facts, as_of).findings}
        assert all(f.triggered_on <= as_of for f in now.values())
        if seen is not None:
            for k, f in seen.items():
                assert k in now, k
                assert now[k].triggered_on == f.triggered_on
                if f.status == "resolved":
                    assert now[k].resolved_on == f.resolved_on
        seen = now


# ------------------------------------------------------------------ the shipped examples

def _example_facts():
    files = {"supervisors": "supervisors.json", "centres": "centres.json",
             "problems": "problems.jsonl", "reports": "reports.json",
             "evaluations": "evaluations.json", "conduct": "conduct.json"}
    return {c: list(read_file(EXAMPLES / f, collection=c)) for c, f in files.items()}


EXPECTED_EXAMPLE_FINDINGS = {
    # rule: (count, level) as of 2026-01-31 — see the notes in examples/wushen and docs/bundles
    "WS-1": (1, "violation"),             # WS004: neither 兼任 nor hired
    "WS-2": (1, "violation"),             # WT-008: area 10
    "WS-2-item": (1, "notice"),           # WT-010: 一网通办
    "WS-3": (1, "violation"),             # WT-007: 乌审召镇 problem handled by 嘎鲁图镇
    "WS-4.1-liaison": (1, "notice"),      # C-WSZ
    "WS-4.1-plan": (1, "notice"),         # C-GLT 2025
    "WS-4.2a-triage": (1, "notice"),      # WT-011: reported 2025-12-29, due 2026-01-06
    "WS-4.2b-fields": (1, "violation"),   # WT-003: no responsible person
    "WS-4.2b-overdue": (2, "violation"),  # WT-002 (late), WT-013 (still open)
    "WS-4.2c": (1, "violation"),          # WT-005
    "WS-4.2d": (1, "violation"),          # WT-006
    "WS-4.2e": (1, "violation"),          # C-GLT 2025 H1
    "WS-4.3a": (3, "notice"),             # WS003 (late), WS004, WS005
    "WS-4.3b-recover": (1, "violation"),  # WS006: work card
    "WS-4.3b-revoke": (1, "violation"),   # WS005
    "WS-G4a-channel": (1, "notice"),      # WT-010: 12345热线
    "WS-G4a-dispatch": (1, "violation"),  # WT-012
    "WS-G4a-fields": (1, "violation"),    # WT-010: no 督办核实人
    "WS-G4b-ground": (1, "violation"),    # WT-008: ground 7
    "WS-G4b-petition": (1, "violation"),  # WT-009
    "WS-G5": (1, "data_gap"),             # WG-05: 迟到早退
}


def test_examples_evaluate_with_the_expected_findings(program):
    e = program.evaluate(_example_facts(), D(2026, 1, 31))
    got = Counter(f.rule for f in e.findings)
    assert dict(got) == {r: n for r, (n, _) in EXPECTED_EXAMPLE_FINDINGS.items()}
    for f in e.findings:
        assert f.level == EXPECTED_EXAMPLE_FINDINGS[f.rule][1], f
    assert len(e.rejected) == 1 and e.rejected[0].collection == "problems"
    assert e.rejected[0].position.endswith("examples/wushen/problems.jsonl:8")
    assert "2025-02-30" in e.rejected[0].reason
    assert e.summary.read == 39 and e.summary.evaluated == 38 and e.summary.rejected == 1
    by_key = {(f.rule, f.key): f for f in e.findings}
    assert by_key[("WS-4.2e", "C-GLT/2025年上半年")].triggered_on == D(2025, 7, 1)
    assert by_key[("WS-4.2b-overdue", "WT-002/2")].resolved_on == D(2025, 4, 14)
    assert by_key[("WS-4.3b-revoke", "WS005/WG-02")].triggered_on == D(2025, 5, 21)
    states = {f.key: f.state for f in e.flows}
    assert states["WT-013"] == "限时整改" and states["WT-011"] is None


def test_examples_output_masks_personal_data(program):
    e = program.evaluate(_example_facts(), D(2026, 1, 31))
    out = render(e, "json")
    data = json.loads(out)
    assert data["flows"] and data["findings"]
    raw = (EXAMPLES / "supervisors.json").read_text(encoding="utf-8")
    for secret in re.findall(r'"(?:id_number|phone)": "([^"]+)"', raw):
        assert secret not in out
