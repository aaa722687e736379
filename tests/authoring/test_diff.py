"""`policy diff` / engine.diff: parameters by date, rules, levels, clauses, entities."""

from __future__ import annotations

import json
import shutil

from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.diff import diff_bundles


def _changes(result) -> dict:
    data = json.loads(result.stdout)
    return {(c["kind"], c["action"], c["name"]): c["detail"] for c in data["changes"]}


def test_identical_bundles_exit_0(roots, run):
    shutil.copytree(roots / "mini", roots.parent / "copy" / "mini")
    r = run("diff", roots / "mini", roots.parent / "copy" / "mini")
    assert r.exit_code == 0, r.output
    assert "无差异 no differences" in r.stdout
    r = run("diff", "mini", "mini", "--json", "--policy-root", roots)
    assert r.exit_code == 0 and json.loads(r.stdout)["identical"] is True


def test_parent_and_fork(roots, run):
    r = run("diff", "mini", "minifork", "--json", "--policy-root", roots)
    assert r.exit_code == 1
    ch = _changes(r)
    p = ch[("param", "changed", "warn_days")]
    assert p["values"] == [{"from": "2025-01-01", "action": "added", "new": 3, "by": "minifork",
                            "source": "所剩时限小于等于3个工作日"}]
    assert ("rule", "replaced", "T-1/red") in ch
    assert "+  on limit + 1 workday" in ch[("rule", "replaced", "T-1/red")]["diff"]
    assert ch[("rule", "disabled", "T-1/warn")]["reason"].startswith("本地由窗口人工提醒")
    assert ("rule", "added", "T-2") in ch
    assert ("level", "added", "notice") in ch
    assert ("clause", "added", "T-2") in ch
    assert ("document", "added", "分支测试文件 分〔2025〕2号") in ch
    # the other direction reads the other way round
    r = run("diff", "minifork", "mini", "--json", "--policy-root", roots)
    back = _changes(r)
    assert ("rule", "enabled", "T-1/warn") in back and ("rule", "removed", "T-2") in back
    assert ("level", "removed", "notice") in back


def test_text_output_has_chinese_and_english_labels(roots, run):
    r = run("diff", "mini", "minifork", "--policy-root", roots)
    assert r.exit_code == 1
    out = r.stdout
    for s in ("参数 parameter", "[修改 changed] warn_days", "+ 自 from 2025-01-01: 3",
              "[停用 disabled] T-1/warn", "理由 reason:", "[改写 replaced] T-1/red",
              "[新增 added] T-2", "结果等级 level", "7 处差异 difference(s)"):
        assert s in out, s


def test_two_versions_of_one_bundle(roots, run):
    old = roots / "mini"
    new = roots.parent / "v2" / "mini"
    shutil.copytree(old, new)
    p = new / "parameters" / "p.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace(
        "      - {from: 2019-01-01, value: 2}",
        "      - {from: 2019-01-01, value: 1}\n      - {from: 2026-07-01, value: 3}"),
        encoding="utf-8")
    e = new / "entities" / "case.yaml"
    e.write_text(e.read_text(encoding="utf-8").replace(
        "    days: {type: integer}", "    days: {type: integer}\n    channel: {type: string}"),
        encoding="utf-8")
    lv = new / "levels.yaml"
    lv.write_text(lv.read_text(encoding="utf-8").replace("severity: 60", "severity: 70"),
                  encoding="utf-8")
    rule = new / "rules" / "r.rule"
    text = rule.read_text(encoding="utf-8")
    # a comment or a layout change is not a difference; a changed condition is
    rule.write_text("# 新注释\n" + text.replace("  cites T-1\n", "  cites   T-1\n", 1),
                    encoding="utf-8")
    r = run("diff", old, new, "--json")
    ch = _changes(r)
    assert r.exit_code == 1
    assert set(ch) == {("param", "changed", "warn_days"), ("entity", "changed", "cases"),
                       ("level", "changed", "red_card")}
    vals = ch[("param", "changed", "warn_days")]["values"]
    assert [(v["from"], v["action"]) for v in vals] == [("2019-01-01", "changed"),
                                                         ("2026-07-01", "added")]
    assert vals[0]["old"] == 2 and vals[0]["new"] == 1
    assert ch[("entity", "changed", "cases")]["fields_added"] == ["channel"]
    assert ch[("level", "changed", "red_card")]["fields"] == {"severity": {"old": 60, "new": 70}}
    rule.write_text(text.replace("level red_card", "level warning"), encoding="utf-8")
    ch = _changes(run("diff", old, new, "--json"))
    assert ("rule", "replaced", "T-1/red") in ch


def test_load_error_exits_3(roots, run):
    (roots / "minifork" / "levels.yaml").write_text("levels: {notice: {name: 提示}}\n",
                                                    encoding="utf-8")
    r = run("diff", "mini", "minifork", "--policy-root", roots)
    assert r.exit_code == 3
    assert "E005" in r.stderr
    assert run("diff", "mini", "nope", "--policy-root", roots).exit_code == 3


def test_library_diff_is_sorted_by_kind():
    roots = policy_roots(())
    a = load_bundle("henan", roots)
    d = diff_bundles(a, a)
    assert d.identical and d.to_json()["changes"] == []


def test_workflows_and_clause_dates_are_compared(tmp_path, run):
    """A copy of luan whose problem loop gains a state, moves a deadline, drops a guard, and
    whose LA-LOOP clauses take effect later: each shows up, and nothing else."""
    from govsup.engine.bundle import shipped_root

    src = shipped_root() / "luan"
    dst = tmp_path / "v2" / "luan"
    shutil.copytree(src, dst)
    shutil.copytree(shipped_root() / "calendar", tmp_path / "v2" / "calendar")
    wf = dst / "workflows" / "loop.yaml"
    text = wf.read_text(encoding="utf-8")
    text = text.replace("    deadline: e.deadline\n", "    deadline: e.deadline + 5 workdays\n")
    text = text.replace(
        "    guard: e.result is missing or e.result in param.evaluation_results\n", "")
    text = text.replace("  评价结果:\n", "  复核:\n    title: 复核\n  评价结果:\n")
    text += "  - from: 处理问题\n    to: 复核\n    title: 复核整改\n"
    wf.write_text(text, encoding="utf-8")
    man = dst / "bundle.yaml"
    m = man.read_text(encoding="utf-8")
    m = m.replace("clauses: [LA-SEL-*, LA-EXP-*, LA-LOOP-*, LA-7]",
                  "clauses: [LA-SEL-*, LA-EXP-*, LA-7]\n  - title: 修订\n"
                  "    in_force_from: 2023-01-01\n    clauses: [LA-LOOP-*]")
    man.write_text(m, encoding="utf-8")

    r = run("diff", src, dst, "--json")
    assert r.exit_code == 1, r.output
    ch = _changes(r)
    w = ch[("workflow", "replaced", "loop")]
    assert w["states_added"] == ["复核"]
    assert w["transitions_added"] == ["处理问题 → 复核"]
    assert w["transitions_changed"] == {
        "反馈问题 → 处理问题": {"deadline": {"old": "e.deadline",
                                     "new": "e.deadline + 5 workdays"}},
        "处理问题 → 评价结果": {"guard": {
            "old": "e.result is missing or e.result in param.evaluation_results", "new": None}}}
    for cid in ("LA-LOOP-1", "LA-LOOP-2"):
        assert ch[("clause", "changed", cid)]["fields"] == {
            "in_force_from": {"old": "2022-05-18", "new": "2023-01-01"}}
    assert {k[0] for k in ch} == {"workflow", "clause", "document"}
    out = run("diff", src, dst).stdout
    assert "流程 workflow (1)" in out
    assert '~ 反馈问题 → 处理问题 deadline: "e.deadline" → "e.deadline + 5 workdays"' in out
    assert '~ in_force_from: "2022-05-18" → "2023-01-01"' in out
