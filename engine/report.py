"""Periodic reports (通报) rendered from findings with a bundle's own jinja2 templates.

Input: a compiled :class:`~govsup.engine.evaluate.Program`, fact collections (the same mapping
``Program.evaluate`` takes), an as-of date, a reporting period (``2025``, ``2025-H1``,
``2025-Q2``, ``2025-06``), optionally the levels to report and the record field that names the
responsible unit (default ``department``, RULEBOOK HN-ESUP-11 "按部门"). Output:

- :func:`build_context` — a plain JSON-like dict (the *report context*, documented below), with
  ID numbers and phones masked unless ``show_pii`` (RULEBOOK C10);
- :func:`render_report` — text: the context rendered by the template ``NAME.FORMAT.j2``
  (``bulletin.md.j2``, ``bulletin.html.j2``) found in the bundle's ``templates/`` folders, most
  specific bundle first (:attr:`Bundle.template_dirs`), so a fork overrides a parent's template
  by shipping a file of the same name — whole, or by ``{% extends "henan/bulletin.md.j2" %}``
  (``BUNDLE/file`` names one bundle's file) and redefining some of its blocks;
- :func:`report` — both in one call.

Templates are policy data, so they run in a :class:`jinja2.sandbox.SandboxedEnvironment` with
``StrictUndefined`` (a misspelt name is an error, not an empty string); HTML is autoescaped.
A template that is missing is a :class:`TemplateNotFoundError` (a usage problem, exit 2 in the
CLI); a template that does not compile or fails while rendering is a :class:`PolicyError` located
in the template file (exit 3).

Report context (every date is ISO text)::

    bundle        {name, version, title, documents}
    period        {key: "2025-Q2", kind: year|half|quarter|month, label: "2025年第二季度",
                   start, end, days}
    as_of         evaluation date; findings dated after it are not known yet (C6)
    complete      as_of >= period.end (the whole period is covered)
    group_by      the record field used for grouping ("department")
    levels        [{key, name, severity}] of the bundle, most severe first
    selected      level keys reported (all when no filter was given)
    findings      [entry] in the period and selected levels, in the evaluator's order
    counts        {level: n} over `findings`
    departments   [{name, counts: {level: n}, total, red_cards, warnings, findings: [entry]}]
                  sorted by red cards, then warnings, then total (descending), then name
    red_cards     {total, open, resolved, by_department: [{name, count}] (descending, >0 only),
                   findings: [entry]}
    warnings      the same for level `warning`
    clauses       [{id, article, summary, count}] cited by `findings`, sorted by id
    summary       the evaluation summary (read/evaluated/rejected, …)
    rejected      number of records rejected on input (reported, never dropped: HN-ESUP-3)
    warnings_text evaluation warnings (calendar coverage, unknown collections)
    parameters    {name: value} every parameter of the bundle as in force on the period's last
                  day (or the as-of date when earlier); lists as lists, ``None`` when not in
                  force — so a template reads e.g. the evaluation levels it tabulates from policy
                  data instead of repeating them
    workflows     {name: {title, description, clauses, collection,
                   states: [{name, title, initial, final, requires}],
                   transitions: [{from, to, title, deadline (bool), guard (bool)}]}}
                  the bundle's workflows (docs/workflows.md), states in declaration order
    flows         [flow] one entry per record of each workflow's collection that is active in
                  the period: its history (as known on the as-of date) starts on or before the
                  period's end and it was not already in a final state when the period started.
                  Sorted by flow, group, start date, key.

    flow  = {flow, collection, key, group, group_from, state, state_title, since, final,
             started, steps, issues, deadlines, open_overdue, record, error}
            The record's history replayed with only the events dated on or before the as-of
            date (later events are not known yet, C6), so every date below is <= as_of:
            group / group_from  as for findings: the record's ``group_by`` field, else that of a
                     record it refers to, else ``部门未注明``
            state, state_title, since, final   where the record stands on the as-of date
            started  the date of its first event
            steps    [{state, title, date, index, event}] in replay (date) order; ``index`` is
                     the event's position in the record's history as given, ``event`` its fields
            issues   [{kind, state, from, on, resolved, due, index, fields, detail}]
                     out_of_order | illegal | guard | missing_fields | overdue (see
                     docs/workflows.md); an ``overdue`` still open on the as-of date has
                     ``resolved`` None
            deadlines [{from, to, entered, due, left, met}] every clock started: ``left`` the
                     date the record left ``from`` (None while it is still there), ``met`` is
                     ``left <= due``
            open_overdue  the number of ``overdue`` issues still open on the as-of date
            record   the record's fields (ID numbers and phones masked like everything else)
            error    why the history could not be replayed (e.g. a parameter of the
                     workflow is not in force on its first date; then no steps), else None.
                     Such a record is listed in the period its first event falls in.

    entry = the finding (rule, clauses, level, level_name, severity, collection, key,
            triggered_on, status, resolved_on, message, provisional, bundle, values)
            + department: the group (``部门未注明`` when no record says)
            + department_from: the collection it was read from (the finding's own, a referred
              one such as ``items``, or None)
            + record: the entity record's fields as read (``{}`` when not found; for a nested
              key ``case/part`` the record of ``case``)
            + refs: {collection: record} for records the entity refers to by key field
              (a case's ``item_code`` → the item; an evaluation's ``case_id`` → the case)

The department of a finding is the entity record's ``group_by`` field; when the record has none,
the first record it refers to (by a field named like another collection's key) that has one.

Aggregations a particular report needs (per window and quarter, rates, distributions) are written
in its template with jinja2 filters over these keys; this module has no bundle-specific code.
Dates in the context are ISO text, so a template compares them as strings
(``"2025-04-01" <= s.date <= period.end``).
"""

from __future__ import annotations

import calendar as _calendar
import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .diagnostics import Diagnostic, PolicyError, did_you_mean
from .evaluate import Program
from .findings import Evaluation, to_json_value
from .identity import mask_value
from .inputs import Record, Rejected
from .loc import Loc

FORMATS = ("md", "html")
TEMPLATE_SUFFIX = ".j2"
DEFAULT_GROUP_BY = "department"
NO_DEPARTMENT = "部门未注明"

_QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
_HALF_NAMES = {1: "上半年", 2: "下半年"}


class ReportError(ValueError):
    """A usage problem with a report request (bad period, level, format or template name)."""

    def __init__(self, message: str, hint: str = "", code: str = "E051"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message, Loc("<command line>"), self.hint)


class TemplateNotFoundError(ReportError):
    """No ``templates/NAME.FORMAT.j2`` in the bundle or any of its parents."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message, hint, code="E070")


# ------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    key: str      # as written: 2025, 2025-H1, 2025-Q2, 2025-06
    kind: str     # year | half | quarter | month
    start: _dt.date
    end: _dt.date
    label: str    # 2025年第二季度

    def __contains__(self, d: _dt.date) -> bool:
        return self.start <= d <= self.end

    def to_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "label": self.label,
                "start": self.start.isoformat(), "end": self.end.isoformat(),
                "days": (self.end - self.start).days + 1}


_PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:(H[12])|(Q[1-4])|(\d{2})))?$", re.IGNORECASE)


def parse_period(text: str) -> Period:
    """``2025`` (year), ``2025-H1`` (half), ``2025-Q2`` (quarter) or ``2025-06`` (month)."""
    m = _PERIOD_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ReportError(f"`{text}` is not a period",
                          "write a year (2025), a half year (2025-H1), a quarter (2025-Q2) "
                          "or a month (2025-06)")
    year = int(m.group(1))
    if year < 1900:
        raise ReportError(f"`{text}` is not a period", "the year must be 1900 or later")
    half, quarter, month = m.group(2), m.group(3), m.group(4)
    if half:
        h = int(half[1])
        start, end = _dt.date(year, 6 * h - 5, 1), _month_end(year, 6 * h)
        return Period(f"{year}-H{h}", "half", start, end, f"{year}年{_HALF_NAMES[h]}")
    if quarter:
        q = int(quarter[1])
        start, end = _dt.date(year, 3 * q - 2, 1), _month_end(year, 3 * q)
        return Period(f"{year}-Q{q}", "quarter", start, end, f"{year}年{_QUARTER_NAMES[q]}")
    if month:
        mo = int(month)
        if not 1 <= mo <= 12:
            raise ReportError(f"`{text}` is not a period", "months are 01 to 12")
        return Period(f"{year}-{mo:02d}", "month", _dt.date(year, mo, 1), _month_end(year, mo),
                      f"{year}年{mo}月")
    return Period(str(year), "year", _dt.date(year, 1, 1), _dt.date(year, 12, 31), f"{year}年")


def _month_end(year: int, month: int) -> _dt.date:
    return _dt.date(year, month, _calendar.monthrange(year, month)[1])


# ------------------------------------------------------------------------- context


def parse_levels(program: Program, spec: str | Iterable[str] | None) -> list[str] | None:
    """``"red_card,warning"`` → checked level keys (None = all levels)."""
    if spec is None:
        return None
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    keys = [s.strip() for s in items if s and s.strip()]
    if not keys:
        return None
    levels = program.bundle.levels
    for k in keys:
        if k not in levels:
            by_name = {lv.name: lv.key for lv in levels.values()}
            if k in by_name:  # 红牌 → red_card
                continue
            raise ReportError(f"unknown level `{k}`", did_you_mean(k, levels) or
                              "levels: " + ", ".join(levels))
    by_name = {lv.name: lv.key for lv in levels.values()}
    out: list[str] = []
    for k in keys:
        key = k if k in levels else by_name[k]
        if key not in out:
            out.append(key)
    return out


def _raw(item: Any) -> dict | None:
    if isinstance(item, Rejected):
        return None
    if isinstance(item, Record):
        return item.data if isinstance(item.data, dict) else None
    return item if isinstance(item, dict) else None


def materialize(facts: Mapping[str, Iterable[Any]]) -> dict[str, list]:
    """Facts as lists (iterators are read once, so the report can both evaluate and look up)."""
    return {c: list(items) for c, items in facts.items()}


class RecordIndex:
    """Records by collection and key, as given in the facts (JSON-like, dates as ISO text)."""

    def __init__(self, program: Program, facts: Mapping[str, Sequence[Any]]):
        self.keys = {c: e.key for c, e in program.bundle.entities.items() if e.key}
        self.by_coll: dict[str, dict[str, dict]] = {}
        for coll, items in facts.items():
            kf = self.keys.get(coll)
            if not kf:
                continue
            d: dict[str, dict] = {}
            for it in items:
                r = _raw(it)
                if r is None or r.get(kf) is None:
                    continue
                d.setdefault(str(r[kf]), r)
            self.by_coll[coll] = d
        # a field named like another collection's key refers to that collection
        self.ref_fields = {kf: c for c, kf in sorted(self.keys.items())}

    def get(self, coll: str | None, key: str) -> dict | None:
        """The record of ``coll`` with this key. A rule with nested ``for``s keys its findings
        ``outer/inner`` (``HN2024120032/s[0]``): the longest ``/``-prefix that is a key wins."""
        if coll is None:
            return None
        d = self.by_coll.get(coll, {})
        k = str(key)
        while True:
            r = d.get(k)
            if r is not None or "/" not in k:
                return r
            k = k.rsplit("/", 1)[0]

    def refs(self, coll: str | None, rec: dict | None) -> dict[str, dict]:
        out: dict[str, dict] = {}
        if not rec:
            return out
        for field_name, target in self.ref_fields.items():
            if target == coll or field_name not in rec:
                continue
            v = rec.get(field_name)
            if isinstance(v, (str, int)) and not isinstance(v, bool):
                r = self.get(target, str(v))
                if r is not None:
                    out[target] = r
        return out


def _group_of(coll: str | None, rec: dict | None, refs: Mapping[str, dict],
              field_name: str) -> tuple[str, str | None]:
    """(group, the collection it was read from) — the record itself first, then its refs."""
    for c, r in [(coll, rec or {})] + list(refs.items()):
        v = r.get(field_name)
        if isinstance(v, str) and v.strip():
            return v.strip(), c
    return NO_DEPARTMENT, None


def _by_level_block(entries: list[dict], level: str) -> dict:
    fs = [e for e in entries if e["level"] == level]
    per: dict[str, int] = {}
    for e in fs:
        per[e["department"]] = per.get(e["department"], 0) + 1
    ranked = sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"total": len(fs), "open": sum(1 for e in fs if e["status"] == "open"),
            "resolved": sum(1 for e in fs if e["status"] == "resolved"),
            "by_department": [{"name": n, "count": c} for n, c in ranked],
            "findings": fs}


def context_from_evaluation(program: Program, ev: Evaluation, facts: Mapping[str, Sequence[Any]],
                            period: Period, *, levels: Sequence[str] | None = None,
                            group_by: str = DEFAULT_GROUP_BY, show_pii: bool = False,
                            fallback_weekdays: bool = False) -> dict:
    """The report context (module doc) for an evaluation already made over ``facts``
    (``fallback_weekdays`` as given to that evaluation: workflow deadlines are replayed with the
    same calendar)."""
    bundle = program.bundle
    index = RecordIndex(program, facts)
    selected = list(levels) if levels else list(bundle.levels)
    entries: list[dict] = []
    for f in ev.findings:
        if f.triggered_on not in period or f.level not in selected:
            continue
        rec = index.get(f.collection, f.key)
        refs = index.refs(f.collection, rec)
        e = f.model_dump(mode="json")
        e["department"], e["department_from"] = _group_of(f.collection, rec, refs, group_by)
        e["record"] = to_json_value(rec or {})
        e["refs"] = {c: to_json_value(r) for c, r in refs.items()}
        entries.append(e)

    lv_sorted = sorted(bundle.levels.values(), key=lambda lv: (-lv.severity, lv.key))
    counts = {lv.key: 0 for lv in lv_sorted if lv.key in selected}
    for e in entries:
        counts[e["level"]] = counts.get(e["level"], 0) + 1

    depts: dict[str, list[dict]] = {}
    for e in entries:
        depts.setdefault(e["department"], []).append(e)
    dept_rows = []
    for name, fs in depts.items():
        c = {k: 0 for k in counts}
        for e in fs:
            c[e["level"]] += 1
        dept_rows.append({"name": name, "counts": c, "total": len(fs),
                          "red_cards": c.get("red_card", 0), "warnings": c.get("warning", 0),
                          "findings": fs})
    dept_rows.sort(key=lambda d: (-d["red_cards"], -d["warnings"], -d["total"], d["name"]))

    cited: dict[str, int] = {}
    for e in entries:
        for cid in e["clauses"]:
            cited[cid] = cited.get(cid, 0) + 1
    clauses = []
    for cid in sorted(cited, key=_clause_sort_key):
        cl = bundle.clauses.get(cid)
        clauses.append({"id": cid, "article": cl.article if cl else "",
                        "summary": cl.summary if cl else "", "count": cited[cid]})

    ctx = {
        "bundle": {"name": bundle.name, "version": bundle.version, "title": bundle.title,
                   "documents": to_json_value([dict(d) for d in bundle.documents])},
        "period": period.to_dict(),
        "as_of": ev.as_of.isoformat(),
        "complete": ev.as_of >= period.end,
        "group_by": group_by,
        "levels": [{"key": lv.key, "name": lv.name, "severity": lv.severity} for lv in lv_sorted],
        "level_names": {lv.key: lv.name for lv in lv_sorted},
        "selected": [k for k in counts],
        "findings": entries,
        "counts": counts,
        "departments": dept_rows,
        "red_cards": _by_level_block(entries, "red_card"),
        "warnings": _by_level_block(entries, "warning"),
        "clauses": clauses,
        "summary": ev.summary.model_dump(mode="json"),
        "rejected": len(ev.rejected),
        "warnings_text": list(ev.warnings),
        "parameters": _parameters(bundle, min(period.end, ev.as_of)),
        "workflows": _workflows(bundle),
        "flows": flow_entries(program, facts, ev.as_of, period, index, group_by,
                              fallback_weekdays=fallback_weekdays),
    }
    return ctx if show_pii else mask_value(ctx)


def _parameters(bundle, on: _dt.date) -> dict:
    return {name: to_json_value(p.value_on(on)) for name, p in sorted(bundle.params.items())}


def _workflows(bundle) -> dict:
    out = {}
    for name, wf in sorted(bundle.workflows.items()):
        out[name] = {
            "title": wf.title, "description": wf.description, "clauses": list(wf.clauses),
            "collection": wf.collection,
            "states": [{"name": st.name, "title": st.title, "initial": st.initial,
                        "final": st.final, "requires": [f for f, _ in st.requires]}
                       for st in wf.states],
            "transitions": [{"from": t.src, "to": t.dst, "title": t.title,
                             "deadline": t.deadline is not None, "guard": t.guard is not None}
                            for t in wf.transitions]}
    return out


def flow_entries(program: Program, facts: Mapping[str, Sequence[Any]], as_of: _dt.date,
                 period: Period, index: RecordIndex, group_by: str = DEFAULT_GROUP_BY, *,
                 fallback_weekdays: bool = False) -> list[dict]:
    """The ``flows`` of the report context (module doc): every workflow record active in
    ``period``, replayed with the events known on ``as_of``. Records rejected on input are not
    replayed (the evaluation reports them)."""
    from ..dsl import runtime as DR
    from .findings import Summary

    if not program.flows:
        return []
    bundle = program.bundle
    wanted = {cf.wf.collection for cf in program.flows.values()}
    colls = program.read_facts({c: facts[c] for c in wanted if c in facts}, Summary(), [], [])
    rt = DR.Runtime(as_of=as_of, calendar=program.calendar(fallback_weekdays),
                    params=bundle.params, indexes=program.indexes(colls),
                    flows=dict(program.flows))
    cut = min(period.end, as_of)
    out = []
    for name in sorted(program.flows):
        cf = program.flows[name]
        wf = cf.wf
        ent = bundle.entities.get(wf.collection)
        kf = ent.key if ent is not None else None
        for i, rec in enumerate(colls.get(wf.collection, ())):
            key = str(rec.get(kf)) if kf and rec.get(kf) is not None else str(i)
            raw = index.get(wf.collection, key) if kf else None
            grp, grp_from = _group_of(wf.collection, raw if raw is not None else
                                      to_json_value(rec), index.refs(wf.collection, raw),
                                      group_by)
            entry = {"flow": name, "collection": wf.collection, "key": key, "group": grp,
                     "group_from": grp_from, "state": None, "state_title": None, "since": None,
                     "final": False, "started": None, "steps": [], "issues": [],
                     "deadlines": [], "open_overdue": 0, "record": to_json_value(rec),
                     "error": None}
            try:
                run, orig = _known_replay(cf, rt, rec, as_of)
            except (DR.EvalError, DR.NotInForce) as exc:
                # listed once, in the period its history starts in (or always, if no date)
                first = _first_date(rec.get(wf.history), wf.date_field)
                if first is None or period.start <= first <= cut:
                    entry["error"] = str(exc)
                    entry["started"] = first.isoformat() if first else None
                    out.append(entry)
                continue
            started = run["started"]
            if started is None or started > cut:
                continue
            if run["final"] and run["since"] is not None and run["since"] < period.start:
                continue  # closed before the period began
            entry.update(_flow_json(cf, run, orig, as_of))
            out.append(entry)
    out.sort(key=lambda e: (e["flow"], e["group"], e["started"] or "", e["key"]))
    return out


def _first_date(events, date_field: str) -> _dt.date | None:
    ds = [e.get(date_field) for e in events or () if isinstance(e, dict)]
    ds = [d for d in ds if isinstance(d, _dt.date)]
    return min(ds) if ds else None


def _known_replay(cf, rt, rec: dict, as_of: _dt.date) -> tuple[dict, list[int]]:
    """Replay ``rec`` with only the events dated on or before ``as_of``; also the original
    position of each event kept (the replay numbers the events of the list it is given)."""
    wf = cf.wf
    events = rec.get(wf.history) or []
    keep = [i for i, e in enumerate(events)
            if not (isinstance(e, dict) and isinstance(e.get(wf.date_field), _dt.date)
                    and e[wf.date_field] > as_of)]
    if len(keep) == len(events):
        return cf.replay(rt, rec), keep
    known = dict(rec)
    known[wf.history] = [events[i] for i in keep]
    return cf.replay(rt, known), keep


def _flow_json(cf, run: dict, orig: list[int], as_of: _dt.date) -> dict:
    def iso(d):
        return d.isoformat() if isinstance(d, _dt.date) else d

    def pos(i):
        return orig[i] if 0 <= i < len(orig) else i

    titles = {st.name: st.title for st in cf.wf.states}

    def title(name):
        return titles.get(name, name)

    steps = [{"state": st["state"], "title": title(st["state"]), "date": iso(st["on"]),
              "index": pos(st["index"]), "event": to_json_value(st["event"])}
             for st in run["steps"]]
    issues = [{"kind": x["kind"], "state": x["state"], "from": x["from"], "on": iso(x["on"]),
               "resolved": iso(x["resolved"]), "due": iso(x["due"]), "index": pos(x["index"]),
               "fields": list(x["fields"]), "detail": x["detail"]}
              for x in run["issues"] if x["on"] <= as_of]  # a breach dated later: not yet
    clocks = [{"from": c["from"], "to": c["to"], "entered": iso(c["entered"]),
               "due": iso(c["due"]), "left": iso(c["left"]), "met": bool(c["met"])}
              for c in run["deadlines"]]
    n_open = sum(1 for x in run["issues"] if x["kind"] == "overdue" and x["on"] <= as_of
                 and x["resolved"] is None)
    return {"state": run["state"], "state_title": title(run["state"]) if run["state"] else None,
            "since": iso(run["since"]), "final": bool(run["final"]),
            "started": iso(run["started"]), "steps": steps, "issues": issues,
            "deadlines": clocks, "open_overdue": n_open}


def _clause_sort_key(cid: str) -> tuple:
    parts = re.split(r"(\d+)", cid)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def build_context(program: Program, facts: Mapping[str, Iterable[Any]], as_of: _dt.date | None,
                  period: Period | str, *, levels: Sequence[str] | str | None = None,
                  group_by: str = DEFAULT_GROUP_BY, show_pii: bool = False,
                  fallback_weekdays: bool = False) -> tuple[dict, Evaluation]:
    """Evaluate ``facts`` as of ``as_of`` (default: the period's last day) and build the report
    context. Returns ``(context, evaluation)``."""
    if isinstance(period, str):
        period = parse_period(period)
    if as_of is None:
        as_of = period.end
    if as_of < period.start:
        raise ReportError(f"the as-of date {as_of} is before the period {period.key} starts "
                          f"({period.start})",
                          "findings are known only up to the as-of date; use a later --as-of")
    lv = parse_levels(program, levels)
    facts = materialize(facts)
    ev = program.evaluate(facts, as_of, fallback_weekdays=fallback_weekdays)
    return context_from_evaluation(program, ev, facts, period, levels=lv, group_by=group_by,
                                   show_pii=show_pii, fallback_weekdays=fallback_weekdays), ev


# ------------------------------------------------------------------------- templates


def template_file_name(name: str, fmt: str) -> str:
    return f"{name}.{fmt}{TEMPLATE_SUFFIX}"


def available_templates(template_dirs: Sequence[Path], fmt: str | None = None) -> list[str]:
    """Template names (``bulletin``) shipped by the bundle chain, for ``fmt`` or any format."""
    names = set()
    for d in template_dirs:
        for p in Path(d).glob(f"*{TEMPLATE_SUFFIX}"):
            stem = p.name[: -len(TEMPLATE_SUFFIX)]
            if "." not in stem or stem.startswith("_"):
                continue
            base, f = stem.rsplit(".", 1)
            if fmt is None or f == fmt:
                names.add(base)
    return sorted(names)


_NAME_RE = re.compile(r"^[A-Za-z0-9_\-\u4e00-\u9fff]+$")


def _loader(template_dirs: Sequence[Path], layers: Mapping[str, Path]) -> jinja2.BaseLoader:
    """Plain names resolve most specific bundle first; ``LAYER/name`` names one bundle's file,
    so a fork's template can ``{% extends "henan/bulletin.md.j2" %}`` and override blocks."""
    plain = jinja2.FileSystemLoader([str(d) for d in template_dirs], encoding="utf-8")
    if not layers:
        return plain
    per_layer = {n: jinja2.FileSystemLoader(str(d), encoding="utf-8") for n, d in layers.items()}
    return jinja2.ChoiceLoader([jinja2.PrefixLoader(per_layer, delimiter="/"), plain])


def _layer_template_dirs(bundle) -> dict[str, Path]:
    dirs = {Path(d) for d in bundle.template_dirs}
    out = {}
    for layer in getattr(bundle, "chain", ()):
        d = Path(layer.path) / "templates"
        if d in dirs:
            out[layer.name] = d
    return out


def _environment(template_dirs: Sequence[Path], fmt: str,
                 layers: Mapping[str, Path] | None = None) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=_loader(template_dirs, layers or {}),
        autoescape=(fmt == "html"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
    )
    env.filters["cn_num"] = cn_num
    env.filters["cn_date"] = cn_date
    return env


def cn_num(n: Any) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一 (for headings like （二）); other values as text."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 100:
        return str(n)
    if n < 10:
        return "〇一二三四五六七八九"[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else "〇一二三四五六七八九"[tens]
    return head + "十" + ("" if ones == 0 else "〇一二三四五六七八九"[ones])


def cn_date(d: Any) -> str:
    """``2025-06-30`` → ``2025年6月30日``; other values as text."""
    if isinstance(d, str):
        try:
            d = _dt.date.fromisoformat(d)
        except ValueError:
            return d
    if isinstance(d, _dt.date):
        return f"{d.year}年{d.month}月{d.day}日"
    return str(d)


def find_template(template_dirs: Sequence[Path], name: str, fmt: str,
                  bundle_name: str = "") -> Path:
    """The file ``templates/NAME.FORMAT.j2`` of the most specific bundle that ships it."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format `{fmt}`", "use one of: " + ", ".join(FORMATS))
    if not name or not _NAME_RE.match(name):
        raise TemplateNotFoundError(f"`{name}` is not a template name",
                                    "a template name is a plain name like `bulletin`")
    fname = template_file_name(name, fmt)
    for d in template_dirs:
        p = Path(d) / fname
        if p.is_file():
            return p
    avail = available_templates(template_dirs, fmt)
    any_fmt = available_templates(template_dirs)
    who = f"bundle `{bundle_name}`" if bundle_name else "the bundle"
    if name in any_fmt:
        hint = f"`{name}` exists in another format; formats for it: " + ", ".join(
            f for f in FORMATS if name in available_templates(template_dirs, f))
    elif avail:
        hint = did_you_mean(name, avail) or ("templates: " + ", ".join(avail))
    else:
        hint = f"{who} ships no {fmt} templates (looked for templates/{fname})"
    looked = "; ".join(str(d) for d in template_dirs) or "no templates/ folder in the chain"
    raise TemplateNotFoundError(f"report template `{name}` ({fmt}) not found in {who} "
                                f"(looked in: {looked})", hint)


def render_report(program_or_bundle, context: Mapping, template: str = "bulletin",
                  fmt: str = "md") -> str:
    """Render ``context`` with the bundle's template ``TEMPLATE.FMT.j2`` (sandboxed)."""
    bundle = getattr(program_or_bundle, "bundle", program_or_bundle)
    dirs = tuple(bundle.template_dirs)
    path = find_template(dirs, template, fmt, bundle.name)
    env = _environment(dirs, fmt, _layer_template_dirs(bundle))
    try:
        tpl = env.get_template(path.name)
        return tpl.render(**dict(context))
    except jinja2.TemplateSyntaxError as e:
        file = e.filename or str(path)
        raise PolicyError([Diagnostic("E071", f"template syntax error: {e.message}".lower()
                                      if e.message else "template syntax error",
                                      Loc(file, e.lineno or 0, 1),
                                      "see https://jinja.palletsprojects.com/templates/")]) from None
    except jinja2.TemplateError as e:  # undefined names, sandbox refusals, template not found
        line = _template_line(e, path)
        raise PolicyError([Diagnostic("E071", f"template error: {e}"[:300],
                                      Loc(str(path), line, 1 if line else 0),
                                      "the names a report template can use are listed in "
                                      "engine/report.py (report context)")]) from None


def _template_line(exc: BaseException, path: Path) -> int:
    tb = exc.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (str(path), path.name):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def report(program: Program, facts: Mapping[str, Iterable[Any]], as_of: _dt.date | None,
           period: Period | str, *, template: str = "bulletin", fmt: str = "md",
           levels: Sequence[str] | str | None = None, group_by: str = DEFAULT_GROUP_BY,
           show_pii: bool = False, fallback_weekdays: bool = False) -> tuple[str, Evaluation]:
    """Evaluate, build the context and render it. Returns ``(text, evaluation)``.

    The template is looked up first, so a wrong template name fails before any evaluation."""
    find_template(program.bundle.template_dirs, template, fmt, program.bundle.name)
    ctx, ev = build_context(program, facts, as_of, period, levels=levels, group_by=group_by,
                            show_pii=show_pii, fallback_weekdays=fallback_weekdays)
    return render_report(program, ctx, template, fmt), ev
