"""Compile checked rules into Python functions, and interpret them (the reference semantics).

Input: :class:`~govsup.dsl.checker.CheckedRule`. Output: :class:`CompiledRule`, whose ``run(rt,
colls, sink)`` evaluates the rule over the fact collections and reports to a sink.

Two back ends with one meaning:

* ``compile_rule`` generates Python source from the *checked AST* — every DSL name becomes a
  generated identifier (``v0``, ``v1`` …), every literal is emitted with ``repr`` or as a hoisted
  constant, field access is ``dict.get`` — and compiles it once. No policy text is ever pasted
  into the generated code, so nothing in a policy file can reach Python attributes or imports.
  This is the Jinja2 model (templates are compiled to Python from their AST).
* ``interpret_rule`` walks the AST. It is slower, records a trace of every binding and condition
  (``--explain``), and serves as the oracle the compiled code is tested against.

Sink protocol: ``finding(cr, key, on, resolved, values, message, provisional)``,
``gap(cr, key, ref, fact, reason, values)``, and (interpreter only) ``trace(cr, key, entries)``.
"""

from __future__ import annotations

import datetime as _dt
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

from . import ast as A
from . import runtime as R
from .checker import CheckedRule
from .format import fmt_expr


def _txt(v) -> str:
    t = type(v)
    if t is str:
        return v
    if t is _dt.date:
        return v.isoformat()  # str(v)
    return R.b_text(None, v) if v is not None else "（缺失）"


# ====================================================================== interpreter


class _Interp:
    def __init__(self, cr: CheckedRule, rt: R.Runtime, colls: dict):
        self.cr = cr
        self.rt = rt
        self.colls = colls
        self.ref = rt.as_of

    def ev(self, e, env: dict):
        m = getattr(self, "e_" + type(e).__name__)
        return m(e, env)

    def e_Lit(self, e, env):
        return e.value

    def e_ListLit(self, e, env):
        return [self.ev(x, env) for x in e.items]

    def e_Name(self, e, env):
        if e.name in env:
            return env[e.name]
        if e.name == "as_of":
            return self.rt.as_of
        return self.colls.get(e.name, [])

    def e_Field(self, e, env):
        if isinstance(e.obj, A.Name) and e.obj.name == "param" and "param" not in env:
            return self.rt.param(e.name, self.ref)
        return R.get(self.ev(e.obj, env), e.name)

    def e_Index(self, e, env):
        return R.index(self.ev(e.obj, env), self.ev(e.index, env))

    def e_Call(self, e, env):
        if e.func == "lookup":
            return R.b_lookup(self.rt, e.args[0].name, self.ev(e.args[1], env))
        args = []
        for a in e.args:
            if isinstance(a, A.Lambda):
                args.append(self._closure(a, env))
            else:
                v = self.ev(a, env)
                if v is None and e.func not in R.ACCEPTS_MISSING:
                    raise R.EvalError(f"`{fmt_expr(a)}` is missing (argument of `{e.func}`)")
                args.append(v)
        return R.BUILTINS[e.func](self.rt, *args)

    def _closure(self, lam: A.Lambda, env):
        def f(x):
            inner = dict(env)
            inner[lam.param] = x
            return self.ev(lam.body, inner)
        return f

    def e_Duration(self, e, env):
        return R.Dur(self.ev(e.amount, env), e.unit)

    def e_Unary(self, e, env):
        v = self.ev(e.operand, env)
        if v is None:
            raise R.EvalError(f"`{fmt_expr(e.operand)}` is missing")
        return (not v) if e.op == "not" else -v

    def e_Binary(self, e, env):
        op = e.op
        if op == "and":
            return bool(self.ev(e.left, env)) and bool(self.ev(e.right, env))
        if op == "or":
            return bool(self.ev(e.left, env)) or bool(self.ev(e.right, env))
        if op == "??":
            v = self.ev(e.left, env)
            return v if v is not None else self.ev(e.right, env)
        a = self.ev(e.left, env)
        b = self.ev(e.right, env)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return R.compare(op, a, b)
        if op == "in":
            return R.member(a, b)
        if op == "not in":
            return not R.member(a, b)
        return R.arith(self.rt, op, a, b)

    def e_IsMissing(self, e, env):
        v = self.ev(e.operand, env)
        return (v is not None) if e.negated else (v is None)

    def e_If(self, e, env):
        return self.ev(e.then, env) if self.ev(e.cond, env) else self.ev(e.else_, env)

    def e_Template(self, e, env):
        return "".join(p if isinstance(p, str) else _txt(self.ev(p, env)) for p in e.parts)


def _key_part(cr: CheckedRule, depth: int, st: A.For, x, idx: int) -> str:
    if depth == 0 and cr.key_field is not None and isinstance(x, dict):
        v = x.get(cr.key_field)
        return str(v) if v is not None else f"#{idx}"
    if isinstance(x, dict):
        return f"{st.var}[{idx}]"
    return _txt(x) if not isinstance(x, (list, tuple)) else f"{st.var}[{idx}]"


def _values(cr: CheckedRule, ev: Callable, env: dict) -> dict:
    vals = {}
    for name in cr.let_names:
        if name in env:
            vals[name] = env[name]
    for label, expr in cr.values:
        try:
            vals[label] = ev(expr, env)
        except Exception:  # a value shown for context only; never stops the finding
            vals[label] = None
    return vals


def interpret_rule(cr: CheckedRule, rt: R.Runtime, colls: dict, sink, explain: bool = False):
    rule = cr.rule
    it = _Interp(cr, rt, colls)
    steps = rule.steps

    def finish(env, keyparts, trace):
        key = _txt(it.ev(rule.key, env)) if rule.key is not None else "/".join(keyparts) or rule.id
        on = rt.touch(it.ev(rule.on, env))
        if on is None:
            trace.append(("on", "undetermined"))
            return key, None
        resolved = rt.touch(it.ev(rule.resolved, env)) if rule.resolved is not None else None
        msg = it.ev(rule.message, env) if rule.message is not None else (rule.title or rule.id)
        trace.append(("on", on))
        trace.append(("resolved", resolved))
        sink.finding(cr, key, on, resolved, _values(cr, it.ev, env), msg, rt.provisional)
        return key, on

    def go(i, env, keyparts, trace, first_for_done):
        if i == len(steps):
            key, _ = finish(env, keyparts, trace)
            if explain:
                sink.trace(cr, key, list(trace))
            return
        st = steps[i]
        if isinstance(st, A.For):
            xs = it.ev(st.source, env) or []
            before = rt.provisional  # what one record touched must not mark its siblings
            for idx, x in enumerate(xs):
                rt.provisional = before
                env2 = dict(env)
                env2[st.var] = x
                kp = keyparts + [_key_part(cr, len(keyparts), st, x, idx)]
                tr = list(trace)
                if not first_for_done:
                    it.ref = rt.as_of
                    if rule.ref is not None:
                        try:  # as in the compiled code: a ref that cannot be computed is as_of
                            r = it.ev(rule.ref, env2)
                        except Exception:
                            r = None
                        it.ref = r if r is not None else rt.as_of
                    tr.append(("ref", it.ref))
                    if not_in_force(it.ref, kp, tr):
                        continue
                guarded(i + 1, env2, kp, tr, True)
            return
        if isinstance(st, A.Let):
            v = it.ev(st.value, env)
            env = dict(env)
            env[st.name] = v
            trace.append((f"let {st.name}", v))
            go(i + 1, env, keyparts, trace, first_for_done)
            return
        if isinstance(st, A.Require):
            for fact in st.facts:
                v = it.ev(fact, env)
                if v is None:
                    key = "/".join(keyparts) or rule.id
                    text = fmt_expr(fact)
                    trace.append((f"require {text}", None))
                    sink.gap(cr, key, it.ref, text, f"缺少数据：{text}", _values(cr, it.ev, env))
                    if explain:
                        sink.trace(cr, key, list(trace))
                    return
                trace.append((f"require {fmt_expr(fact)}", v))
            go(i + 1, env, keyparts, trace, first_for_done)
            return
        if isinstance(st, A.When):
            v = it.ev(st.cond, env)
            trace.append((f"when {fmt_expr(st.cond)}", bool(v)))
            if not v:
                if explain:
                    sink.trace(cr, "/".join(keyparts) or rule.id, list(trace))
                return
            go(i + 1, env, keyparts, trace, first_for_done)
            return
        raise TypeError(st)

    def guarded(i, env, keyparts, trace, first_for_done):
        try:
            go(i, env, keyparts, trace, first_for_done)
        except R.NotInForce as exc:
            trace.append(("not in force", str(exc)))
            if explain:
                sink.trace(cr, "/".join(keyparts) or rule.id, list(trace))
        except Exception as exc:  # as in the compiled code: a data gap for this record
            key = "/".join(keyparts) or rule.id
            sink.gap(cr, key, it.ref, "", f"无法计算：{_reason(exc)}", {})
            trace.append(("error", str(exc)))
            if explain:
                sink.trace(cr, key, list(trace))

    def not_in_force(ref, keyparts, trace) -> bool:
        start = cr.in_force_from
        if start is None or ref >= start:
            return False
        trace.append(("not in force", f"clause `{rule.cites[0].id}` is in force from {start}"))
        if explain:
            sink.trace(cr, "/".join(keyparts) or rule.id, list(trace))
        return True

    rt.provisional = False
    if rule.steps and isinstance(rule.steps[0], A.For):
        guarded(0, {}, [], [], False)  # each record of the first `for` checks its own date
    elif not not_in_force(rt.as_of, [], []):
        guarded(0, {}, [], [], False)


# ====================================================================== code generation


class _Gen:
    def __init__(self, cr: CheckedRule, fuse: "_Fuse | None" = None, tag: str = ""):
        self.cr = cr
        self.fuse = fuse  # generating one rule's block of a collection's fused function
        self.tag = tag  # prefix of this rule's generated names (unique within a fused function)
        self.consts: list = fuse.consts if fuse is not None else []
        self.names: dict[str, str] = {}
        self.n = 0
        self.lines: list[str] = []
        self.records: set[str] = set()  # variables bound by `for` to a collection's records
        self.memo: dict[int, str] = {}  # id(Let) -> key of its value shared with other rules
        # fused: id(node) -> key of a value other rules compute too (a let's value or part of it)
        self.sub: dict[int, str] = {}
        self.in_each = False  # generating `each` (one record; shared lets from the memo M)
        # generated expressions known not to be missing where code is being generated: a `let`
        # whose value never is, what a `require` or `when` has checked (variables are bound once
        # and records are never changed, so the same code gives the same value)
        self.present: set[str] = set()
        self.subst: dict[int, str] = {}  # id(node) -> the variable already holding its value
        self.first_when: str | None = None  # see build_block
        self.CR = f"CR{tag}" if fuse is not None else "CR"
        # the locals holding the rule's reference date and the parameters in force on it (in a
        # fused function, those computed once per record for all rules with the same `ref`)
        self.REF = "_ref"
        self.PV = "_P"
        self.VALS = f"_vals{tag}" if fuse is not None else "_vals"

    def const(self, v) -> str:
        for i, c in enumerate(self.consts):
            if type(c) is type(v) and c == v:
                return f"K[{i}]"
        self.consts.append(v)
        return f"K[{len(self.consts) - 1}]"

    def fresh(self, prefix="t") -> str:
        self.n += 1
        return f"_{prefix}{self.tag}_{self.n}" if self.tag else f"_{prefix}{self.n}"

    def var(self, name: str) -> str:
        if name not in self.names:
            self.names[name] = (f"v{self.tag}_{len(self.names)}" if self.tag
                                else f"v{len(self.names)}")
        return self.names[name]

    def expr(self, e, scope: dict) -> str:
        if self.subst:
            t = self.subst.get(id(e))
            if t is not None:
                return t
        if isinstance(e, A.Lit):
            v = e.value
            if v is None or isinstance(v, (bool, int, float, str)):
                return repr(v)
            return self.const(v)
        if isinstance(e, A.ListLit):
            return "[" + ", ".join(self.expr(x, scope) for x in e.items) + "]"
        if isinstance(e, A.Name):
            if e.name in scope:
                return scope[e.name]
            if e.name == "as_of":
                return "_as_of"
            return f"colls.get({e.name!r}, ())"
        if isinstance(e, A.Field):
            if isinstance(e.obj, A.Name) and e.obj.name == "param" and "param" not in scope:
                return f"{self.PV}[{e.name!r}]"  # in force on the ref (NotInForce if not)
            return self.field(e, scope)
        if isinstance(e, A.Index):
            return f"_index({self.expr(e.obj, scope)}, {self.expr(e.index, scope)})"
        if isinstance(e, A.Call):
            if e.func == "lookup":
                key = self.expr(e.args[1], scope)
                if self.fuse is None:
                    return f"_lookup(rt, {e.args[0].name!r}, {key})"
                ix = self.fuse.index(e.args[0].name)  # rt.indexes.get(coll, {}), read once
                if not key.isidentifier():
                    t = self.fresh()
                    return f"(None if ({t} := {key}) is None else {ix}.get({t}))"
                return f"(None if {key} is None else {ix}.get({key}))"
            args = []
            for a in e.args:
                if isinstance(a, A.Lambda):
                    p = self.fresh("l")
                    inner = dict(scope)
                    inner[a.param] = p
                    args.append(f"(lambda {p}: {self.expr(a.body, inner)})")
                else:
                    code = self.expr(a, scope)
                    if e.func not in R.ACCEPTS_MISSING:
                        code = self.need(a, code)
                    args.append(code)
            if e.func == "count" and len(args) == 1:
                return f"len({args[0]})"  # R.b_count without a lambda
            if e.func == "first" and len(args) == 1:
                t = self.fresh()
                return (f"(({t}[0] if {t} else None) if type({t} := {args[0]}) is list "
                        f"else _B_first(rt, {t}))")
            if e.func in ("min", "max") and len(args) == 2:
                # R.b_min / b_max of two values that are not lists, inline: a missing one is
                # skipped; min(a, b) is b if b < a else a (max: b if b > a)
                a, b = self.fresh(), self.fresh()
                cmp = "<" if e.func == "min" else ">"
                return (f"(_{e.func}2({a}, {b}) if (type({a} := {args[0]}) in _SEQ) "
                        f"| (type({b} := {args[1]}) in _SEQ) else {b} if {a} is None "
                        f"else {a} if {b} is None else {b} if {b} {cmp} {a} else {a})")
            if e.func == "text" and len(args) == 1:
                return self.text_of(args[0])
            fn = f"_B_{e.func}" if e.func.isidentifier() else f"B[{e.func!r}]"
            return f"{fn}(rt, {', '.join(args)})"
        if isinstance(e, A.Duration):
            if isinstance(e.amount, A.Lit):
                return self.const(R.Dur(e.amount.value, e.unit))
            return f"Dur({self.expr(e.amount, scope)}, {e.unit!r})"
        if isinstance(e, A.Unary):
            inner = self.expr(e.operand, scope)
            inner = self.need(e.operand, inner)  # `not missing` is a data gap, never true (C8)
            return f"(not {inner})" if e.op == "not" else f"(-{inner})"
        if isinstance(e, A.Binary):
            return self.binary(e, scope)
        if isinstance(e, A.IsMissing):
            if isinstance(e.operand, (A.Lit, A.ListLit)):  # constant; `3 is None` makes Python warn
                missing = isinstance(e.operand, A.Lit) and e.operand.value is None
                return repr(missing != e.negated)
            return f"({self.expr(e.operand, scope)} is {'not ' if e.negated else ''}None)"
        if isinstance(e, A.If):
            cond = self.expr(e.cond, scope)
            then = self.narrowed(_present_if_true(e.cond), e.then, scope)
            else_ = self.narrowed(_present_if_false(e.cond), e.else_, scope)
            return f"({then} if {cond} else {else_})"
        if isinstance(e, A.Template):
            parts = [repr(p) if isinstance(p, str) else self.text(self.expr(p, scope))
                     for p in e.parts]
            return "(" + " + ".join(parts or ["''"]) + ")"
        raise TypeError(e)

    def text_of(self, code: str) -> str:
        """``R.b_text(rt, code)`` (missing is ""), without the call for text, dates and
        integers (``str``; a boolean is not an ``int`` here)."""
        ty, t = self.fresh("ty"), self.fresh()
        return (f"({t} if ({ty} := type({t} := {code})) is str else {t}.isoformat() "
                f"if {ty} is _date else str({t}) if {ty} is int else _B_text(rt, {t}))")

    def _named(self, code: str) -> tuple[str, str]:
        """(a name for ``code``'s value, the code that binds it on first use): ``code`` itself
        when it already is a name, else a fresh local assigned by ``:=``."""
        if code.isidentifier():
            return code, code
        t = self.fresh()
        return t, f"({t} := {code})"

    def text(self, code: str) -> str:
        """``_txt(code)``, without the call for text, dates and integers (``str``)."""
        ty = self.fresh("ty")
        code, first = self._named(code)
        return (f"({code} if ({ty} := type({first})) is str else {code}.isoformat() "
                f"if {ty} is _date else str({code}) if {ty} is int else _txt({code}))")

    def need(self, e, code: str) -> str:
        """``code`` (the value of ``e``), raising the data gap "`e` is missing" if it is."""
        if self.never_missing(e, code):
            return code
        text = self.const(fmt_expr(e))
        if code.isidentifier():
            return f"({code} if {code} is not None else _miss({text}))"
        t = self.fresh()
        return f"({t} if ({t} := {code}) is not None else _miss({text}))"

    def never_missing(self, e, code: str) -> bool:
        """Is the value of ``e`` (generated as ``code``) never missing?"""
        if code in self.present or _never_missing(e):
            return True
        if code.startswith("_P") and _PARAM_READ.fullmatch(code):
            return True  # a parameter in force has a value (NotInForce otherwise)
        if isinstance(e, A.Call):
            return e.func in _PRESENT_CALLS
        if isinstance(e, (A.ListLit, A.Template)):
            return True
        if isinstance(e, A.Binary):  # arithmetic and comparisons raise on missing operands
            return e.op != "??" or self.never_missing(e.right, "")
        if isinstance(e, A.If):
            return self.never_missing(e.then, "") and self.never_missing(e.else_, "")
        return False

    def field(self, e: A.Field, scope) -> str:
        """``obj.name`` as ``R.get`` computes it (a missing obj is an EvalError), inlined."""
        obj = self.expr(e.obj, scope)
        if isinstance(e.obj, A.Name) and obj in self.records:
            if self.fuse is not None and obj == self.fuse.rec:
                return self.fuse.field(e.name)  # read once per record for all rules
            return f"{obj}.get({e.name!r})"  # a record of a collection: a dict, never missing
        if obj in self.present:
            return f"{obj}.get({e.name!r})"
        if obj.isidentifier():
            return f"({obj}.get({e.name!r}) if {obj} is not None else _getm({e.name!r}))"
        t = self.fresh()
        return f"({t}.get({e.name!r}) if ({t} := {obj}) is not None else _getm({e.name!r}))"

    # -- lowering: the list functions with a lambda as loops (no closure, no call per element)
    #
    # ``lower(e)`` emits statements that compute the calls with a lambda in ``e`` — in the order
    # and under the conditions the expression code would compute them — and returns the
    # expression code of ``e`` using their results. Operands evaluated before such a call are
    # computed into variables first (same order of evaluation, so the same first error), and
    # a missing-value check on a call's argument happens right after the argument, as inline.

    def stmt(self, e) -> bool:
        """Does ``e`` need statements: a call with a lambda, or a value shared with other
        rules (taken from its slot)?"""
        if _has_lambda(e):
            return True
        return bool(self.sub) and _has_node(e, self.sub)

    def lower(self, e, scope: dict, d: int, shared: bool = True) -> str:
        if not _LOWER:
            return self.expr(e, scope)
        if shared and id(e) in self.sub:
            return self.fuse.shared_value(self, self.sub[id(e)], e, scope, d)
        if not self.stmt(e):
            return self.expr(e, scope)
        if isinstance(e, A.Call) and e.func in _LOOPS and len(e.args) == 2 and \
                isinstance(e.args[1], A.Lambda):
            return self.loop(e, scope, d)
        if isinstance(e, A.Binary) and e.op in ("and", "or", "??") and self.stmt(e.right):
            return self.lower_cond(e, scope, d)
        if isinstance(e, A.If) and (self.stmt(e.then) or self.stmt(e.else_)):
            t = self.fresh("c")
            c = self.lower(e.cond, scope, d)
            self.emit(f"if {c}:", d)
            with self.assume(_present_if_true(e.cond), scope):
                self.emit(f"{t} = {self.lower(e.then, scope, d + 1)}", d + 1)
            self.emit("else:", d)
            with self.assume(_present_if_false(e.cond), scope):
                self.emit(f"{t} = {self.lower(e.else_, scope, d + 1)}", d + 1)
            return t
        if isinstance(e, A.Call) and e.func == "lookup" or isinstance(e, A.Lambda):
            return self.expr(e, scope)
        # operands in order; each one up to the last that holds a lambda call gets a variable
        kids = [c for c in _children(e) if not isinstance(c, A.Lambda)]
        if isinstance(e, A.Binary) and e.op in ("and", "or", "??"):
            kids = [e.left]  # the right side needs no statements (see above)
        if isinstance(e, A.If):
            kids = [e.cond]
        last = max((i for i, c in enumerate(kids) if self.stmt(c)), default=-1)
        checked = isinstance(e, A.Call) and e.func not in R.ACCEPTS_MISSING
        added = []
        for c in kids[:last + 1]:
            code = self.lower(c, scope, d)
            if not code.isidentifier():
                t = self.fresh()
                self.emit(f"{t} = {code}", d)
                code = t
            if checked and not self.never_missing(c, code):  # as the inline check would
                self.emit(f"if {code} is None:", d)
                self.emit(f"_miss({self.const(fmt_expr(c))})", d + 1)
                self.present.add(code)
            self.subst[id(c)] = code
            added.append(id(c))
        try:
            return self.expr(e, scope)
        finally:
            for k in added:
                del self.subst[k]

    def lower_cond(self, e: A.Binary, scope: dict, d: int) -> str:
        """``a and b``, ``a or b``, ``a ?? b`` whose right side has a lambda call: it runs only
        when the expression would compute it."""
        op = e.op
        t = self.fresh("c")
        left = self.lower(e.left, scope, d)
        if op == "??":
            self.emit(f"{t} = {left}", d)
            self.emit(f"if {t} is None:", d)
            with self.assume([], scope):  # what the branch checks holds only there
                self.emit(f"{t} = {self.lower(e.right, scope, d + 1)}", d + 1)
            return t
        plain = _is_bool(e.left) and _is_bool(e.right)
        self.emit(f"{t} = {left}" if plain else f"{t} = bool({left})", d)
        self.emit(f"if {t}:" if op == "and" else f"if not {t}:", d)
        nodes = _present_if_true(e.left) if op == "and" else _present_if_false(e.left)
        with self.assume(nodes, scope):
            right = self.lower(e.right, scope, d + 1)
        self.emit(f"{t} = {right}" if plain else f"{t} = bool({right})", d + 1)
        return t

    def loop(self, e: A.Call, scope: dict, d: int) -> str:
        """``f(xs, x -> body)`` for the list functions of ``_LOOPS``, as ``R.b_<f>`` computes
        it, written as a loop."""
        f = e.func
        src, lam = e.args
        xs = self.lower(src, scope, d)
        if not xs.isidentifier():
            t = self.fresh("xs")
            self.emit(f"{t} = {xs}", d)
            xs = t
        if not self.never_missing(src, xs):
            self.emit(f"if {xs} is None:", d)
            self.emit(f"_miss({self.const(fmt_expr(src))})", d + 1)
        x = self.fresh("l")
        r = self.fresh("r")
        inner = dict(scope)
        inner[lam.param] = x
        saved = self.present  # what the body checks holds for one element only
        self.present = set(saved)
        if f == "sort":
            self.emit(f"{r} = []", d)
            i = self.fresh("i")
            self.emit(f"for {i}, {x} in enumerate({xs}):", d)
            self.emit(f"{r}.append(({self.lower(lam.body, inner, d + 1)}, {i}, {x}))", d + 1)
            self.emit(f"{r} = _sort_keyed({r})", d)
        else:
            init = {"filter": "[]", "map": "[]", "any": "False", "all": "True", "first": "None",
                    "last": "None", "count": "0"}[f]
            self.emit(f"{r} = {init}", d)
            self.emit(f"for {x} in {'reversed(' + xs + ')' if f == 'last' else xs}:", d)
            body = self.lower(lam.body, inner, d + 1)
            if f == "map":
                self.emit(f"{r}.append({body})", d + 1)
            elif f == "all":
                self.emit(f"if not ({body}):", d + 1)
                self.emit(f"{r} = False", d + 2)
                self.emit("break", d + 2)
            else:
                self.emit(f"if {body}:", d + 1)
                if f == "filter":
                    self.emit(f"{r}.append({x})", d + 2)
                elif f == "count":
                    self.emit(f"{r} += 1", d + 2)
                else:
                    self.emit(f"{r} = {'True' if f == 'any' else x}", d + 2)
                    self.emit("break", d + 2)
        self.present = saved
        return r

    @contextmanager
    def assume(self, nodes: list, scope: dict):
        """Generate code where the expressions ``nodes`` are known present."""
        saved = self.present
        self.present = set(saved)
        for n in nodes:
            self.present.add(self.expr(n, scope))
        try:
            yield
        finally:
            self.present = saved

    def narrowed(self, nodes: list, e, scope) -> str:
        """``e`` generated where the expressions ``nodes`` are known present."""
        if not nodes:
            return self.expr(e, scope)
        saved = self.present
        self.present = set(saved)
        for n in nodes:
            self.present.add(self.expr(n, scope))
        try:
            return self.expr(e, scope)
        finally:
            self.present = saved

    def binary(self, e: A.Binary, scope) -> str:
        op = e.op
        l = self.expr(e.left, scope)
        if op in ("and", "or"):
            # the right side runs only when the left is true (and) or false (or)
            r = self.narrowed(_present_if_true(e.left) if op == "and"
                              else _present_if_false(e.left), e.right, scope)
            if _is_bool(e.left) and _is_bool(e.right):  # already True/False: no bool() needed
                return f"({l} {op} {r})"
            return f"(bool({l}) {op} bool({r}))"
        if op in ("+", "-") and isinstance(e.right, A.Duration) and e.right.unit in _DATE_OPS:
            # `date ± duration` as R.arith computes it, without building a Dur
            if e.right.unit == "days" and isinstance(e.right.amount, A.Lit) and \
                    type(e.right.amount.value) is int:
                # R.add_days_op / sub_days_op inline: d + timedelta(days=±n)
                n = e.right.amount.value
                td = self.const(_dt.timedelta(days=n if op == "+" else -n))
                if self.never_missing(e.left, l):
                    return f"({l} + {td})"
                miss = f"_miss_op({op!r})"
                if l.isidentifier():
                    return f"({l} + {td} if {l} is not None else {miss})"
                t = self.fresh()
                return f"({t} + {td} if ({t} := {l}) is not None else {miss})"
            amount = (repr(e.right.amount.value) if isinstance(e.right.amount, A.Lit)
                      else self.expr(e.right.amount, scope))
            return f"{_DATE_OPS[e.right.unit][op]}(rt, {l}, {amount})"
        r = self.expr(e.right, scope)
        if op == "??":
            t = self.fresh()
            return f"({t} if ({t} := {l}) is not None else {r})"
        lk, rk, opt = self.cr.optypes.get(id(e), ("any", "any", True))
        simple = not opt and "any" not in (lk, rk)
        if op in ("==", "!="):
            return f"({l} {op} {r})"
        if op in ("<", "<=", ">", ">="):
            return f"({l} {op} {r})" if simple else f"_cmp({op!r}, {l}, {r})"
        if op == "in":
            return f"({l} in {r})" if simple else f"_member({l}, {r})"
        if op == "not in":
            return f"({l} not in {r})" if simple else f"(not _member({l}, {r}))"
        numeric = lk in ("int", "number") and rk in ("int", "number")
        if simple and numeric and op in ("+", "-", "*"):
            return f"({l} {op} {r})"
        if simple and lk == rk == "text" and op == "+":
            return f"({l} + {r})"
        if lk == rk == "list" and op == "+":  # R.arith of two lists, without the call
            a, b = self.fresh(), self.fresh()
            return (f"({a} + {b} if type({a} := {l}) is list and type({b} := {r}) is list "
                    f"else _arith(rt, '+', {a}, {b}))")
        return f"_arith(rt, {op!r}, {l}, {r})"

    # -- statements
    def emit(self, line: str, depth: int) -> None:
        self.lines.append("    " * depth + line)

    def build(self) -> str:
        self.present = set()
        self.emit("def run(rt, colls, sink):", 0)
        self.emit("_as_of = rt.as_of", 1)
        self.emit("_isprov = rt.calendar.is_provisional", 1)
        self.emit("_ref = _as_of", 1)
        self.emit("_P = rt.params_on(_ref)", 1)
        self.emit("rt.provisional = False", 1)
        self.gen(0, 1, {}, [], False)
        return "\n".join(self.lines) + "\n"

    def _in_force(self, depth: int) -> None:
        """Skip the record when the rule's primary clause is not yet in force on ``_ref``
        (checked where ``_ref`` is final, inside the loop the skip continues; in a fused
        function, the local holding the ref shared by the rules, ``self.REF``)."""
        start = self.cr.in_force_from
        if start is not None:
            self.emit(f"if {self.REF} < {self.const(start)}:", depth)
            self.emit("continue", depth + 1)

    def _handlers(self, depth: int, keyparts: list) -> None:
        kexpr = " + '/' + ".join(keyparts) if keyparts else repr(self.cr.rule.id)
        self.emit("except NotInForce:", depth)
        self.emit("continue", depth + 1)
        self.emit("except Exception as _exc:", depth)
        self.emit(f"sink.gap({self.CR}, {kexpr}, {self.REF}, '', '无法计算：' + _reason(_exc), {{}})", depth + 1)
        self.emit("continue", depth + 1)

    def _record_header(self, st: A.For, v: str, idx: str, kp: str, scope: dict, d: int) -> None:
        """For each element of the first `for`: the reference date and the key part."""
        cr = self.cr
        rule = cr.rule
        if rule.ref is not None:
            r = self.fresh("r")
            self.emit("try:", d)
            self.emit(f"{r} = {self.expr(rule.ref, scope)}", d + 1)
            self.emit("except Exception:", d)
            self.emit(f"{r} = None", d + 1)
            self.emit(f"_ref = {r} if {r} is not None else _as_of", d)
            self.emit("_P = rt.params_on(_ref)", d)
        if cr.key_field is not None:
            self.emit(f"{kp} = {v}.get({cr.key_field!r}) if isinstance({v}, dict) else None", d)
            self.emit(f"{kp} = str({kp}) if {kp} is not None else '#' + str({idx})", d)
        else:
            self.emit(f"{kp} = {st.var!r} + '[' + str({idx}) + ']' if isinstance({v}, (dict, list)) else _txt({v})", d)

    def build_each(self) -> None:
        """``each(rt, colls, sink, M, record, index)``: the rule for one record of the collection its first
        `for` iterates — what ``run`` does in that loop's body — so that the evaluator can run
        every such rule record by record, sharing ``let`` values through the memo ``M``."""
        st = self.cr.rule.steps[0]
        v = self.var(st.var)
        idx, kp = self.fresh("i"), self.fresh("k")
        self.records.add(v)
        self.in_each = True
        self.present = set()
        self.emit("", 0)
        self.emit(f"def each(rt, colls, sink, M, {v}, {idx}):", 0)
        self.emit("_as_of = rt.as_of", 1)
        self.emit("_isprov = rt.calendar.is_provisional", 1)
        self.emit("_ref = _as_of", 1)
        self.emit("_P = rt.params_on(_ref)", 1)
        self.emit("rt.provisional = False", 1)
        scope = {st.var: v}
        self._record_header(st, v, idx, kp, scope, 1)
        self.emit("for _once in (0,):", 1)
        self.emit("try:", 2)
        self._in_force(3)
        self.gen(1, 3, scope, [kp], True)
        self._handlers(2, [kp])
        self.in_each = False

    def build_block(self, depth: int, first_when: str | None = None) -> None:
        """This rule's part of its collection's fused function, for the record ``fuse.rec``
        (index ``_i``): what ``each`` does, with the key, the reference date and the record's
        fields read once for all rules, and shared `let`s kept in local slots. ``first_when``:
        the slot holding the error of the rule's first `when`, computed for several rules
        before their blocks (which run only if it was true or failed)."""
        self.first_when = first_when
        fz = self.fuse
        cr = self.cr
        rule = cr.rule
        st = rule.steps[0]
        self.records.add(fz.rec)
        self.present = set()
        scope = {st.var: fz.rec}
        d = depth
        self.emit(f"# {rule.id}", d)
        self.emit("rt.provisional = False", d)
        ref = fz.ref(self, scope)
        if ref is not None:  # read where they are kept, for every rule with this `ref`
            self.REF = ref
            if cr.params:
                self.PV = fz.params(ref)
        else:
            r = self.fresh("r")
            self.emit("_ref = _as_of", d)
            self.emit("try:", d)
            self.emit(f"{r} = {self.expr(rule.ref, scope)}", d + 1)
            self.emit("except Exception:", d)
            self.emit(f"{r} = None", d + 1)
            self.emit(f"_ref = {r} if {r} is not None else _as_of", d)
            if cr.params:
                self.emit("_P = rt.params_on(_ref)", d)
        if cr.key_field is not None:
            kp = fz.key(cr.key_field)
        else:
            kp = self.fresh("k")
            self.emit(f"{kp} = {st.var!r} + '[' + str(_i) + ']'", d)  # a record is a dict
        self.emit("for _once in (0,):", d)
        self.emit("try:", d + 1)
        self._in_force(d + 2)
        self.gen(1, d + 2, scope, [kp], True)
        self._handlers(d + 1, [kp])

    def gen(self, i: int, depth: int, scope: dict, keyparts: list, in_loop: bool) -> None:
        cr = self.cr
        rule = cr.rule
        steps = rule.steps
        if not in_loop:  # the first statement too (even a `for`) runs under the handlers
            self.emit("for _once in (0,):", depth)
            self.emit("try:", depth + 1)
            if not (i < len(steps) and isinstance(steps[i], A.For)):
                self._in_force(depth + 2)  # (a first `for` checks each record's own date)
            self.gen(i, depth + 2, scope, keyparts, True)
            self._handlers(depth + 1, keyparts)
            return
        if i < len(steps) and isinstance(steps[i], A.For):
            st = steps[i]
            first = not keyparts
            v = self.var(st.var)
            idx = self.fresh("i")
            src = self.expr(st.source, scope)
            xs, pv = self.fresh("xs"), self.fresh("pv")
            self.emit(f"{xs} = {src}", depth)
            self.emit(f"{pv} = rt.provisional", depth)
            self.emit(f"for {idx}, {v} in enumerate({xs} or ()):", depth)
            d = depth + 1
            if isinstance(st.source, A.Name) and st.source.name not in scope and \
                    st.source.name != "as_of":
                self.records.add(v)  # iterating a fact collection: every element is a record
            scope = dict(scope)
            scope[st.var] = v
            kp = self.fresh("k")
            # what one record touched must not mark its siblings provisional
            self.emit(f"rt.provisional = {pv}", d)
            if first:
                self._record_header(st, v, idx, kp, scope, d)
            elif self.fuse is not None:
                # the key part written where a finding or a gap needs it, not for every element
                kp = (f"({st.var!r} + '[' + str({idx}) + ']' if isinstance({v}, (dict, list)) "
                      f"else _txt({v}))")
            else:
                self.emit(f"{kp} = {st.var!r} + '[' + str({idx}) + ']' if isinstance({v}, (dict, list)) else _txt({v})", d)
            keyparts = keyparts + [kp]
            self.emit("try:", d)
            if first:
                self._in_force(d + 1)
            self.gen(i + 1, d + 1, scope, keyparts, True)
            self._handlers(d, keyparts)
            return
        key_expr = " + '/' + ".join(keyparts) if keyparts else repr(rule.id)
        if i < len(steps):
            st = steps[i]
            if isinstance(st, A.Let):
                v = self.var(st.name)
                key = self.memo.get(id(st)) if self.in_each else None
                if key is not None:  # the same value as in another rule for this record
                    code = self.expr(st.value, scope)
                    self.emit(f"{v} = _memo(rt, M, {self.const(key)}, lambda: {code})", depth)
                else:
                    self.emit(f"{v} = {self.lower(st.value, scope, depth)}", depth)
                if self.never_missing(st.value, ""):
                    self.present.add(v)
                scope = dict(scope)
                scope[st.name] = v
            elif isinstance(st, A.Require):
                for fact in st.facts:
                    text = fmt_expr(fact)
                    code = self.expr(fact, scope)
                    self.emit(f"if {code} is None:", depth)
                    self.emit(f"sink.gap({self.CR}, {key_expr}, {self.REF}, {self.const(text)}, "
                              f"{self.const('缺少数据：' + text)}, "
                              f"{self.values(scope)})", depth + 1)
                    self.emit("continue", depth + 1)
                    self.present.add(code)
            elif isinstance(st, A.When) and i == 1 and self.first_when is not None:
                self.emit(f"if {self.first_when} is not None:", depth)  # true, or it failed
                self.emit(f"raise {self.first_when}", depth + 1)
                for node in _present_if_true(st.cond):
                    self.present.add(self.expr(node, scope))
            elif isinstance(st, A.When):
                self.emit(f"if not ({self.lower(st.cond, scope, depth)}):", depth)
                self.emit("continue", depth + 1)
                for node in _present_if_true(st.cond):
                    self.present.add(self.expr(node, scope))
            self.gen(i + 1, depth, scope, keyparts, True)
            return
        if rule.key is not None:
            key_expr = f"_txt({self.expr(rule.key, scope)})"
        on = self.fresh("on")  # rt.touch inline: a date in a year the calendar lacks
        self.emit(f"{on} = {self.expr(rule.on, scope)}", depth)
        self.emit(f"if {on} is None:", depth)
        self.emit("continue", depth + 1)
        self.emit(f"if _isprov({on}):", depth)
        self.emit("rt.provisional = True", depth + 1)
        res = "None"
        if rule.resolved is not None:
            res = self.fresh("res")
            self.emit(f"{res} = {self.expr(rule.resolved, scope)}", depth)
            self.emit(f"if {res} is not None and _isprov({res}):", depth)
            self.emit("rt.provisional = True", depth + 1)
        msg = (self.expr(rule.message, scope) if rule.message is not None
               else self.const(rule.title or rule.id))
        if self.fuse is not None and self.plain_values():
            # the values converted to plain JSON here (``sink.finding_json``)
            self.emit(f"sink.finding_json({self.CR}, {key_expr}, {on}, {res}, "
                      f"{self.values(scope, json=True)}, {msg}, rt.provisional)",
                      depth)
            return
        self.emit(f"sink.finding({self.CR}, {key_expr}, {on}, {res}, "
                  f"{self.values(scope)}, {msg}, rt.provisional)",
                  depth)

    def plain_values(self) -> bool:
        """Are the rule's value paths all field chains (``values`` builds them directly)?"""
        return all(_field_path(expr) is not None for _label, expr in self.cr.values)

    def values(self, scope: dict, json: bool = False) -> str:
        """The finding's values — the rule's `let`s bound so far and its value paths — as
        ``_vals_maker`` computes them from the scope, built directly (in label order). With
        ``json``: each converted as ``findings.values_json`` converts it (a fused function,
        whose ``_J`` converts a record or list, sharing what was converted already)."""
        cr = self.cr
        if not self.plain_values():
            return f"{self.VALS}({self.CR}, rt, {self.env_dict(scope)})"
        paths = [(label, _field_path(expr)) for label, expr in cr.values]
        items = [(name, scope[name]) for name in cr.let_names if name in scope]
        for label, (root, names) in paths:
            if root not in scope:
                code = "None"
            elif self.fuse is not None and scope[root] == self.fuse.rec:
                # the record is a dict: its field as read for all rules, then the rest
                code = self.fuse.field(names[0])
                if len(names) > 1:
                    code = self.value_path(code, names[1:], json)
            else:
                code = self.value_path(scope[root], names, json)
            items.append((label, code))
        items.sort()
        if json:
            items = [(k, self.json_value(c)) for k, c in items]
        return "{" + ", ".join(f"{k!r}: {c}" for k, c in items) + "}"  # constant keys

    def value_path(self, code: str, names: tuple, inline: bool = False) -> str:
        """``_vp(code, names)``; with ``inline``, without the call for one field of a dict."""
        if inline and len(names) == 1 and code.isidentifier():
            return (f"(None if {code} is None else {code}.get({names[0]!r}) "
                    f"if type({code}) is dict else _vp({code}, {names!r}))")
        return f"_vp({code}, {names!r})"

    def json_value(self, code: str) -> str:
        """``code``'s value as ``findings.values_json`` converts a value: text, numbers, booleans
        and missing as they are, a date as ISO text, anything else by ``_J`` (the sink's
        ``json_value``)."""
        if code == "None":
            return code
        ty = self.fresh("ty")
        code, first = self._named(code)
        return (f"({code} if ({ty} := type({first})) in _SCALARS else {code}.isoformat() "
                f"if {ty} is _date else _J({code}))")

    def env_dict(self, scope: dict) -> str:
        # keys are DSL names emitted as string constants; values are generated variables
        items = ", ".join(f"{self.const(k)}: {v}" for k, v in scope.items())
        return "{" + items + "}"


# `date ± N unit` without a Dur object: runtime helpers equal to R.arith(rt, op, d, Dur(N, unit))
_DATE_OPS = {"workdays": {"+": "_wd_add", "-": "_wd_sub"}, "days": {"+": "_d_add", "-": "_d_sub"}}

_BOOL_OPS = {"and", "or", "==", "!=", "<", "<=", ">", ">=", "in", "not in"}

_BOOL_CALLS = {"any", "all", "is_blank", "contains", "starts_with"}


def _is_bool(e) -> bool:
    """Expressions whose value is always True or False."""
    if isinstance(e, A.Lit):
        return isinstance(e.value, bool)
    if isinstance(e, A.Binary):
        return e.op in _BOOL_OPS and e.op != "??"
    if isinstance(e, A.Call):
        return e.func in _BOOL_CALLS
    return isinstance(e, A.IsMissing) or (isinstance(e, A.Unary) and e.op == "not")


def _never_missing(e) -> bool:
    """Expressions whose value is never missing (so the generated code need not check)."""
    if isinstance(e, A.Lit):
        return e.value is not None
    if isinstance(e, A.Binary):
        return e.op in _BOOL_OPS
    return isinstance(e, A.IsMissing) or (isinstance(e, A.Unary) and e.op == "not")


# write the list functions with a lambda as loops (False: as calls with closures, the reference
# the loops are tested against)
_LOWER = True

# list functions with a lambda that ``_Gen.loop`` writes as loops
_LOOPS = {"filter", "map", "any", "all", "first", "last", "count", "sort"}

def _has_lambda(e) -> bool:
    """Does ``e`` call a function with a lambda argument?"""
    if isinstance(e, A.Lambda):
        return True
    return any(_has_lambda(c) for c in _children(e))


_PARAM_READ = re.compile(r"_P\d*\['\w+'\]")

# builtins whose result is never missing
_PRESENT_CALLS = {"count", "any", "all", "filter", "map", "sort", "distinct", "len", "is_blank",
                  "contains", "starts_with", "text", "pause", "periods", "sum"}


def _present_if_true(e) -> list:
    """The expressions known present when ``e`` is true (as ``checker.presence_if_true``, as
    nodes)."""
    if isinstance(e, A.IsMissing) and e.negated:
        return [e.operand]
    if isinstance(e, A.Unary) and e.op == "not":
        return _present_if_false(e.operand)
    if isinstance(e, A.Binary) and e.op == "and":
        return _present_if_true(e.left) + _present_if_true(e.right)
    if isinstance(e, A.Binary) and e.op == "or":
        right = {fmt_expr(x) for x in _present_if_true(e.right)}
        return [x for x in _present_if_true(e.left) if fmt_expr(x) in right]
    return []


def _present_if_false(e) -> list:
    if isinstance(e, A.IsMissing) and not e.negated:
        return [e.operand]
    if isinstance(e, A.Unary) and e.op == "not":
        return _present_if_true(e.operand)
    if isinstance(e, A.Binary) and e.op == "or":
        return _present_if_false(e.left) + _present_if_false(e.right)
    if isinstance(e, A.Binary) and e.op == "and":
        right = {fmt_expr(x) for x in _present_if_false(e.right)}
        return [x for x in _present_if_false(e.left) if fmt_expr(x) in right]
    return []


def _of_two(pick, full):
    """``full(rt, a, b)`` (``R.b_min``/``R.b_max``) for two values, without its general
    machinery when neither is a list: a missing one yields the other, else ``pick(a, b)``."""
    def of_two(a, b):
        if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
            return full(None, a, b)
        if a is None:
            return b
        if b is None:
            return a
        return pick(a, b)
    return of_two


_min2 = _of_two(min, R.b_min)
_max2 = _of_two(max, R.b_max)


def _miss(text):
    raise R.EvalError(f"`{text}` is missing")


def _miss_op(op):
    raise R.EvalError(f"missing operand of `{op}`")


def _reason(exc: Exception) -> str:
    if isinstance(exc, R.EvalError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".lower()


def _nn(v, text):
    if v is None:
        raise R.EvalError(f"`{text}` is missing")
    return v


@dataclass(frozen=True)
class CompiledRule:
    checked: CheckedRule
    source: str  # the generated Python, for `policy check --show-compiled` and golden tests
    run: Callable
    # for a rule whose first `for` iterates a fact collection: the rule for one record,
    # each(rt, colls, sink, M, record, index) — M shares `let` values between the rules of a record
    each: Callable | None = None

    @property
    def rule(self) -> A.Rule:
        return self.checked.rule


def _vals_compiled(cr: CheckedRule, rt, env: dict) -> dict:
    vals = {}
    for name in cr.let_names:
        if name in env:
            vals[name] = env[name]
    if cr.values:
        it = _Interp(cr, rt, {})
        for label, expr in cr.values:
            try:
                vals[label] = it.ev(expr, env)
            except Exception:
                vals[label] = None
    return vals


def _field_path(e) -> tuple | None:
    """(root name, field names) of ``a.b.c``; None for anything else (or a `param.` read)."""
    names = []
    while isinstance(e, A.Field):
        names.append(e.name)
        e = e.obj
    if not isinstance(e, A.Name) or e.name == "param" or not names:
        return None
    return e.name, tuple(reversed(names))


def _vals_maker(cr: CheckedRule) -> Callable:
    """``_vals_compiled`` for one rule, with its value paths (field chains) read directly.

    Reading ``a.b.c`` as the interpreter does with an empty fact scope: a root not bound by the
    rule, a missing value on the way or a value without fields gives missing (None)."""
    paths = [(label, _field_path(expr)) for label, expr in cr.values]
    if any(p is None for _, p in paths):
        return _vals_compiled
    lets = cr.let_names

    def vals(_cr, rt, env: dict) -> dict:
        out = {name: env[name] for name in lets if name in env}
        for label, (root, names) in paths:
            v = env.get(root)
            try:
                for n in names:
                    v = None if v is None else v.get(n)
            except Exception:
                v = None
            out[label] = v
        return out
    return vals


def _vp(v, names: tuple):
    """A value path ``root.a.b`` read from the root's value ``v`` as ``_vals_maker`` reads it:
    missing on the way, or a value without fields, gives missing (None)."""
    try:
        for n in names:
            if v is None:
                return None
            v = v.get(n)
    except Exception:
        return None
    return v


def _fusable(cr: CheckedRule) -> bool:
    steps = cr.rule.steps
    return (cr.collection is not None and bool(steps) and isinstance(steps[0], A.For)
            and isinstance(steps[0].source, A.Name) and steps[0].source.name == cr.collection)


def _namespace() -> dict:
    return {
        "__builtins__": {"enumerate": enumerate, "isinstance": isinstance, "dict": dict,
                         "list": list, "str": str, "bool": bool, "type": type,
                         "reversed": reversed, "len": len, "Exception": Exception, "id": id, "int": int},
        "B": R.BUILTINS, "Dur": R.Dur, "NotInForce": R.NotInForce,
        "_get": R.get, "_index": R.index, "_lookup": R.b_lookup, "_cmp": R.compare,
        "_member": R.member, "_arith": R.arith, "_txt": _txt, "_nn": _nn, "_miss": _miss,
        "_reason": _reason,
        "_getm": R.get_missing, "_wd_add": R.add_workdays_op, "_wd_sub": R.sub_workdays_op,
        "_d_add": R.add_days_op, "_d_sub": R.sub_days_op, "_memo": R.memo, "_vp": _vp,
        "_sort_keyed": R.sort_keyed, "_miss_op": _miss_op, "_min2": _min2, "_max2": _max2,
        "_date": _dt.date, "_SEQ": frozenset({list, tuple}),
        "_SCALARS": frozenset({str, int, bool, type(None)}),  # as findings._SCALARS
        **{f"_B_{name}": fn for name, fn in R.BUILTINS.items() if name.isidentifier()},
    }


def compile_rule(cr: CheckedRule, shared: frozenset = frozenset()) -> CompiledRule:
    """Compile one rule. ``shared``: keys (see :func:`let_keys`) of `let` values that other rules
    compute too; ``each`` takes them from the per-record memo."""
    g = _Gen(cr)
    src = g.build()
    fusable = _fusable(cr)
    if fusable:
        g.memo = {i: k for i, k in let_keys(cr).items() if k in shared}
        n0 = len(g.lines)
        g.build_each()
        src = src + "\n".join(g.lines[n0:]) + "\n"
    ns = _namespace()
    ns.update(K=tuple(g.consts), _vals=_vals_maker(cr), CR=cr)
    code = compile(src, f"<rule {cr.rule.id}>", "exec")
    exec(code, ns)  # the source above is generated from the checked AST, never from policy text
    inner = ns["run"]

    return CompiledRule(cr, src, inner, ns["each"] if fusable else None)


# ---------------------------------------------------------------------- lets shared between rules
#
# Rules over the same collection often compute the same `let` (a warning and its red card: the
# same deadline, the same faulty upload). Evaluated record by record (``each``), such a value is
# computed once per record and taken from the memo by the other rules. Its key is the `let`'s
# exact text plus, for every name it reads, what that name is bound to (the record of the
# collection, or another keyed `let`) and the rule's `ref` text (parameters are read on that
# date): equal keys mean equal values, and equal errors (their messages quote the text).


def _free_names(e, bound=frozenset()) -> set:
    if isinstance(e, A.Name):
        return set() if e.name in bound else {e.name}
    if isinstance(e, A.Field):
        if isinstance(e.obj, A.Name) and e.obj.name == "param" and "param" not in bound:
            return set()
        return _free_names(e.obj, bound)
    if isinstance(e, A.Lambda):
        return _free_names(e.body, bound | {e.param})
    out: set = set()
    for child in _children(e):
        out |= _free_names(child, bound)
    return out


def _children(e) -> tuple:
    if isinstance(e, A.ListLit):
        return e.items
    if isinstance(e, A.Index):
        return (e.obj, e.index)
    if isinstance(e, A.Call):
        return e.args
    if isinstance(e, A.Duration):
        return (e.amount,)
    if isinstance(e, (A.Unary, A.IsMissing)):
        return (e.operand,)
    if isinstance(e, A.Binary):
        return (e.left, e.right)
    if isinstance(e, A.If):
        return (e.cond, e.then, e.else_)
    if isinstance(e, A.Template):
        return tuple(p for p in e.parts if not isinstance(p, str))
    return ()


_COSTLY_CALLS = {"deadline", "countdown", "add_workdays", "sub_workdays", "workdays", "sort",
                 "distinct", "periods", "id_problem", "id_birth_date"}


def _costly(e) -> bool:
    """Worth sharing: loops over a list or counts working days (a field read, a look-up or
    `first(xs)` is cheaper than the memo)."""
    if isinstance(e, A.Lambda):
        return True
    if isinstance(e, A.Call) and e.func in _COSTLY_CALLS:
        return True
    if isinstance(e, A.Duration) and e.unit == "workdays":
        return True
    return any(_costly(c) for c in _children(e))


def let_keys(cr: CheckedRule) -> dict[int, str]:
    """id(Let) -> key, for the costly `let`s before any inner `for` of a fusable rule."""
    if not _fusable(cr):
        return {}
    rule = cr.rule
    steps = rule.steps
    ref = fmt_expr(rule.ref) if rule.ref is not None else ""
    bind: dict[str, object] = {steps[0].var: ("record", cr.collection)}
    out: dict[int, str] = {}
    for st in steps[1:]:
        if isinstance(st, A.For):
            break  # later values depend on an element of the inner loop
        if not isinstance(st, A.Let):
            continue
        free = _free_names(st.value) - {"as_of"}
        deps = []
        for n in sorted(free):
            if n in bind:
                if bind[n] is None:
                    deps = None
                    break
                deps.append((n, bind[n]))
            # any other free name is a fact collection: the same for every rule
        key = None if deps is None else repr((fmt_expr(st.value), tuple(deps), ref))
        bind[st.name] = None if key is None else ("let", key)
        if key is not None and _costly(st.value):
            out[id(st)] = key
    return out


def _has_node(e, ids: dict) -> bool:
    """Is ``e`` or a node inside it (outside lambdas) one of ``ids``?"""
    if id(e) in ids:
        return True
    if isinstance(e, A.Lambda):
        return False
    return any(_has_node(c, ids) for c in _children(e))


def _operands(e):
    """``e`` and every node inside it, outside lambdas."""
    yield e
    if not isinstance(e, A.Lambda):
        for c in _children(e):
            yield from _operands(c)


def node_keys(cr: CheckedRule) -> dict[int, str]:
    """id(node) -> key, for the costly values computed before any inner `for` of a fusable rule:
    each `let`'s value and the costly nodes inside it (outside lambdas). The key is as in
    :func:`let_keys` — the node's text, what its names are bound to, the rule's `ref` — so equal
    keys mean equal values (and errors) for one record."""
    return {i: k for i, k, _ in _keyed_nodes(cr)}


def _keyed_nodes(cr: CheckedRule) -> list[tuple[int, str, tuple]]:
    """(id(node), key, keys of the keyed nodes around it) — see :func:`node_keys`."""
    return [t[:3] for t in _keyed_nodes_detail(cr)]


def lookup_only_keys(checked) -> dict[str, tuple]:
    """key -> (names, reads parameters), for the keyed values (see :func:`node_keys`) that
    depend on the record only through records it looks up: every name they read is a `let`
    bound to ``lookup(…)`` (``names``), a fact collection or ``as_of``. Such a value is the same
    for every record that looks up the same records (and, if it reads parameters, has the same
    reference date), so the fused function keeps it per evaluation — e.g. the list of an item's
    required materials, for every case of the item. Only the outermost such values."""
    out: dict[str, tuple] = {}
    for cr in checked:
        nodes = _keyed_nodes_detail(cr)
        mine = {k for _i, k, _a, names, _p in nodes if names is not None}
        for _i, k, around, names, params in nodes:
            if names is not None and not any(a in mine for a in around):
                out[k] = (names, params)
    return out


def _keyed_nodes_detail(cr: CheckedRule) -> list[tuple]:
    """(id(node), key, keys of the keyed nodes around it, the `lookup` lets it reads or None
    (see :func:`lookup_only_keys`), whether it reads parameters)."""
    if not _fusable(cr):
        return []
    rule = cr.rule
    steps = rule.steps
    ref = fmt_expr(rule.ref) if rule.ref is not None else ""
    bind: dict[str, object] = {steps[0].var: ("record", cr.collection)}
    lookups: set = set()  # lets bound to `lookup(…)`

    def looked_up(e):
        names = []
        for n in sorted(_free_names(e) - {"as_of"}):
            if n in lookups:
                names.append(n)
            elif n in bind or n not in cr.collections_read:
                return None
        return tuple(names)

    def key(e):
        deps = []
        for n in sorted(_free_names(e) - {"as_of"}):
            if n in bind:
                if bind[n] is None:
                    return None
                deps.append((n, bind[n]))
            elif n not in cr.collections_read:
                return None  # (not a fact collection, the same for every rule)
        return repr((fmt_expr(e), tuple(deps), ref))

    out: list = []

    def walk(e, around: tuple):
        if isinstance(e, A.Lambda):
            return
        # (a duration is read where it is added; a lambda is part of its call)
        k = key(e) if _costly(e) and not isinstance(e, A.Duration) else None
        if k is not None:
            out.append((id(e), k, around, looked_up(e), _reads_params(e)))
            around = around + (k,)
        for c in _children(e):
            walk(c, around)

    for st in steps[1:]:
        if isinstance(st, A.For):
            break  # later values depend on an element of the inner loop
        if not isinstance(st, A.Let):
            continue
        walk(st.value, ())
        k = key(st.value)
        bind[st.name] = None if k is None else ("let", k)
        if isinstance(st.value, A.Call) and st.value.func == "lookup":
            lookups.add(st.name)
        else:
            lookups.discard(st.name)
    return out


def _reads_params(e, bound=frozenset()) -> bool:
    """Does ``e`` read a parameter (``param.name``)?"""
    if isinstance(e, A.Field) and isinstance(e.obj, A.Name) and e.obj.name == "param" and \
            "param" not in bound:
        return True
    if isinstance(e, A.Lambda):
        return _reads_params(e.body, bound | {e.param})
    if isinstance(e, A.Field):
        return _reads_params(e.obj, bound)
    return any(_reads_params(c, bound) for c in _children(e))


def shared_node_keys(checked) -> frozenset:
    """Keys of values (see :func:`node_keys`) worth a slot: computed in two or more places that
    do not already share them — rules, or shared values that hold them (a value met only inside
    one shared value is computed once per record anyway)."""
    occ = [(cr.rule.id, k, around) for cr in checked for _i, k, around in _keyed_nodes(cr)]
    rules: dict[str, set] = {}
    for rid, k, _ in occ:
        rules.setdefault(k, set()).add(rid)
    shared = {k for k, rs in rules.items() if len(rs) > 1}
    while True:
        places: dict[str, set] = {}
        for rid, k, around in occ:
            if k in shared:
                inside = [a for a in around if a in shared]
                places.setdefault(k, set()).add(("in", inside[-1]) if inside else ("rule", rid))
        keep = {k for k in shared if len(places.get(k, ())) > 1}
        if keep == shared:
            return frozenset(shared)
        shared = keep


def shared_let_keys(checked) -> frozenset:
    """Keys of `let`s that two or more fusable rules over the same collection compute."""
    seen: dict[str, set] = {}
    for cr in checked:
        for key in set(let_keys(cr).values()):
            seen.setdefault(key, set()).add(cr.rule.id)
    return frozenset(k for k, rules in seen.items() if len(rules) > 1)


# ---------------------------------------------------------------------- one function per collection
#
# The rules whose first `for` iterates the same collection, compiled into one function that runs
# them all for one record, then the next: the record's key, its reference date and the fields the
# rules read are computed once per record, and a `let` several rules share lives in a local slot
# (computed by the first rule that reaches it, replayed — value, error, provisional mark — by the
# others, as ``R.memo`` does). Each rule's block is what its ``each`` does.

_UNSET = object()

# builtins that never read the working-day calendar (so never mark a finding provisional);
# any other builtin is assumed to (a builtin added later is then handled safely)
_CALENDAR_FREE = {"count", "any", "all", "filter", "map", "sum", "min", "max", "first", "last",
                  "sort", "distinct", "len", "lookup", "contains", "starts_with", "lower", "trim",
                  "text", "is_blank", "coalesce", "add_days", "add_months", "add_years",
                  "term_end", "age", "year", "month", "quarter", "date", "periods",
                  "period_start", "period_end", "pause", "is_paused", "id_problem",
                  "id_birth_date", "phone_kind"}


def _touches(e) -> bool:
    """May computing ``e`` read the working-day calendar (and so set ``rt.provisional``)?"""
    if isinstance(e, A.Lambda):
        return _touches(e.body)
    if isinstance(e, A.Call) and e.func not in _CALENDAR_FREE:
        return True
    if isinstance(e, A.Duration) and e.unit == "workdays":
        return True
    return any(_touches(c) for c in _children(e))


class _Fuse:
    """Code generation state of one collection's fused function."""

    rec = "_rec"  # the record

    def __init__(self, coll: str):
        self.coll = coll
        self.consts: list = []
        self.fields: dict[str, str] = {}  # field name -> local holding rec.get(name)
        self.keys: dict[str, str] = {}  # key field -> local holding the record's key text
        self.refs: dict[tuple, str] = {}  # (record variable, ref text) -> local
        self.ref_code: list[tuple[str, str]] = []
        self.slots: dict[str, str] = {}  # shared let key -> slot
        self.indexes: dict[str, str] = {}  # collection -> local holding rt.indexes.get(coll, {})
        self.param_sets: dict[str, str] = {}  # local holding a date -> its parameters in force
        self.lookup_only: dict[str, tuple] = {}  # see lookup_only_keys
        self.memos: dict[str, str] = {}  # such a key -> local dict keeping its values

    def field(self, name: str) -> str:
        v = self.fields.get(name)
        if v is None:
            v = self.fields[name] = f"_f{len(self.fields)}"
        return v

    def index(self, coll: str) -> str:
        v = self.indexes.get(coll)
        if v is None:
            v = self.indexes[coll] = f"_ix{len(self.indexes)}"
        return v

    def params(self, ref: str) -> str:
        """The local holding ``rt.params_on(ref)`` (``ref``: ``_as_of`` or a shared ref)."""
        v = self.param_sets.get(ref)
        if v is None:
            v = self.param_sets[ref] = f"_P{len(self.param_sets)}"
        return v

    def when_slot(self) -> tuple[str, str]:
        self.n_when = getattr(self, "n_when", 0) + 1
        return f"_W{self.n_when}", f"_W{self.n_when}e"

    def key(self, key_field: str) -> str:
        v = self.keys.get(key_field)
        if v is None:
            v = self.keys[key_field] = f"_key{len(self.keys)}"
        return v

    def ref(self, g: _Gen, scope: dict) -> str | None:
        """The local holding the rule's reference date, when it can be computed once per record
        for all rules (it does not read the calendar); None otherwise."""
        rule = g.cr.rule
        if rule.ref is None:
            return "_as_of"
        if _touches(rule.ref):
            return None
        k = (rule.steps[0].var, fmt_expr(rule.ref))
        v = self.refs.get(k)
        if v is None:
            v = self.refs[k] = f"_ref{len(self.refs)}"
            self.ref_code.append((v, g.expr(rule.ref, scope)))
        return v

    def shared_value(self, g: _Gen, key: str, e, scope: dict, d: int) -> str:
        """The slot holding ``e``'s value for this record: computed here by the first rule that
        gets here (its error and provisional mark kept), replayed by the others."""
        s = self.slots.get(key)
        if s is None:
            s = self.slots[key] = f"_S{len(self.slots)}"
        touches = _touches(e)
        g.emit(f"if {s} is _U:", d)
        c = d + 1  # where it is computed
        memo = self.lookup_only.get(key)
        if memo is not None:
            # the same for every record that looks up the same records (on the same date, if
            # it reads parameters): kept for the evaluation under their identities — the value,
            # the error and the provisional mark, each replayed as for a slot
            names, params = memo
            parts = [f"id({scope[n]})" for n in names] + ([f"id({g.PV})"] if params else [])
            objs = [scope[n] for n in names] + ([g.PV] if params else [])
            m = self.memos.get(key)
            if m is None:
                m = self.memos[key] = f"_R{len(self.memos)}"
            key_code = (parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")" if parts
                        else "0")  # (0: one value for the evaluation)
            g.emit(f"{s}k = {key_code}", d + 1)
            g.emit(f"{s}h = {m}.get({s}k)", d + 1)
            g.emit(f"if {s}h is not None:", d + 1)
            if touches:
                g.emit(f"_o, {s}, {s}e, {s}p = {s}h", d + 2)
                g.emit(f"if {s}p:", d + 2)
                g.emit("rt.provisional = True", d + 3)
            else:
                g.emit(f"_o, {s}, {s}e = {s}h", d + 2)
            g.emit("else:", d + 1)
            c = d + 2
        if touches:
            g.emit(f"{s}b = rt.provisional", c)
            g.emit("rt.provisional = False", c)
        g.emit("try:", c)
        saved = g.present  # what is checked while computing it holds only there
        g.present = set(saved)
        code = g.lower(e, scope, c + 1, shared=False)
        g.present = saved
        g.emit(f"{s} = {code}", c + 1)
        g.emit(f"{s}e = None", c + 1)
        g.emit("except Exception as _e:", c)
        g.emit(f"{s} = None", c + 1)
        g.emit(f"{s}e = _e.with_traceback(None)", c + 1)
        if touches:
            g.emit(f"{s}p = rt.provisional", c)
            g.emit(f"rt.provisional = {s}b or {s}p", c)
        if memo is not None:
            # (the objects are kept too, so that their identities are not reused meanwhile)
            g.emit(f"{m}[{s}k] = (({''.join(o + ', ' for o in objs)}), {s}, {s}e"
                   f"{', ' + s + 'p' if touches else ''})", c)
        if touches:
            g.emit(f"elif {s}p:", d)
            g.emit("rt.provisional = True", d + 1)
        g.emit(f"if {s}e is not None:", d)
        # (without the traceback of an earlier raise: a value kept for the evaluation may
        # fail for many records)
        g.emit(f"raise {s}e.with_traceback(None)" if memo is not None else f"raise {s}e", d + 1)
        if g.never_missing(e, ""):
            g.present.add(s)
        return s


def _group_key(g: _Gen) -> tuple:
    """How the rule's block may be grouped with others (see compile_collection)."""
    rule = g.cr.rule
    steps = rule.steps
    var = steps[0].var
    if len(steps) > 1:
        st = steps[1]
        if isinstance(st, A.For) and isinstance(st.source, A.Field) and \
                isinstance(st.source.obj, A.Name) and st.source.obj.name == var:
            return ("for", st.source.name)
        if isinstance(st, A.When) and rule.ref is not None and not _touches(rule.ref) and \
                not _touches(st.cond) and _LOWER:
            return ("when", var, fmt_expr(st.cond), fmt_expr(rule.ref))
    return ("alone", id(g))


def compile_collection(coll: str, crs: list[CheckedRule],
                       eaches: list[Callable]) -> tuple[str, Callable]:
    """(source, ``run(rt, colls, sink, records)``) of the fused function of the fusable rules
    ``crs`` over ``coll``; ``eaches`` are their ``CompiledRule.each``, used for a record that is
    not a dict (each rule then reports it as it would on its own)."""
    shared = shared_node_keys(crs)
    fz = _Fuse(coll)
    fz.lookup_only = lookup_only_keys(crs)
    gens = [_Gen(cr, fz, f"{j}_") for j, cr in enumerate(crs)]
    for g in gens:
        g.sub = {i: k for i, k in node_keys(g.cr).items()
                 if k in shared or k in fz.lookup_only}
    # Rules that skip a record the same way run together under one test: those whose first
    # step loops over a list field of the record (nothing to do when it is empty or missing),
    # and those that start with the same `when` (computed once; their blocks run only if it
    # is true or failed — each then reports the failure as its own)
    groups: dict[tuple, list] = {}
    for g in gens:
        groups.setdefault(_group_key(g), []).append(g)
    blocks: list[str] = []
    for (kind, *_), members in groups.items():
        if kind == "for":
            g0 = members[0]
            field = fz.field(g0.cr.rule.steps[1].source.name)
            blocks.append(f"        if {field}:")
            for g in members:
                g.build_block(3)
                blocks.extend(g.lines)
        elif kind == "when" and len(members) > 1:
            g0 = members[0]
            rule = g0.cr.rule
            scope = {rule.steps[0].var: fz.rec}
            g0.records.add(fz.rec)
            w, we = fz.when_slot()
            g0.emit(f"# first `when` of {', '.join(g.cr.rule.id for g in members)}", 2)
            ref = fz.ref(g0, scope)
            g0.REF = ref
            if any(g.cr.params for g in members):
                g0.PV = fz.params(ref)
            g0.emit("try:", 2)
            g0.present = set()
            g0.emit(f"{w} = {g0.lower(rule.steps[1].cond, scope, 3)}", 3)
            g0.emit(f"{we} = None", 3)
            g0.emit("except Exception as _e:", 2)
            g0.emit(f"{w} = None", 3)
            g0.emit(f"{we} = _e.with_traceback(None)", 3)
            g0.emit(f"if {we} is not None or {w}:", 2)
            for g in members:
                g.build_block(3, we)
            for g in members:
                blocks.extend(g.lines)
        else:
            for g in members:
                g.build_block(2)
                blocks.extend(g.lines)
    L = ["def run(rt, colls, sink, recs):",
         "    _as_of = rt.as_of",
         "    _isprov = rt.calendar.is_provisional",
         "    _U = _UNSET"]
    if any(g.plain_values() for g in gens):
        L.append("    _J = sink.json_value")
    for coll_, v in fz.indexes.items():
        L.append(f"    {v} = rt.indexes.get({coll_!r}, {{}})")
    if any(ref != "_as_of" for ref in fz.param_sets):
        L.append("    _inf = rt.in_force")
    for ref, v in fz.param_sets.items():
        if ref == "_as_of":
            L.append(f"    {v} = rt.params_on(_as_of)")
    for v in fz.memos.values():
        L.append(f"    {v} = {{}}")
    L += [
         "    for _i, _rec in enumerate(recs):",
         "        if type(_rec) is not dict:",
         "            _slow(rt, colls, sink, _rec, _i)",
         "            continue"]
    for kf, v in fz.keys.items():
        L.append(f"        {v} = _rec.get({kf!r})")
        L.append(f"        {v} = str({v}) if {v} is not None else '#' + str(_i)")
    for name, v in fz.fields.items():
        L.append(f"        {v} = _rec.get({name!r})")
    for v, code in fz.ref_code:
        L.append("        try:")
        L.append(f"            {v} = {code}")
        L.append("        except Exception:")
        L.append(f"            {v} = None")
        L.append(f"        if {v} is None:")
        L.append(f"            {v} = _as_of")
    for ref, v in fz.param_sets.items():
        if ref != "_as_of":  # rt.params_on(ref), without the call when the date was met before
            L.append(f"        {v} = _inf.get({ref})")
            L.append(f"        if {v} is None:")
            L.append(f"            {v} = rt.params_on({ref})")
    if fz.slots:
        L.append("        " + " = ".join(fz.slots.values()) + " = _U")
    src = "\n".join(L + blocks) + "\n"

    def slow(rt, colls, sink, rec, i):
        memo: dict = {}
        for each in eaches:
            each(rt, colls, sink, memo, rec, i)

    ns = _namespace()
    ns.update(K=tuple(fz.consts), _UNSET=_UNSET, _slow=slow)
    for g in gens:
        ns[g.CR] = g.cr
        ns[g.VALS] = _vals_maker(g.cr)
    code = compile(src, f"<collection {coll}>", "exec")
    exec(code, ns)  # generated from the checked AST of the rules, never from policy text
    return src, ns["run"]
