"""Shared helpers of the core test suite (tests/core).

The corpus files (``cases/<kind>/*.yaml``) are data: each case names a fixture bundle under
``fixtures/`` and gives its own rule text; :func:`bundle_with_rules` makes a copy of the fixture
whose ``rules/`` folder holds only that text (``rules/case.rule``), so expected line:col refer to
the case's text.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import yaml

from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.diagnostics import PolicyError
from govsup.engine.evaluate import Program, prepare

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
CASES = HERE / "cases"
GOLDEN = HERE / "golden"
RULE_FILE = "rules/case.rule"


def corpus(kind: str) -> list[tuple[str, dict, dict]]:
    """All cases of ``cases/<kind>/*.yaml`` as (id, file-level defaults, case)."""
    out = []
    for path in sorted((CASES / kind).glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        defaults = {k: v for k, v in doc.items() if k != "cases"}
        defaults["_file"] = path.name
        for case in doc["cases"]:
            out.append((f"{path.stem}:{case['name']}", defaults, case))
    ids = [c[0] for c in out]
    assert len(ids) == len(set(ids)), f"duplicate case names in cases/{kind}"
    return out


def copy_fixture(name: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / name, dest)
    return dest


def write_rules(bundle_dir: Path, text: str) -> Path:
    rules = bundle_dir / "rules"
    if rules.exists():
        shutil.rmtree(rules)
    rules.mkdir()
    (rules / "case.rule").write_text(text, encoding="utf-8")
    return bundle_dir


class BundleFactory:
    """Copies of fixture bundles with given rule text, made once per distinct (fixture, text)."""

    def __init__(self, root: Path):
        self.root = root
        self.n = 0
        self.cache: dict = {}

    def path(self, fixture: str, rules: str) -> Path:
        key = (fixture, rules)
        if key not in self.cache:
            self.n += 1
            d = copy_fixture(fixture, self.root / f"b{self.n}")
            write_rules(d, rules)
            self.cache[key] = d
        return self.cache[key]

    def program(self, fixture: str, rules: str) -> Program:
        return prepare(load_bundle(self.path(fixture, rules), policy_roots()))

    def errors(self, fixture: str, rules: str) -> tuple[Path, list]:
        d = self.path(fixture, rules)
        try:
            prepare(load_bundle(d, policy_roots()))
        except PolicyError as e:
            return d, e.diagnostics
        return d, []


def date(v) -> dt.date | None:
    if v is None or isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v))


def finding_tuple(f) -> tuple:
    return (f.rule, f.key, f.level, f.triggered_on, f.status, f.resolved_on)


def expected_tuple(e: dict) -> tuple:
    return (e["rule"], str(e["key"]), e["level"], date(e["triggered_on"]),
            e.get("status", "resolved" if e.get("resolved_on") else "open"),
            date(e.get("resolved_on")))


def relativize(text: str, *pairs: tuple[Path | str, str]) -> str:
    """Replace absolute path prefixes by stable placeholders (for golden files)."""
    for p, label in pairs:
        text = text.replace(str(p) + os.sep, label + "/").replace(str(p), label)
    return text


def edit(root: Path, rel: str, old: str, new: str) -> Path:
    """Replace the first ``old`` in the file ``root/rel`` (which must hold it) by ``new``."""
    p = root / rel
    text = p.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p
