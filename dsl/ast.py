"""The DSL's abstract syntax tree.

Input: nothing (built by :mod:`govsup.dsl.parser`). Output: frozen dataclasses. Every node carries
``loc`` (a :class:`~govsup.engine.loc.Loc`), excluded from equality, so two parses of the same text
in different files compare equal. Lark trees never leave ``dsl/parser.py``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Union

from ..engine.loc import NOWHERE, Loc


def _loc() -> Loc:
    return field(default=NOWHERE, compare=False, repr=False)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Lit:
    """A literal: int, float, str, bool, date, or None (``missing``)."""

    value: object
    loc: Loc = _loc()


@dataclass(frozen=True)
class ListLit:
    items: tuple["Expr", ...]
    loc: Loc = _loc()


@dataclass(frozen=True)
class Name:
    name: str
    loc: Loc = _loc()


@dataclass(frozen=True)
class Field:
    obj: "Expr"
    name: str
    loc: Loc = _loc()


@dataclass(frozen=True)
class Index:
    obj: "Expr"
    index: "Expr"
    loc: Loc = _loc()


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple["Expr", ...]
    loc: Loc = _loc()


@dataclass(frozen=True)
class Lambda:
    param: str
    body: "Expr"
    loc: Loc = _loc()


@dataclass(frozen=True)
class Duration:
    """``n workdays`` / ``n days`` / ``n months`` / ``n years``; unit is normalised."""

    amount: "Expr"
    unit: str  # "workdays" | "days" | "months" | "years"
    loc: Loc = _loc()


@dataclass(frozen=True)
class Unary:
    op: str  # "-" | "not"
    operand: "Expr"
    loc: Loc = _loc()


@dataclass(frozen=True)
class Binary:
    """Arithmetic (+ - * / %), comparison (== != < <= > >=), ``and``, ``or``, ``in``,
    ``not in`` and ``??`` (use the right side when the left is missing)."""

    op: str
    left: "Expr"
    right: "Expr"
    loc: Loc = _loc()


@dataclass(frozen=True)
class IsMissing:
    operand: "Expr"
    negated: bool = False  # True for ``is present``
    loc: Loc = _loc()


@dataclass(frozen=True)
class If:
    cond: "Expr"
    then: "Expr"
    else_: "Expr"
    loc: Loc = _loc()


@dataclass(frozen=True)
class Template:
    """A message string with ``{expr}`` holes: parts alternate text (str) and Expr."""

    parts: tuple[Union[str, "Expr"], ...]
    loc: Loc = _loc()


Expr = Union[Lit, ListLit, Name, Field, Index, Call, Lambda, Duration, Unary, Binary, IsMissing,
             If, Template]

# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class For:
    var: str
    source: Expr
    loc: Loc = _loc()


@dataclass(frozen=True)
class Let:
    name: str
    value: Expr
    loc: Loc = _loc()


@dataclass(frozen=True)
class Require:
    facts: tuple[Expr, ...]
    loc: Loc = _loc()


@dataclass(frozen=True)
class When:
    cond: Expr
    loc: Loc = _loc()


Step = Union[For, Let, Require, When]


@dataclass(frozen=True)
class ClauseRef:
    id: str
    loc: Loc = _loc()


@dataclass(frozen=True)
class LevelRef:
    key: str
    loc: Loc = _loc()


@dataclass(frozen=True)
class Rule:
    """One rule. ``steps`` keeps the order of for/let/require/when statements, which is the
    order of evaluation; the remaining clauses are single-valued."""

    id: str
    cites: tuple[ClauseRef, ...]
    title: str | None
    steps: tuple[Step, ...]
    levels: tuple[LevelRef, ...]
    on: Expr | None
    resolved: Expr | None
    message: Template | None
    key: Expr | None = None
    ref: Expr | None = None
    loc: Loc = _loc()
    # layout for `policy fmt` (not part of equality): the rule's (first, last) line and, in source
    # order, each statement's (kind, first line, last line); kind is "step" for for/let/require/when
    # (matching ``steps`` in order) or the statement keyword.
    span: tuple[int, int] = field(default=(0, 0), compare=False, repr=False)
    stmt_spans: tuple[tuple[str, int, int], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Module:
    """The rules of one DSL file."""

    file: str
    rules: tuple[Rule, ...]
    comments: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)
    # comments after code on the same line: (line, text from `#`), kept by `policy fmt`
    eol_comments: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)


UNITS = {
    "workdays": "workdays", "workday": "workdays", "工作日": "workdays",
    "days": "days", "day": "days", "日": "days", "天": "days",
    "months": "months", "month": "months", "个月": "months",
    "years": "years", "year": "years", "年": "years",
}


def walk(node) -> "list":
    """All expression nodes under ``node`` (pre-order), including ``node``."""
    out = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n is None or isinstance(n, str):
            continue
        out.append(n)
        if isinstance(n, (Lit, Name)):
            continue
        if isinstance(n, ListLit):
            stack.extend(reversed(n.items))
        elif isinstance(n, Field):
            stack.append(n.obj)
        elif isinstance(n, Index):
            stack.extend([n.index, n.obj])
        elif isinstance(n, Call):
            stack.extend(reversed(n.args))
        elif isinstance(n, Lambda):
            stack.append(n.body)
        elif isinstance(n, Duration):
            stack.append(n.amount)
        elif isinstance(n, Unary):
            stack.append(n.operand)
        elif isinstance(n, Binary):
            stack.extend([n.right, n.left])
        elif isinstance(n, IsMissing):
            stack.append(n.operand)
        elif isinstance(n, If):
            stack.extend([n.else_, n.then, n.cond])
        elif isinstance(n, Template):
            stack.extend(reversed([p for p in n.parts if not isinstance(p, str)]))
    return out


def is_date(v) -> bool:
    return isinstance(v, _dt.date)
