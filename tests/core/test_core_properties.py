"""Hypothesis properties of the DSL and the evaluator.

(a) parse(fmt(ast)) == ast for generated int/bool expressions;
(b) compiled result == interpreted result == Python's own evaluation of the same expression on
    the same values (division by zero is a data_gap in both back ends, never a crash);
(c) parsing arbitrary DSL-ish text raises nothing but PolicyError;
(d) evaluation is deterministic: shuffled records and dict keys give byte-identical JSON.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import itertools
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core_helpers import FIXTURES, corpus
from govsup.dsl import ast as A
from govsup.dsl.checker import check_bundle
from govsup.dsl.compiler import compile_rule
from govsup.dsl.format import fmt_expr
from govsup.dsl.parser import parse_expr, parse_module
from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.diagnostics import PolicyError
from govsup.engine.evaluate import Program, prepare
from govsup.engine.findings import to_json_value
from govsup.engine.render import render

INT_VARS = ("a", "b", "数量")
BOOL_VARS = ("p", "已办")
ARITH = ("+", "-", "*", "/", "%")
ORDER = ("==", "!=", "<", "<=", ">", ">=")
AS_OF = dt.date(2024, 6, 30)

# ------------------------------------------------------------------ typed expression strategies

int_leaf = st.one_of(st.integers(0, 50).map(A.Lit), st.sampled_from(INT_VARS).map(A.Name))
bool_leaf = st.one_of(st.booleans().map(A.Lit), st.sampled_from(BOOL_VARS).map(A.Name))


def _num_node(num, boolean):
    arith = st.tuples(st.sampled_from(ARITH), num, num).map(lambda t: A.Binary(*t))
    return st.one_of(
        arith, arith, arith,  # (one_of draws its branches evenly: weight the binary operators)
        num.map(lambda x: A.Unary("-", x)),
        st.tuples(boolean, num, num).map(lambda t: A.If(*t)),
        st.tuples(st.one_of(st.just(A.Lit(None)), num), num).map(lambda t: A.Binary("??", *t)),
    )


def _bool_node(num, boolean):
    order = st.tuples(st.sampled_from(ORDER), num, num).map(lambda t: A.Binary(*t))
    logic = st.tuples(st.sampled_from(("and", "or")), boolean, boolean).map(lambda t: A.Binary(*t))
    return st.one_of(
        order, order, order, logic, logic,
        boolean.map(lambda x: A.Unary("not", x)),
        st.tuples(st.sampled_from(("==", "!=")), boolean, boolean).map(lambda t: A.Binary(*t)),
        st.tuples(st.sampled_from(("in", "not in")), num,
                  st.lists(int_leaf, max_size=3).map(lambda xs: A.ListLit(tuple(xs))))
        .map(lambda t: A.Binary(*t)),
        st.tuples(st.one_of(num, st.just(A.Lit(None))), st.booleans())
        .map(lambda t: A.IsMissing(*t)),
        st.tuples(boolean, boolean, boolean).map(lambda t: A.If(*t)),
    )


def _typed(depth: int) -> tuple:
    """(numeric, boolean) expression strategies of at most ``depth`` levels of operators."""
    if depth == 0:
        return int_leaf, bool_leaf
    num, boolean = _typed(depth - 1)
    return (st.one_of(int_leaf, _num_node(num, boolean)),
            st.one_of(bool_leaf, _bool_node(num, boolean)))


_BY_DEPTH = {d: _typed(d) for d in range(5)}


def typed_expr(kind: str, depth: int = 4):
    num, boolean = _BY_DEPTH[depth]
    return num if kind == "num" else boolean


any_expr = st.one_of(typed_expr("num"), typed_expr("bool"))


# ------------------------------------------------------------------ (a) round trip


@settings(max_examples=200, deadline=None, derandomize=True)
@given(any_expr)
def test_parse_of_format_is_identity(e):
    text = fmt_expr(e)
    back = parse_expr(text)
    assert back == e, text
    assert fmt_expr(back) == text


@settings(max_examples=50, deadline=None, derandomize=True)
@given(typed_expr("bool", 3), typed_expr("num", 3))
def test_round_trip_inside_a_rule(cond, value):
    text = (f"rule X {{\n  cites T-1\n  let v = {fmt_expr(value)}\n  when {fmt_expr(cond)}\n"
            f"  level notice\n  on as_of\n  message \"值{{{fmt_expr(value)}}}\"\n}}\n")
    rule = parse_module(text, "x.rule").rules[0]
    assert rule.steps == (A.Let("v", value), A.When(cond))
    assert rule.message.parts == ("值", value)


# ------------------------------------------------------------------ (b) three evaluations agree


def to_python(e, names=itertools.count()) -> str:
    """The same expression as Python source (evaluated with `eval`)."""
    if isinstance(e, A.Lit):
        return repr(e.value)
    if isinstance(e, A.Name):
        return f"env[{e.name!r}]"
    if isinstance(e, A.ListLit):
        return "[" + ", ".join(to_python(x) for x in e.items) + "]"
    if isinstance(e, A.Unary):
        return f"({e.op} {to_python(e.operand)})"
    if isinstance(e, A.IsMissing):
        return f"({'not ' if e.negated else ''}is_none({to_python(e.operand)}))"
    if isinstance(e, A.If):
        return f"({to_python(e.then)} if {to_python(e.cond)} else {to_python(e.else_)})"
    if isinstance(e, A.Binary):
        if e.op == "??":
            t = f"_t{next(names)}"
            return f"({t} if ({t} := {to_python(e.left)}) is not None else {to_python(e.right)})"
        return f"({to_python(e.left)} {e.op} {to_python(e.right)})"
    raise TypeError(e)


def python_value(e, env):
    try:
        scope = {"env": env, "is_none": lambda v: v is None}
        return ("value", eval(to_python(e), {"__builtins__": {}}, scope))  # noqa: S307
    except ZeroDivisionError:
        return ("gap", None)


@pytest.fixture(scope="module")
def tiny_bundle():
    return load_bundle(FIXTURES / "mini", policy_roots())


def _program(bundle, text: str) -> Program:
    mod = parse_module(text, "prop.rule")
    b = dataclasses.replace(bundle, rules=mod.rules)
    return Program(b, tuple(compile_rule(c) for c in check_bundle(b)))


def _outcome(ev, rule_id: str):
    fs = [f for f in ev.findings if f.rule == rule_id]
    assert len(fs) <= 1
    if not fs:
        return ("none", None)
    f = fs[0]
    if f.level == "data_gap":
        assert "division by zero" in f.message, f.message
        return ("gap", None)
    return ("value", f.values.get("v"))


ints = st.integers(-20, 20)


def random_expr(rnd: random.Random, kind: str, depth: int):
    """A typed expression with every operator equally likely (Hypothesis draws the seed)."""
    if depth == 0 or rnd.random() < 0.25:
        if kind == "num":
            return A.Lit(rnd.randint(0, 9)) if rnd.random() < 0.5 else A.Name(rnd.choice(INT_VARS))
        return A.Lit(rnd.random() < 0.5) if rnd.random() < 0.3 else A.Name(rnd.choice(BOOL_VARS))
    sub = lambda k: random_expr(rnd, k, depth - 1)  # noqa: E731
    if kind == "num":
        shape = rnd.choice(ARITH + ("neg", "if", "??"))
        if shape == "neg":
            return A.Unary("-", sub("num"))
        if shape == "if":
            return A.If(sub("bool"), sub("num"), sub("num"))
        if shape == "??":
            return A.Binary("??", A.Lit(None) if rnd.random() < 0.5 else sub("num"), sub("num"))
        return A.Binary(shape, sub("num"), sub("num"))
    shape = rnd.choice(ORDER + ("and", "or", "not", "b==", "b!=", "in", "not in", "missing", "if"))
    if shape in ORDER:
        return A.Binary(shape, sub("num"), sub("num"))
    if shape in ("and", "or"):
        return A.Binary(shape, sub("bool"), sub("bool"))
    if shape == "not":
        return A.Unary("not", sub("bool"))
    if shape in ("b==", "b!="):
        return A.Binary(shape[1:], sub("bool"), sub("bool"))
    if shape in ("in", "not in"):
        items = tuple(sub("num") for _ in range(rnd.randint(0, 3)))
        return A.Binary(shape, sub("num"), A.ListLit(items))
    if shape == "missing":
        return A.IsMissing(A.Lit(None) if rnd.random() < 0.3 else sub("num"), rnd.random() < 0.5)
    return A.If(sub("bool"), sub("bool"), sub("bool"))


def _check_three_ways(bundle, exprs, env) -> None:
    """Rules V<i> (`let v = e`) and, for booleans, W<i> (`when e`), on both back ends and Python."""
    lets = "".join(f"  let {k} = {fmt_expr(parse_expr(str(v).lower()))}\n" for k, v in env.items())
    text = ""
    for i, (kind, e) in enumerate(exprs):
        text += f"rule V{i} {{\n  cites T-1\n{lets}  let v = {fmt_expr(e)}\n  level warning\n  on as_of\n}}\n"
        if kind == "bool":
            text += f"rule W{i} {{\n  cites T-1\n{lets}  when {fmt_expr(e)}\n  level warning\n  on as_of\n}}\n"
    program = _program(bundle, text)
    compiled = program.evaluate({}, AS_OF)
    interpreted = program.evaluate({}, AS_OF, interpret=True)
    assert render(compiled, "json") == render(interpreted, "json")
    for i, (kind, e) in enumerate(exprs):
        want_kind, want = python_value(e, env)
        got_kind, got = _outcome(compiled, f"V{i}")
        assert got_kind == want_kind, (fmt_expr(e), env)
        if want_kind == "value":
            assert got == to_json_value(want), (fmt_expr(e), env)
            assert type(got) is type(to_json_value(want)), (fmt_expr(e), env)
            assert isinstance(want, bool) == (kind == "bool")
        if kind == "bool":
            expected_w = "gap" if want_kind == "gap" else ("value" if want else "none")
            assert _outcome(compiled, f"W{i}")[0] == expected_w, (fmt_expr(e), env)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), a=ints, b=ints, n=ints, p=st.booleans(), done=st.booleans())
def test_compiled_interpreted_and_python_agree(tiny_bundle, seed, a, b, n, p, done):
    rnd = random.Random(seed)
    exprs = [(k, random_expr(rnd, k, 3)) for k in ("num", "bool") * 4]
    _check_three_ways(tiny_bundle, exprs, {"a": a, "b": b, "数量": n, "p": p, "已办": done})


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(e=st.one_of(typed_expr("num", 3).map(lambda x: ("num", x)),
                   typed_expr("bool", 3).map(lambda x: ("bool", x))),
       a=ints, b=ints, n=ints)
def test_compiled_interpreted_and_python_agree_shrinkable(tiny_bundle, e, a, b, n):
    _check_three_ways(tiny_bundle, [e], {"a": a, "b": b, "数量": n, "p": True, "已办": False})


@pytest.mark.parametrize("op", ARITH + ORDER)
def test_every_operator_on_a_grid_of_values(tiny_bundle, op):
    values = (-3, 0, 2, 7)
    exprs = [("bool" if op in ORDER else "num", A.Binary(op, A.Lit(x) if x >= 0 else A.Unary("-", A.Lit(-x)), A.Name("a")))
             for x in values]
    for a in values:
        _check_three_ways(tiny_bundle, exprs, {"a": a, "b": 0, "数量": 0, "p": True, "已办": True})


def test_division_by_zero_is_a_gap_in_both_back_ends(tiny_bundle):
    text = ("rule Z {\n  cites T-1\n  let z = 0\n  let v = 1 / z\n  level warning\n  on as_of\n}\n"
            "rule M {\n  cites T-1\n  let z = 0\n  when 5 % z == 0\n  level warning\n  on as_of\n}\n")
    program = _program(tiny_bundle, text)
    for interpret in (False, True):
        ev = program.evaluate({}, AS_OF, interpret=interpret)
        assert [(f.rule, f.level, f.message) for f in ev.findings] == [
            ("M", "data_gap", "M：无法计算：division by zero"),
            ("Z", "data_gap", "Z：无法计算：division by zero")]


# ------------------------------------------------------------------ (c) never a crash

DSL_CHARS = (
    "abcxyz_019 \n\t\u3000\r\"'\\#{}()[],.:;=<>!?+-*/%"
    "办件期限工作日天年个月预警红牌"
    "“”‘’，：；（）【】。、"
)
TOKENS = [
    "rule", "R-1", "{", "}", "cites", "T-1", "for", "c", "in", "cases", "let", "x", "=",
    "require", "when", "level", "warning", "on", "resolved", "key", "ref", "message", "title",
    '"文本{c.id}"', '"', "(", ")", "[", "]", ",", ".", "->", "??", "+", "-", "*", "/", "%",
    "==", "<", ">=", "and", "or", "not", "is", "missing", "present", "if", "then", "else",
    "3", "2.5", "2024-02-29", "2023-02-29", "workdays", "个月", "年", "true", "false",
    "，", "（", "）", "“", "”", "：", "#", "\n", "{{", "}}", "\u3000", "期限",
]


def _parse_all_ways(text: str) -> None:
    for fn in (lambda t: parse_expr(t), lambda t: parse_module(t, "fuzz.rule"),
               lambda t: parse_module("rule R {\n" + t + "\n}\n", "fuzz.rule")):
        try:
            fn(text)
        except PolicyError as e:
            assert e.diagnostics and all(d.code in ("E005", "E013", "E020") for d in e.diagnostics)
            for d in e.diagnostics:
                assert d.loc.line >= 1 and d.loc.col >= 1, d


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet=DSL_CHARS, max_size=60))
def test_parsing_arbitrary_text_raises_only_policy_errors(text):
    _parse_all_ways(text)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join))
def test_parsing_token_soup_raises_only_policy_errors(text):
    _parse_all_ways(text)


# ------------------------------------------------------------------ (d) determinism


def _shuffled(value, rnd: random.Random, top: bool = False):
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        items = [_shuffled(v, rnd) for v in value]
        if top:  # records of a collection: their order carries no meaning
            rnd.shuffle(items)
        return items
    return value


@pytest.fixture(scope="module")
def determinism_program(tmp_path_factory):
    """The base fixture with the rules of several eval corpus files at once."""
    from core_helpers import copy_fixture, write_rules

    rules = []
    for _, defaults, case in corpus("eval"):
        if defaults["_file"] in ("pauses.yaml", "collections.yaml", "lookup.yaml") and "rules" in defaults:
            if defaults["rules"] not in rules:
                rules.append(defaults["rules"])
    d = copy_fixture("base", tmp_path_factory.mktemp("det") / "base")
    write_rules(d, "\n".join(rules))
    return prepare(load_bundle(d, policy_roots()))


DET_FACTS = {
    "cases": [
        {"id": "A", "received_on": "2024-09-23", "accepted_on": "2024-09-23", "days": 5,
         "item_code": "I1", "scores": [3, 1, 2], "tags": ["急"],
         "fees": [{"kind": "工本费", "amount": 10}, {"kind": "检测费", "amount": 1, "paid_on": "2024-09-24"}]},
        {"id": "B", "received_on": "2024-09-23", "accepted_on": "2024-09-23", "days": 5,
         "completed_on": "2024-10-09", "item_code": "I2",
         "corrections": [{"issued_on": "2024-09-25", "confirmed_on": "2024-09-27"}]},
        {"id": "C", "received_on": "2024-09-23", "accepted_on": "2024-09-23", "days": 3,
         "corrections": [{"issued_on": "2024-09-25"}]},
        {"id": "D", "received_on": "2024-10-08", "accepted_on": "2024-10-08", "days": 6,
         "item_code": "X9"},
        {"id": "E", "received_on": "2024-09-27", "item_code": "I1", "completed_on": "2024-10-20"},
    ],
    "items": [
        {"code": "I1", "name": "护照", "legal_days": 10},
        {"code": "I2", "name": "营业执照", "legal_days": 3, "fee_cap": 20},
    ],
}


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_evaluation_is_deterministic_under_shuffling(determinism_program, seed):
    base = determinism_program.evaluate(copy.deepcopy(DET_FACTS), dt.date(2024, 12, 31))
    assert len(base.findings) > 10  # the facts exercise the rules
    rnd = random.Random(seed)
    facts = {k: _shuffled(v, rnd, top=True) for k, v in _shuffled(DET_FACTS, rnd).items()}
    assume([r["id"] for r in facts["cases"]] != [r["id"] for r in DET_FACTS["cases"]] or seed == 0)
    ev = determinism_program.evaluate(facts, dt.date(2024, 12, 31))
    for fmt in ("json", "jsonl", "table", "markdown"):
        assert render(ev, fmt) == render(base, fmt)
