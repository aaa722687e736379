"""engine.facts.fast_checker never accepts what the JSON Schema validator rejects.

The fast check is a performance shortcut in front of ``engine.inputs.validate_records``: when it
answers True the full validator is skipped, so it must only answer True for instances the
Draft 2020-12 validator (with the format checker, after ``to_jsonable``) accepts. Checked on
generated Henan records, on thousands of seeded random mutations of them, and on every shipped
bundle's entity schemas with their test facts.
"""

from __future__ import annotations

import copy
import datetime as _dt
import random
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from govsup.engine.bundle import MANIFEST, load_bundle, shipped_root
from govsup.engine.facts import _plain, fast_checker
from govsup.engine.source import to_jsonable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_henan  # noqa: E402

_ODD = ["", " ", "2024-02-30", "2024-1-5", "２０２４-01-01", "2024-01-01\n", "x", None, True,
        False, 0, -1, 1.5, 3.0, float("nan"), [], {}, ["a"], {"a": 1}, ("t",),
        _dt.date(2024, 2, 29), _dt.datetime(2024, 1, 1, 8, 0), "满意", "不满意", "其他", 10 ** 20]


def _validator(schema):
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _paths(v, path=()):
    yield path
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, path + (i,))


def _mutate(rec, rng: random.Random):
    r = copy.deepcopy(rec)
    paths = [p for p in _paths(r) if p]
    for _ in range(rng.randint(1, 3)):
        if not paths:
            break
        p = rng.choice(paths)
        parent = r
        for k in p[:-1]:
            parent = parent[k]
        last = p[-1]
        op = rng.random()
        try:
            if op < 0.55:
                parent[last] = copy.deepcopy(rng.choice(_ODD))
            elif op < 0.75 and isinstance(parent, dict):
                del parent[last]
            elif op < 0.9 and isinstance(parent, dict):
                parent[rng.choice(["extra", "Case_id", "备注", last + "_x"])] = copy.deepcopy(rng.choice(_ODD))
            elif isinstance(parent, list):
                parent.append(copy.deepcopy(rng.choice(_ODD)))
            else:
                parent[last] = copy.deepcopy(rng.choice(_ODD))
        except (KeyError, IndexError, TypeError):
            pass
        paths = [q for q in _paths(r) if q]
    return r


@pytest.fixture(scope="module")
def henan_records():
    bundle = load_bundle("henan")
    items = [gen_henan.public_item(x) for x in gen_henan.make_items(3)]
    recs = {"items": items, "cases": [], "evaluations": []}
    for coll, rec, malformed in gen_henan.iter_records(600, 3, gen_henan.make_items(3), 0.0):
        recs[coll].append(rec)  # dates as datetime.date: to_jsonable makes them ISO text
    return bundle, recs


def test_fast_check_accepts_valid_generated_records(henan_records):
    bundle, recs = henan_records
    for coll, rs in recs.items():
        schema = _plain(bundle.entities[coll].schema)
        fast, full = fast_checker(schema), _validator(schema)
        assert fast is not None, coll
        for r in rs:
            assert full.is_valid(to_jsonable(r))
            assert fast(r), (coll, r)
            assert fast(to_jsonable(r)), (coll, r)


def test_fast_check_never_accepts_an_invalid_record(henan_records):
    bundle, recs = henan_records
    rng = random.Random(20250630)
    seen = {True: 0, False: 0}
    for coll, rs in recs.items():
        schema = _plain(bundle.entities[coll].schema)
        fast, full = fast_checker(schema), _validator(schema)
        for _ in range(4000 if coll != "items" else 1500):
            m = _mutate(rng.choice(rs), rng)
            valid = full.is_valid(to_jsonable(m))
            seen[valid] += 1
            if fast(m):
                assert valid, (coll, m)
    assert seen[True] > 500 and seen[False] > 3000


@pytest.mark.parametrize("name", sorted(p.name for p in shipped_root().iterdir()
                                        if (p / MANIFEST).is_file()))
def test_fast_check_on_every_shipped_schema(name):
    bundle = load_bundle(name)
    rng = random.Random(name)
    for coll, ent in bundle.entities.items():
        schema = _plain(ent.schema)
        fast, full = fast_checker(schema), _validator(schema)
        if fast is None:
            continue
        for _ in range(300):
            m = {k: copy.deepcopy(rng.choice(_ODD)) for k in rng.sample(list(schema.get("properties", {})),
                                                            k=min(3, len(schema.get("properties", {}))))}
            if fast(m):
                assert full.is_valid(to_jsonable(m)), (name, coll, m)
