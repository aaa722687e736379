"""Static checks: names, fields, parameters, levels, clause ids, functions, arities and types.

Input: a resolved :class:`~govsup.engine.bundle.Bundle` (its rules as AST). Output: a tuple of
:class:`CheckedRule` (the rule plus what the compiler needs: primary collection, parameters read,
the values to report) — or :class:`PolicyError` with every problem found in every rule, sorted.
Runs before any data is seen.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from ..engine.diagnostics import Diagnostic, PolicyError, did_you_mean
from . import ast as A
from . import types as T
from .format import fmt_expr
from .runtime import ACCEPTS_MISSING, BUILTINS

RESERVED = {"param", "as_of"}
PERIOD_KINDS = {"month", "quarter", "half", "year"}
PEOPLE_BUILTINS = {"terms", "in_term", "periods_without"}  # typed by Checker._people_call
TERM_UNITS = {"days", "months", "years"}


@dataclass(frozen=True)
class CheckedRule:
    rule: A.Rule
    collection: str | None  # collection iterated by the first `for`, if any
    params: frozenset  # parameter names read
    collections_read: frozenset  # collections referenced anywhere
    values: tuple  # ((label, expr), ...) field paths reported with each finding
    let_names: tuple
    key_field: str | None
    optypes: dict = field(default_factory=dict, compare=False, repr=False)
    # True when the rule reads its iterated collection only through its first `for`: it can then
    # be evaluated one chunk of records at a time (streaming)
    per_record: bool = False
    # 施行日期 of the first clause the rule cites: on a reference date before it the rule does
    # not apply (as when a parameter it reads has no value then)
    in_force_from: _dt.date | None = None


class _Scope:
    def __init__(self, env: dict, narrowed: frozenset = frozenset(), lambdas: frozenset = frozenset()):
        self.env = env
        self.narrowed = narrowed
        self.lambdas = lambdas

    def with_narrowed(self, paths) -> "_Scope":
        return _Scope(self.env, self.narrowed | frozenset(paths), self.lambdas)

    def bind_lambda(self, name: str, t: T.Type) -> "_Scope":
        env = dict(self.env)
        env[name] = t
        return _Scope(env, frozenset(p for p in self.narrowed if p.split(".")[0] != name),
                      self.lambdas | {name})


def path_of(e) -> str | None:
    if isinstance(e, A.Name):
        return e.name
    if isinstance(e, A.Field):
        p = path_of(e.obj)
        return None if p is None else f"{p}.{e.name}"
    return None


def presence_if_true(e) -> set:
    """Paths known present when ``e`` evaluated to true."""
    if isinstance(e, A.IsMissing) and e.negated:
        p = path_of(e.operand)
        return {p} if p else set()
    if isinstance(e, A.Unary) and e.op == "not":
        return presence_if_false(e.operand)
    if isinstance(e, A.Binary) and e.op == "and":
        return presence_if_true(e.left) | presence_if_true(e.right)
    if isinstance(e, A.Binary) and e.op == "or":
        return presence_if_true(e.left) & presence_if_true(e.right)
    return set()


def presence_if_false(e) -> set:
    if isinstance(e, A.IsMissing) and not e.negated:
        p = path_of(e.operand)
        return {p} if p else set()
    if isinstance(e, A.Unary) and e.op == "not":
        return presence_if_true(e.operand)
    if isinstance(e, A.Binary) and e.op == "or":
        return presence_if_false(e.left) | presence_if_false(e.right)
    if isinstance(e, A.Binary) and e.op == "and":
        return presence_if_false(e.left) & presence_if_false(e.right)
    return set()


class Checker:
    def __init__(self, bundle):
        self.b = bundle
        self.diags: list[Diagnostic] = []
        self.params_used: set = set()
        self.colls_used: set = set()
        self.value_paths: dict = {}
        self.collect_values = False
        self.coll_refs: dict = {}
        self.optypes: dict = {}  # id(Binary node) -> (left kind, right kind), for the compiler

    # ------------------------------------------------------------------ helpers
    def err(self, code, msg, loc, help=""):
        self.diags.append(Diagnostic(code, msg, loc, help))

    def need(self, t: T.Type, e, what: str = "") -> T.Type:
        """Report an optional value used where a present one is needed."""
        if t.optional and t.kind not in ("any",):
            src = fmt_expr(e)
            self.err("E027", f"`{src}` may be missing here{what}", e.loc,
                     f"handle it first: `require {src}`, `{src} ?? <default>`, or "
                     f"`{src} is present and …`")
        return t.required()

    def expect(self, t: T.Type, want: T.Type, e, what: str) -> None:
        if not T.assignable(t, want):
            self.err("E027", f"{what} must be {want}, not {t}", e.loc)

    # ------------------------------------------------------------------ expressions
    def check(self, e, sc: _Scope) -> T.Type:
        t = self._check(e, sc)
        p = path_of(e)
        if p is not None and p in sc.narrowed:
            t = t.required()
        return t

    def _check(self, e, sc: _Scope) -> T.Type:
        if isinstance(e, A.Lit):
            v = e.value
            if v is None:
                return T.NULL
            if isinstance(v, bool):
                return T.BOOL
            if isinstance(v, int):
                return T.INT
            if isinstance(v, float):
                return T.NUMBER
            if isinstance(v, str):
                return T.TEXT
            return T.DATE
        if isinstance(e, A.ListLit):
            et = None
            for x in e.items:
                xt = self.check(x, sc)
                if et is None:
                    et = xt
                else:
                    u = T.unify(et, xt)
                    if u is None:
                        self.err("E027", f"list items have different types: {et} and {xt}", x.loc)
                        return T.list_of(T.ANY)
                    et = u
            return T.list_of(et or T.ANY)
        if isinstance(e, A.Name):
            return self._name(e, sc)
        if isinstance(e, A.Field):
            return self._field(e, sc)
        if isinstance(e, A.Index):
            ot = self.need(self.check(e.obj, sc), e.obj)
            it = self.need(self.check(e.index, sc), e.index)
            self.expect(it, T.INT, e.index, "an index")
            if ot.kind == "any":
                return T.ANY
            if ot.kind != "list":
                self.err("E027", f"only lists can be indexed, not {ot}", e.loc)
                return T.ANY
            return ot.elem.opt(True)
        if isinstance(e, A.Call):
            return self._call(e, sc)
        if isinstance(e, A.Lambda):
            self.err("E027", "a lambda (`x -> …`) can only be an argument of a collection "
                     "function", e.loc, "e.g. `any(c.fees, f -> f.amount > 0)`")
            return T.ANY
        if isinstance(e, A.Duration):
            at = self.need(self.check(e.amount, sc), e.amount)
            self.expect(at, T.INT, e.amount, "a duration's amount")
            return T.duration(e.unit)
        if isinstance(e, A.Unary):
            ot = self.need(self.check(e.operand, sc), e.operand)
            if e.op == "not":
                self.expect(ot, T.BOOL, e.operand, "the operand of `not`")
                return T.BOOL
            if not T.is_numeric(ot):
                self.err("E027", f"cannot negate {ot}", e.loc)
            return ot
        if isinstance(e, A.Binary):
            return self._binary(e, sc)
        if isinstance(e, A.IsMissing):
            self.check(e.operand, sc)
            return T.BOOL
        if isinstance(e, A.If):
            ct = self.need(self.check(e.cond, sc), e.cond)
            self.expect(ct, T.BOOL, e.cond, "an `if` condition")
            tt = self.check(e.then, sc.with_narrowed(presence_if_true(e.cond)))
            et = self.check(e.else_, sc.with_narrowed(presence_if_false(e.cond)))
            u = T.unify(tt, et)
            if u is None:
                self.err("E027", f"`then` gives {tt} but `else` gives {et}", e.loc)
                return T.ANY
            return u
        if isinstance(e, A.Template):
            for p in e.parts:
                if not isinstance(p, str):
                    self.check(p, sc)
            return T.TEXT
        raise TypeError(e)

    def _name(self, e: A.Name, sc: _Scope) -> T.Type:
        if e.name in sc.env:
            return sc.env[e.name]
        if e.name == "as_of":
            return T.DATE
        if e.name in self.b.entities:
            self.colls_used.add(e.name)
            self.coll_refs[e.name] = self.coll_refs.get(e.name, 0) + 1
            return T.list_of(self.b.entities[e.name].type)
        if e.name == "param":
            self.err("E021", "`param` must be followed by a parameter name", e.loc,
                     "e.g. `param.warning_days`")
            return T.ANY
        cands = list(sc.env) + list(self.b.entities) + ["as_of", "param"]
        self.err("E021", f"unknown name `{e.name}`", e.loc, did_you_mean(e.name, cands))
        return T.ANY

    def _field(self, e: A.Field, sc: _Scope) -> T.Type:
        if isinstance(e.obj, A.Name) and e.obj.name == "param" and "param" not in sc.env:
            p = self.b.params.get(e.name)
            if p is None:
                self.err("E023", f"unknown parameter `{e.name}`", e.loc,
                         did_you_mean(e.name, self.b.params))
                return T.ANY
            self.params_used.add(e.name)
            return p.type_t
        ot = self.check(e.obj, sc)
        ot = self.need(ot, e.obj, f" (reading `.{e.name}`)")
        if ot.kind == "any":
            return T.ANY
        if ot.kind == "list":
            self.err("E027", f"`{fmt_expr(e.obj)}` is a list; it has no field `{e.name}`", e.loc,
                     f"use `map({fmt_expr(e.obj)}, x -> x.{e.name})` or `any(…)`")
            return T.ANY
        if ot.kind != "record":
            self.err("E027", f"{ot} has no fields (reading `.{e.name}`)", e.loc)
            return T.ANY
        fm = ot.field_map()
        if e.name not in fm:
            self.err("E022", f"unknown field `{e.name}` of {ot}", e.loc, did_you_mean(e.name, fm))
            return T.ANY
        if self.collect_values:
            root = path_of(e)
            if root is not None and root.split(".")[0] not in sc.lambdas:
                self.value_paths.setdefault(root, e)
        return fm[e.name]

    def _binary(self, e: A.Binary, sc: _Scope) -> T.Type:
        op = e.op
        if op in ("and", "or"):
            lt = self.need(self.check(e.left, sc), e.left)
            facts = presence_if_true(e.left) if op == "and" else presence_if_false(e.left)
            rt = self.need(self.check(e.right, sc.with_narrowed(facts)), e.right)
            self.expect(lt, T.BOOL, e.left, f"the left side of `{op}`")
            self.expect(rt, T.BOOL, e.right, f"the right side of `{op}`")
            return T.BOOL
        lt = self.check(e.left, sc)
        rt = self.check(e.right, sc)
        self.optypes[id(e)] = (lt.kind, rt.kind, lt.optional or rt.optional)
        if op == "??":
            u = T.unify(lt.required(), rt)
            if u is None:
                self.err("E027", f"`??` needs the same type on both sides, not {lt.required()} and "
                         f"{rt}", e.loc)
                return T.ANY
            return u.opt(rt.optional)
        if op in ("==", "!="):
            if T.unify(lt, rt) is None:
                self.err("E027", f"cannot compare {lt} with {rt}", e.loc)
            return T.BOOL
        lt = self.need(lt, e.left)
        rt = self.need(rt, e.right)
        if op in ("<", "<=", ">", ">="):
            ok = (T.is_numeric(lt) and T.is_numeric(rt)) or (lt.kind == rt.kind and lt.kind in (
                "date", "text")) or "any" in (lt.kind, rt.kind)
            if not ok:
                self.err("E027", f"cannot order {lt} and {rt} with `{op}`", e.loc)
            return T.BOOL
        if op in ("in", "not in"):
            if rt.kind == "text":
                self.expect(lt, T.TEXT, e.left, "the left side of `in` (substring test)")
            elif rt.kind == "list":
                if rt.elem is not None and not (T.assignable(lt, rt.elem) or T.assignable(rt.elem, lt)):
                    self.err("E027", f"{lt} can never be in a {rt}", e.loc)
            elif rt.kind != "any":
                self.err("E027", f"the right side of `{op}` must be a list or text, not {rt}", e.loc)
            return T.BOOL
        # arithmetic
        if op == "+":
            if lt.kind == "date" and rt.kind == "duration":
                return T.DATE
            if lt.kind == "text" and rt.kind == "text":
                return T.TEXT
            if lt.kind == "list" and rt.kind == "list":
                u = T.unify(lt, rt)
                if u is None:
                    self.err("E027", f"cannot join {lt} and {rt}: the items differ", e.loc)
                    return T.ANY
                return u
        if op == "-":
            if lt.kind == "date" and rt.kind == "duration":
                return T.DATE
            if lt.kind == "date" and rt.kind == "date":
                return T.INT
        if "any" in (lt.kind, rt.kind):
            return T.ANY
        if T.is_numeric(lt) and T.is_numeric(rt):
            if op == "/":
                return T.NUMBER
            return T.INT if lt.kind == rt.kind == "int" else T.NUMBER
        hint = ""
        if lt.kind == "date" and rt.kind == "int":
            hint = f"add a unit: `{fmt_expr(e.right, 9)} days` or `{fmt_expr(e.right, 9)} workdays`"
        self.err("E027", f"cannot apply `{op}` to {lt} and {rt}", e.loc, hint)
        return T.ANY

    # ------------------------------------------------------------------ calls
    def _lambda(self, node, elem: T.Type, sc: _Scope, want: T.Type | None) -> T.Type:
        if not isinstance(node, A.Lambda):
            self.err("E027", "a lambda `x -> …` is expected here", node.loc,
                     "e.g. `count(c.fees, f -> f.amount > 0)`")
            self.check(node, sc)
            return T.ANY
        inner = sc.bind_lambda(node.param, elem)
        bt = self.check(node.body, inner)
        if want is not None:
            bt = self.need(bt, node.body)
            self.expect(bt, want, node.body, "the lambda's result")
        return bt

    def _list_arg(self, node, sc) -> T.Type:
        t = self.need(self.check(node, sc), node)
        if t.kind == "any":
            return T.list_of(T.ANY)
        if t.kind != "list":
            self.err("E027", f"a list is expected, not {t}", node.loc)
            return T.list_of(T.ANY)
        return t

    def _call(self, e: A.Call, sc: _Scope) -> T.Type:
        f = e.func
        args = e.args
        n = len(args)
        if f == "flow":
            return self._flow(e, sc)
        if f not in BUILTINS:
            self.err("E025", f"unknown function `{f}`", e.loc, did_you_mean(f, BUILTINS))
            for a in args:
                if not isinstance(a, A.Lambda):
                    self.check(a, sc)
            return T.ANY

        def arity(lo, hi=None):
            hi = lo if hi is None else hi
            if not (lo <= n <= (hi if hi >= 0 else 99)):
                want = f"{lo}" if lo == hi else (f"{lo} or more" if hi < 0 else f"{lo} to {hi}")
                self.err("E026", f"`{f}` takes {want} argument(s), not {n}", e.loc)
                return False
            return True

        def arg(i, want: T.Type, allow_missing=False):
            t = self.check(args[i], sc)
            if not allow_missing:
                t = self.need(t, args[i])
            self.expect(t.required(), want, args[i], f"argument {i + 1} of `{f}`")
            return t

        if f in ("count", "first", "last"):
            if not arity(1, 2):
                return T.ANY
            lt = self._list_arg(args[0], sc)
            if n == 2:
                self._lambda(args[1], lt.elem, sc, T.BOOL)
            return T.INT if f == "count" else lt.elem.opt(True)
        if f in ("any", "all", "filter"):
            if not arity(2):
                return T.ANY
            lt = self._list_arg(args[0], sc)
            self._lambda(args[1], lt.elem, sc, T.BOOL)
            return T.BOOL if f != "filter" else lt
        if f in ("map", "sort"):
            if not arity(2):
                return T.ANY
            lt = self._list_arg(args[0], sc)
            bt = self._lambda(args[1], lt.elem, sc, None)
            return T.list_of(bt) if f == "map" else lt
        if f == "sum":
            if not arity(1, 2):
                return T.ANY
            lt = self._list_arg(args[0], sc)
            et = self._lambda(args[1], lt.elem, sc, None) if n == 2 else lt.elem
            if not T.is_numeric(et.required()):
                self.err("E027", f"`sum` adds numbers, not {et}", e.loc)
            return T.INT if et.kind == "int" else T.NUMBER
        if f in ("min", "max"):
            if not arity(1, -1):
                return T.ANY
            first = self.check(args[0], sc)
            if first.kind == "list":
                if n > 2:
                    self.err("E026", f"`{f}` over a list takes the list and an optional lambda",
                             e.loc)
                et = self._lambda(args[1], first.elem, sc, None) if n == 2 else first.elem
                return et.opt(True)
            ts = [first] + [self.check(a, sc) for a in args[1:]]
            u = ts[0]
            for a, t in zip(args[1:], ts[1:]):
                u2 = T.unify(u, t)
                if u2 is None:
                    self.err("E027", f"`{f}` needs values of one type, not {u} and {t}", a.loc)
                    return T.ANY
                u = u2
            if u.kind not in ("int", "number", "date", "text", "any"):
                self.err("E027", f"`{f}` compares numbers, dates or text, not {u}", e.loc)
            return u.opt(all(t.optional for t in ts))
        if f == "distinct":
            return self._list_arg(args[0], sc) if arity(1) else T.ANY
        if f == "len":
            if arity(1):
                t = self.need(self.check(args[0], sc), args[0])
                if t.kind not in ("list", "text", "any"):
                    self.err("E027", f"`len` needs a list or text, not {t}", args[0].loc)
            return T.INT
        if f == "lookup":
            if not arity(2):
                return T.ANY
            c = args[0]
            if not (isinstance(c, A.Name) and c.name in self.b.entities):
                self.err("E028", "the first argument of `lookup` must be a collection name", c.loc,
                         did_you_mean(getattr(c, "name", ""), self.b.entities) or
                         "collections: " + ", ".join(sorted(self.b.entities)))
                return T.ANY
            ent = self.b.entities[c.name]
            self.colls_used.add(c.name)
            if not ent.key:
                self.err("E028", f"collection `{c.name}` has no `key` field to look up by", c.loc)
            kt = self.check(args[1], sc)
            if ent.key:
                ft = ent.type.field_map().get(ent.key, T.ANY)
                self.expect(kt.required(), ft.required(), args[1], "the look-up key")
            return ent.type.opt(True)
        if f in ("contains", "starts_with"):
            if arity(2):
                arg(0, T.TEXT)
                arg(1, T.TEXT)
            return T.BOOL
        if f in ("lower", "trim"):
            if arity(1):
                arg(0, T.TEXT)
            return T.TEXT
        if f == "text":
            if arity(1):
                self.check(args[0], sc)
            return T.TEXT
        if f == "join":
            if arity(2):
                self._list_arg(args[0], sc)
                arg(1, T.TEXT)
            return T.TEXT
        if f in ("id_problem", "id_birth_date", "phone_kind"):
            if arity(1):
                arg(0, T.TEXT)
            return (T.DATE if f == "id_birth_date" else T.TEXT).opt(True)
        if f == "is_blank":
            if arity(1):
                arg(0, T.TEXT, allow_missing=True)
            return T.BOOL
        if f == "coalesce":
            if not arity(1, -1):
                return T.ANY
            ts = [self.check(a, sc) for a in args]
            u = ts[0]
            for a, t in zip(args[1:], ts[1:]):
                u2 = T.unify(u, t)
                if u2 is None:
                    self.err("E027", f"`coalesce` needs values of one type, not {u} and {t}", a.loc)
                    return T.ANY
                u = u2
            return u.opt(all(t.optional for t in ts))
        date_sigs = {
            "add_workdays": ([T.DATE, T.INT], T.DATE), "sub_workdays": ([T.DATE, T.INT], T.DATE),
            "workdays": ([T.DATE, T.DATE], T.INT), "is_workday": ([T.DATE], T.BOOL),
            "add_days": ([T.DATE, T.INT], T.DATE), "add_months": ([T.DATE, T.INT], T.DATE),
            "add_years": ([T.DATE, T.INT], T.DATE), "age": ([T.DATE, T.DATE], T.INT),
            "year": ([T.DATE], T.INT), "month": ([T.DATE], T.INT), "quarter": ([T.DATE], T.INT),
            "date": ([T.INT, T.INT, T.INT], T.DATE),
        }
        if f in date_sigs:
            ps, ret = date_sigs[f]
            if arity(len(ps)):
                for i, p in enumerate(ps):
                    arg(i, p)
            return ret
        if f == "term_end":
            if arity(2, 3):
                arg(0, T.DATE)
                for i in range(1, n):
                    arg(i, T.INT)
            return T.DATE
        if f in ("periods", "period_start", "period_end"):
            want = 3 if f == "periods" else 2
            if not arity(want):
                return T.ANY
            arg(0, T.TEXT)
            k = args[0]
            if isinstance(k, A.Lit) and k.value not in PERIOD_KINDS:
                self.err("E027", f"unknown period kind `{k.value}`", k.loc,
                         did_you_mean(str(k.value), PERIOD_KINDS) or
                         "use month, quarter, half or year")
            for i in range(1, want):
                arg(i, T.DATE)
            return T.list_of(T.PERIOD) if f == "periods" else T.DATE
        if f == "pause":
            if arity(1, 2):
                arg(0, T.DATE)
                if n == 2:
                    arg(1, T.DATE, allow_missing=True)
            return T.PAUSE
        if f in ("deadline", "countdown"):
            k = 3 if f == "deadline" else 4
            if not arity(k):
                return T.ANY
            arg(0, T.DATE)
            for i in range(1, k - 1):
                arg(i, T.INT)
            pt = self.need(self.check(args[k - 1], sc), args[k - 1])
            self.expect(pt, T.list_of(T.PAUSE), args[k - 1], f"the pauses of `{f}`")
            return T.DATE.opt(True)
        if f == "is_paused":
            if arity(2):
                pt = self.need(self.check(args[0], sc), args[0])
                self.expect(pt, T.list_of(T.PAUSE), args[0], "the pauses")
                arg(1, T.DATE)
            return T.BOOL
        if f in PEOPLE_BUILTINS:
            return self._people_call(f, e, sc, arity, arg)
        raise AssertionError(f"builtin without signature: {f}")  # guarded by a test

    def _flow(self, e: A.Call, sc: _Scope) -> T.Type:
        """``flow("NAME", record)``: the replay of a workflow (docs/workflows.md)."""
        from ..engine.workflow import event_type, run_type

        flows = getattr(self.b, "workflows", {}) or {}
        if len(e.args) != 2:
            self.err("E026", f"`flow` takes 2 argument(s), not {len(e.args)}", e.loc,
                     'e.g. `flow("ledger", p)`')
            return T.ANY
        name_e, rec_e = e.args
        if not (isinstance(name_e, A.Lit) and isinstance(name_e.value, str)):
            self.err("E027", "the first argument of `flow` must be a workflow name in quotes",
                     name_e.loc, 'e.g. `flow("ledger", p)`')
            return T.ANY
        wf = flows.get(name_e.value)
        if wf is None:
            self.err("E021", f"unknown workflow `{name_e.value}`", name_e.loc,
                     did_you_mean(name_e.value, flows) or
                     "workflows are declared in the bundle's workflows/*.yaml")
            return T.ANY
        rt = self.need(self.check(rec_e, sc), rec_e)
        ent = self.b.entities.get(wf.collection)
        ev = event_type(wf, self.b.entities)
        if ent is None or ev is None:
            return T.ANY  # reported where the workflow is checked
        if rt.kind not in ("any",) and not (rt.kind == "record" and rt.name == ent.type.name):
            self.err("E027", f"workflow `{wf.name}` replays {wf.collection} records, not {rt}",
                     rec_e.loc)
        return run_type(ev)

    # ------------------------------------------------------------------ people: terms, duties
    def _people_call(self, f: str, e: A.Call, sc: _Scope, arity, arg) -> T.Type:
        """Types of `terms`, `in_term` and `periods_without` (dsl/runtime.py, same block)."""
        args = e.args

        def dates(i: int) -> None:  # a list of dates; missing elements are skipped
            lt = self._list_arg(args[i], sc)
            if lt.elem is not None and not T.assignable(lt.elem.required(), T.DATE):
                self.err("E027", f"argument {i + 1} of `{f}` must be a list of dates, not {lt}",
                         args[i].loc)

        if f == "terms":
            if not arity(3, 4):
                return T.ANY
            arg(0, T.DATE)
            lt = self.need(self.check(args[1], sc), args[1])
            if lt.kind == "duration" and lt.unit not in TERM_UNITS:
                self.err("E027", f"a term is counted in days, months or years, not {lt.unit}",
                         args[1].loc, "e.g. `param.term_years years` (RULEBOOK C3)")
            elif lt.kind not in ("duration", "any"):
                self.err("E027", f"argument 2 of `terms` must be a duration, not {lt}",
                         args[1].loc, "e.g. `2 years` or `param.term_years years`")
            dates(2)
            if len(args) == 4:
                arg(3, T.DATE, allow_missing=True)
            return T.list_of(T.PERIOD)
        if f == "in_term":
            if arity(2):
                pt = self.need(self.check(args[0], sc), args[0])
                self.expect(pt, T.list_of(T.PERIOD), args[0], "argument 1 of `in_term`")
                arg(1, T.DATE)
            return T.BOOL
        # periods_without(kind, from, to, dates)
        if not arity(4):
            return T.ANY
        arg(0, T.TEXT)
        k = args[0]
        if isinstance(k, A.Lit) and k.value not in PERIOD_KINDS:
            self.err("E027", f"unknown period kind `{k.value}`", k.loc,
                     did_you_mean(str(k.value), PERIOD_KINDS) or "use month, quarter, half or year")
        arg(1, T.DATE)
        arg(2, T.DATE)
        dates(3)
        return T.list_of(T.PERIOD)

    # ------------------------------------------------------------------ rules
    def check_rule(self, rule: A.Rule) -> CheckedRule:
        self.optypes = {}
        self.coll_refs = {}
        self.params_used = set()
        self.colls_used = set()
        self.value_paths = {}
        for c in rule.cites:
            if c.id not in self.b.clauses:
                self.err("E029", f"unknown clause id `{c.id}`", c.loc,
                         did_you_mean(c.id, self.b.clauses) or
                         "clause ids are declared under `clauses:` in bundle.yaml")
        for lv in rule.levels:
            if lv.key not in self.b.levels:
                self.err("E024", f"unknown level `{lv.key}`", lv.loc,
                         did_you_mean(lv.key, self.b.levels) or
                         "levels: " + ", ".join(sorted(self.b.levels)))
        sc = _Scope({})
        collection = None
        key_field = None
        first_for = True
        lets = []
        for st in rule.steps:
            if isinstance(st, A.For):
                t = self._list_arg(st.source, sc)
                if first_for and isinstance(st.source, A.Name) and st.source.name in self.b.entities:
                    collection = st.source.name
                    key_field = self.b.entities[collection].key
                first_for = False
                self._bind(sc, st.var, t.elem.required(), st.loc)
            elif isinstance(st, A.Let):
                t = self.check(st.value, sc)
                self._bind(sc, st.name, t, st.loc)
                lets.append(st.name)
            elif isinstance(st, A.Require):
                paths = []
                for fact in st.facts:
                    self.check(fact, sc)
                    p = path_of(fact)
                    if p is None or (isinstance(fact, A.Name) and fact.name not in sc.env):
                        self.err("E027", f"`require` takes names or fields, not `{fmt_expr(fact)}`",
                                 fact.loc, "bind it with `let` first")
                    else:
                        paths.append(p)
                sc.narrowed = sc.narrowed | frozenset(paths)
            elif isinstance(st, A.When):
                self.collect_values = True
                t = self.need(self.check(st.cond, sc), st.cond)
                self.collect_values = False
                self.expect(t, T.BOOL, st.cond, "a `when` condition")
                sc.narrowed = sc.narrowed | frozenset(presence_if_true(st.cond))
        if rule.ref is not None:
            before = set(self.params_used)
            t = self.check(rule.ref, sc)
            self.expect(t.required(), T.DATE, rule.ref, "`ref`")
            if self.params_used - before:
                self.err("E027", "`ref` cannot read parameters: it decides which values are in "
                         "force", rule.ref.loc)
        self.collect_values = True
        if rule.on is not None:
            t = self.check(rule.on, sc)
            self.expect(t.required(), T.DATE, rule.on, "`on`")
        if rule.resolved is not None:
            t = self.check(rule.resolved, sc)
            self.expect(t.required(), T.DATE, rule.resolved, "`resolved`")
        self.collect_values = False
        if rule.key is not None:
            t = self.need(self.check(rule.key, sc), rule.key)
            if t.kind not in ("text", "int", "any", "date"):
                self.err("E027", f"`key` must be text or a number, not {t}", rule.key.loc)
        if rule.message is not None:
            self.check(rule.message, sc)
        values = tuple((p, e) for p, e in sorted(self.value_paths.items()) if p.split(".")[0] not in lets)
        return CheckedRule(rule, collection, frozenset(self.params_used),
                           frozenset(self.colls_used), values, tuple(lets), key_field,
                           dict(self.optypes),
                           collection is not None and self.coll_refs.get(collection, 0) == 1,
                           self._in_force_from(rule))

    def _in_force_from(self, rule: A.Rule):
        """The 施行日期 of the rule's primary clause (the first it cites), if declared."""
        if not rule.cites:
            return None
        c = self.b.clauses.get(rule.cites[0].id)
        return getattr(c, "in_force_from", None) if c is not None else None

    def _bind(self, sc: _Scope, name: str, t: T.Type, loc) -> None:
        if name in sc.env or name in RESERVED or name in self.b.entities:
            self.err("E013", f"`{name}` is already defined in this rule", loc,
                     "choose another name")
        sc.env = dict(sc.env)
        sc.env[name] = t
        sc.narrowed = frozenset(p for p in sc.narrowed if p.split(".")[0] != name)


def check_bundle(bundle) -> tuple[CheckedRule, ...]:
    """Check every rule of ``bundle``; raise PolicyError listing all problems."""
    ch = Checker(bundle)
    out = tuple(ch.check_rule(r) for r in bundle.rules)
    if getattr(bundle, "workflows", None):
        from ..engine.workflow import check_workflow

        for wf in bundle.workflows.values():
            check_workflow(wf, bundle, ch)
    uses_gap = any(any(isinstance(s, A.Require) for s in r.steps) for r in bundle.rules)
    if uses_gap and "data_gap" not in bundle.levels and bundle.rules:
        ch.err("E024", "rules use `require` but the bundle defines no `data_gap` level",
               bundle.rules[0].loc, "add `data_gap: {name: 数据缺失, severity: …}` to levels.yaml")
    errors = [d for d in ch.diags if d.severity == "error"]
    if errors:
        raise PolicyError(ch.diags)
    return out
