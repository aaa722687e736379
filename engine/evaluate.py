"""Compile a bundle once; evaluate facts many times.

Input: a resolved :class:`~govsup.engine.bundle.Bundle` (``prepare``), then fact collections and
an as-of date (``Program.evaluate``). Output: :class:`~govsup.engine.findings.Evaluation`.

``prepare`` checks and compiles every rule once (OPA's ``PrepareForEval``); the resulting
:class:`Program` is immutable. ``evaluate`` is pure: the same facts and as-of date give the same
findings, in one total order, whatever the order of records or keys. Records that fail their
entity's schema are reported with their position and the rest are evaluated; the summary
reconciles read = evaluated + rejected.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from ..dsl.checker import CheckedRule, check_bundle
from ..dsl.compiler import (CompiledRule, compile_collection, compile_rule, interpret_rule,
                            shared_let_keys)
from ..dsl.runtime import Runtime
from .bundle import Bundle, load_bundle
from .calendar import Calendar, load_calendar, shipped_calendar_dir
from .diagnostics import Diagnostic, PolicyError
from .facts import typed_records
from .findings import (CollectionCount, Evaluation, Finding, RejectedRecord, Summary, TraceEntry,
                       to_json_value, trusted_finding, values_json)
from .inputs import Record, Rejected
from .workflow import compile_flows, flow_states
from .loc import Loc


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while an evaluation builds records and findings.

    They hold no reference cycles (reference counting frees them), but a large evaluation
    creates millions of containers and the collector's full passes over that growing heap cost
    about a fifth of the time at 20k cases. Any cycle is collected once it resumes.

    What the evaluation made and keeps (the findings: some 150,000 containers at 20k cases) is
    then handed to the oldest generation directly (``gc.freeze`` then ``gc.unfreeze``: two list
    splices), instead of being traversed by a young collection at the first allocation after
    the collector resumes (a tenth of a second at 20k cases) — results that live on would reach
    the oldest generation anyway. Not done when the process has frozen objects of its own
    (``gc.freeze`` before a fork): unfreezing would release them too."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


class _Collect:
    """Sink that turns raw rule output into findings, applying the as-of cut (C6)."""

    def __init__(self, program: "Program", as_of: _dt.date, explain: bool):
        self.p = program
        self.as_of = as_of
        self.raw: list[Finding] = []
        self.keys: list[tuple] = []  # the sort key (_primary_key) of each finding in raw
        self.traces: list[TraceEntry] | None = [] if explain else None
        self._levels: dict[int, tuple] = {}  # id(CheckedRule) -> its levels' _rule_info
        self._gaps: dict[int, tuple] = {}  # id(CheckedRule) -> (data_gap's _rule_info,)
        # plain JSON of the values met so far, by id (see to_json_value): a record shown by
        # several findings (each rule that fires on a case shows the case) is converted once
        self._json: dict = {}

    def _rule_info(self, cr: CheckedRule, level_key: str) -> tuple:
        """(rule id, clauses, level key, level name, severity, collection, bundle)"""
        rule = cr.rule
        b = self.p.bundle
        lv = b.levels[level_key]
        return (rule.id, tuple(c.id for c in rule.cites), lv.key, lv.name, lv.severity,
                cr.collection, b.rule_origin.get(rule.id, b.name))

    # the finding made of its fields (each already of its declared type: no validation needed)
    _make = staticmethod(trusted_finding)

    def _emit(self, infos: tuple, key: str, on, resolved, values, message, provisional,
              converted=False):
        """One finding per level (``infos``), each field built with its declared type.
        ``converted``: the values are plain JSON already (``finding_json``)."""
        if on > self.as_of:
            return
        if resolved is not None and resolved > self.as_of:
            resolved = None
        status = "resolved" if resolved is not None else "open"
        vals = values if converted else values_json(values, self._json)
        prov = bool(provisional)
        make = self._make
        for rule_id, clauses, lk, lname, sev, coll, origin in infos:
            self.raw.append(make({
                "rule": rule_id, "clauses": list(clauses), "level": lk, "level_name": lname,
                "severity": sev, "collection": coll, "key": key, "triggered_on": on,
                "status": status, "resolved_on": resolved, "message": message,
                "provisional": prov, "bundle": origin, "values": vals}))
            self.keys.append((on, rule_id, key, -sev, lk, message))

    def finding(self, cr, key, on, resolved, values, message, provisional):
        infos = self._levels.get(id(cr))
        if infos is None:
            infos = self._levels[id(cr)] = tuple(self._rule_info(cr, lv.key)
                                                  for lv in cr.rule.levels)
        self._emit(infos, key, on, resolved, values, message, provisional)

    def finding_json(self, cr, key, on, resolved, values, message, provisional):
        """``finding`` with values already converted as ``values_json`` converts them (the fused
        functions convert them as they build them, with ``json_value`` for records and lists)."""
        infos = self._levels.get(id(cr))
        if infos is None:
            infos = self._levels[id(cr)] = tuple(self._rule_info(cr, lv.key)
                                                  for lv in cr.rule.levels)
        self._emit(infos, key, on, resolved, values, message, provisional, True)

    def json_value(self, v):
        """One value of a finding's values as ``values_json`` converts it, for a value other
        than text, a number, a boolean, missing or a date (what was converted already, by
        identity, is shared)."""
        h = self._json.get(id(v))
        return h[1] if h is not None else to_json_value(v, self._json)

    def gap(self, cr, key, ref, fact, reason, values):
        vals = dict(values)
        if fact:
            vals["missing"] = fact
        else:
            vals["error"] = reason
        title = cr.rule.title or cr.rule.id
        infos = self._gaps.get(id(cr))
        if infos is None:
            infos = self._gaps[id(cr)] = (self._rule_info(cr, "data_gap"),)
        self._emit(infos, key, ref or self.as_of, None, vals, f"{title}：{reason}", False)

    def trace(self, cr, key, entries):
        if self.traces is not None:
            self.traces.append(TraceEntry(rule=cr.rule.id, key=key,
                                          steps=[(k, to_json_value(v)) for k, v in entries]))


def finding_sort_key(f: Finding) -> tuple:
    return (f.triggered_on, f.rule, f.key, -f.severity, f.level, f.message,
            json.dumps(f.values, sort_keys=True, ensure_ascii=False))


def _primary_key(f: Finding) -> tuple:
    return (f.triggered_on, f.rule, f.key, -f.severity, f.level, f.message)


def _values_key(f: Finding) -> str:
    return json.dumps(f.values, sort_keys=True, ensure_ascii=False)


def sort_with_ties(items: Iterable, key, tie_key) -> list:
    """``items`` sorted by ``key``, each run of items with equal keys re-sorted by ``tie_key``
    (an expensive key computed only where it decides something). Both sorts are stable."""
    return sort_keyed_with_ties([(key(x), x) for x in items], tie_key)


def sort_keyed_with_ties(keyed: list, tie_key) -> list:
    """``sort_with_ties`` of ``[(key, item), …]`` (sorted in place)."""
    keyed.sort(key=_first)
    out = [x for _, x in keyed]
    i, n = 0, len(keyed)
    while i < n:
        k = keyed[i][0]
        j = i + 1
        while j < n and keyed[j][0] == k:
            j += 1
        if j - i > 1:
            out[i:j] = sorted(out[i:j], key=tie_key)
        i = j
    return out


def _first(t):
    return t[0]


def sort_findings(findings: Iterable[Finding], prefix=None) -> list[Finding]:
    """``sorted(findings, key=lambda f: prefix(f) + finding_sort_key(f))`` (``prefix`` optional),
    serialising the values only to break ties between findings that agree on everything else."""
    if prefix is None:
        return sort_with_ties(findings, _primary_key, _values_key)
    return sort_with_ties(findings, lambda f: prefix(f) + _primary_key(f), _values_key)


@dataclass(frozen=True)
class Program:
    """A checked and compiled bundle (immutable)."""

    bundle: Bundle
    rules: tuple[CompiledRule, ...]
    flows: Mapping[str, Any] = field(default_factory=dict)  # name -> workflow.CompiledFlow
    # (collection, rule ids) -> the fused function of those rules (see ``run_rules``)
    fused: dict = field(default_factory=dict, compare=False, repr=False)
    # date -> the parameters in force on it, filled as rules read them (Runtime.in_force):
    # shared by all evaluations, since the bundle's parameters never change
    in_force: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def checked(self) -> tuple[CheckedRule, ...]:
        return tuple(r.checked for r in self.rules)

    def calendar(self, fallback_weekdays: bool = False) -> Calendar:
        dirs = list(self.bundle.calendar_dirs) or [shipped_calendar_dir()]
        return load_calendar(dirs, fallback_weekdays=fallback_weekdays)

    # ------------------------------------------------------------------ input
    def read_facts(self, facts: Mapping[str, Iterable[Any]], summary: Summary,
                   rejected: list[RejectedRecord], warnings: list[str]) -> dict[str, list[dict]]:
        """Validate and type every record; reject (with position) what fails its schema."""
        out: dict[str, list[dict]] = {}
        for coll in sorted(facts):
            ent = self.bundle.entities.get(coll)
            items = facts[coll]
            if ent is None:
                n = sum(1 for _ in items)
                warnings.append(f"collection `{coll}` ({n} records) is not declared by bundle "
                                f"`{self.bundle.name}`; it was not evaluated")
                cc = summary.by_collection.setdefault(coll, CollectionCount())
                cc.read += n
                cc.rejected += n
                summary.read += n
                summary.rejected += n
                for i in range(n):
                    rejected.append(RejectedRecord(collection=coll, index=i,
                                                   position=f"{coll}[{i}]",
                                                   reason="unknown collection"))
                continue
            raw = (it if isinstance(it, (Record, Rejected)) else
                   Record(coll, i, f"{coll}[{i}]", it) for i, it in enumerate(items))
            recs = []
            cc = summary.by_collection.setdefault(coll, CollectionCount())
            for it in typed_records(raw, ent):
                cc.read += 1
                summary.read += 1
                if isinstance(it, Rejected):
                    cc.rejected += 1
                    summary.rejected += 1
                    rejected.append(RejectedRecord(collection=coll, index=it.index,
                                                   position=it.position, reason=it.reason))
                else:
                    cc.evaluated += 1
                    summary.evaluated += 1
                    recs.append(it.data)
            out[coll] = recs
        for coll in self.bundle.entities:
            out.setdefault(coll, [])
        return out

    def indexes(self, colls: Mapping[str, list]) -> dict:
        idx = {}
        for coll, ent in self.bundle.entities.items():
            if ent.key:
                idx[coll] = _index(colls.get(coll, ()), ent.key)
        return idx

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, facts: Mapping[str, Iterable[Any]], as_of: _dt.date, *,
                 explain: bool = False, fallback_weekdays: bool = False,
                 interpret: bool = False) -> Evaluation:
        """Evaluate every rule over ``facts`` as of ``as_of``."""
        summary = Summary()
        rejected: list[RejectedRecord] = []
        warnings: list[str] = []
        cal = self.calendar(fallback_weekdays)
        w = cal.coverage_warning(as_of)
        if w is not None:
            warnings.append(w.message)
        with _gc_paused():
            colls = self.read_facts(facts, summary, rejected, warnings)
            return self._run(colls, as_of, cal, summary, rejected, warnings, explain, interpret)

    def evaluate_typed(self, colls: Mapping[str, list[dict]], as_of: _dt.date, *,
                       explain: bool = False, fallback_weekdays: bool = False,
                       interpret: bool = False) -> Evaluation:
        """Evaluate records that are already validated and typed — what :meth:`read_facts`
        returns — without validating them again (benchmarks, callers that keep typed records).
        Every record counts as read and evaluated."""
        summary = Summary()
        warnings: list[str] = []
        cal = self.calendar(fallback_weekdays)
        w = cal.coverage_warning(as_of)
        if w is not None:
            warnings.append(w.message)
        out: dict[str, list[dict]] = {}
        for coll in sorted(colls):
            recs = list(colls[coll])
            cc = summary.by_collection.setdefault(coll, CollectionCount())
            cc.read = cc.evaluated = len(recs)
            summary.read += len(recs)
            summary.evaluated += len(recs)
            out[coll] = recs
        for coll in self.bundle.entities:
            out.setdefault(coll, [])
        with _gc_paused():
            return self._run(out, as_of, cal, summary, [], warnings, explain, interpret)

    def _run(self, colls: dict[str, list[dict]], as_of: _dt.date, cal: Calendar,
             summary: Summary, rejected: list[RejectedRecord], warnings: list[str],
             explain: bool, interpret: bool) -> Evaluation:
        sink = _Collect(self, as_of, explain)
        rt = Runtime(as_of=as_of, calendar=cal, params=self.bundle.params,
                     indexes=_Indexes(self, colls), flows=dict(self.flows),
                     in_force=self.in_force)
        if explain or interpret:
            for cr in self.rules:
                interpret_rule(cr.checked, rt, colls, sink, explain=explain)
        else:
            run_rules(self.rules, rt, colls, sink, self.fused)
        findings = sort_keyed_with_ties(list(zip(sink.keys, sink.raw)), _values_key)
        summary.findings = len(findings)
        by_level: dict[str, int] = {}
        for f in findings:
            by_level[f.level] = by_level.get(f.level, 0) + 1
        summary.by_level = dict(sorted(by_level.items()))
        rejected.sort(key=lambda r: (r.collection, r.index, r.position))
        trace = None
        if explain:
            trace = sorted(sink.traces, key=lambda t: (t.rule, t.key))
        return Evaluation(bundle=self.bundle.name, bundle_version=self.bundle.version,
                          as_of=as_of, findings=findings, rejected=rejected, summary=summary,
                          warnings=warnings, trace=trace,
                          flows=flow_states(self, rt, colls, warnings) if self.flows else None)


def _index(records, key: str) -> dict:
    """key -> the first record with that key (records without one left out)."""
    d = {}
    for r in records:
        k = r.get(key)
        if k is not None and k not in d:
            d[k] = r
    return d


class _Indexes(dict):
    """``Program.indexes(colls)``, each collection's index built when a rule first asks for it
    (``get``, as ``lookup`` and the generated code do): the collections nothing looks up — the
    cases themselves — are not indexed."""

    def __init__(self, program: Program, colls: Mapping[str, list]):
        super().__init__()
        self._program = program
        self._colls = colls

    def get(self, coll, default=None):
        try:
            return self[coll]
        except KeyError:
            pass
        ent = self._program.bundle.entities.get(coll)
        if ent is None or not ent.key:
            return default
        d = self[coll] = _index(self._colls.get(coll, ()), ent.key)
        return d


def prepare(bundle: Bundle) -> Program:
    """Check and compile every rule of ``bundle`` (raises PolicyError listing all problems)."""
    checked = check_bundle(bundle)
    shared = shared_let_keys(checked)
    program = Program(bundle, tuple(compile_rule(c, shared) for c in checked),
                      MappingProxyType(compile_flows(bundle)))
    for coll, group in _fusable_groups(program.rules).items():
        _fused(group, program.fused)
    return program


def _fusable_groups(rules: Iterable[CompiledRule]) -> dict[str, list[CompiledRule]]:
    groups: dict[str, list[CompiledRule]] = {}
    for cr in rules:
        if cr.each is not None:
            groups.setdefault(cr.checked.collection, []).append(cr)
    return groups


def _fused(group: list[CompiledRule], cache: dict):
    """The fused function of ``group`` (rules over one collection), compiled once per set."""
    coll = group[0].checked.collection
    k = (coll, tuple(cr.rule.id for cr in group))
    fn = cache.get(k)
    if fn is None:
        checked = [cr.checked for cr in group]
        _src, fn = compile_collection(coll, checked, [cr.each for cr in group])
        cache[k] = fn
    return fn


def run_rules(rules: Iterable[CompiledRule], rt: Runtime, colls: Mapping[str, list], sink,
              cache: dict | None = None) -> None:
    """Run compiled rules over the collections. Rules whose first `for` iterates a collection
    run record by record — one generated function per collection runs all of them for one
    record, then the next, reading the record's fields once and sharing the `let` values they
    have in common (``dsl.compiler.compile_collection``); the others run whole. The findings are
    the same either way (they are sorted afterwards). ``cache`` keeps the fused functions
    (``Program.fused``)."""
    rules = list(rules)
    for cr in rules:
        if cr.each is None:
            cr.run(rt, colls, sink)
    for coll, group in _fusable_groups(rules).items():
        fn = _fused(group, cache if cache is not None else {})
        fn(rt, colls, sink, colls.get(coll, ()) or ())


def load_program(ref, roots=None) -> Program:
    return prepare(load_bundle(ref, roots))
