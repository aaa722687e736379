"""Parse corpus: ``cases/parse/*.yaml`` (DSL snippets that parse, or fail with a located error)."""

from __future__ import annotations

import pytest

from core_helpers import corpus
from govsup.dsl import ast as A
from govsup.dsl.format import fmt_expr
from govsup.dsl.parser import parse_expr, parse_module
from govsup.engine.diagnostics import PolicyError

CASES = corpus("parse")


def _parse(defaults: dict, src: str):
    if defaults.get("start", "expr") == "module":
        return parse_module(src, "case.rule")
    return parse_expr(src, "case.rule")


def _step(st) -> str:
    if isinstance(st, A.For):
        return f"for {st.var} in {fmt_expr(st.source)}"
    if isinstance(st, A.Let):
        return f"let {st.name} = {fmt_expr(st.value)}"
    if isinstance(st, A.Require):
        return "require " + ", ".join(fmt_expr(f) for f in st.facts)
    if isinstance(st, A.When):
        return f"when {fmt_expr(st.cond)}"
    raise TypeError(st)


def _check_rule(rule: A.Rule, exp: dict) -> None:
    assert rule.id == exp["id"]
    if "title" in exp:
        assert rule.title == exp["title"]
    if "cites" in exp:
        assert [c.id for c in rule.cites] == exp["cites"]
    if "levels" in exp:
        assert [lv.key for lv in rule.levels] == exp["levels"]
    if "steps" in exp:
        assert [_step(s) for s in rule.steps] == exp["steps"]
    for part in ("on", "resolved", "key", "ref", "message"):
        if part in exp:
            node = getattr(rule, part)
            assert (fmt_expr(node) if node is not None else None) == exp[part], part
    if "loc" in exp:
        assert [rule.loc.line, rule.loc.col] == exp["loc"]


def _check_diag(d, exp: dict) -> None:
    assert d.code == exp.get("code", "E020"), d
    assert d.loc.file == "case.rule"
    assert d.loc.line == exp["line"], d
    if "col" in exp:
        assert d.loc.col == exp["col"], d
    if "end_col" in exp:
        assert d.loc.end_col == exp["end_col"], d
    assert exp.get("message", "") in d.message
    assert exp.get("help", "") in d.help


@pytest.mark.parametrize("defaults,case", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_case(defaults, case):
    src = case["src"]
    if "error" in case or "errors" in case:
        with pytest.raises(PolicyError) as ei:
            _parse(defaults, src)
        exps = case["errors"] if "errors" in case else [case["error"]]
        diags = ei.value.diagnostics
        assert len(diags) == len(exps), diags
        for d, exp in zip(diags, exps):
            _check_diag(d, exp)
        return
    node = _parse(defaults, src)
    if isinstance(node, A.Module):
        assert len(node.rules) == len(case["rules"])
        for rule, exp in zip(node.rules, case["rules"]):
            _check_rule(rule, exp)
        return
    assert fmt_expr(node) == case["fmt"]
    if "ast" in case:
        assert repr(node) == case["ast"]
    if "loc" in case:
        assert [node.loc.line, node.loc.col] == case["loc"]
    # the canonical text is a fixed point and parses back to the same tree
    again = parse_expr(case["fmt"])
    assert again == node
    assert fmt_expr(again) == case["fmt"]


def test_corpus_is_not_empty():
    kinds = {c[1]["_file"] for c in CASES}
    assert {"expressions.yaml", "durations.yaml", "errors.yaml", "rules.yaml"} <= kinds
    assert sum(1 for c in CASES if "error" in c[2] or "errors" in c[2]) >= 20
