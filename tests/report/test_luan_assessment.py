"""LA-LOOP-2: the quarterly 社会评窗口 assessment (`policy report luan --template window_assessment`)
and the report context's workflow keys (`flows`, `workflows`, `parameters`) it is built from.

Fixture ``fixtures/luan/problems.json`` (11 problems, two windows). Deadlines are dates the bureau
set when feeding the problem back ("N working days after the feedback", 2025 calendar: 清明
04-04..06 off, 劳动节 05-01..05-05 off with Sunday 04-27 a make-up working day, 端午 05-31..06-02
off). The hand count, 2025-Q2 (04-01..06-30), evaluated as of 2025-07-31:

| problem | window | found | feedback → deadline | handled | Q2 |
| --- | --- | --- | --- | --- | --- |
| P01 | 不动产登记 | 04-07 | 04-08 + 5 wd (09,10,11,14,15) → 04-15 | 04-15 | found, on time, 满意 |
| P02 | 不动产登记 | 04-24 | 04-25 + 3 wd (04-27 make-up, 28, 29) → 04-29 | 04-30 | found, late (breach 04-30), 基本满意 |
| P03 | 不动产登记 | 06-20 | 06-23 + 4 wd → 06-27 | 07-02 (Q3) | found, still overdue at 06-30 (breach 06-28) |
| P04 | 不动产登记 | 05-12 | — (处理 05-13 skips 反馈: out of order) | 05-13 | found, irregular, 满意 |
| P05 | 公积金 | 03-25 (Q1) | 03-26 + 3 wd → 03-31 | 04-02 | late (breach 04-01), 不满意 |
| P06 | 公积金 | 05-28 | 05-29 + 2 wd (05-30, 06-03) → 06-03 | 06-03 | found, on time, 非常满意 |
| P07 | 公积金 | 06-16 | 06-17 + 13 wd → 07-04 | 07-03 (Q3) | found, pending (not due by 06-30) |
| P08 | 公积金 | 01-10 | 01-13 + 5 wd → 01-20 | 01-17 | closed in Q1: not in Q2 |
| P09 | 公积金 | 07-08 (Q3) | — | — | not in Q2 |
| P10 | 公积金 | 06-25 | 07-01 (Q3) → 07-08 | 07-07 | found, awaiting feedback at 06-30 |
| P11 | 公积金 | 04-09 | 04-10 + 5 wd (11,14,15,16,17) → 04-17 | 04-16 | found, on time, "好评" → 其他 |

Per window: 不动产登记窗口 found 4, on time 1, overdue 2 (late 1, open 1), rate 1/2 = 50.0%,
irregular 1, evaluations 满意 2 基本满意 1; 公积金窗口 found 4, on time 2, overdue 1 (late 1),
rate 2/3 = 66.7%, pending 1, awaiting feedback 1, evaluations 非常满意 1 不满意 1 其他 1.
Total: found 8, on time 3, overdue 3 (late 2, open 1), rate 3/5 = 60.0%, 6 evaluations.

Golden file: after an intended change run
``UPDATE_GOLDEN=1 python -m pytest tests/report/test_luan_assessment.py`` and review the diff.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

import pytest

from govsup.engine.evaluate import load_program
from govsup.engine.inputs import read_file
from govsup.engine.report import build_context, render_report, report

HERE = Path(__file__).resolve().parent
PROBLEMS = HERE / "fixtures" / "luan" / "problems.json"
GOLDEN = HERE / "golden" / "luan_window_assessment_2025-Q2.md"
AS_OF = _dt.date(2025, 7, 31)

Q2_ROWS = {  # window: (found, on time, overdue, late, open overdue, rate, pending,
    #            awaiting feedback, no deadline, irregular)
    "不动产登记窗口": ("4", "1", "2", "1", "1", "50.0%", "0", "0", "0", "1"),
    "公积金窗口": ("4", "2", "1", "1", "0", "66.7%", "1", "1", "0", "0"),
    "**合计**": ("**8**", "**3**", "**3**", "**2**", "**1**", "**60.0%**", "**1**", "**1**",
               "**0**", "**1**"),
}
Q2_RESULTS = {  # 非常满意, 满意, 基本满意, 不满意, 非常不满意, 其他, 合计
    "不动产登记窗口": ("0", "2", "1", "0", "0", "0", "3"),
    "公积金窗口": ("1", "0", "0", "1", "0", "1", "3"),
    "**合计**": ("**1**", "**2**", "**1**", "**1**", "**0**", "**1**", "**6**"),
}


@pytest.fixture(scope="module")
def luan():
    return load_program("luan")


def _facts():
    return {"problems": list(read_file(PROBLEMS, collection="problems"))}


def _md(luan, period="2025-Q2", as_of=AS_OF):
    text, _ = report(luan, _facts(), as_of, period, template="window_assessment", fmt="md",
                     group_by="window")
    return text


def _rows(section: str, first_col: str) -> dict:
    """Markdown table rows of ``section`` whose first cell is a window (or 合计), by that cell."""
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in first_col:
            out[cells[0]] = tuple(cells[1:])
    return out


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i: text.index(end, i)]


# ------------------------------------------------------------------------- context


def test_flows_are_the_problems_active_in_the_quarter(luan):
    ctx, _ = build_context(luan, _facts(), AS_OF, "2025-Q2", group_by="window")
    fl = {f["key"]: f for f in ctx["flows"]}
    # P08 was closed (评价结果) in Q1, P09 was found in Q3: not in the Q2 flows
    assert sorted(fl) == ["P01", "P02", "P03", "P04", "P05", "P06", "P07", "P10", "P11"]
    assert {f["flow"] for f in ctx["flows"]} == {"loop"}
    p03 = fl["P03"]
    assert (p03["group"], p03["group_from"]) == ("不动产登记窗口", "problems")
    assert (p03["state"], p03["since"], p03["final"], p03["started"]) == \
        ("处理问题", "2025-07-02", False, "2025-06-20")
    assert p03["deadlines"] == [{"from": "反馈问题", "to": "处理问题", "entered": "2025-06-23",
                                 "due": "2025-06-27", "left": "2025-07-02", "met": False}]
    (iss,) = p03["issues"]
    assert (iss["kind"], iss["on"], iss["resolved"], iss["due"], iss["index"]) == \
        ("overdue", "2025-06-28", "2025-07-02", "2025-06-27", 1)
    assert p03["open_overdue"] == 0
    assert [(s["state"], s["date"], s["index"]) for s in p03["steps"]] == [
        ("发现问题", "2025-06-20", 0), ("反馈问题", "2025-06-23", 1), ("处理问题", "2025-07-02", 2)]
    assert p03["steps"][1]["event"]["deadline"] == "2025-06-27"
    # P04 skipped 反馈问题: an out_of_order issue on the event at index 1, and no clock
    p04 = fl["P04"]
    assert [(i["kind"], i["on"], i["index"]) for i in p04["issues"]] == \
        [("out_of_order", "2025-05-13", 1)]
    assert p04["deadlines"] == []
    # the phone number in P01's description is masked (RULEBOOK C10)
    assert "138****5678" in fl["P01"]["record"]["description"]
    assert "13812345678" not in str(ctx)


def test_flows_show_only_events_known_on_the_as_of_date(luan):
    ctx, _ = build_context(luan, _facts(), _dt.date(2025, 6, 30), "2025-Q2", group_by="window")
    fl = {f["key"]: f for f in ctx["flows"]}
    # P03 handled on 07-02: as of 06-30 it is still in 反馈问题, overdue since 06-28, open
    p03 = fl["P03"]
    assert (p03["state"], p03["open_overdue"]) == ("反馈问题", 1)
    assert p03["deadlines"][0]["left"] is None and p03["deadlines"][0]["met"] is False
    assert [(i["kind"], i["on"], i["resolved"]) for i in p03["issues"]] == \
        [("overdue", "2025-06-28", None)]
    # P10's feedback (07-01) is not known yet; P07's deadline (07-04) has not passed: no issue
    assert [s["state"] for s in fl["P10"]["steps"]] == ["发现问题"]
    assert fl["P07"]["issues"] == [] and fl["P07"]["deadlines"][0]["left"] is None


def test_workflows_and_parameters_in_the_context(luan):
    ctx, _ = build_context(luan, _facts(), AS_OF, "2025-Q2", group_by="window")
    wf = ctx["workflows"]["loop"]
    assert [s["name"] for s in wf["states"]] == ["发现问题", "反馈问题", "处理问题", "评价结果"]
    assert wf["collection"] == "problems" and wf["clauses"] == ["LA-LOOP-1"]
    assert [(t["from"], t["to"], t["deadline"]) for t in wf["transitions"]] == [
        ("发现问题", "反馈问题", False), ("反馈问题", "处理问题", True), ("处理问题", "评价结果", False)]
    assert ctx["parameters"]["evaluation_results"] == ["非常满意", "满意", "基本满意", "不满意",
                                                       "非常不满意"]


def test_a_history_not_replayable_is_listed_in_the_period_it_starts(luan):
    # found 2022-05-10, before the scheme (2022-05-18): the workflow's parameter
    # evaluation_results is not in force on the history's first date, so it is not replayed
    pre = {"problem_id": "X1", "window": "税务窗口", "officer_id": "LA006",
           "events": [{"state": "发现问题", "date": "2022-05-10"},
                      {"state": "处理问题", "date": "2022-05-11", "measures": "整改"}]}
    facts = {"problems": [pre]}
    ctx, _ = build_context(luan, facts, _dt.date(2022, 6, 30), "2022-Q2", group_by="window")
    (f,) = ctx["flows"]
    assert (f["key"], f["started"], f["steps"]) == ("X1", "2022-05-10", [])
    assert "evaluation_results" in f["error"] and "2022-05-10" in f["error"]
    md = render_report(luan, ctx, "window_assessment", "md")
    assert "以下问题的跟踪记录无法回放，未计入统计，请核实：X1（" in md
    ctx, _ = build_context(luan, facts, _dt.date(2022, 9, 30), "2022-Q3", group_by="window")
    assert ctx["flows"] == []


def test_bundle_without_workflows_has_empty_flows():
    from report_helpers import AS_OF as HN_AS_OF, load_facts

    ctx, _ = build_context(load_program("henan"), load_facts(), HN_AS_OF, "2025-Q2")
    assert ctx["flows"] == [] and ctx["workflows"] == {}


# ------------------------------------------------------------------------- markdown


def test_q2_counts_per_window_hand_computed(luan):
    md = _md(luan)
    sec = _between(md, "## 二、2025年第二季度各窗口问题处置情况", "评价结果分布")
    assert _rows(sec, Q2_ROWS) == Q2_ROWS
    res = _between(md, "评价结果分布（本季度内作出的评价 6 次）", "### 问题明细")
    assert _rows(res, Q2_RESULTS) == Q2_RESULTS
    detail = _between(md, "### 问题明细", "## 附")
    assert re.findall(r"^\| \S+ \| (P\d\d) \|", detail, re.M) == [
        "P01", "P02", "P04", "P03", "P05", "P11", "P06", "P07", "P10"]
    assert "| P03 | LA003 | 2025-06-20 | 2025-06-23 | 2025-06-27 |  |  | 逾期未处理 |" in detail
    assert "| P02 | LA002 | 2025-04-24 | 2025-04-25 | 2025-04-29 | 2025-04-30 | 2025-05-06 基本满意 | 逾期处理，已评价 |" in detail
    # the LA-LOOP-1 findings of the quarter (breaches dated deadline + 1 day, C6)
    app = md[md.index("## 附"):]
    assert re.findall(r"^\| (\d{4}-\d\d-\d\d) \| \S+ \| (\S+) \|", app, re.M) == [
        ("2025-04-01", "P05/1"), ("2025-04-18", "P11/3"), ("2025-04-30", "P02/1"),
        ("2025-05-13", "P04/1"), ("2025-06-28", "P03/1")]


def test_quarter_counts_do_not_depend_on_later_events(luan):
    # as of the quarter's last day or a month later: the Q2 tables are the same (counted at 06-30)
    early, late = _md(luan, as_of=_dt.date(2025, 6, 30)), _md(luan)
    start = "## 二、2025年第二季度各窗口问题处置情况"
    assert _between(early, start, "## 附") == _between(late, start, "## 附")
    assert "| 2025-06-28 | 不动产登记窗口 | P03/1 |" in early  # open as of 06-30 …
    assert early[early.index("P03/1"):].split("\n")[0].endswith("| 未解除 |")
    assert late[late.index("P03/1"):].split("\n")[0].endswith("| 已于2025-07-02解除 |")


def test_year_report_is_split_into_quarters(luan):
    md = _md(luan, period="2025")
    assert "## 二、2025年第一季度各窗口问题处置情况" in md
    assert "## 三、2025年第二季度各窗口问题处置情况" in md
    assert "## 四、2025年第三季度各窗口问题处置情况" in md
    assert "第四季度" not in md  # starts after the as-of date
    q1 = _between(md, "## 二、", "评价结果分布")
    # Q1: P08 on time; P05's deadline is 03-31, the quarter's last day: not overdue at its end
    assert _rows(q1, {"公积金窗口": 0, "不动产登记窗口": 0}) == {
        "公积金窗口": ("2", "1", "0", "0", "0", "100.0%", "1", "0", "0", "0")}
    q3 = _between(md, "## 四、", "评价结果分布")
    assert "（数据截至2025年7月31日，本季度尚未结束。）" in q3
    # Q3 (to 07-31): P03 handled late on 07-02; P07 (07-03 ≤ 07-04) and P10 (07-07 ≤ 07-08) on
    # time; P09 found 07-08, not fed back yet
    assert _rows(q3, {"公积金窗口": 0, "不动产登记窗口": 0}) == {
        "不动产登记窗口": ("0", "0", "1", "1", "0", "0.0%", "0", "0", "0", "0"),
        "公积金窗口": ("1", "2", "0", "0", "0", "100.0%", "0", "1", "0", "0")}


def test_markdown_matches_golden_file(cli_luan):
    res = cli_luan("--period", "2025-Q2", "--as-of", "2025-07-31")
    assert res.exit_code == 0, res.output
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(res.stdout, encoding="utf-8")
    assert res.stdout == GOLDEN.read_text(encoding="utf-8")
    assert "流程记录 9 条" in res.stderr


def test_shipped_example_2024_q4(cli_luan_example):
    # examples/luan/problems.json, 2024-Q4 as of 12-31 (国庆 10-01..10-07 off, Sunday 09-29 a
    # make-up working day): WT2024-003 fed back 09-25, deadline +5 wd (09-26, 09-27, 09-29,
    # 09-30, 10-08) = 10-08, handled 10-09 → late; WT2024-007 found 12-20, not fed back.
    # 公积金窗口: WT2024-004 skips 反馈问题 (irregular, no deadline), WT2024-005 due 11-12 and not
    # handled → overdue at 12-31, WT2024-006 handled on its deadline 12-10 → on time.
    # WT2024-001/002 were closed in Q3: not counted.
    res = cli_luan_example("--period", "2024-Q4")
    assert res.exit_code == 0, res.output
    sec = _between(res.stdout, "## 二、2024年第四季度", "评价结果分布")
    assert _rows(sec, {"不动产登记窗口": 0, "公积金窗口": 0, "**合计**": 0}) == {
        "不动产登记窗口": ("1", "0", "1", "1", "0", "0.0%", "0", "1", "0", "0"),
        "公积金窗口": ("3", "1", "1", "0", "1", "100.0%", "0", "0", "0", "1"),
        "**合计**": ("**4**", "**1**", "**2**", "**1**", "**1**", "**50.0%**", "**0**", "**1**",
                   "**0**", "**1**")}


@pytest.fixture()
def cli_luan_example():
    from typer.testing import CliRunner

    from govsup.cli.main import app

    ex = HERE.parents[1] / "examples" / "luan"
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, ["report", "luan", f"officers={ex / 'officers.json'}",
                                   f"sessions={ex / 'sessions.json'}",
                                   f"problems={ex / 'problems.json'}", "--template",
                                   "window_assessment", "--group-by", "window", *args])

    return invoke


# ------------------------------------------------------------------------- html


def test_html_is_self_contained_chinese_with_a_chart(luan):
    ctx, _ = build_context(luan, _facts(), AS_OF, "2025-Q2", group_by="window")
    html = render_report(luan, ctx, "window_assessment", "html")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in html
    low = html.lower()
    for bad in ("http://", "https://", "<script", "<link", "src=", "url(", "@import", "<iframe"):
        assert bad not in low, bad
    assert "<svg" in html and "<style>" in html
    assert ('data-window="不动产登记窗口" data-on-time="1" data-late="1" data-open-overdue="1"'
            in html)
    assert 'data-window="公积金窗口" data-on-time="2" data-late="1" data-open-overdue="0"' in html
    assert "2025年第二季度“社会评窗口”问题处置情况考核表" in html
    assert '<td class="n">60.0%</td>' in html


@pytest.fixture()
def cli_luan():
    from typer.testing import CliRunner

    from govsup.cli.main import app

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, ["report", "luan", f"problems={PROBLEMS}", "--template",
                                   "window_assessment", "--group-by", "window", *args])

    return invoke
