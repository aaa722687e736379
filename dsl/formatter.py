"""Canonical formatting of DSL files (``policy fmt``).

Input: a parsed :class:`~govsup.dsl.ast.Module` (with its comments and layout, see
``Module.comments``, ``Module.eol_comments``, ``Rule.span`` and ``Rule.stmt_spans``), or DSL text.
Output: the canonical text of the file. Guarantees: ``parse(format(x)) == parse(x)`` (the AST,
locations aside), every comment is kept, and formatting is idempotent
(``format(format(x)) == format(x)``).

Canonical layout:

* one rule after another, separated by one blank line; two-space indentation; one statement
  per line, never wrapped; ``}`` alone on its line;
* the title is written after the id (``rule ID "标题" {``), never as a ``title`` statement;
* statements in a fixed order — ``cites``; the leading ``for`` statements; ``ref``; the other
  steps (``for``/``let``/``require``/``when``) *in the order written*, since that is the order of
  evaluation; ``level``; ``on``; ``resolved``; ``key``; ``message``;
* expressions with single spaces around binary operators, after commas and none inside
  brackets, parentheses only where precedence needs them (:func:`govsup.dsl.format.fmt_expr`);
  duration units in their English plural (``3 workdays``).

Comments: a whole-line comment is attached to the statement (or, between rules, to the rule) that
follows it, and moves with it; comments after the last statement of a rule stay before its
``}``; comments after the last rule stay at the end of the file. A comment at the end of a code
line stays at the end of that statement's line (of the ``rule … {`` line, or of the ``}`` line).
Between rules, a blank line that separates a comment block from what follows is kept (one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ast as A
from .format import _PREC, _fmt, _prec, _quote
from .parser import KEYWORDS, parse_module

INDENT = "  "

# words the lexer may take as keywords: a clause id equal to one of them is written quoted
_RESERVED = set(KEYWORDS) | {"in", "not", "and", "or", "if", "then", "else", "is", "missing",
                             "present", "true", "false"}
_RULE_ID = re.compile(r"(?!\d)[\w][\w.\-/]*\Z")


_SINGULAR = {"workdays": "workday", "days": "day", "months": "month", "years": "year"}
WIDTH = 100  # statements longer than this (in display columns) are broken over lines
CONT = 4  # extra indentation of a statement's continuation lines

# ---------------------------------------------------------------- a small Wadler-style printer
# A document is a str (text), _LINE (a space, or a line break when its group does not fit),
# ("nest", n, doc), ("group", doc) or a list of documents.

_LINE = ("line",)


def _nest(doc) -> tuple:
    return ("nest", CONT, doc)


def _group(doc) -> tuple:
    return ("group", doc)


def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _fits(room: int, items: list) -> bool:
    """Does the text up to the next line break of ``items`` (a stack, top last) fit?"""
    stack = list(items)
    while stack:
        if room < 0:
            return False
        i, flat, d = stack.pop()
        if isinstance(d, str):
            room -= _width(d)
        elif isinstance(d, list):
            stack.extend((i, flat, x) for x in reversed(d))
        elif d is _LINE:
            if not flat:
                return True
            room -= 1
        elif d[0] == "nest":
            stack.append((i + d[1], flat, d[2]))
        else:  # group
            stack.append((i, flat, d[1]))
    return room >= 0


def _pretty(doc, indent: int, width: int = WIDTH) -> str:
    out: list[str] = []
    col = indent
    stack = [(indent, False, doc)]
    while stack:
        i, flat, d = stack.pop()
        if isinstance(d, str):
            out.append(d)
            col += _width(d)
        elif isinstance(d, list):
            stack.extend((i, flat, x) for x in reversed(d))
        elif d is _LINE:
            if flat:
                out.append(" ")
                col += 1
            else:
                out.append("\n" + " " * i)
                col = i
        elif d[0] == "nest":
            stack.append((i + d[1], flat, d[2]))
        else:  # group: flat if it (and what follows up to the next break) fits
            fits = flat or _fits(width - col, stack + [(i, True, d[1])])
            stack.append((i, fits, d[1]))
    return "".join(out)


def _flat(doc) -> str:
    return _pretty(doc, 0, width=10**9)


# ---------------------------------------------------------------- expressions

_LOGICAL = {"and", "or"}


def fmt_expr(e, parent: int = 0) -> str:
    """An expression on one line, as written in a rule file (see :func:`expr_doc`)."""
    return _flat(expr_doc(e, parent))


def expr_doc(e, parent: int = 0):
    """The document of an expression as written in a rule file: the precedence rules of
    :func:`govsup.dsl.format.fmt_expr`, plus parentheses that a reader needs though the parser
    does not — around ``??`` under ``and``/``or``/``not`` and comparisons (``(a ?? b) > c``),
    around ``and`` under ``or``, around any operator under ``not`` — and singular units after a
    literal 1 (``1 day``). Long expressions break before ``and``/``or``, ``then``/``else``, and
    between the arguments of calls and the items of lists."""
    d = _doc(e)
    return ["(", d, ")"] if _prec(e) < parent else d


def _wrap(e, parent: int, extra: bool = False):
    """``e`` as an operand: parenthesised when precedence needs it or ``extra`` says so."""
    if extra and _prec(e) < 9:
        return ["(", _doc(e), ")"]
    return expr_doc(e, parent)


def _is(e, *ops) -> bool:
    return isinstance(e, A.Binary) and e.op in ops


def _chain(e, op: str) -> list:
    """The operands of a left-nested chain ``a op b op c``."""
    items = []
    while _is(e, op):
        items.append(e.right)
        e = e.left
    items.append(e)
    return items[::-1]


def _joined(items: list, sep: str = ",") -> list:
    out: list = []
    for k, it in enumerate(items):
        if k:
            out += [sep, _LINE]
        out.append(it)
    return out


def _doc(e):
    if isinstance(e, A.Binary):
        p = _PREC[e.op]
        if e.op in _LOGICAL:
            ops = _chain(e, e.op)
            parts = []
            for k, x in enumerate(ops):
                extra = _is(x, "??") or (e.op == "or" and _is(x, "and"))
                d = _wrap(x, p if k == 0 else p + 1, extra)
                parts.append(d if k == 0 else _nest([_LINE, e.op + " ", d]))
            return _group(parts)
        if p == 4:  # comparisons do not chain
            return [_wrap(e.left, 5, _is(e.left, "??")), f" {e.op} ",
                    _wrap(e.right, 5, _is(e.right, "??"))]
        return [expr_doc(e.left, p), f" {e.op} ", expr_doc(e.right, p + 1)]
    if isinstance(e, A.If):
        parts: list = ["if ", _nest(expr_doc(e.cond))]
        while True:
            parts.append(_nest([_LINE, "then ", expr_doc(e.then)]))
            if isinstance(e.else_, A.If):
                e = e.else_
                parts.append(_nest([_LINE, "else if ", _nest(expr_doc(e.cond))]))
                continue
            parts.append(_nest([_LINE, "else ", expr_doc(e.else_)]))
            return _group(parts)
    if isinstance(e, A.Unary):
        if e.op == "not":
            return ["not ", _wrap(e.operand, 3, not (isinstance(e.operand, A.Unary)
                                                       and e.operand.op == "not"))]
        return ["-", expr_doc(e.operand, 8)]
    if isinstance(e, A.Duration):
        unit = e.unit
        if isinstance(e.amount, A.Lit) and e.amount.value == 1 and e.amount.value is not True:
            unit = _SINGULAR.get(unit, unit)
        return [expr_doc(e.amount, 9), " " + unit]
    if isinstance(e, A.ListLit):
        return _group(["[", _nest(_joined([expr_doc(x) for x in e.items])), "]"])
    if isinstance(e, A.Field):
        return [expr_doc(e.obj, 9), "." + e.name]
    if isinstance(e, A.Index):
        return [expr_doc(e.obj, 9), "[", expr_doc(e.index), "]"]
    if isinstance(e, A.Call):
        return _group([e.func + "(", _nest(_joined([expr_doc(a) for a in e.args])), ")"])
    if isinstance(e, A.Lambda):
        return [e.param + " -> ", expr_doc(e.body)]
    if isinstance(e, A.IsMissing):
        return [expr_doc(e.operand, 5), " is present" if e.negated else " is missing"]
    if isinstance(e, A.Template):
        out = []
        for part in e.parts:
            if isinstance(part, str):
                out.append(part.replace("{", "{{").replace("}", "}}"))
            else:
                out.append("{" + fmt_expr(part) + "}")
        return _quote("".join(out))
    return _fmt(e)  # literals and names


def _clause(c: A.ClauseRef) -> str:
    if _RULE_ID.match(c.id) and c.id not in _RESERVED:
        return c.id
    return _quote(c.id)


def _step_doc(s):
    if isinstance(s, A.For):
        return [f"for {s.var} in ", expr_doc(s.source)]
    if isinstance(s, A.Let):
        return [f"let {s.name} = ", expr_doc(s.value)]
    if isinstance(s, A.Require):
        return _group(["require ", _nest(_joined([expr_doc(f) for f in s.facts]))])
    if isinstance(s, A.When):
        return ["when ", expr_doc(s.cond)]
    raise TypeError(f"not a step: {s!r}")


def _stmt(doc) -> str:
    return INDENT + _pretty(doc, len(INDENT))


@dataclass
class _Slot:
    """One output line of a rule (header, statement or closing brace) with its comments."""

    text: str
    before: list[str] = field(default_factory=list)  # whole-line comments, in order
    after: list[str] = field(default_factory=list)  # end-of-line comments


def _rule_slots(rule: A.Rule) -> tuple[_Slot, list[tuple[_Slot, str, int]], _Slot]:
    """The header, the statements in canonical order (slot, kind, index among steps), and
    the closing brace of ``rule``."""
    title = f" {_quote(rule.title)}" if rule.title is not None else ""
    header = _Slot(f"rule {rule.id}{title} {{")
    closing = _Slot("}")
    stmts: list[tuple[_Slot, str, int]] = []

    def add(kind: str, doc, idx: int = -1) -> None:
        stmts.append((_Slot(_stmt(doc)), kind, idx))

    add("cites", "cites " + ", ".join(_clause(c) for c in rule.cites))
    steps = list(rule.steps)
    lead = 0
    while lead < len(steps) and isinstance(steps[lead], A.For):
        add("step", _step_doc(steps[lead]), lead)
        lead += 1
    if rule.ref is not None:
        add("ref", ["ref ", expr_doc(rule.ref)])
    for i in range(lead, len(steps)):
        add("step", _step_doc(steps[i]), i)
    add("level", "level " + ", ".join(lv.key for lv in rule.levels))
    if rule.on is not None:
        add("on", ["on ", expr_doc(rule.on)])
    if rule.resolved is not None:
        add("resolved", ["resolved ", expr_doc(rule.resolved)])
    if rule.key is not None:
        add("key", ["key ", expr_doc(rule.key)])
    if rule.message is not None:
        add("message", "message " + fmt_expr(rule.message))
    return header, stmts, closing


def _attach(rule: A.Rule, header: _Slot, stmts, closing: _Slot,
            full: list[tuple[int, str]], eol: list[tuple[int, str]]) -> None:
    """Attach the comments that lie inside ``rule``'s lines to its slots."""
    # source spans of each slot: steps by their order, other statements by keyword
    by_key: dict[tuple[str, int], _Slot] = {}
    for slot, kind, idx in stmts:
        by_key[(kind, idx)] = slot
    spans: list[tuple[int, int, _Slot]] = []
    step_i = 0
    for kind, a, b in rule.stmt_spans:
        if kind == "step":
            slot = by_key.get(("step", step_i))
            step_i += 1
        elif kind == "title":
            slot = header  # a `title` statement is written into the header
        else:
            slot = by_key.get((kind, -1))
        if slot is not None:
            spans.append((a, b, slot))
    spans.sort(key=lambda s: (s[0], s[1]))
    body = [s for s in spans if s[2] is not header] or spans
    first = body[0][0] if body else rule.span[1]
    last = max((b for _, b, _ in body), default=rule.span[0])
    for line, text in full:
        target = next((s for a, b, s in spans if a <= line <= b), None)
        if target is None:
            target = next((s for a, b, s in spans if a > line), closing)
        target.before.append(text)
    for line, text in eol:
        target = next((s for a, b, s in spans if a <= line <= b), None)
        if target is None:
            if line < first:
                target = header
            elif line > last:
                target = closing
            else:  # between statements of a multi-line construct: the statement before
                target = next((s for a, b, s in reversed(spans) if b <= line), closing)
        target.after.append(text)


def _emit(slot: _Slot, indent: str, out: list[str]) -> None:
    for c in slot.before:
        out.append(indent + c)
    text = slot.text
    if slot.after:
        text += "  " + " ".join(slot.after)
    out.extend(text.split("\n"))


def format_module(mod: A.Module) -> str:
    """The canonical text of ``mod`` (see the module docstring)."""
    full = sorted(mod.comments)
    eol = sorted(mod.eol_comments)
    full_lines = {ln for ln, _ in full}
    rules = list(mod.rules)
    spans = [r.span for r in rules]
    out: list[str] = []

    # whole-line comments between rules: attached to the next rule (or the end of the file)
    top_before: list[list[tuple[str, bool]]] = [[] for _ in rules]
    trailer: list[tuple[str, bool]] = []
    inside: list[list[tuple[int, str]]] = [[] for _ in rules]
    for line, text in full:
        idx = next((i for i, (a, b) in enumerate(spans) if a <= line <= b), None)
        if idx is not None:
            inside[idx].append((line, text))
            continue
        nxt = next((i for i, (a, _) in enumerate(spans) if a > line), None)
        # top-level lines are comments, rule lines or blank
        blank_after = (line + 1 not in full_lines and
                       not any(a <= line + 1 <= b for a, b in spans))
        if nxt is None:
            trailer.append((text, blank_after))
        else:
            top_before[nxt].append((text, blank_after))
    eol_in: list[list[tuple[int, str]]] = [[] for _ in rules]
    stray: list[str] = []
    for line, text in eol:
        idx = next((i for i, (a, b) in enumerate(spans) if a <= line <= b), None)
        if idx is None:
            stray.append(text)  # cannot happen for parsed text; kept at the end regardless
        else:
            eol_in[idx].append((line, text))

    for i, rule in enumerate(rules):
        if i:
            out.append("")
        for text, blank in top_before[i]:
            out.append(text)
            if blank:
                out.append("")
        header, stmts, closing = _rule_slots(rule)
        _attach(rule, header, stmts, closing, inside[i], eol_in[i])
        _emit(header, "", out)
        for slot, _, _ in stmts:
            _emit(slot, INDENT, out)
        _emit(closing, INDENT, out)
    if trailer or stray:
        if rules:
            out.append("")
        for text, blank in trailer:
            out.append(text)
            if blank:
                out.append("")
        out.extend(stray)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def format_text(text: str, file: str = "<text>") -> str:
    """Parse ``text`` and return its canonical formatting (raises PolicyError on syntax errors)."""
    return format_module(parse_module(text, file))


def check_roundtrip(text: str, formatted: str, file: str = "<text>") -> str | None:
    """Why ``formatted`` is not a faithful formatting of ``text`` (AST or comments differ), or
    None. ``policy fmt`` refuses to write a file when this finds a problem."""
    a = parse_module(text, file)
    try:
        b = parse_module(formatted, file)
    except Exception as exc:  # pragma: no cover - a formatter bug
        return f"the formatted text does not parse: {exc}"
    if a.rules != b.rules:
        for ra, rb in zip(a.rules, b.rules):
            if ra != rb:
                return f"rule `{ra.id}` would change meaning"
        return "the rules would change"
    ca = sorted(t for _, t in a.comments) + sorted(t for _, t in a.eol_comments)
    cb = sorted(t for _, t in b.comments) + sorted(t for _, t in b.eol_comments)
    if sorted(" ".join(ca).split()) != sorted(" ".join(cb).split()):
        return "comments would be lost"
    return None
