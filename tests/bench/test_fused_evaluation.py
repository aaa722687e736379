"""Record-by-record (fused) evaluation with shared `let` values gives exactly the findings of
rule-by-rule evaluation.

``Program.evaluate`` runs every rule whose first `for` iterates a fact collection record by
record (``CompiledRule.each``), computing a `let` that several rules share once per record
(``dsl.compiler.shared_let_keys``). The rendered JSON must be byte-identical to running each
rule's ``run`` on its own — on every shipped bundle's test facts and on generated Henan data.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import sys
from pathlib import Path

import pytest

from govsup.engine.bundle import MANIFEST, shipped_root
from govsup.engine.evaluate import Program, load_program
from govsup.engine.render import render
from govsup.engine.source import load_yaml
from govsup.engine.testing import _facts

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_henan  # noqa: E402

BUNDLES = sorted(p.name for p in shipped_root().iterdir() if (p / MANIFEST).is_file())


def _per_rule(program: Program) -> Program:
    # replace only the rules: the program keeps its compiled workflows (flow() needs them)
    return dataclasses.replace(program, rules=tuple(dataclasses.replace(cr, each=None)
                                                    for cr in program.rules))


def test_shared_lets_exist_in_henan():
    program = load_program("henan")
    shared = [cr.rule.id for cr in program.rules if cr.each is not None and "_memo(" in cr.source]
    assert "HN-ESUP-8.6-red" in shared and "HN-ESUP-8.1b" in shared


@pytest.mark.parametrize("name", BUNDLES)
def test_fused_equals_per_rule_on_bundle_tests(name):
    program = load_program(name)
    plain = _per_rule(program)
    n = 0
    for _owner, path in program.bundle.test_files:
        doc = load_yaml(path).value
        for case in doc["cases"]:
            facts = _facts(case, path.parent, program.bundle)
            fb = bool(case.get("fallback_weekdays"))
            a = render(program.evaluate(facts, case["as_of"], fallback_weekdays=fb), "json")
            b = render(plain.evaluate(facts, case["as_of"], fallback_weekdays=fb), "json")
            assert a == b, case["name"]
            n += 1
    assert n > 0


def test_fused_equals_per_rule_on_generated_henan(tmp_path):
    gen_henan.generate(tmp_path, 1500, 23)
    from govsup.engine.inputs import read_file

    facts = {c: list(read_file(tmp_path / f, collection=c)) for c, f in
             (("items", "items.json"), ("cases", "cases.jsonl"),
              ("evaluations", "evaluations.jsonl"))}
    program = load_program("henan")
    plain = _per_rule(program)
    for as_of in (gen_henan.AS_OF, _dt.date(2023, 1, 1)):
        assert render(program.evaluate(facts, as_of), "json") == \
            render(plain.evaluate(facts, as_of), "json")


def test_fused_equals_per_rule_on_records_that_are_not_dicts(tmp_path):
    # run_rules trusts its input; a record that is not a dict takes each rule's own path (a data
    # gap per rule), the others the fused one — as rule by rule
    gen_henan.generate(tmp_path, 40, 5)
    from govsup.dsl.runtime import Runtime
    from govsup.engine.evaluate import _Collect, run_rules, sort_findings
    from govsup.engine.findings import Summary
    from govsup.engine.inputs import read_file

    program = load_program("henan")
    facts = {c: list(read_file(tmp_path / f, collection=c)) for c, f in
             (("items", "items.json"), ("cases", "cases.jsonl"),
              ("evaluations", "evaluations.jsonl"))}
    colls = program.read_facts(facts, Summary(), [], [])
    indexes = program.indexes(colls)
    colls["cases"] = colls["cases"][:10] + ["not a record", 7, None] + colls["cases"][10:]
    colls["evaluations"] = [["x"]] + colls["evaluations"]

    def findings(p):
        sink = _Collect(p, gen_henan.AS_OF, False)
        rt = Runtime(as_of=gen_henan.AS_OF, calendar=p.calendar(), params=p.bundle.params,
                     indexes=indexes)
        run_rules(p.rules, rt, colls, sink, p.fused)
        return [f.model_dump(mode="json") for f in sort_findings(sink.raw)]

    a = findings(program)
    assert a == findings(_per_rule(program))
    assert any(f["key"] == "#10" and "无法计算" in f["message"] for f in a)


def test_fused_equals_the_interpreter_on_generated_henan(tmp_path):
    # the interpreter is the reference semantics (and shares nothing between rules)
    gen_henan.generate(tmp_path, 400, 29)
    from govsup.engine.inputs import read_file

    facts = {c: list(read_file(tmp_path / f, collection=c)) for c, f in
             (("items", "items.json"), ("cases", "cases.jsonl"),
              ("evaluations", "evaluations.jsonl"))}
    program = load_program("henan")
    for as_of in (gen_henan.AS_OF, _dt.date(2022, 3, 1)):
        assert render(program.evaluate(facts, as_of), "json") == \
            render(program.evaluate(facts, as_of, interpret=True), "json")
