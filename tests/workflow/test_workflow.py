"""The workflow construct (docs/workflows.md) on the fixture bundle ``fixtures/loop``:
发现 → 反馈 (requires deadline, person) → 处理 (by the event's deadline) → 评价 (within
``fix_workdays`` = 5 working days of entering 处理), and 发现 → 不予受理 (guard: a listed ground).

Hand-computed dates (2024 calendar): 国庆 10-01 (Tue) .. 10-07 (Mon) off, make-up working days
Sun 09-29 and Sat 10-12. 2025: 元旦 01-01 off.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.diagnostics import PolicyError, render_human
from govsup.engine.evaluate import prepare
from govsup.engine.render import render

HERE = Path(__file__).resolve().parent
FIX = HERE / "fixtures"
D = dt.date


def ev(state, date, **kw):
    return {"state": state, "date": date, **kw}


P1 = {"id": "P1", "events": [  # listed out of date order on purpose: replay sorts by date
    ev("反馈", "2024-09-29", deadline="2024-10-08", person="张三"),
    ev("发现", "2024-09-27"),
    ev("处理", "2024-10-08"),
    ev("评价", "2024-10-15", result="满意"),
]}
P2 = {"id": "P2", "events": [ev("发现", "2024-03-01"), ev("处理", "2024-03-04"),
                             ev("反馈", "2024-03-05")]}
P3 = {"id": "P3", "events": [ev("反馈", "2024-04-01", deadline="2024-04-10", person="李四"),
                             ev("结案", "2024-04-02")]}
P4 = {"id": "P4", "events": [ev("发现", "2024-05-06"), ev("不予受理", "2024-05-07", ground="其他")]}
P5 = {"id": "P5", "events": [ev("发现", "2024-05-06"), ev("不予受理", "2024-05-07", ground="信访")]}
P6 = {"id": "P6", "events": [ev("发现", "2024-12-30"),
                             ev("反馈", "2024-12-31", deadline="2025-01-02", person="王五")]}
P7 = {"id": "P7", "events": [ev("发现", "2024-06-03"), ev("评价", "2024-06-04"),
                             ev("反馈", "2024-06-05", deadline="2024-06-06", person="赵六")]}
P8 = {"id": "P8", "events": []}


@pytest.fixture(scope="module")
def program():
    return prepare(load_bundle("loop", policy_roots((FIX,))))


def findings(program, recs, as_of):
    e = program.evaluate({"problems": recs}, as_of)
    return [(f.rule, f.key, str(f.triggered_on), f.status,
             str(f.resolved_on) if f.resolved_on else None) for f in e.findings]


def test_on_time_and_overdue_across_national_day(program):
    # 处理 on 10-08, the deadline the 反馈 event gives: on time (inclusive, C2).
    # 评价 due 5 working days after 10-08: 10-09, 10-10, 10-11, 10-12 (make-up Sat), 10-14 → due
    # 10-14; done 10-15 → overdue dated 10-15 (D + 1, C6), resolved 10-15.
    assert findings(program, [P1], D(2024, 12, 31)) == [
        ("LOOP-overdue", "P1/2", "2024-10-15", "resolved", "2024-10-15")]


def test_replay_reports_state_steps_and_deadlines(program):
    e = program.evaluate({"problems": [P1]}, D(2024, 10, 10))
    assert e.findings == []  # the breach is dated after as_of: not known yet
    (st,) = e.flows
    assert (st.flow, st.key, st.state, str(st.since), st.final, st.open_overdue) == \
        ("loop", "P1", "处理", "2024-10-08", False, 0)
    e = program.evaluate({"problems": [P1]}, D(2024, 10, 20))
    (st,) = e.flows
    assert (st.state, str(st.since), st.final) == ("评价", "2024-10-15", True)


def test_skipped_and_backward_stages_are_out_of_order(program):
    # 发现 → 处理 skips 反馈 (处理 reachable from 发现): out_of_order on 03-04;
    # 处理 → 反馈 goes back (处理 reachable from 反馈): out_of_order on 03-05, and the 反馈
    # event lacks deadline and person: missing_fields on 03-05. No clock (no deadline given).
    got = findings(program, [P2], D(2024, 12, 31))
    assert got == [("LOOP-order", "P2/1", "2024-03-04", "open", None),
                   ("LOOP-fields", "P2/2", "2024-03-05", "open", None),
                   ("LOOP-order", "P2/2", "2024-03-05", "open", None)]


def test_illegal_start_and_unknown_state(program):
    # the first state is not initial (illegal on 04-01); `结案` is not a state (illegal on 04-02);
    # the 反馈 clock stopped when the record left 反馈 on 04-02, before its 04-10 deadline.
    got = findings(program, [P3], D(2024, 12, 31))
    assert got == [("LOOP-order", "P3/0", "2024-04-01", "open", None),
                   ("LOOP-order", "P3/1", "2024-04-02", "open", None)]
    msgs = [f.message for f in program.evaluate({"problems": [P3]}, D(2024, 12, 31)).findings]
    assert "流程应从初始状态开始" in msgs[0] and "“结案”不是流程“问题闭环”中的状态" in msgs[1]


def test_guard_with_a_ground_outside_the_list(program):
    assert findings(program, [P4, P5], D(2024, 12, 31)) == [
        ("LOOP-guard", "P4/1", "2024-05-07", "open", None)]


def test_open_clock_over_new_year(program):
    # 反馈 on 2024-12-31 with deadline 2025-01-02, nothing since: overdue from 2025-01-03, open.
    assert findings(program, [P6], D(2025, 1, 2)) == []
    assert findings(program, [P6], D(2025, 1, 10)) == [
        ("LOOP-overdue", "P6/1", "2025-01-03", "open", None)]
    (st,) = program.evaluate({"problems": [P6]}, D(2025, 1, 10)).flows
    assert (st.state, st.open_overdue) == ("反馈", 1)


def test_leaving_a_final_state_is_illegal_not_out_of_order(program):
    # 发现 → 评价 skips two stages (out_of_order 06-04); 评价 is final, so 评价 → 反馈 is
    # illegal (06-05) even though 评价 is reachable from 反馈.
    e = program.evaluate({"problems": [P7]}, D(2024, 12, 31))
    run_issues = [(f.key, f.message) for f in e.findings if f.rule == "LOOP-order"]
    assert run_issues[0][0] == "P7/1" and "环节顺序颠倒" in run_issues[0][1]
    assert run_issues[1][0] == "P7/2" and "不允许从“评价”转为“反馈”" in run_issues[1][1]


def test_empty_history_has_no_state(program):
    e = program.evaluate({"problems": [P8]}, D(2024, 12, 31))
    assert e.findings == []
    assert [(s.key, s.state, s.since) for s in e.flows] == [("P8", None, None)]


def test_interpreted_equals_compiled_and_output_is_stable(program):
    recs = [P1, P2, P3, P4, P5, P6, P7, P8]
    a = program.evaluate({"problems": recs}, D(2025, 1, 10))
    b = program.evaluate({"problems": recs}, D(2025, 1, 10), interpret=True)
    c = program.evaluate({"problems": list(reversed(recs))}, D(2025, 1, 10))
    assert render(a, "json") == render(b, "json") == render(c, "json")
    d = json.loads(render(a, "json"))
    assert [x["key"] for x in d["flows"]] == ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"]
    assert "## 流程状态" in render(a, "markdown")


def test_a_bundle_without_workflows_has_no_flows_key(tmp_path):
    p = prepare(load_bundle("mini", policy_roots((HERE.parent / "core" / "fixtures",))))
    e = p.evaluate({"cases": []}, D(2024, 1, 1))
    assert e.flows is None and "flows" not in json.loads(render(e, "json"))


# ------------------------------------------------------------------ authoring errors

def _broken(tmp_path, edit) -> list:
    dest = tmp_path / "loop"
    shutil.copytree(FIX / "loop", dest)
    wf = dest / "workflows" / "loop.yaml"
    wf.write_text(edit(wf.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(PolicyError) as ei:
        prepare(load_bundle("loop", policy_roots((tmp_path,))))
    return ei.value.diagnostics


def _one(diags):
    assert len(diags) == 1, [str(d) for d in diags]
    d = diags[0]
    return d.code, d.loc.line, d.loc.col, d.message, d.help


def test_unknown_state_in_a_transition_is_located_with_a_suggestion(tmp_path):
    got = _one(_broken(tmp_path, lambda s: s.replace("- {from: 发现, to: 反馈}",
                                                      "- {from: 发现, to: 反溃}")))
    assert got[:4] == ("E032", 15, 20, "transition to unknown state `反溃`")
    assert "反馈" in got[4]


def test_required_field_unknown_to_the_event_schema(tmp_path):
    got = _one(_broken(tmp_path, lambda s: s.replace("requires: [deadline, person]",
                                                     "requires: [deadline, persn]")))
    assert got[0] == "E022" and got[1] == 8 and "persn" in got[3] and "person" in got[4]


def test_guard_syntax_error_points_into_the_yaml(tmp_path):
    diags = _broken(tmp_path, lambda s: s.replace("guard: e.ground is present and",
                                                  "guard: e.ground is present and and"))
    d = diags[0]
    assert (d.code, d.loc.line) == ("E020", 24)
    assert d.loc.col == 40  # the second `and`
    text = render_human(diags)
    assert "loop.yaml:24:40" in text and "^" in text


def test_deadline_must_be_a_date(tmp_path):
    got = _one(_broken(tmp_path, lambda s: s.replace("deadline: e.deadline",
                                                     "deadline: e.person")))
    assert got[0] == "E027" and got[1] == 18 and "must be date" in got[3]


def test_guard_may_not_read_whole_collections(tmp_path):
    got = _one(_broken(tmp_path, lambda s: s.replace(
        "guard: e.ground is present and e.ground in param.grounds",
        "guard: count(problems) > 0")))
    assert got[0] == "E027" and "cannot read whole collections" in got[3]


def test_no_initial_state_and_move_out_of_final(tmp_path):
    diags = _broken(tmp_path, lambda s: s.replace("发现: {initial: true}", "发现: {}")
                    .replace("- {from: 发现, to: 反馈}", "- {from: 评价, to: 反馈}"))
    assert sorted((d.code, d.message) for d in diags) == [
        ("E032", "state `评价` is final; no transition may leave it"),
        ("E032", "workflow `loop` has no initial state")]


def test_unknown_key_in_a_workflow_file(tmp_path):
    diags = _broken(tmp_path, lambda s: s.replace("history: events", "history: events\nhistroy: x"))
    assert diags[0].code == "E004" and "histroy" in diags[0].message


def test_unknown_workflow_name_in_a_rule(tmp_path):
    dest = tmp_path / "loop"
    shutil.copytree(FIX / "loop", dest)
    r = dest / "rules" / "loop.rule"
    r.write_text(r.read_text(encoding="utf-8").replace('flow("loop", p).issues, i -> i.kind == "guard"',
                                                       'flow("lop", p).issues, i -> i.kind == "guard"'),
                 encoding="utf-8")
    with pytest.raises(PolicyError) as ei:
        prepare(load_bundle("loop", policy_roots((tmp_path,))))
    (d,) = ei.value.diagnostics
    assert d.code == "E021" and "`lop`" in d.message and "loop" in d.help


def test_a_fork_must_list_a_redefined_workflow_under_replace(tmp_path):
    shutil.copytree(FIX / "loop", tmp_path / "loop")
    fork = tmp_path / "fork"
    (fork / "workflows").mkdir(parents=True)
    (fork / "bundle.yaml").write_text("name: fork\nversion: '1'\ntitle: 分支\nextends: loop\n",
                                      encoding="utf-8")
    text = (FIX / "loop" / "workflows" / "loop.yaml").read_text(encoding="utf-8")
    (fork / "workflows" / "loop.yaml").write_text(
        text.replace("param.fix_workdays workdays", "10 workdays"), encoding="utf-8")
    with pytest.raises(PolicyError) as ei:
        load_bundle("fork", policy_roots((tmp_path,)))
    assert ei.value.diagnostics[0].code == "E013"
    (fork / "bundle.yaml").write_text("name: fork\nversion: '1'\ntitle: 分支\nextends: loop\n"
                                      "replace: [loop]\n", encoding="utf-8")
    p = prepare(load_bundle("fork", policy_roots((tmp_path,))))
    # P1's 评价 is now due 10 working days after 10-08: 10-09..10-12 (4), 10-14..10-18 (9),
    # 10-21 (10) → done on 10-15: on time.
    assert findings(p, [P1], D(2024, 12, 31)) == []


def test_rulebook_lists_the_workflow(tmp_path):
    from govsup.engine.doc import render_rulebook

    b = load_bundle("loop", policy_roots((FIX,)))
    md = render_rulebook(b, "md")
    assert "## 流程" in md and "| `处理` | `评价` |  |  | `entered + param.fix_workdays workdays` |" in md
    assert "| `反馈` | 反馈 |  |  | deadline、person |" in md
    html = render_rulebook(b, "html")
    assert 'id="flow-loop"' in html and "<code>e.deadline</code>" in html


def test_check_counts_workflows():
    from typer.testing import CliRunner

    from govsup.cli.main import app

    r = CliRunner().invoke(app, ["check", "loop", "--policy-root", str(FIX)])
    assert r.exit_code == 0, r.output
    assert "4 rules" in r.stdout and "1 workflows" in r.stdout


def test_missing_fields_are_named_by_their_schema_titles(program):
    # `person` has the title 责任人 in the event schema; `deadline` has none and keeps its name
    msgs = [f.message for f in program.evaluate({"problems": [P2]}, D(2024, 12, 31)).findings
            if f.rule == "LOOP-fields"]
    assert msgs == ["问题P2：进入“反馈”缺少：deadline、责任人"]


def test_a_history_that_starts_before_the_parameters_is_not_in_force(program):
    # fix_workdays and grounds take effect 2019-01-01: a problem found on 2018-12-28 gets no
    # finding from any flow rule, even its illegal move (which reads no parameter) and even
    # though it never reaches a guard or a deadline.
    old = {"id": "OLD", "events": [ev("发现", "2018-12-28"), ev("评价", "2019-01-03")]}
    assert findings(program, [old], D(2019, 12, 31)) == []
    (st,) = program.evaluate({"problems": [old]}, D(2019, 12, 31)).flows
    assert st.state is None and "has no value on 2018-12-28" in st.error


def test_a_deadline_recorded_as_already_past_is_known_from_its_event(program):
    # 反馈 on 2025-06-10 records a deadline of 2025-06-01: the breach is dated 06-10 (the event
    # that reveals it), not 06-02 — as of 06-05 neither the finding nor an open overdue exists.
    z = {"id": "Z", "events": [ev("发现", "2025-06-03"),
                               ev("反馈", "2025-06-10", deadline="2025-06-01", person="张三")]}
    assert findings(program, [z], D(2025, 6, 5)) == []
    (st,) = program.evaluate({"problems": [z]}, D(2025, 6, 5)).flows
    assert (st.state, st.open_overdue) == ("发现", 0)
    assert findings(program, [z], D(2025, 6, 30)) == [
        ("LOOP-overdue", "Z/1", "2025-06-10", "open", None)]
