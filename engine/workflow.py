"""Workflows: states, transitions, required fields, DSL guards and deadlines (docs/workflows.md).

Stages, each callable on its own:

- :func:`load_workflow` — a ``workflows/*.yaml`` document (already validated against
  ``schemas/workflow.json``) → :class:`Workflow` (frozen; guard and deadline texts parsed into DSL
  AST with locations pointing into the YAML file). Structural errors (unknown states, no initial
  state, a move out of a final state) are located diagnostics.
- :func:`run_type` — the static type of ``flow(NAME, record)``, built from the entity's event type.
- :class:`CompiledFlow` — a checked workflow ready to replay; :meth:`CompiledFlow.replay` turns one
  record's dated event history into the replay dict (state, steps, issues, deadlines). Pure: it
  reads the record, the calendar and parameters through the :class:`~govsup.dsl.runtime.Runtime`.

Guard and deadline expressions are DSL expressions, evaluated by the DSL's reference interpreter;
no YAML text is ever executed as Python.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from ..dsl import ast as A
from ..dsl import types as T
from ..dsl.parser import _parse_expr_at
from .diagnostics import Diagnostic, PolicyError, did_you_mean
from .loc import Loc
from .source import Located

ISSUE_KINDS = ("illegal", "out_of_order", "guard", "missing_fields", "overdue")


@dataclass(frozen=True)
class State:
    name: str
    title: str
    initial: bool
    final: bool
    requires: tuple[tuple[str, Loc], ...]
    loc: Loc = field(compare=False)


@dataclass(frozen=True)
class Transition:
    src: str
    dst: str
    title: str
    guard: A.Expr | None
    deadline: A.Expr | None
    loc: Loc = field(compare=False)
    src_loc: Loc = field(compare=False)
    dst_loc: Loc = field(compare=False)


@dataclass(frozen=True)
class Workflow:
    name: str
    title: str
    description: str
    clauses: tuple[str, ...]
    collection: str
    history: str
    state_field: str
    date_field: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    defined_in: str
    file: str
    loc: Loc = field(compare=False)
    locs: Any = field(compare=False, default=None)  # the Located document, for later checks

    def state(self, name: str) -> State | None:
        for s in self.states:
            if s.name == name:
                return s
        return None


def load_workflow(doc: Located, bundle: str, diags: list) -> Workflow | None:
    """A validated workflow document → :class:`Workflow`; problems are appended to ``diags``."""
    w = doc.value
    n0 = len(diags)
    states = []
    for sname, s in w["states"].items():
        s = s or {}
        req = tuple((f, doc.loc(("states", sname, "requires", i)))
                    for i, f in enumerate(s.get("requires") or []))
        states.append(State(sname, s.get("title", sname), bool(s.get("initial")),
                            bool(s.get("final")), req, doc.loc(("states", sname))))
    names = [s.name for s in states]
    if not any(s.initial for s in states):
        diags.append(Diagnostic("E032", f"workflow `{w['workflow']}` has no initial state",
                                doc.loc(("states",)), "mark the state a history starts in with "
                                "`initial: true`"))
    finals = {s.name for s in states if s.final}
    transitions = []
    seen: dict = {}
    for i, t in enumerate(w["transitions"]):
        base = ("transitions", i)
        for end in ("from", "to"):
            if t[end] not in names:
                diags.append(Diagnostic("E032", f"transition {end} unknown state `{t[end]}`",
                                        doc.value_loc(base + (end,)),
                                        did_you_mean(t[end], names) or
                                        "declared states: " + ", ".join(names)))
        if t["from"] in finals:
            diags.append(Diagnostic("E032", f"state `{t['from']}` is final; no transition may "
                                    "leave it", doc.value_loc(base + ("from",)),
                                    "remove `final: true` or the transition"))
        pair = (t["from"], t["to"])
        if pair in seen:
            diags.append(Diagnostic("E013", f"transition `{pair[0]}` → `{pair[1]}` is declared "
                                    "twice", doc.loc(base), f"first declared at {seen[pair]}"))
        seen[pair] = doc.loc(base)
        exprs = {}
        for k in ("guard", "deadline"):
            if k in t:
                try:
                    exprs[k] = _parse_expr_at(str(t[k]), doc.file, *_line_col(doc, base + (k,)))
                except PolicyError as exc:
                    diags.extend(exc.diagnostics)
        transitions.append(Transition(t["from"], t["to"], t.get("title", ""), exprs.get("guard"),
                                      exprs.get("deadline"), doc.loc(base),
                                      doc.value_loc(base + ("from",)),
                                      doc.value_loc(base + ("to",))))
    if len(diags) > n0:
        return None
    return Workflow(w["workflow"], w["title"], w.get("description", ""),
                    tuple(w.get("clauses") or ()), w["collection"], w["history"],
                    w.get("state_field", "state"), w.get("date_field", "date"), tuple(states),
                    tuple(transitions), bundle, doc.file, doc.loc(("workflow",)), doc)


def _line_col(doc: Located, path: tuple) -> tuple[int, int]:
    loc = doc.value_loc(path)
    return loc.line, loc.col


# ------------------------------------------------------------------ types

def _issue_t() -> T.Type:
    return T.Type("record", name="flow_issue", fields=(
        ("kind", T.TEXT), ("state", T.TEXT), ("from", T.TEXT.opt()), ("on", T.DATE),
        ("resolved", T.DATE.opt()), ("index", T.INT), ("fields", T.list_of(T.TEXT)),
        ("due", T.DATE.opt()), ("detail", T.TEXT)))


def _deadline_t() -> T.Type:
    return T.Type("record", name="flow_deadline", fields=(
        ("from", T.TEXT), ("to", T.TEXT), ("entered", T.DATE), ("due", T.DATE),
        ("left", T.DATE.opt()), ("met", T.BOOL)))


def run_type(event_t: T.Type) -> T.Type:
    """The type of ``flow(NAME, record)`` for a workflow whose events have type ``event_t``."""
    step = T.Type("record", name="flow_step", fields=(
        ("state", T.TEXT), ("on", T.DATE), ("index", T.INT), ("event", event_t)))
    return T.Type("record", name="flow_run", fields=(
        ("flow", T.TEXT), ("state", T.TEXT.opt()), ("since", T.DATE.opt()), ("final", T.BOOL),
        ("started", T.DATE.opt()), ("steps", T.list_of(step)),
        ("issues", T.list_of(_issue_t())), ("deadlines", T.list_of(_deadline_t()))))


def event_type(wf: Workflow, entities) -> T.Type | None:
    ent = entities.get(wf.collection)
    if ent is None:
        return None
    h = ent.type.field_map().get(wf.history)
    if h is None or h.kind != "list" or h.elem is None or h.elem.kind != "record":
        return None
    return h.elem.required()


def check_workflow(wf: Workflow, bundle, checker) -> None:
    """Names and types of one workflow against the bundle's entities and parameters; problems
    go to ``checker``'s diagnostics (the same list as the rules' problems)."""
    doc: Located = wf.locs
    ents = bundle.entities
    ent = ents.get(wf.collection)
    if ent is None:
        checker.err("E021", f"workflow `{wf.name}`: unknown collection `{wf.collection}`",
                    doc.value_loc(("collection",)), did_you_mean(wf.collection, ents))
        return
    fm = ent.type.field_map()
    h = fm.get(wf.history)
    if h is None:
        checker.err("E022", f"workflow `{wf.name}`: `{wf.collection}` has no field "
                    f"`{wf.history}`", doc.value_loc(("history",)), did_you_mean(wf.history, fm))
        return
    ev = event_type(wf, ents)
    if ev is None:
        checker.err("E027", f"workflow `{wf.name}`: `{wf.history}` must be a list of objects "
                    f"(events), not {h}", doc.value_loc(("history",)))
        return
    efm = ev.field_map()
    for key, want in (("state_field", T.TEXT), ("date_field", T.DATE)):
        fname = getattr(wf, key)
        ft = efm.get(fname)
        loc = doc.value_loc((key,)) if key in doc.value else doc.value_loc(("history",))
        if ft is None:
            checker.err("E022", f"workflow `{wf.name}`: events have no field `{fname}`", loc,
                        did_you_mean(fname, efm) or f"set `{key}:` to the event field to use")
        elif ft.required().kind not in (want.kind, "any"):
            checker.err("E027", f"workflow `{wf.name}`: event field `{fname}` must be "
                        f"{want}, not {ft}", loc)
    for s in wf.states:
        for f, loc in s.requires:
            if f not in efm:
                checker.err("E022", f"state `{s.name}` requires unknown event field `{f}`", loc,
                            did_you_mean(f, efm))
    from ..dsl.checker import _Scope

    for t in wf.transitions:
        for kind, expr, want in (("guard", t.guard, T.BOOL), ("deadline", t.deadline, T.DATE)):
            if expr is None:
                continue
            sc = _Scope({"r": ent.type, "e": ev, "entered": T.DATE})
            checker.colls_used = set()
            ty = checker.check(expr, sc)
            if kind == "guard":
                ty = checker.need(ty, expr)
            if not T.assignable(ty.required(), want):
                checker.err("E027", f"a workflow {kind} must be {want}, not {ty}", expr.loc)
            if checker.colls_used:
                checker.err("E027", f"a workflow {kind} cannot read whole collections",
                            expr.loc, "use the record `r`, its event `e`, `lookup(…)` or `param.…`")


# ------------------------------------------------------------------ replay

class CompiledFlow:
    """A checked workflow, ready to replay records. Immutable after construction."""

    def __init__(self, wf: Workflow, field_titles: dict | None = None):
        self.wf = wf
        self.field_titles = dict(field_titles or {})  # event field -> its schema title
        self.states = {s.name: s for s in wf.states}
        self.moves = {(t.src, t.dst): t for t in wf.transitions}
        self.out: dict[str, list[Transition]] = {}
        for t in wf.transitions:
            self.out.setdefault(t.src, []).append(t)
        succ: dict[str, set] = {}
        for t in wf.transitions:
            succ.setdefault(t.src, set()).add(t.dst)
        self.reach = {s: self._closure(s, succ) for s in self.states}
        self.params = tuple(sorted({
            x.name for t in wf.transitions for e in (t.guard, t.deadline) if e is not None
            for x in A.walk(e)
            if isinstance(x, A.Field) and isinstance(x.obj, A.Name) and x.obj.name == "param"}))

    @staticmethod
    def _closure(s: str, succ: dict) -> frozenset:
        seen: set = set()
        todo = list(succ.get(s, ()))
        while todo:
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo.extend(succ.get(x, ()))
        return frozenset(seen)

    def _title(self, s: str | None) -> str:
        st = self.states.get(s) if s is not None else None
        return st.title if st is not None else str(s)

    def replay(self, rt, record: dict) -> dict:
        """One record's history → the replay dict described in docs/workflows.md."""
        from ..dsl import runtime as R
        from ..dsl.compiler import _Interp

        wf = self.wf
        events = R.get(record, wf.history) or []
        dated = []
        for i, ev in enumerate(events):
            if not isinstance(ev, dict):
                raise R.EvalError(f"event {i} of `{wf.history}` is not an object")
            d = ev.get(wf.date_field)
            s = ev.get(wf.state_field)
            if d is None:
                raise R.EvalError(f"event {i} of `{wf.history}` has no `{wf.date_field}`")
            if s is None:
                raise R.EvalError(f"event {i} of `{wf.history}` has no `{wf.state_field}`")
            dated.append((d, i, s, ev))
        dated.sort(key=lambda x: (x[0], x[1]))
        run = {"flow": wf.name, "state": None, "since": None, "final": False,
               "started": dated[0][0] if dated else None, "steps": [], "issues": [],
               "deadlines": []}
        if not dated:
            return run
        interp = _Interp(None, rt, {})
        interp.ref = dated[0][0]  # parameters in force when the history started (C9)
        for p in self.params:  # a workflow is in force for a record only if all its parameters
            rt.param(p, interp.ref)  # are, whether or not this history reaches a guard/deadline
        issues, clocks, steps = run["issues"], run["deadlines"], run["steps"]
        cur: str | None = None
        entered: _dt.date | None = None
        open_clocks: list = []

        def issue(kind, state, src, on, index, detail, fields=(), due=None, resolved=None):
            issues.append({"kind": kind, "state": state, "from": src, "on": on,
                           "resolved": resolved, "index": index, "fields": list(fields),
                           "due": due, "detail": detail})

        for d, i, s, ev in dated:
            # leaving the current state stops its clocks
            for c in open_clocks:
                c["left"] = d
                c["met"] = d <= c["due"]
                if d > c["due"]:
                    issue("overdue", c["from"], None, _breach_on(c), c["_index"], f"“{self._title(c['from'])}”应于{c['due']}前"
                          f"转为“{self._title(c['to'])}”，{d}才离开该状态", due=c["due"],
                          resolved=d)
            open_clocks = []
            st = self.states.get(s)
            if st is None:
                issue("illegal", s, cur, d, i, f"“{s}”不是流程“{wf.title}”中的状态")
            elif cur is None:
                if not st.initial:
                    issue("illegal", s, None, d, i, f"流程应从初始状态开始，记录的第一个状态是“{st.title}”")
            elif cur in self.states:  # (leaving an undeclared state: entering it was reported)
                move = self.moves.get((cur, s))
                if move is None:
                    skipped = s in self.reach.get(cur, ()) or cur in self.reach.get(s, ())
                    if self.states[cur].final or not skipped:
                        issue("illegal", s, cur, d, i,
                              f"不允许从“{self._title(cur)}”转为“{st.title}”")
                    else:
                        issue("out_of_order", s, cur, d, i,
                              f"环节顺序颠倒：从“{self._title(cur)}”直接转为“{st.title}”")
                elif move.guard is not None:
                    genv = {"r": record, "e": ev, "entered": entered}
                    if interp.ev(move.guard, genv) is not True:
                        issue("guard", s, cur, d, i,
                              f"从“{self._title(cur)}”转为“{st.title}”的条件不成立")
            if st is not None and st.requires:
                lacking = [f for f, _ in st.requires if _blank(ev.get(f))]
                if lacking:
                    names = "、".join(self.field_titles.get(f, f) for f in lacking)
                    issue("missing_fields", s, cur, d, i, f"进入“{st.title}”缺少：{names}",
                          fields=lacking)
            steps.append({"state": s, "on": d, "index": i, "event": ev})
            cur, entered = s, d
            for t in self.out.get(s, ()):
                if t.deadline is None:
                    continue
                due = interp.ev(t.deadline, {"r": record, "e": ev, "entered": d})
                if due is None:
                    continue
                c = {"from": s, "to": t.dst, "entered": d, "due": due, "left": None,
                     "met": False, "_index": i}
                clocks.append(c)
                open_clocks.append(c)
        for c in open_clocks:
            issue("overdue", c["from"], None, _breach_on(c), c["_index"],
                  f"“{self._title(c['from'])}”应于{c['due']}前转为“{self._title(c['to'])}”，"
                  "逾期仍未办理", due=c["due"])
        for c in clocks:
            del c["_index"]
        issues.sort(key=lambda x: (x["on"], x["index"], x["kind"]))
        known = [st for st in steps if st["on"] <= rt.as_of]
        if known:
            last = known[-1]
            run["state"], run["since"] = last["state"], last["on"]
            stdef = self.states.get(last["state"])
            run["final"] = bool(stdef and stdef.final)
        return run


def _breach_on(clock: dict) -> _dt.date:
    """The first day overdue (C6: deadline + 1) — but never before the event that set the
    deadline: a deadline recorded as already past is a breach known from that event's date, so
    evaluating as of an earlier date does not reveal it."""
    return max(clock["due"] + _dt.timedelta(days=1), clock["entered"])


def _blank(v) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    if isinstance(v, (list, dict)):
        return not v
    return False


def _event_field_titles(wf: Workflow, entities) -> dict:
    ent = entities.get(wf.collection)
    try:
        props = ent.schema["properties"][wf.history]["items"]["properties"]
    except (AttributeError, KeyError, TypeError):
        return {}
    return {k: v["title"] for k, v in props.items() if hasattr(v, "get") and v.get("title")}


def compile_flows(bundle) -> dict[str, CompiledFlow]:
    return {name: CompiledFlow(wf, _event_field_titles(wf, bundle.entities))
            for name, wf in bundle.workflows.items()}


def flow_states(program, rt, colls, warnings: list) -> list:
    """Every record's state in every workflow on ``rt.as_of`` (the evaluation's ``flows``)."""
    from ..dsl import runtime as R
    from .findings import FlowState

    out = []
    for name in sorted(program.flows):
        cf = program.flows[name]
        wf = cf.wf
        ent = program.bundle.entities.get(wf.collection)
        kf = ent.key if ent is not None else None
        for i, rec in enumerate(colls.get(wf.collection, ()) or ()):
            key = str(rec.get(kf)) if kf and rec.get(kf) is not None else str(i)
            try:
                run = R.b_flow(rt, name, rec)
            except (R.EvalError, R.NotInForce) as exc:
                out.append(FlowState(flow=name, collection=wf.collection, key=key, state=None,
                                     since=None, final=False, open_overdue=0, error=str(exc)))
                continue
            n_open = sum(1 for x in run["issues"] if x["kind"] == "overdue"
                         and x["on"] <= rt.as_of
                         and (x["resolved"] is None or x["resolved"] > rt.as_of))
            out.append(FlowState(flow=name, collection=wf.collection, key=key,
                                 state=run["state"], since=run["since"], final=run["final"],
                                 open_overdue=n_open))
    out.sort(key=lambda f: (f.flow, f.collection, f.key))
    return out
