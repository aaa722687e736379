"""Clause 施行日期 (``in_force_from``): a rule applies to a record only when the first clause it
cites is in force on the rule's reference date (its `ref`, else the evaluation date).

The fork fixture's rules (``fixtures/forks/root``): R-1 and R-2 cite F-1 and take ``ref
c.accepted_on``; R-3 cites F-2 and has no `ref`. Case A was accepted 2024-06-28, B 2024-09-23,
C 2024-10-08; without dates the root gives A, B and C each a warning (R-2) and a red card (R-1),
and B a notice (R-3).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from core_helpers import FIXTURES, edit
from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.diagnostics import PolicyError
from govsup.engine.evaluate import prepare
from govsup.engine.render import render

FORKS = FIXTURES / "forks"
D = dt.date
FACTS = {"cases": [
    {"id": "A", "accepted_on": "2024-06-28", "days": 5},
    {"id": "B", "accepted_on": "2024-09-23", "days": 5, "fee_kind": "咨询费"},
    {"id": "C", "accepted_on": "2024-10-08", "days": 20},
]}
DOC = "  - {title: 测试文件, number: 测试〔2024〕1号, date: 2024-01-01}\n"


@pytest.fixture
def forks(tmp_path):
    dest = tmp_path / "forks"
    shutil.copytree(FORKS, dest)
    return dest


def _dated(root: Path, doc_extra: str, clause_f2: str = "") -> None:
    edit(root, "root/bundle.yaml", DOC,
          "  - {title: 测试文件, number: 测试〔2024〕1号, date: 2024-01-01" + doc_extra + "}\n")
    if clause_f2:
        edit(root, "root/bundle.yaml", "F-2: {article: 第二条, summary: 收费种类}",
              "F-2: {article: 第二条, summary: 收费种类, " + clause_f2 + "}")


def _program(root: Path, name: str = "root"):
    return prepare(load_bundle(name, policy_roots((root,))))


def _errors(root: Path, name: str = "root") -> list:
    with pytest.raises(PolicyError) as ei:
        _program(root, name)
    return ei.value.diagnostics


def _found(ev) -> list:
    return [(f.rule, f.key, f.level, f.triggered_on) for f in ev.findings]


def test_a_record_whose_reference_date_is_before_the_clause_is_not_evaluated(forks):
    _dated(forks, ", in_force_from: 2024-09-23, clauses: [F-1]")
    b = load_bundle("root", policy_roots((forks,)))
    assert b.clauses["F-1"].in_force_from == D(2024, 9, 23)
    assert b.clauses["F-2"].in_force_from is None
    program = prepare(b)
    for interpret in (False, True):
        ev = program.evaluate(FACTS, D(2024, 12, 31), interpret=interpret)
        # A (accepted 06-28) is before F-1's date; B is accepted on the date itself (inclusive)
        assert _found(ev) == [
            ("R-3", "B", "notice", D(2024, 9, 23)),
            ("R-2", "B", "warning", D(2024, 9, 26)),
            ("R-1", "B", "red_card", D(2024, 9, 30)),
            ("R-2", "C", "warning", D(2024, 10, 11)),
            ("R-1", "C", "red_card", D(2024, 10, 15)),
        ], interpret
    assert render(program.evaluate(FACTS, D(2024, 12, 31)), "json") == \
        render(program.evaluate(FACTS, D(2024, 12, 31), interpret=True), "json")


def test_the_explanation_says_why_a_record_was_skipped(forks):
    _dated(forks, ", in_force_from: 2024-09-23, clauses: ['F-*']")
    ev = _program(forks).evaluate(FACTS, D(2024, 12, 31), explain=True)
    steps = {(t.rule, t.key): t.steps for t in ev.trace}
    assert ["ref", "2024-06-28"] in [list(s) for s in steps[("R-1", "A")]]
    assert ["not in force", "clause `F-1` is in force from 2024-09-23"] in \
        [list(s) for s in steps[("R-1", "A")]]


def test_a_rule_without_ref_is_dated_by_the_evaluation_date(forks):
    # F-2's own date wins over its document's; R-3 has no `ref`: the evaluation date decides
    _dated(forks, ", in_force_from: 2024-01-01, clauses: ['F-*']", "in_force_from: 2025-01-01")
    program = _program(forks)
    assert program.bundle.clauses["F-2"].in_force_from == D(2025, 1, 1)
    for interpret in (False, True):
        before = program.evaluate(FACTS, D(2024, 12, 31), interpret=interpret)
        after = program.evaluate(FACTS, D(2025, 1, 2), interpret=interpret)
        assert "R-3" not in {f.rule for f in before.findings}
        assert ("R-3", "B", "notice", D(2024, 9, 23)) in _found(after)
        # what was found before is still found later (RULEBOOK C6)
        assert set(_found(before)) <= set(_found(after))


def test_a_pattern_matching_no_clause_is_e029_at_the_pattern(forks):
    _dated(forks, ", in_force_from: 2024-09-23, clauses: [F-1, G-*]")
    diags = _errors(forks)
    assert [(d.code, d.loc.line, d.loc.col) for d in diags] == [("E029", 6, 99)]
    assert diags[0].message == "`G-*` matches no clause defined in bundle `root`"


def test_a_fork_document_does_not_redate_its_parents_clauses(forks):
    edit(forks, "mid/bundle.yaml", "clauses:\n",
          "documents:\n  - {title: 转发, in_force_from: 2025-01-01, clauses: [F-1]}\nclauses:\n")
    diags = _errors(forks, "mid")
    assert [(d.code, d.loc.line) for d in diags] == [("E029", 6)]
    assert diags[0].message == "`F-1` matches no clause defined in bundle `mid`"


def test_two_documents_giving_a_clause_two_dates_is_e013(forks):
    edit(forks, "root/bundle.yaml", DOC, DOC.replace("}", ", in_force_from: 2024-01-01, "
                                                      "clauses: ['F-*']}")
          + "  - {title: 修订, in_force_from: 2024-06-01, clauses: [F-2]}\n")
    diags = _errors(forks)
    assert [(d.code, d.loc.line) for d in diags] == [("E013", 7)]
    assert diags[0].message == "clause `F-2` is given two dates, by documents 1 and 2"
    # the same date twice is no conflict (two documents issued together)
    edit(forks, "root/bundle.yaml", "in_force_from: 2024-06-01", "in_force_from: 2024-01-01")
    assert _program(forks).bundle.clauses["F-2"].in_force_from == D(2024, 1, 1)


@pytest.mark.parametrize("extra, key, missing", [
    (", in_force_from: 2024-09-23", "in_force_from", "clauses"),
    (", clauses: [F-1]", "clauses", "in_force_from"),
])
def test_a_date_without_its_clauses_or_clauses_without_a_date_is_e005(forks, extra, key, missing):
    _dated(forks, extra)
    diags = _errors(forks)
    assert [(d.code, d.loc.line) for d in diags] == [("E005", 6)]
    assert diags[0].message == f"`{key}` needs `{missing}` next to it in documents/0"


def test_a_bad_date_is_e003(forks):
    _dated(forks, ", in_force_from: 2024-02-30, clauses: [F-1]")
    diags = _errors(forks)
    assert [d.code for d in diags] == ["E003"]
    assert [(d.loc.line, d.loc.col) for d in diags] == [(6, 72)]
    assert diags[0].message == "`2024-02-30` is not a date: day is out of range for month"
