"""Bundles and forks: the chain root → mid → leaf (``fixtures/forks``), overrides, replaced and
disabled rules, added levels, and the located errors of broken bundles (E004, E011–E014, E031).

Expected dates are hand-computed from the 2024 calendar: 国庆 10-01 (Tue) .. 10-07 (Mon) off,
make-up working days Sun 09-29 and Sat 10-12; no holiday between 06-11 and 09-14.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from core_helpers import FIXTURES, edit, finding_tuple
from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.diagnostics import PolicyError
from govsup.engine.evaluate import prepare
from govsup.engine.render import render
from govsup.engine.testing import run_tests

FORKS = FIXTURES / "forks"
D = dt.date
AS_OF = D(2024, 12, 31)

FACTS = {
    "cases": [
        {"id": "A", "accepted_on": "2024-06-28", "days": 5},
        {"id": "B", "accepted_on": "2024-09-23", "days": 5, "fee_kind": "咨询费"},
        {"id": "C", "accepted_on": "2024-10-08", "days": 20},
    ]
}


def _roots(root: Path = FORKS):
    return policy_roots((root,))


@pytest.fixture(scope="module")
def programs():
    return {name: prepare(load_bundle(name, _roots())) for name in ("root", "same", "mid", "leaf")}


def _findings(program):
    return sorted(finding_tuple(f) for f in program.evaluate(FACTS, AS_OF).findings)


def _errors(bundle: str, root: Path) -> list:
    with pytest.raises(PolicyError) as ei:
        prepare(load_bundle(bundle, _roots(root)))
    return ei.value.diagnostics


@pytest.fixture
def forks_copy(tmp_path):
    """A private copy of the fork fixtures, to break one file per test."""
    dest = tmp_path / "forks"
    shutil.copytree(FORKS, dest)
    shutil.copytree(FIXTURES / "outside", tmp_path / "outside")
    return dest


# ------------------------------------------------------------------------------ the chain


def test_chain_is_resolved_root_first(programs):
    leaf = programs["leaf"].bundle
    assert [layer.name for layer in leaf.chain] == ["root", "mid", "leaf"]
    assert leaf.name == "leaf" and leaf.version == "2"
    # extends by name (mid → root) and by relative path (leaf → ../mid)
    assert leaf.chain[2].extends == "../mid" and leaf.chain[1].extends == "root"
    assert set(leaf.clauses) == {"F-1", "F-2", "M-1"}
    assert leaf.clauses["M-1"].defined_in == "mid"


def test_root_findings(programs):
    # limit 5, warn 2. A: Fri 06-28 + 5 → 07-01..07-05, red 07-06; countdown 3rd = 07-03.
    # B: Mon 09-23 + 5 → 09-24, 09-25, 09-26, 09-27, 09-29 (make-up): red 09-30; countdown 09-26.
    # C: Tue 10-08 + 5 → 10-09, 10-10, 10-11, 10-12 (make-up), 10-14: red 10-15; countdown 10-11.
    assert _findings(programs["root"]) == sorted([
        ("R-1", "A", "red_card", D(2024, 7, 6), "open", None),
        ("R-2", "A", "warning", D(2024, 7, 3), "open", None),
        ("R-1", "B", "red_card", D(2024, 9, 30), "open", None),
        ("R-2", "B", "warning", D(2024, 9, 26), "open", None),
        ("R-3", "B", "notice", D(2024, 9, 23), "open", None),
        ("R-1", "C", "red_card", D(2024, 10, 15), "open", None),
        ("R-2", "C", "warning", D(2024, 10, 11), "open", None),
    ])


def test_fork_without_changes_evaluates_byte_identically(programs):
    root, same = programs["root"], programs["same"]
    assert [layer.name for layer in same.bundle.chain] == ["root", "same"]
    facts = {"cases": FACTS["cases"] + [{"id": "D", "accepted_on": "2024-10-08", "days": 1,
                                         "completed_on": "2024-10-30"}]}
    a = render(root.evaluate(facts, AS_OF), "json")
    b = render(same.evaluate(facts, AS_OF), "json")
    assert b.count('"bundle": "same"') == 1  # only the evaluation's own name differs
    assert b.replace('"bundle": "same"', '"bundle": "root"') == a
    assert render(same.evaluate(facts, AS_OF), "jsonl") == render(root.evaluate(facts, AS_OF), "jsonl")


def test_mid_overrides_a_parameter_whole_and_replaces_a_rule(programs):
    mid = programs["mid"]
    b = mid.bundle
    p = b.params["warn_days"]
    assert [(v.start, v.value, v.origin) for v in p.values] == [
        (D(2019, 1, 1), 1, "mid"), (D(2024, 10, 1), 3, "mid")]
    assert p.defined_in == "root" and b.overridden_params == {"warn_days": "mid"}
    assert b.replaced == {"R-1": "mid"} and b.rule_origin["R-1"] == "mid"
    assert b.rule_origin["R-2"] == "root"
    # R-1 is now mid's (a warning). R-2: warn 1 before 10-01 → A: 4th working day 07-04,
    # B: 4th = 09-27; C (ref 10-08): warn 3 → 2nd working day = 10-10.
    assert _findings(mid) == sorted([
        ("R-1", "A", "warning", D(2024, 7, 6), "open", None),
        ("R-2", "A", "warning", D(2024, 7, 4), "open", None),
        ("R-1", "B", "warning", D(2024, 9, 30), "open", None),
        ("R-2", "B", "warning", D(2024, 9, 27), "open", None),
        ("R-3", "B", "notice", D(2024, 9, 23), "open", None),
        ("R-1", "C", "warning", D(2024, 10, 15), "open", None),
        ("R-2", "C", "warning", D(2024, 10, 10), "open", None),
    ])
    ev = mid.evaluate(FACTS, AS_OF)
    r1 = [f for f in ev.findings if f.rule == "R-1"]
    assert {f.bundle for f in r1} == {"mid"} and r1[0].message.startswith("中间分支")
    assert r1[0].clauses == ["F-1", "M-1"]
    assert {f.bundle for f in ev.findings if f.rule == "R-2"} == {"root"}


def test_leaf_overrides_from_a_date_disables_and_adds_a_level(programs):
    leaf = programs["leaf"]
    b = leaf.bundle
    p = b.params["limit_days"]
    assert [(v.start, v.value, v.origin) for v in p.values] == [
        (D(2019, 1, 1), 5, "root"), (D(2024, 7, 1), 3, "leaf")]
    assert p.value_on(D(2024, 6, 30)) == 5 and p.value_on(D(2024, 7, 1)) == 3
    assert b.overridden_params == {"warn_days": "mid", "limit_days": "leaf"}
    assert b.disabled == {"R-3": ("本地不收费", "leaf")}
    assert "R-3" not in {r.rule.id for r in leaf.rules}
    assert b.levels["manual_review"].name == "人工监察"
    assert b.levels["manual_review"].defined_in == "leaf" and b.levels["warning"].defined_in == "root"
    # limit: A (ref 06-28) 5 → red 07-06; B, C (ref after 07-01) 3: B 09-24..09-26 → 09-27,
    # C 10-09..10-11 → 10-12. warn: A 1 → 4th working day 07-04; B 1 → 2nd = 09-25;
    # C 3 → 3 − 3 = 0 → the accepted date 10-08. L-1: C has 20 days > 10.
    assert _findings(leaf) == sorted([
        ("R-1", "A", "warning", D(2024, 7, 6), "open", None),
        ("R-2", "A", "warning", D(2024, 7, 4), "open", None),
        ("R-1", "B", "warning", D(2024, 9, 27), "open", None),
        ("R-2", "B", "warning", D(2024, 9, 25), "open", None),
        ("R-1", "C", "warning", D(2024, 10, 12), "open", None),
        ("R-2", "C", "warning", D(2024, 10, 8), "open", None),
        ("L-1", "C", "manual_review", D(2024, 10, 8), "open", None),
    ])


def test_inherited_bundle_tests_skip_what_the_fork_changed(programs):
    root = run_tests(programs["root"])
    assert [(r.name, r.passed, r.skipped) for r in root] == [
        ("late case", True, ""), ("unlisted fee kind", True, "")]
    same = run_tests(programs["same"])
    assert all(r.passed and not r.skipped for r in same) and len(same) == 2
    leaf = run_tests(programs["leaf"])
    assert [(r.name, r.passed, bool(r.skipped)) for r in leaf] == [
        ("late case", True, True), ("unlisted fee kind", True, True)]
    assert "changed rule" in leaf[0].skipped


# ------------------------------------------------------------------------------ fork errors


def test_redefining_a_parent_rule_without_replace_is_e013(forks_copy):
    edit(forks_copy, "mid/bundle.yaml", "replace: [R-1]\n", "")
    diags = _errors("mid", forks_copy)
    assert [(d.code, Path(d.loc.file).relative_to(forks_copy).as_posix(), d.loc.line, d.loc.col)
            for d in diags] == [("E013", "mid/rules/r.rule", 1, 6)]
    assert diags[0].message == "rule `R-1` is already defined by bundle `root`"
    assert "list it in bundle.yaml under `replace:`" in diags[0].help


def test_replace_of_a_rule_no_file_defines_is_e014(forks_copy):
    edit(forks_copy, "mid/bundle.yaml", "replace: [R-1]", "replace: [R-1, R-2]")
    diags = _errors("mid", forks_copy)
    assert [(d.code, d.loc.line, d.loc.col) for d in diags] == [("E014", 7, 16)]
    assert "`replace` names rule `R-2` but no rule file of this bundle defines it" in diags[0].message


def test_replace_of_a_rule_the_parent_lacks_is_e014(forks_copy):
    edit(forks_copy, "mid/bundle.yaml", "replace: [R-1]", "replace: [R-1, R-9]")
    (forks_copy / "mid/rules/r9.rule").write_text(
        'rule R-9 {\n  cites F-1\n  level notice\n  on as_of\n}\n', encoding="utf-8")
    diags = _errors("mid", forks_copy)
    assert [(d.code, Path(d.loc.file).name, d.loc.line, d.loc.col) for d in diags] == [
        ("E014", "r9.rule", 1, 6)]
    assert "replaces nothing" in diags[0].message


def test_disabling_an_unknown_rule_is_e014(forks_copy):
    edit(forks_copy, "leaf/bundle.yaml", "{rule: R-3,", "{rule: R-4,")
    diags = _errors("leaf", forks_copy)
    assert [(d.code, Path(d.loc.file).name, d.loc.line, d.loc.col) for d in diags] == [
        ("E014", "bundle.yaml", 6, 5)]
    assert diags[0].message == "cannot disable unknown rule `R-4`"
    assert "did you mean `R-" in diags[0].help


def test_disable_needs_a_reason(forks_copy):
    edit(forks_copy, "leaf/bundle.yaml", "{rule: R-3, reason: 本地不收费}", "{rule: R-3, reason: \"\"}")
    diags = _errors("leaf", forks_copy)
    assert [d.code for d in diags] == ["E003"]
    assert (diags[0].loc.line, diags[0].loc.col) == (6, 17)  # the `reason` key


def test_redefining_a_level_or_parameter_in_a_fork_is_e013(forks_copy):
    (forks_copy / "leaf/levels.yaml").write_text(
        "levels:\n  manual_review: {name: 人工监察, severity: 40}\n"
        "  warning: {name: 警告, severity: 31}\n", encoding="utf-8")
    (forks_copy / "leaf/parameters/q.yaml").write_text(
        "parameters:\n  warn_days:\n    title: x\n    type: int\n    clause: F-1\n"
        "    source: x\n    values:\n      - {from: 2020-01-01, value: 1}\n", encoding="utf-8")
    diags = _errors("leaf", forks_copy)
    got = [(d.code, Path(d.loc.file).name, d.loc.line, d.loc.col, d.message) for d in diags]
    assert got == [
        ("E013", "levels.yaml", 3, 3, "level `warning` is already defined by bundle `root`"),
        ("E013", "q.yaml", 2, 3, "parameter `warn_days` is already defined by bundle `root`"),
    ]
    assert "overrides:" in diags[1].help


def test_override_of_an_unknown_parameter_is_e023(forks_copy):
    edit(forks_copy, "mid/parameters/p.yaml", "  warn_days:", "  warn_dayz:")
    diags = _errors("leaf", forks_copy)
    assert [(d.code, d.loc.line, d.loc.col) for d in diags] == [("E023", 2, 3)]
    assert diags[0].help == "did you mean `warn_days`?"


def test_cycle_is_e011(forks_copy):
    diags = _errors("cycle_a", forks_copy)
    assert [(d.code, Path(d.loc.file).parent.name, d.loc.line, d.loc.col) for d in diags] == [
        ("E011", "cycle_a", 4, 1)]
    assert "cycle_a → cycle_b → cycle_a" in diags[0].message


def test_extends_escaping_the_policy_roots_is_e012(forks_copy):
    assert (forks_copy / "escape/../../outside/bundle.yaml").resolve().is_file()
    diags = _errors("escape", forks_copy)
    assert [(d.code, d.loc.line, d.loc.col) for d in diags] == [("E012", 4, 1)]
    assert diags[0].message == "`../../outside` points outside the policy roots"
    assert str(forks_copy.resolve()) in diags[0].help


def test_unknown_bundle_is_e010_with_did_you_mean():
    with pytest.raises(PolicyError) as ei:
        load_bundle("lef", _roots())
    d = ei.value.diagnostics[0]
    assert d.code == "E010" and d.help == "did you mean `leaf`?"


# unknown keys anywhere in a bundle's YAML: (bundle, file, old, new, line, col, key, help)
UNKNOWN_KEYS = [
    ("root", "root/bundle.yaml", "title: 根规则包\n", "title: 根规则包\ntitel: 重复\n", 5, 1,
     "titel", "did you mean `title`?"),
    ("root", "root/bundle.yaml", "number: 测试", "numbr: 测试", 6, 19, "numbr",
     "did you mean `number`?"),
    ("root", "root/bundle.yaml", "F-1: {article: 第一条,", "F-1: {article: 第一条, artcle: x,", 8, 23,
     "artcle", "did you mean `article`?"),
    ("root", "root/levels.yaml", "severity: 30}", "severity: 30, colour: red}", 4, 37, "colour",
     "allowed keys here: `description`, `name`, `severity`"),
    ("root", "root/parameters/p.yaml", "    unit: workdays\n", "    units: workdays\n", 5, 5,
     "units", "did you mean `unit`?"),
    ("root", "root/parameters/p.yaml", "value: 2}", "value: 2, note: x}", 9, 38, "note",
     "allowed keys here: `from`, `reference`, `source`, `value`"),
    ("root", "root/entities/case.yaml", "key: id", "keys: id", 4, 1, "keys", "did you mean `key`?"),
    ("mid", "mid/parameters/p.yaml", "    source: 中间", "    sourse: 中间", 6, 5, "sourse",
     "did you mean `source`?"),
    ("leaf", "leaf/bundle.yaml", "reason: 本地不收费}", "reason: 本地不收费, by: 张三}", 6, 32, "by",
     "allowed keys here: `reason`, `rule`"),
    ("leaf", "leaf/levels.yaml", "severity: 40}", "severity: 40, sevrity: 1}", 2, 45, "sevrity",
     "did you mean `severity`?"),
]


@pytest.mark.parametrize("bundle,rel,old,new,line,col,key,hint", UNKNOWN_KEYS,
                         ids=[f"{u[1]}:{u[6]}" for u in UNKNOWN_KEYS])
def test_unknown_key_anywhere_is_e004(forks_copy, bundle, rel, old, new, line, col, key, hint):
    path = edit(forks_copy, rel, old, new)
    diags = _errors(bundle, forks_copy)
    e004 = [d for d in diags if d.code == "E004"]
    assert len(e004) == 1, diags
    d = e004[0]
    assert (Path(d.loc.file), d.loc.line, d.loc.col) == (path, line, col)
    assert d.message.startswith(f"unknown key `{key}` in ")
    assert d.help == hint
    # the line:col really is the key
    src_line = path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert src_line[col - 1:].startswith(key)


def test_unknown_key_in_bundle_tests_is_e004(forks_copy, programs):
    path = edit(forks_copy, "root/tests/root.yaml", "  - name: unlisted fee kind\n",
                "  - name: unlisted fee kind\n    expct: []\n")
    program = prepare(load_bundle("root", _roots(forks_copy)))
    with pytest.raises(PolicyError) as ei:
        run_tests(program)
    d = ei.value.diagnostics[0]
    assert (d.code, Path(d.loc.file), d.loc.line, d.loc.col) == ("E004", path, 12, 5)
    assert d.help == "did you mean `expect`?"


# wrong parameter values: (bundle, file, old, new, line, col, message)
BAD_VALUES = [
    ("root", "root/parameters/p.yaml", "value: [工本费]", "value: [工本费, 3]", 25, 28,
     "parameter `fee_kinds`: list items must be text: 3"),
    ("root", "root/parameters/p.yaml", "value: [工本费]", "value: 工本费", 25, 28,
     "parameter `fee_kinds`: a list is expected"),
    ("root", "root/parameters/p.yaml", "{kind: 工本费, cap: 10}", "{kind: 工本费, cap: 十}", 34, 9,
     "parameter `fee_caps`: column `cap` must be number: '十'"),
    ("root", "root/parameters/p.yaml", "{kind: 工本费, cap: 10}", "{kind: 工本费}", 34, 9,
     "parameter `fee_caps`: row is missing column `cap`"),
    ("root", "root/parameters/p.yaml", "{kind: 工本费, cap: 10}", "{kind: 工本费, cap: 10, cpa: 1}", 34, 9,
     "parameter `fee_caps`: unknown column `cpa` (did you mean `cap`?)"),
    ("root", "root/parameters/p.yaml", "          - {kind: 工本费, cap: 10}", "          kind: 工本费",
     34, 9, "parameter `fee_caps`: a list of rows (mappings) is expected"),
    ("root", "root/parameters/p.yaml", "value: 2}", "value: true}", 9, 28,
     "parameter `warn_days`: a value of type int is expected, not True"),
    ("leaf", "leaf/parameters/p.yaml", "value: 3", "value: 三", 4, 5,
     "parameter `limit_days`: a value of type int is expected, not '三'"),
]


@pytest.mark.parametrize("bundle,rel,old,new,line,col,message", BAD_VALUES,
                         ids=[u[6].split(":")[1].strip()[:30] for u in BAD_VALUES])
def test_parameter_value_of_the_wrong_type_is_e031(forks_copy, bundle, rel, old, new, line, col,
                                                   message):
    path = edit(forks_copy, rel, old, new)
    diags = _errors(bundle, forks_copy)
    assert [(d.code, Path(d.loc.file), d.loc.line, d.loc.col, d.message) for d in diags] == [
        ("E031", path, line, col, message)]


def test_data_gap_level_is_required_by_require(forks_copy):
    (forks_copy / "root/rules/g.rule").write_text(
        "rule G {\n  cites F-1\n  for c in cases\n  require c.completed_on\n  level notice\n"
        "  on c.completed_on\n}\n", encoding="utf-8")
    edit(forks_copy, "root/levels.yaml", "  data_gap: {name: 数据缺失, severity: 5}\n", "")
    diags = _errors("root", forks_copy)
    assert [(d.code, d.message) for d in diags] == [
        ("E024", "rules use `require` but the bundle defines no `data_gap` level")]


@pytest.mark.parametrize("bundle,rel,old", [
    ("root", "root/parameters/p.yaml", "      - {from: 2019-01-01, value: 2}\n"),
    ("mid", "mid/parameters/p.yaml", "      - {from: 2024-10-01, value: 3}\n"),
], ids=["parameters", "overrides"])
def test_two_values_from_the_same_date_is_e013(forks_copy, bundle, rel, old):
    # in a fork's `overrides: … values:` as well as in `parameters:` (which value would win
    # would otherwise depend on the order of the list)
    dup = old.replace("value: 2}", "value: 4}").replace("value: 3}", "value: 4}")
    assert dup != old
    path = edit(forks_copy, rel, old, old + dup)
    diags = _errors(bundle, forks_copy)
    assert [(d.code, Path(d.loc.file), d.message.split(" has ")[1]) for d in diags] == [
        ("E013", path, "two values from " + old.split("from: ")[1][:10])]
    n = path.read_text(encoding="utf-8").splitlines().index(old.rstrip("\n")) + 2
    assert diags[0].loc.line == n


def test_a_fork_redefining_a_rule_its_parent_disabled_enables_it_again(tmp_path):
    """leaf disables R-3; a fork of leaf that redefines R-3 (listed under `replace:`) gets it back,
    rather than a redefinition that silently never runs."""
    dest = tmp_path / "forks"
    shutil.copytree(FORKS, dest)
    leaf2 = dest / "leaf2"
    (leaf2 / "rules").mkdir(parents=True)
    (leaf2 / "bundle.yaml").write_text("name: leaf2\nversion: '1'\ntitle: 再分支\n"
                                       "extends: ../leaf\nreplace: [R-3]\n", encoding="utf-8")
    src = (FORKS / "root" / "rules").glob("*.rule")
    text = next(iter(src)).read_text(encoding="utf-8")
    body = text[text.index('rule R-3 "收费种类"'):]
    body = body[:body.index("\n}\n") + 3]
    (leaf2 / "rules" / "r3.rule").write_text(body, encoding="utf-8")
    b = load_bundle("leaf2", _roots(dest))
    assert "R-3" not in b.disabled and b.replaced["R-3"] == "leaf2"
    assert "R-3" in {r.rule.id for r in prepare(b).rules}
    assert "R-3" in load_bundle("leaf", _roots(dest)).disabled
