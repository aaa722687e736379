"""Golden files: the human diagnostics of broken bundles and the generated code of a rule.

The texts are compared with ``golden/*.txt``. To rewrite them after an intended change, run
``UPDATE_GOLDEN=1 pytest tests/core/test_core_golden.py`` and review the diff. Absolute paths are
replaced by ``<fixtures>`` so the files do not depend on where the repository lives.
"""

from __future__ import annotations

import os
import re

import pytest

from core_helpers import FIXTURES, GOLDEN, relativize
from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.diagnostics import PolicyError, render_human, render_json
from govsup.engine.evaluate import prepare

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

BROKEN = {
    # name: the codes the bundle must report (a guard against a golden file of the wrong error)
    "yaml_syntax": ["E001"],
    "unknown_key": ["E005", "E004"],
    "dsl_fullwidth": ["E020"],
    "type_error": ["E027", "E027"],
}


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


def _diagnostics(name: str):
    with pytest.raises(PolicyError) as ei:
        prepare(load_bundle(FIXTURES / "broken" / name, policy_roots()))
    return ei.value.diagnostics


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_bundle_renders_as_golden(name):
    diags = _diagnostics(name)
    assert [d.code for d in diags] == BROKEN[name]
    text = relativize(render_human(diags), (FIXTURES, "<fixtures>"))
    assert str(FIXTURES) not in text
    assert_golden(f"broken_{name}.txt", text + "\n")


def test_human_rendering_has_location_source_line_and_caret():
    diags = _diagnostics("dsl_fullwidth")
    text = render_human(diags).splitlines()
    d = diags[0]
    assert text[0] == f"{d.loc.file}:8:8: error[E020] unexpected character `（`"
    assert text[1] == "  = dsl syntax error / 规则语法错误"
    assert text[2] == "   8 |   when （c.completed_on ?? as_of + 1 day) > limit"
    # the caret sits under the mark: 7 columns of source before it
    assert text[3] == "     | " + " " * 7 + "^"
    assert text[-1] == "1 error(s), 0 warning(s)"


def test_caret_width_counts_wide_characters():
    # `titel` is 5 columns wide; the unknown key is underlined whole
    text = render_human(_diagnostics("unknown_key"))
    assert "   3 | titel: 测试\n     | ^^^^^\n  help: did you mean `title`?" in text


def test_json_rendering_of_the_same_diagnostics():
    import json

    doc = json.loads(render_json(_diagnostics("type_error")))
    assert doc["total"] == 2
    first = doc["diagnostics"][0]
    assert (first["code"], first["line"], first["col"]) == ("E027", 10, 12)
    assert first["title_zh"] == "类型错误"
    assert first["file"].endswith("broken/type_error/rules/r.rule")


def test_generated_code_of_a_rule_is_golden():
    program = prepare(load_bundle(FIXTURES / "mini", policy_roots()))
    rule = next(r for r in program.rules if r.rule.id == "T-1/red")
    src = rule.source
    # no policy text is pasted into the code: DSL names become generated identifiers (v0, …)
    for name in ("c", "limit", "pauses", "x"):
        assert re.search(rf"(?<!['\w]){name}(?![\w'])", src) is None, name
    assert "v0" in src and "v0.get('completed_on')" in src
    compile(src, "<golden>", "exec")
    assert_golden("compiled_mini_T-1_red.py.txt", src)
