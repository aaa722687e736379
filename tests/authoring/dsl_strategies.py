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

_ASCII_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True)
_ZH_NAMES = st.lists(st.sampled_from("期限办件受理材料时限评价部门监督员补正告知预警红牌数量"),
                     min_size=1, max_size=4).map("".join)
NAMES = st.one_of(_ASCII_NAMES, _ZH_NAMES).filter(
    lambda s: s not in KEYWORDS and s not in UNIT_WORDS and not s[0].isdigit())

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


def expressions(texts=TEXTS, max_leaves: int = 12):
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
            parts.append(draw(expressions(HOLE_TEXTS, max_leaves=5)))
    return A.Template(tuple(parts))


RULE_IDS = st.one_of(
    st.from_regex(r"[A-Z]{1,4}(-[A-Z0-9]{1,4}){0,2}(\.[0-9][a-z]?)?(/[a-z]{1,4})?", fullmatch=True),
    _ZH_NAMES.map(lambda s: s + "-1"),
).filter(lambda s: s not in KEYWORDS)
CLAUSES = st.one_of(RULE_IDS, TEXTS.filter(lambda s: "\n" not in s or True))


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
    steps=st.lists(steps(), max_size=5).map(tuple),
    levels=st.lists(NAMES.map(A.LevelRef), min_size=1, max_size=3).map(tuple),
    on=expressions(),
    resolved=optional(expressions()),
    message=optional(templates()),
    key=optional(expressions()),
    ref=optional(expressions()),
)

modules = st.lists(rules, max_size=3).map(lambda rs: A.Module("gen.rule", tuple(rs)))
