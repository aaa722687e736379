"""Hypothesis strategies that build random rule ASTs in the parser's normal form.

"Normal form" means what ``parse_module`` produces: literals are never negative (``-3`` is a
``Unary``), units are normalised (``workdays``/``days``/``months``/``years``), a message template
alternates non-empty text and expressions. Identifiers mix ASCII and Chinese.
"""

from __future__ import annotations

import datetime as _dt

from hypothesis import strategies as st

from govsup.dsl import ast as A

KEYWORDS = {"rule", "cites", "title", "for", "key", "ref", "let", "require", "when", "level", "on",
            "resolved", "message", "in", "not", "and", "or", "if", "then", "else", "is",
            "missing", "present", "true", "false"}
UNIT_WORDS = {"workdays", "workday", "工作日", "days", "day", "日", "天", "months", "month", "个月",
              "years", "year", "年"}

# identifiers: a fixed pool keeps generation cheap (ASCII, Chinese, mixed, underscores, digits)
NAME_POOL = ["c", "x", "limit", "due_on", "_tmp", "a1", "cases", "param", "as_of", "items",
             "期限", "办件", "受理日", "补正告知", "监督员", "时限2", "预警_日", "x期限", "日期",
             "年龄", "天数", "工作日数"]
assert not (set(NAME_POOL) & (KEYWORDS | UNIT_WORDS))
NAMES = st.sampled_from(NAME_POOL)
_ZH_NAMES = st.sampled_from([n for n in NAME_POOL if not n.isascii()])

# text inside string literals: ASCII, Chinese, spaces, quotes, backslashes, '#', braces, \n, \t
_TEXT_CHARS = st.sampled_from(list("abcXYZ 019中文办件“”（），。#\"\\{}\n\t$%'"))
TEXTS = st.lists(_TEXT_CHARS, max_size=8).map("".join)
HOLE_TEXTS = st.lists(_TEXT_CHARS.filter(lambda c: c not in "{}"), max_size=6).map("".join)

FUNCS = st.sampled_from(["count", "any", "all", "filter", "map", "sum", "min", "max", "first",
                         "lookup", "deadline", "countdown", "pause", "text", "coalesce",
                         "add_workdays", "age", "date", "contains", "f", "计算"])
BIN_OPS = st.sampled_from(["or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "??",
                           "+", "-", "*", "/", "%"])
UNITS = st.sampled_from(["workdays", "days", "months", "years"])


def literals(texts=TEXTS):
    return st.one_of(
        st.integers(min_value=0, max_value=10**12).map(A.Lit),
        st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False).map(A.Lit),
        texts.map(A.Lit),
        st.dates(min_value=_dt.date(1000, 1, 1), max_value=_dt.date(9999, 12, 31)).map(A.Lit),
        st.sampled_from([True, False, None]).map(A.Lit),
    )


def expressions(texts=TEXTS, max_leaves: int = 8):
    """Random expressions; ``texts`` draws string literal values."""
    leaves = st.one_of(literals(texts), NAMES.map(A.Name))

    def extend(sub):
        return st.one_of(
            st.lists(sub, max_size=3).map(lambda xs: A.ListLit(tuple(xs))),
            st.builds(A.Field, sub, NAMES),
            st.builds(A.Index, sub, sub),
            st.builds(A.Call, FUNCS, st.lists(st.one_of(sub, st.builds(A.Lambda, NAMES, sub)),
                                              max_size=3).map(tuple)),
            st.builds(A.Lambda, NAMES, sub),
            st.builds(A.Duration, sub, UNITS),
            st.builds(A.Unary, st.sampled_from(["-", "not"]), sub),
            st.builds(A.Binary, BIN_OPS, sub, sub),
            st.builds(A.IsMissing, sub, st.booleans()),
            st.builds(A.If, sub, sub, sub),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


@st.composite
def templates(draw):
    """A message template: non-empty text parts alternating with holes (holes may be adjacent)."""
    parts: list = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            t = draw(TEXTS.filter(bool))
            if parts and isinstance(parts[-1], str):
                parts[-1] += t
            else:
                parts.append(t)
        else:
            parts.append(draw(expressions(HOLE_TEXTS, max_leaves=4)))
    return A.Template(tuple(parts))


RULE_IDS = st.builds(
    lambda p, n, s: p + n + s,
    st.sampled_from(["HN-ESUP-", "T-", "LA-SEL-", "规则-", "X", "PDS-R"]),
    st.sampled_from(["1", "8.1b", "8.10", "7", "2c"]),
    st.sampled_from(["", "/red", "-warning", ".a", "/预警"]))
CLAUSES = st.one_of(RULE_IDS, TEXTS, st.sampled_from(["for", "in", "第八条（一）", "a b"]))


def steps():
    e = expressions()
    return st.one_of(
        st.builds(A.For, NAMES, e),
        st.builds(A.Let, NAMES, e),
        st.builds(A.Require, st.lists(e, min_size=1, max_size=3).map(tuple)),
        st.builds(A.When, e),
    )


def optional(s):
    return st.one_of(st.none(), s)


rules = st.builds(
    A.Rule,
    id=RULE_IDS,
    cites=st.lists(CLAUSES.map(A.ClauseRef), min_size=1, max_size=3).map(tuple),
    title=optional(TEXTS),
    steps=st.lists(steps(), max_size=4).map(tuple),
    levels=st.lists(NAMES.map(A.LevelRef), min_size=1, max_size=3).map(tuple),
    on=expressions(),
    resolved=optional(expressions()),
    message=optional(templates()),
    key=optional(expressions()),
    ref=optional(expressions()),
)

modules = st.lists(rules, max_size=3).map(lambda rs: A.Module("gen.rule", tuple(rs)))
