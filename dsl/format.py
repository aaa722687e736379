"""Format AST back to canonical DSL text.

Input: AST nodes. Output: text that parses back to an equal AST (``parse(format(x)) == x``).
Used for messages that quote an expression (``require`` data gaps, type errors) and by
``policy fmt``.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal

from . import ast as A

# binding strength of each binary operator (higher binds tighter)
_PREC = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4,
         "not in": 4, "??": 5, "+": 6, "-": 6, "*": 7, "/": 7, "%": 7}


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _fmt_float(v: float) -> str:
    # The grammar's DECIMAL is `digits.digits`: never an exponent (repr gives `1e-05`).
    s = repr(v)
    if "e" in s or "E" in s:
        s = format(Decimal(s), "f")
    return s if "." in s else s + ".0"


def _prec(e) -> int:
    if isinstance(e, A.Binary):
        return _PREC[e.op]
    if isinstance(e, (A.If, A.Lambda)):
        return 0
    if isinstance(e, A.Unary):
        return 3 if e.op == "not" else 8
    if isinstance(e, A.IsMissing):
        return 4
    return 9


def fmt_expr(e, parent: int = 0) -> str:
    s = _fmt(e)
    return f"({s})" if _prec(e) < parent else s


def _fmt(e) -> str:
    if isinstance(e, A.Lit):
        v = e.value
        if v is None:
            return "missing"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, str):
            return _quote(v)
        if isinstance(v, _dt.date):
            return v.isoformat()
        if isinstance(v, float):
            return _fmt_float(v)
        return repr(v)
    if isinstance(e, A.ListLit):
        return "[" + ", ".join(fmt_expr(x) for x in e.items) + "]"
    if isinstance(e, A.Name):
        return e.name
    if isinstance(e, A.Field):
        return f"{fmt_expr(e.obj, 9)}.{e.name}"
    if isinstance(e, A.Index):
        return f"{fmt_expr(e.obj, 9)}[{fmt_expr(e.index)}]"
    if isinstance(e, A.Call):
        return f"{e.func}(" + ", ".join(fmt_expr(a) for a in e.args) + ")"
    if isinstance(e, A.Lambda):
        return f"{e.param} -> {fmt_expr(e.body)}"
    if isinstance(e, A.Duration):
        return f"{fmt_expr(e.amount, 9)} {e.unit}"
    if isinstance(e, A.Unary):
        if e.op == "not":
            return f"not {fmt_expr(e.operand, 3)}"
        return f"-{fmt_expr(e.operand, 8)}"
    if isinstance(e, A.Binary):
        p = _PREC[e.op]
        if p == 4:  # comparisons do not chain
            return f"{fmt_expr(e.left, 5)} {e.op} {fmt_expr(e.right, 5)}"
        return f"{fmt_expr(e.left, p)} {e.op} {fmt_expr(e.right, p + 1)}"
    if isinstance(e, A.IsMissing):
        return f"{fmt_expr(e.operand, 5)} is {'present' if e.negated else 'missing'}"
    if isinstance(e, A.If):
        return f"if {fmt_expr(e.cond)} then {fmt_expr(e.then)} else {fmt_expr(e.else_)}"
    if isinstance(e, A.Template):
        out = []
        for p in e.parts:
            if isinstance(p, str):
                out.append(p.replace("{", "{{").replace("}", "}}"))
            else:
                out.append("{" + fmt_expr(p) + "}")
        return _quote("".join(out))
    raise TypeError(f"not an expression: {e!r}")
