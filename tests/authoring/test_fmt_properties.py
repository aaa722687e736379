"""Properties of `policy fmt` (dsl/formatter.py) on generated programs.

* parse(format(ast)) == ast for random rule ASTs (lets, whens with nested expressions, lambdas,
  durations, templates with holes, Chinese identifiers);
* non-canonical text (statements shuffled, `title` statements, odd spacing and line breaks,
  comments everywhere): parse(format(x)) == parse(x), every comment kept;
* format is idempotent.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govsup.dsl import ast as A
from govsup.dsl.format import _quote
from govsup.dsl.format import fmt_expr as plain_expr
from govsup.dsl.formatter import format_module, format_text
from govsup.dsl.parser import parse_module

from .dsl_strategies import modules

# a quick run by default; GOVSUP_FMT_EXAMPLES=3000 for a long hunt
SETTINGS = settings(max_examples=int(os.environ.get("GOVSUP_FMT_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _comments(mod: A.Module):
    return sorted(t for _, t in mod.comments), sorted(" ".join(t for _, t in mod.eol_comments).split())


@SETTINGS
@given(modules)
def test_format_of_ast_parses_back_to_it(mod):
    text = format_module(mod)
    back = parse_module(text, mod.file)
    assert back == mod, text
    assert format_module(back) == text


# ---------------------------------------------------------------- non-canonical sources


def _clause(c: A.ClauseRef) -> str:
    return _quote(c.id)  # always quoted: the formatter must unquote plain ids


def _scramble(rule: A.Rule, draw) -> str:
    """The rule as an author might write it: statements in any order (steps keep their order),
    the title as a statement, redundant parentheses, line breaks inside statements."""
    sep = lambda: draw(st.sampled_from([" ", "\n", "\n\n    ", "\t", "  \n"]))  # noqa: E731

    def ex(e):
        s = plain_expr(e)
        return f"( {s} )" if draw(st.booleans()) else s

    singles = [f"cites{sep()}" + f",{sep()}".join(_clause(c) for c in rule.cites),
               "level " + ", ".join(lv.key for lv in rule.levels), f"on {ex(rule.on)}"]
    title_stmt = rule.title is not None and draw(st.booleans())
    if title_stmt:
        singles.append(f"title {_quote(rule.title)}")
    for kw, v in (("resolved", rule.resolved), ("key", rule.key), ("ref", rule.ref)):
        if v is not None:
            singles.append(f"{kw}{sep()}{ex(v)}")
    if rule.message is not None:
        singles.append("message " + plain_expr(rule.message))
    steps = []
    for s in rule.steps:
        if isinstance(s, A.For):
            steps.append(f"for {s.var} in{sep()}{ex(s.source)}")
        elif isinstance(s, A.Let):
            steps.append(f"let {s.name} ={sep()}{ex(s.value)}")
        elif isinstance(s, A.Require):
            steps.append("require " + f",{sep()}".join(ex(f) for f in s.facts))
        else:
            steps.append(f"when {ex(s.cond)}")
    # interleave: a random permutation of the singles merged into the ordered steps
    order = draw(st.permutations(singles))
    out = list(steps)
    for s in order:
        out.insert(draw(st.integers(0, len(out))), s)
    head = f"rule {rule.id}"
    if rule.title is not None and not title_stmt:
        head += " " + _quote(rule.title)
    return head + " {" + sep() + sep().join(out) + sep() + "}"


_COMMENT = st.lists(st.sampled_from(list("ab 中文#\"{}：，x1")), max_size=10).map(
    lambda s: ("# " + "".join(s)).rstrip())


@st.composite
def messy_sources(draw):
    mod = draw(modules)
    text = ("\n" * draw(st.integers(0, 2))).join(_scramble(r, draw) for r in mod.rules)
    # comments: whole-line comments anywhere between lines, end-of-line comments after code
    lines = text.split("\n") if text else []
    out = []
    for ln in lines:
        for _ in range(draw(st.integers(0, 1))):
            out.append(draw(st.sampled_from(["", "  ", "\t"])) + draw(_COMMENT))
        if ln.strip() and draw(st.integers(0, 3)) == 0:
            ln = ln + draw(st.sampled_from([" ", "   "])) + draw(_COMMENT)
        out.append(ln)
    for _ in range(draw(st.integers(0, 2))):
        out.insert(draw(st.integers(0, len(out))), "")
    if draw(st.booleans()):
        out.append(draw(_COMMENT))
    return "\n".join(out) + draw(st.sampled_from(["", "\n", "\n\n"]))


@SETTINGS
@given(messy_sources())
def test_format_keeps_meaning_and_comments_and_is_idempotent(text):
    before = parse_module(text, "gen.rule")
    formatted = format_text(text, "gen.rule")
    after = parse_module(formatted, "gen.rule")
    assert after == before, formatted
    assert _comments(after) == _comments(before), formatted
    assert format_text(formatted, "gen.rule") == formatted
