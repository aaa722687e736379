"""Run a bundle's own test cases (``tests/*.yaml``).

Input: a compiled :class:`~govsup.engine.evaluate.Program`. Output: a list of
:class:`CaseResult` (passed or failed, with the differences). A fork runs its own cases and its
ancestors' cases, except the ancestor cases that test a rule the fork replaced or disabled, or a
rule that reads a parameter the fork overrides (those cases test what the fork changed).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostic, PolicyError
from .evaluate import Program
from .inputs import Record, Rejected, read_for_entity
from .loc import Loc
from .schema import validate
from .source import load_yaml

COMPARED = ("key", "level", "triggered_on", "status", "resolved_on", "provisional")


@dataclass
class CaseResult:
    bundle: str
    file: str
    name: str
    passed: bool
    skipped: str = ""  # reason when an inherited case does not apply to this fork
    problems: list[str] = field(default_factory=list)
    loc: Loc | None = None


def _changed_rules(program: Program, owner: str) -> set[str]:
    """Rules whose behaviour the bundle changed relative to ``owner`` (an ancestor)."""
    b = program.bundle
    names = [layer.name for layer in b.chain]
    later = set(names[names.index(owner) + 1:]) if owner in names else set()
    changed = {r for r, by in b.replaced.items() if by in later}
    changed |= {r for r, (_, by) in b.disabled.items() if by in later}
    over = {p for p, by in b.overridden_params.items() if by in later}
    for cr in program.rules:
        if cr.checked.params & over:
            changed.add(cr.rule.id)
    return changed


def _facts(case: dict, base: Path, bundle) -> dict:
    facts = {k: list(v) for k, v in (case.get("facts") or {}).items()}
    for coll, rel in (case.get("facts_files") or {}).items():
        # as `policy eval` reads it: a CSV/XLSX with the form's Chinese headers works too
        items = read_for_entity(base / rel, bundle.entities.get(coll), collection=coll)
        facts.setdefault(coll, []).extend(
            it for it in items if isinstance(it, (Record, Rejected)))
    return facts


def _norm(v):
    return v.isoformat() if isinstance(v, _dt.date) else v


def run_case(program: Program, case: dict, file: Path, owner: str, changed: set) -> CaseResult:
    name = case["name"]
    mentioned = {e["rule"] for e in case.get("expect", [])} | {a["rule"] for a in case.get("absent", [])}
    under_test = set(case.get("rules") or mentioned)
    known = {r.rule.id for r in program.rules} | set(program.bundle.disabled)
    unknown = sorted(r for r in under_test if r not in known)
    if unknown:
        return CaseResult(program.bundle.name, str(file), name, False,
                          problems=[f"unknown rule `{unknown[0]}` in test case"])
    if owner != program.bundle.name:
        hit = sorted(under_test & changed)
        if hit:
            return CaseResult(owner, str(file), name, True,
                              skipped=f"fork `{program.bundle.name}` changed rule `{hit[0]}`")
    ev = program.evaluate(_facts(case, file.parent, program.bundle), case["as_of"],
                          fallback_weekdays=bool(case.get("fallback_weekdays")))
    got = [f for f in ev.findings if f.rule in under_test]
    problems = []
    remaining = list(got)
    for exp in case.get("expect", []):
        match = None
        for f in remaining:
            if f.rule != exp["rule"]:
                continue
            if all(_norm(getattr(f, k)) == _norm(exp[k]) for k in COMPARED if k in exp) and \
                    exp.get("message_contains", "") in f.message:
                match = f
                break
        if match is None:
            cands = [f for f in got if f.rule == exp["rule"] and f.key == exp.get("key", f.key)]
            seen = "; ".join(f"{f.level} {f.triggered_on} {f.status} {f.resolved_on}" for f in cands) or "none"
            problems.append(f"expected {exp} — found for this rule/key: {seen}")
        else:
            remaining.remove(match)
    if case.get("exact", True):
        for f in remaining:
            problems.append(f"unexpected finding: {f.rule} {f.key} {f.level} {f.triggered_on} "
                            f"{f.status} {f.resolved_on}")
    for a in case.get("absent", []):
        for f in ev.findings:
            if f.rule == a["rule"] and f.key == a.get("key", f.key):
                problems.append(f"finding should be absent: {f.rule} {f.key} {f.level} "
                                f"{f.triggered_on}")
    if ev.rejected:
        problems += [f"rejected input: {r.reason}" for r in ev.rejected]
    return CaseResult(owner, str(file), name, not problems, problems=problems)


def run_tests(program: Program, only: str | None = None) -> list[CaseResult]:
    """Run the test cases of the bundle and (for a fork) its ancestors."""
    results = []
    diags = []
    for owner, path in program.bundle.test_files:
        try:
            doc = load_yaml(path)
            validate(doc, "tests")
        except PolicyError as e:
            diags.extend(e.diagnostics)
            continue
        changed = _changed_rules(program, owner)
        for i, case in enumerate(doc.value["cases"]):
            if only and only not in case["name"]:
                continue
            r = run_case(program, case, path, owner, changed)
            r.loc = doc.loc(("cases", i, "name"))
            results.append(r)
    if diags:
        raise PolicyError(diags)
    return results
