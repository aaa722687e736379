"""The Henan benchmark's pieces are right: generated data is valid, the plain baseline equals the
engine, the streaming path equals the in-memory one.

* ``benchmarks/gen_henan.py``: 2000 generated cases (and their evaluations) validate against the
  bundle's entity schemas — exactly the deliberately malformed lines are rejected — and the same
  seed gives the same bytes.
* ``benchmarks/henan_plain.py``: on those cases and on ``examples/henan`` the hand-written rules
  give the same findings as the engine (rule, key, level, triggered_on, status, resolved_on).
* ``engine/stream.py``: streaming the cases through worker processes writes the same JSONL
  findings as the in-memory evaluation.
"""

from __future__ import annotations

import collections
import datetime as _dt
import io
import json
import sys
from pathlib import Path

import pytest

from govsup.engine.evaluate import load_program
from govsup.engine.findings import Summary
from govsup.engine.inputs import read_file
from govsup.engine.render import render

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_henan  # noqa: E402
from henan_plain import PlainHenan  # noqa: E402

N_CASES = 2000
SEED = 11
AS_OF = gen_henan.AS_OF
COLLS = (("items", "items.json"), ("cases", "cases.jsonl"), ("evaluations", "evaluations.jsonl"))


@pytest.fixture(scope="module")
def program():
    return load_program("henan")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("henan_gen")
    # a higher malformed rate than the default, so that 2000 cases surely contain some
    manifest = gen_henan.generate(out, N_CASES, SEED, malformed_rate=0.004)
    return out, manifest


def _facts(folder: Path) -> dict:
    return {coll: list(read_file(folder / name, collection=coll)) for coll, name in COLLS
            if (folder / name).exists()}


def _key(f: dict) -> tuple:
    return (f["rule"], f["key"], f["level"], str(f["triggered_on"]), f["status"],
            str(f["resolved_on"]) if f["resolved_on"] is not None else None)


def test_generated_records_validate_except_the_malformed_ones(generated, program):
    out, manifest = generated
    assert manifest["cases"] == N_CASES and manifest["items"] >= 50
    facts = _facts(out)
    summary, rejected, warnings = Summary(), [], []
    colls = program.read_facts(facts, summary, rejected, warnings)
    assert not warnings
    bad = {(coll, line) for coll, lines in manifest["malformed_lines"].items() for line in lines}
    assert bad, "the fixture should contain malformed lines"
    got = {(r.collection, int(r.position.rsplit(":", 1)[1])) for r in rejected}
    assert got == bad
    assert summary.by_collection["items"].rejected == 0
    assert len(colls["cases"]) == N_CASES - len(manifest["malformed_lines"]["cases"])
    assert len(colls["evaluations"]) == (manifest["evaluations"]
                                         - len(manifest["malformed_lines"]["evaluations"]))


def test_generator_is_deterministic(tmp_path):
    a = gen_henan.generate(tmp_path / "a", 300, 5)
    b = gen_henan.generate(tmp_path / "b", 300, 5)
    for _, name in COLLS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a["malformed_lines"] == b["malformed_lines"]
    c = gen_henan.generate(tmp_path / "c", 300, 6)
    assert (tmp_path / "a" / "cases.jsonl").read_bytes() != (tmp_path / "c" / "cases.jsonl").read_bytes()


def test_generated_data_exercises_every_rule(generated, program):
    out, _ = generated
    ev = program.evaluate(_facts(out), AS_OF)
    declared = {cr.rule.id: {lv.key for lv in cr.rule.levels} for cr in program.rules}
    fired = {f.rule for f in ev.findings if f.level in declared[f.rule]}
    missing = sorted({cr.rule.id for cr in program.rules
                      if cr.checked.collection in ("cases", "evaluations")} - fired)
    assert not missing, f"rules that never fire on the generated data: {missing}"
    statuses = collections.Counter(f.status for f in ev.findings)
    assert statuses["open"] and statuses["resolved"]


def _compare(program, facts, as_of):
    ev = program.evaluate(facts, as_of)
    colls = program.read_facts(facts, Summary(), [], [])
    plain = PlainHenan().evaluate(colls.get("items", []), colls.get("cases", []),
                                  colls.get("evaluations", []), as_of)
    engine = collections.Counter(_key(f.model_dump()) for f in ev.findings)
    mine = collections.Counter(_key(f) for f in plain)
    assert engine == mine, (sorted(engine - mine)[:10], sorted(mine - engine)[:10])
    return ev


def test_plain_equals_engine_on_generated_cases(generated, program):
    out, _ = generated
    ev = _compare(program, _facts(out), AS_OF)
    assert len(ev.findings) > N_CASES  # a realistic share of cases has findings
    # earlier as-of dates cut and re-open findings (C6): still equal
    _compare(program, _facts(out), _dt.date(2022, 3, 15))


def test_plain_equals_engine_on_examples(program):
    ex = ROOT / "examples" / "henan"
    facts = _facts(ex)
    assert facts.get("cases"), "examples/henan/cases.jsonl is shipped and must hold cases"
    for as_of in (_dt.date(2025, 6, 30), _dt.date(2024, 12, 31)):
        _compare(program, facts, as_of)


def test_stream_equals_in_memory(generated, program):
    from govsup.engine.stream import evaluate_stream

    out, manifest = generated
    items, cases = str(out / "items.json"), str(out / "cases.jsonl")
    facts = {"items": list(read_file(items, collection="items")),
             "cases": list(read_file(cases, collection="cases"))}
    ev = program.evaluate(facts, AS_OF)
    expected = render(ev, "jsonl").splitlines()
    buf = io.StringIO()
    summary, rejected, _ = evaluate_stream("henan", "cases", cases, [("items", items)], AS_OF,
                                           buf, jobs=2, chunk_lines=300)
    got = buf.getvalue().splitlines()
    assert sorted(got) == sorted(expected)
    assert summary.findings == len(expected)
    assert summary.by_level == ev.summary.by_level
    assert summary.read == summary.evaluated + summary.rejected
    assert len(rejected) == len(manifest["malformed_lines"]["cases"])
    # output is ordered by input line
    order = {}
    for i, ln in enumerate((out / "cases.jsonl").read_text(encoding="utf-8").splitlines()):
        try:
            order.setdefault(json.loads(ln)["case_id"], i)
        except (ValueError, KeyError):
            pass
    pos = [order[json.loads(ln)["key"].split("/")[0]] for ln in got]
    assert pos == sorted(pos)


def test_stream_masker_equals_mask_value():
    """The streaming path's masker (mask_text only for text with 10 or more digits, results
    remembered) gives exactly identity.mask_value."""
    import random

    from govsup.engine.identity import mask_value
    from govsup.engine.stream import _Masker

    rng = random.Random(99)
    pieces = ["13812345678", "138 1234 5678", "+86 138-1234-5678", "0371-12345678",
              "(0371)1234567", "0371 1234567转123", "010-1234567", "(021)7654321", "０１０-１２３４５６７", "110101199003074578", "11010119900307457X",
              "110101900307457", "１３８１２３４５６７８", "2024-01-31", "HN2024000001234",
              "第5项", "*", "abc", "电话", " ", "12345", "9" * 9, "9" * 10, "-", "（", "）"]

    def text():
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))

    def value(depth=0):
        r = rng.random()
        if depth < 3 and r < 0.25:
            keys = ["phone", "id_number", "联系电话", "message", "key", "n", "x"]
            return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}
        if depth < 3 and r < 0.4:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        if r < 0.5:
            return rng.choice([0, 7, 13812345678, 110101199003074578, -5, True, False, None, 1.5,
                               13812345678.0])
        return text()

    for _ in range(3000):
        v = value()
        m = _Masker()
        assert m(v) == mask_value(v), v
        assert m(v) == mask_value(v), v  # again, from the remembered texts
