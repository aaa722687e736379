"""Every shipped bundle loads, checks, and passes its own test cases (and its parents')."""

from __future__ import annotations

import datetime as _dt
import json

import pytest

from govsup.engine.bundle import MANIFEST, shipped_root
from govsup.engine.evaluate import load_program
from govsup.engine.inputs import read_file
from govsup.engine.render import render
from govsup.engine.testing import run_tests

ROOT = shipped_root()
BUNDLES = sorted(p.name for p in ROOT.iterdir() if (p / MANIFEST).is_file())


def test_shipped_bundles_exist():
    assert "henan" in BUNDLES


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_checks_and_passes_its_cases(name):
    program = load_program(name)
    results = run_tests(program)
    failed = [(r.name, r.problems) for r in results if not r.passed]
    assert not failed, failed


def _example_facts():
    from pathlib import Path

    ex = Path(__file__).resolve().parents[1] / "examples" / "henan"
    facts = {}
    for coll, fname in (("items", "items.json"), ("cases", "cases.jsonl"),
                        ("evaluations", "evaluations.jsonl")):
        p = ex / fname
        if p.exists():
            facts[coll] = list(read_file(p, collection=coll))
    return facts


@pytest.mark.skipif("weidong" not in BUNDLES, reason="weidong bundle not shipped")
def test_weidong_evaluates_exactly_as_henan():
    facts = _example_facts()
    assert facts.get("cases"), "example cases are needed for this comparison"
    as_of = _dt.date(2025, 6, 30)
    hn = json.loads(render(load_program("henan").evaluate(facts, as_of), "json"))
    wd = json.loads(render(load_program("weidong").evaluate(facts, as_of), "json"))
    assert hn["findings"], "the example data should produce findings"
    for f in wd["findings"]:
        assert f["bundle"] == "henan"  # every rule is inherited unchanged
    hn.pop("bundle"), wd.pop("bundle")
    hn.pop("bundle_version"), wd.pop("bundle_version")
    assert wd == hn
