"""Parse DSL text into the AST.

Input: DSL source text and its file name. Output: :class:`govsup.dsl.ast.Module` (or an
expression, for ``parse_expr``). Syntax errors become :class:`PolicyError` with ``file:line:col``,
the tokens that were expected and a hint. The Lark grammar (``grammar.lark``, package data) is
loaded and the parser built once per process. Lark trees never leave this module.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (UnexpectedCharacters, UnexpectedEOF, UnexpectedInput,
                             UnexpectedToken, VisitError)

from ..engine.diagnostics import Diagnostic, PolicyError, did_you_mean
from ..engine.loc import Loc
from . import ast as A

KEYWORDS = ["rule", "cites", "title", "for", "key", "ref", "let", "require", "when", "level",
            "on", "resolved", "message"]

_TOKEN_NAMES = {
    "RBRACE": "`}`", "LBRACE": "`{`", "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`",
    "RSQB": "`]`", "COMMA": "`,`", "DOT": "`.`", "EQUAL": "`=`", "NAME": "a name",
    "STRING": "a string", "INT": "a number", "DECIMAL": "a number", "DATE": "a date",
    "RULE_ID": "an id", "CMP_OP": "a comparison", "ADD_OP": "`+`/`-`", "MUL_OP": "`*`/`/`",
    "DURATION_UNIT": "a unit (workdays, days, months, years)", "$END": "end of file",
    "MINUS": "`-`", "COLON": "`:`",
}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("govsup.dsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", start=["start", "expr"],
                propagate_positions=True, maybe_placeholders=True)


def _describe(tok_types) -> str:
    names = []
    for t in sorted(tok_types):
        if t.startswith("__ANON"):
            continue
        names.append(_TOKEN_NAMES.get(t, f"`{t.lower()}`" if t.isupper() else t))
    names = sorted(set(names))
    if len(names) > 8:
        names = names[:8] + ["..."]
    return ", ".join(names)


def _unescape(raw: str) -> str:
    body = raw[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(n, "\\" + n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class _ToAst(Transformer):
    def __init__(self, file: str, line0: int = 0, col0: int = 0):
        super().__init__(visit_tokens=True)
        self.file = file
        self.line0 = line0  # offsets for expressions parsed out of a message template
        self.col0 = col0
        self.errors: list = []  # structural errors of every rule (reported together)

    # -- locations
    def _loc_tok(self, tok: Token) -> Loc:
        line = tok.line + self.line0
        col = tok.column + (self.col0 if tok.line == 1 else 0)
        end_col = (tok.end_column + (self.col0 if tok.line == 1 else 0)) if tok.end_line == tok.line else 0
        return Loc(self.file, line, col, line if end_col else 0, end_col)

    def _loc_meta(self, meta) -> Loc:
        if getattr(meta, "empty", True):
            return Loc(self.file)
        line = meta.line + self.line0
        col = meta.column + (self.col0 if meta.line == 1 else 0)
        if meta.end_line == meta.line:
            end = meta.end_column + (self.col0 if meta.line == 1 else 0)
            return Loc(self.file, line, col, line, end)
        return Loc(self.file, line, col)

    # -- literals
    @v_args(meta=True)
    def int_lit(self, meta, c):
        return A.Lit(int(c[0]), self._loc_meta(meta))

    @v_args(meta=True)
    def dec_lit(self, meta, c):
        return A.Lit(float(c[0]), self._loc_meta(meta))

    @v_args(meta=True)
    def str_lit(self, meta, c):
        return A.Lit(_unescape(str(c[0])), self._loc_meta(meta))

    @v_args(meta=True)
    def date_lit(self, meta, c):
        loc = self._loc_meta(meta)
        try:
            return A.Lit(_dt.date.fromisoformat(str(c[0])), loc)
        except ValueError:
            raise PolicyError([Diagnostic("E020", f"`{c[0]}` is not a real date", loc,
                                          "write dates as yyyy-mm-dd")])

    @v_args(meta=True)
    def true_lit(self, meta, c):
        return A.Lit(True, self._loc_meta(meta))

    @v_args(meta=True)
    def false_lit(self, meta, c):
        return A.Lit(False, self._loc_meta(meta))

    @v_args(meta=True)
    def missing_lit(self, meta, c):
        return A.Lit(None, self._loc_meta(meta))

    @v_args(meta=True)
    def name(self, meta, c):
        return A.Name(str(c[0]), self._loc_meta(meta))

    @v_args(meta=True)
    def list_lit(self, meta, c):
        return A.ListLit(tuple(x for x in c if x is not None), self._loc_meta(meta))

    # -- compound expressions
    @v_args(meta=True)
    def field(self, meta, c):
        return A.Field(c[0], str(c[1]), self._loc_tok(c[1]))

    @v_args(meta=True)
    def index(self, meta, c):
        return A.Index(c[0], c[1], self._loc_meta(meta))

    @v_args(meta=True)
    def call(self, meta, c):
        return A.Call(str(c[0]), tuple(x for x in c[1:] if x is not None), self._loc_tok(c[0]))

    @v_args(meta=True)
    def lambda_(self, meta, c):
        return A.Lambda(str(c[0]), c[1], self._loc_tok(c[0]))

    @v_args(meta=True)
    def duration(self, meta, c):
        return A.Duration(c[0], A.UNITS[str(c[1])], self._loc_meta(meta))

    @v_args(meta=True)
    def neg(self, meta, c):
        return A.Unary("-", c[0], self._loc_meta(meta))

    @v_args(meta=True)
    def not_(self, meta, c):
        return A.Unary("not", c[0], self._loc_meta(meta))

    def _bin(self, op, meta, l, r, tok=None):
        return A.Binary(op, l, r, self._loc_tok(tok) if tok is not None else self._loc_meta(meta))

    @v_args(meta=True)
    def binop(self, meta, c):
        return self._bin(str(c[1]), meta, c[0], c[2], c[1])

    @v_args(meta=True)
    def compare(self, meta, c):
        return self._bin(str(c[1]), meta, c[0], c[2], c[1])

    @v_args(meta=True)
    def and_(self, meta, c):
        return self._bin("and", meta, c[0], c[1])

    @v_args(meta=True)
    def or_(self, meta, c):
        return self._bin("or", meta, c[0], c[1])

    @v_args(meta=True)
    def in_(self, meta, c):
        return self._bin("in", meta, c[0], c[1])

    @v_args(meta=True)
    def not_in(self, meta, c):
        return self._bin("not in", meta, c[0], c[1])

    @v_args(meta=True)
    def coalesce(self, meta, c):
        return self._bin("??", meta, c[0], c[1])

    @v_args(meta=True)
    def is_missing(self, meta, c):
        return A.IsMissing(c[0], False, self._loc_meta(meta))

    @v_args(meta=True)
    def is_present(self, meta, c):
        return A.IsMissing(c[0], True, self._loc_meta(meta))

    @v_args(meta=True)
    def if_(self, meta, c):
        return A.If(c[0], c[1], c[2], self._loc_meta(meta))

    # -- statements (returned as tagged tuples, assembled in rule_def)
    @v_args(meta=True)
    def clause_ref(self, meta, c):
        t = c[0]
        text = _unescape(str(t)) if t.type == "STRING" else str(t)
        return A.ClauseRef(text, self._loc_tok(t))

    def _span(self, meta) -> tuple[int, int]:
        if getattr(meta, "empty", True):
            return (0, 0)
        return (meta.line + self.line0, meta.end_line + self.line0)

    @v_args(meta=True)
    def cites(self, meta, c):
        return ("cites", tuple(c), self._loc_meta(meta), self._span(meta))

    @v_args(meta=True)
    def title(self, meta, c):
        return ("title", _unescape(str(c[0])), self._loc_meta(meta), self._span(meta))

    @v_args(meta=True)
    def for_(self, meta, c):
        return ("step", A.For(str(c[0]), c[1], self._loc_tok(c[0])), None, self._span(meta))

    @v_args(meta=True)
    def key(self, meta, c):
        return ("key", c[0], self._loc_meta(meta), self._span(meta))

    @v_args(meta=True)
    def ref(self, meta, c):
        return ("ref", c[0], self._loc_meta(meta), self._span(meta))

    @v_args(meta=True)
    def let(self, meta, c):
        return ("step", A.Let(str(c[0]), c[1], self._loc_tok(c[0])), None, self._span(meta))

    @v_args(meta=True)
    def require(self, meta, c):
        return ("step", A.Require(tuple(c), self._loc_meta(meta)), None, self._span(meta))

    @v_args(meta=True)
    def when(self, meta, c):
        return ("step", A.When(c[0], self._loc_meta(meta)), None, self._span(meta))

    @v_args(meta=True)
    def level(self, meta, c):
        return ("level", tuple(A.LevelRef(str(t), self._loc_tok(t)) for t in c),
                self._loc_meta(meta), self._span(meta))

    @v_args(meta=True)
    def on(self, meta, c):
        return ("on", c[0], self._loc_meta(meta), self._span(meta))

    @v_args(meta=True)
    def resolved(self, meta, c):
        return ("resolved", c[0], self._loc_meta(meta), self._span(meta))

    @v_args(meta=True)
    def message(self, meta, c):
        tok = c[0]
        return ("message", _template(tok, self.file, self._loc_tok(tok)), self._loc_meta(meta),
                self._span(meta))

    @v_args(meta=True)
    def rule_def(self, meta, c):
        rid_tok = c[0]
        rest = list(c[1:])
        title = None
        if rest and isinstance(rest[0], Token):
            title = _unescape(str(rest[0]))
            rest = rest[1:]
        elif rest and rest[0] is None:
            rest = rest[1:]
        loc = self._loc_tok(rid_tok)
        single: dict = {}
        steps = []
        errors = []
        spans = []
        for item in rest:
            kind, val, sloc, span = item
            spans.append((kind, span[0], span[1]))
            if kind == "step":
                steps.append(val)
                continue
            if kind == "title" and title is not None and "title" not in single:
                single["title"] = (val, sloc)
                errors.append(Diagnostic("E013", "rule has two titles", sloc,
                                         "keep either the quoted title after the id or `title`"))
                continue
            if kind in single:
                errors.append(Diagnostic("E013", f"`{kind}` is given twice in rule `{rid_tok}`",
                                         sloc, f"first given at {single[kind][1]}"))
                continue
            single[kind] = (val, sloc)
        if "title" in single and title is None:
            title = single["title"][0]
        for needed, hint in (("cites", "add `cites <clause id>` naming the RULEBOOK clause"),
                             ("level", "add `level <level key>`, e.g. `level warning`"),
                             ("on", "add `on <date expression>`: the date of the finding")):
            if needed not in single:
                errors.append(Diagnostic("E005", f"rule `{rid_tok}` has no `{needed}`", loc, hint))
        if errors:
            self.errors.extend(errors)
            return None
        msg = single.get("message", (None,))[0]
        return A.Rule(
            id=str(rid_tok), cites=single["cites"][0], title=title, steps=tuple(steps),
            levels=single["level"][0], on=single["on"][0],
            resolved=single.get("resolved", (None,))[0], message=msg,
            key=single.get("key", (None,))[0], ref=single.get("ref", (None,))[0], loc=loc,
            span=self._span(meta), stmt_spans=tuple(spans))

    def start(self, c):
        return [r for r in c if r is not None]


# Lark names the rule for `lambda` "lambda"; Python cannot, so map it.
setattr(_ToAst, "lambda", _ToAst.lambda_)


def _template(tok: Token, file: str, loc: Loc) -> A.Template:
    """Split a message string into text and ``{expr}`` holes (``{{``/``}}`` are braces)."""
    raw = str(tok)
    text = _unescape(raw)
    if "\\" in raw[1:-1]:
        # offsets into the unescaped text no longer match columns; locate holes at the string
        col_of = lambda i: 0  # noqa: E731
    else:
        col_of = lambda i: i + 1  # noqa: E731  (+1 for the opening quote)
    parts: list = []
    buf = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "{" and text[i + 1 : i + 2] == "{":
            buf.append("{")
            i += 2
            continue
        if ch == "}" and text[i + 1 : i + 2] == "}":
            buf.append("}")
            i += 2
            continue
        if ch == "{":
            j = text.find("}", i)
            if j < 0:
                raise PolicyError([Diagnostic("E020", "unclosed `{` in message", loc,
                                              "close the hole with `}`, or write `{{` for a brace")])
            src = text[i + 1 : j]
            off = col_of(i + 1)
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(_parse_expr_at(src, file, loc.line, loc.col + off if off else loc.col))
            i = j + 1
            continue
        if ch == "}":
            raise PolicyError([Diagnostic("E020", "stray `}` in message", loc,
                                          "write `}}` for a literal brace")])
        buf.append(ch)
        i += 1
    if buf:
        parts.append("".join(buf))
    return A.Template(tuple(parts), loc)


def _syntax_error(exc: UnexpectedInput, text: str, file: str, line0=0, col0=0) -> PolicyError:
    line = (exc.line if exc.line and exc.line > 0 else 1)
    col = (exc.column if exc.column and exc.column > 0 else 1)
    if line == 1:
        col += col0
    loc = Loc(file, line + line0, col)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            msg = "unexpected end of file"
            hint = "a `}` or an expression may be missing"
        else:
            msg = f"unexpected `{tok}`"
            exp = _describe(exc.expected)
            hint = f"expected {exp}" if exp else ""
            if tok.type in ("NAME", "RULE_ID") and str(tok) not in KEYWORDS:
                near = did_you_mean(str(tok), KEYWORDS)
                if near:
                    hint = f"{near} ({hint})" if hint else near
        end = loc.col + len(str(tok)) if tok.type != "$END" else 0
        loc = Loc(loc.file, loc.line, loc.col, loc.line if end else 0, end)
        return PolicyError([Diagnostic("E020", msg, loc, hint)])
    if isinstance(exc, UnexpectedCharacters):
        # Lark counts lines by "\n" only; str.splitlines also breaks at "\r", "\f", "\u2028" …
        lines = text.split("\n")
        src = lines[exc.line - 1] if 0 < exc.line <= len(lines) else ""
        ch = src[exc.column - 1] if 0 < exc.column <= len(src) else "?"
        hint = "expected " + _describe(exc.allowed) if exc.allowed else ""
        if ch in "“”‘’，：；（）":
            hint = "this is a full-width (Chinese) punctuation mark; use the ASCII one"
        return PolicyError([Diagnostic("E020", f"unexpected character `{ch}`", loc, hint)])
    if isinstance(exc, UnexpectedEOF):
        return PolicyError([Diagnostic("E020", "unexpected end of file", loc,
                                       "a `}` may be missing")])
    return PolicyError([Diagnostic("E020", "syntax error", loc)])


def _run(text: str, file: str, start: str, line0=0, col0=0):
    try:
        tree = _lark().parse(text, start=start)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file, line0, col0) from None
    try:
        t = _ToAst(file, line0, col0)
        out = t.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, PolicyError):
            raise exc.orig_exc from None
        raise
    if t.errors:
        raise PolicyError(t.errors)
    return out


def _parse_expr_at(src: str, file: str, line: int, col: int) -> A.Expr:
    return _run(src, file, "expr", line0=line - 1, col0=col - 1)


def parse_expr(text: str, file: str = "<expr>") -> A.Expr:
    """Parse one expression."""
    return _run(text, file, "expr")


def parse_module(text: str, file: str) -> A.Module:
    """Parse a DSL file into a :class:`Module` (all rules of the file)."""
    rules = _run(text, file, "start")
    comments = tuple((i + 1, ln.strip()) for i, ln in enumerate(text.split("\n"))
                     if ln.strip().startswith("#"))
    return A.Module(file, tuple(rules), comments, _eol_comments(text))


def _eol_comments(text: str) -> tuple[tuple[int, str], ...]:
    """Comments that follow code on the same line: (line, text from `#`). Strings never span
    lines, so a per-line scan that skips quoted text finds them."""
    out = []
    for i, ln in enumerate(text.split("\n")):
        if ln.strip().startswith("#") or "#" not in ln:
            continue
        in_str = False
        j = 0
        while j < len(ln):
            ch = ln[j]
            if in_str:
                if ch == "\\":
                    j += 2
                    continue
                if ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "#":
                out.append((i + 1, ln[j:].rstrip()))
                break
            j += 1
    return tuple(out)


def parse_file(path) -> A.Module:
    from ..engine.source import read_policy_text

    return parse_module(read_policy_text(path, "E020"), str(path))
