"""The `baofeng` fork (henan → pingdingshan → baofeng): it checks clean, leaves the inherited
Henan e-supervision findings unchanged, and evaluates its own BF clauses (RULEBOOK "BF") as the
hand-computed expectations below say. The bundle's own cases are in policies/baofeng/tests/."""

from __future__ import annotations

import datetime as _dt
import json
import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govsup.cli.exitcodes import ExitCode
from govsup.cli.main import app
from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.evaluate import load_program
from govsup.engine.inputs import read_file
from govsup.engine.render import render
from govsup.engine.testing import run_tests

REPO = Path(__file__).resolve().parents[2]
HENAN_EX = REPO / "examples" / "henan"
BF_EX = REPO / "examples" / "baofeng"
D = _dt.date


@pytest.fixture(scope="module")
def program():
    return load_program("baofeng")


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _by_rule(ev, *rules):
    return sorted((f.rule, f.key, f.level, f.triggered_on, f.status, f.resolved_on)
                  for f in ev.findings if f.rule in rules)


# ------------------------------------------------------------------ the bundle itself


def test_policy_check_is_clean():
    # as of a date well inside the calendar's coverage, so that W001 (coverage ends soon) cannot
    # appear whatever today's date is
    r = _cli("check", "baofeng", "--as-of", "2025-06-30")
    assert r.exit_code == ExitCode.OK, r.output
    assert r.stdout.startswith("ok: baofeng 2025.1 (henan → pingdingshan → baofeng)")
    assert "0 disabled" in r.stdout
    assert r.stderr == ""  # no error and no warning (e.g. no unused parameter)


def test_fork_changes_nothing_it_inherits(program):
    b = program.bundle
    assert [layer.name for layer in b.chain] == ["henan", "pingdingshan", "baofeng"]
    # (pingdingshan's own replacement of HN-SUP-R2-county, PDS-R2, is inherited, not baofeng's)
    assert not {r for r, by in b.replaced.items() if by == "baofeng"} and not b.disabled
    assert not {p for p, by in b.overridden_params.items() if by == "baofeng"}
    own = {cr.rule.id for cr in program.rules if b.rule_origin[cr.rule.id] == "baofeng"}
    assert own and all(r.startswith("BF-") for r in own)
    # every rule of the fork cites a BF clause, and every BF clause is cited by some rule
    cited = {c.id for cr in program.rules if cr.rule.id in own for c in cr.rule.cites}
    assert cited == {"BF-1", "BF-1.1", "BF-1.2", "BF-1.3", "BF-2.1", "BF-2.2"}


def test_bundle_cases_pass_including_inherited_ones(program):
    results = run_tests(program)
    failed = [(r.name, r.problems) for r in results if not r.passed]
    assert not failed, failed
    owners = {Path(r.file).parts[-3] for r in results}
    assert {"henan", "baofeng"} <= owners  # henan's cases run through the fork too


def test_parameters_match_the_seed(program):
    params = program.bundle.params
    on = D(2020, 6, 12)
    # the ten prohibitions, in the seed's order, with distinct codes
    ten = params["hall_prohibitions"].value_on(on)
    assert [r["code"] for r in ten] == [f"BZ-{i}" for i in range(1, 11)]
    assert ten[5]["conduct"] == "在服务大厅内吸烟、用餐、吃零食"
    # the checklist: unique ids, the four dimensions, 三声四一样 as seven BF-1.3 items
    items = params["site_checklist"].value_on(on)
    ids = [r["item"] for r in items]
    assert len(ids) == len(set(ids)) == 16
    assert {r["dimension"] for r in items} == {"制度建立健全度", "设施设备完备度", "环境秩序舒适度",
                                               "信息公开透明度"}
    assert [r["item"] for r in items if r["clause"] == "BF-1.3"] == [f"ZD-3.{i}" for i in range(1, 8)]
    channels = params["required_channels"].value_on(on)
    assert [(r["channel"], r["kind"]) for r in channels] == [
        ("政务服务网", "线上"), ("PC端", "线上"), ("短信", "线上"), ("手机app", "线上"),
        ("平板评价器", "线下"), ("静态评价二维码", "线下"), ("留言簿", "线下")]
    # nothing is in force before the document's date
    assert params["on_duty_time"].value_on(D(2020, 6, 11)) is None
    # working hours are compared as text: every dated value must be zero-padded HH:MM
    for name in ("on_duty_time", "off_duty_time"):
        for v in params[name].values:
            assert re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", v.value), (name, v.value)


# ------------------------------------------------------------------ inherited HN-ESUP


def _henan_example_facts():
    facts = {}
    for coll, fname in (("items", "items.json"), ("cases", "cases.jsonl"),
                        ("evaluations", "evaluations.jsonl")):
        facts[coll] = list(read_file(HENAN_EX / fname, collection=coll))
    return facts


def test_henan_findings_are_unchanged_through_the_fork():
    facts = _henan_example_facts()
    as_of = D(2025, 6, 30)
    hn = json.loads(render(load_program("henan").evaluate(facts, as_of), "json"))
    bf = json.loads(render(load_program("baofeng").evaluate(facts, as_of), "json"))
    assert hn["findings"], "the example data should produce findings"
    inherited = [f for f in bf["findings"] if f["bundle"] == "henan"]
    assert inherited == hn["findings"]
    assert bf["rejected"] == hn["rejected"]
    # what the fork adds on this data: the hall declared no channels and no supervisor
    # evaluation, so BF-2.1 reports all seven channels missing from 2020-06-12 and BF-2.2 each
    # finished year 2020–2024 (dated the next 1 January); no other BF finding.
    own = sorted((f["rule"], f["key"], f["triggered_on"]) for f in bf["findings"]
                 if f["bundle"] == "baofeng")
    channels = ["PC端", "平板评价器", "手机app", "政务服务网", "留言簿", "短信", "静态评价二维码"]
    assert own == sorted([("BF-2.1", c, "2020-06-12") for c in channels]
                         + [("BF-2.2", f"{y}年", f"{y + 1}-01-01") for y in range(2020, 2025)])


# ------------------------------------------------------------------ direct evaluations


def _row(staff, date, *, post="前台受理岗", window="窗口甲", **kw):
    return {"staff_id": staff, "name": f"人员{staff}", "window": window, "post": post,
            "date": date, **kw}


def test_attendance_on_holiday_make_up_day_and_weekend(program):
    # 2020-10-01..08 国庆/中秋: holidays; 2020-09-27 (Sun) and 2020-10-10 (Sat) make-up
    # working days; 2020-10-11 (Sun) and 2020-10-03 (Sat, holiday) are not working days.
    facts = {"attendance": [_row("X", d) for d in
                            ("2020-09-27", "2020-10-03", "2020-10-09", "2020-10-10", "2020-10-11")]}
    ev = program.evaluate(facts, D(2020, 10, 31))
    absent = _by_rule(ev, "BF-1.1-absent")
    assert [k for _, k, *_ in absent] == ["X/2020-09-27", "X/2020-10-09", "X/2020-10-10"]
    desk = _by_rule(ev, "BF-1.1-front-desk")
    assert [k for _, k, *_ in desk] == ["窗口甲/2020-09-27", "窗口甲/2020-10-09",
                                        "窗口甲/2020-10-10"]
    # 2020-09-27 → next working day 09-28 has no row, nor 09-29, 09-30, then the holiday:
    # the next row on a working day is 10-09, so 3 working days (09-28, 09-29, 09-30) are missing
    gaps = [f for f in ev.findings if f.rule == "BF-1.1-record"]
    assert [(f.key, f.triggered_on) for f in gaps] == [("X/2020-09-28", D(2020, 9, 28))]
    assert "有3个工作日没有考勤记录" in gaps[0].message


def test_lateness_is_by_the_minute_and_hours_are_dated(program):
    rows = [_row("A", "2020-06-15", check_in=t, check_out="18:00", method="指纹")
            for t in ("07:59", "08:00", "08:00:59", "08:01", "08:01:00")]
    for i, r in enumerate(rows):
        r["staff_id"] = f"A{i}"
    ev = program.evaluate({"attendance": rows}, D(2020, 6, 30))
    assert [k for _, k, *_ in _by_rule(ev, "BF-1.1-late")] == ["A3/2020-06-15", "A4/2020-06-15"]
    assert not _by_rule(ev, "BF-1.1-early")
    late = next(f for f in ev.findings if f.rule == "BF-1.1-late")
    assert late.clauses == ["BF-1.1"] and late.bundle == "baofeng" and late.level_name == "违规"


def test_a_county_fork_can_set_a_pass_rate_threshold(tmp_path):
    # Baofeng sets no pass-rate floor (empty table), so BF-1-rate is silent there; a fork that sets
    # one from 2021-01-01 gets a notice below it (not at it), and not for inspections before then.
    fork = tmp_path / "bf_strict"
    (fork / "parameters").mkdir(parents=True)
    (fork / "bundle.yaml").write_text(textwrap.dedent("""\
        name: bf_strict
        version: "1"
        title: 测试：设定维度合格率下限的宝丰分支
        extends: baofeng
        """), encoding="utf-8")
    (fork / "parameters" / "rate.yaml").write_text(textwrap.dedent("""\
        overrides:
          dimension_pass_rate_min:
            from: 2021-01-01
            value:
              - {dimension: 设施设备完备度, min_percent: 90}
              - {dimension: 信息公开透明度, min_percent: 50}
            source: 测试用下限
        """), encoding="utf-8")
    strict = load_program("bf_strict", policy_roots([tmp_path]))
    assert load_bundle("bf_strict", policy_roots([tmp_path])).overridden_params

    def insp(iid, date, results):
        return {"inspection_id": iid, "date": date, "conduct": [],
                "results": [{"item": i, "result": r} for i, r in results]}

    two_of_three = [("SS-1", "合格"), ("SS-2", "不合格"), ("SS-3", "合格")]
    facts = {"hall_inspections": [
        insp("Q0", "2020-12-01", two_of_three),                    # before the floor: no notice
        insp("Q1", "2021-03-01", two_of_three),                    # 66.7% < 90% → notice
        insp("Q2", "2021-03-02", [(i, "合格") for i, _ in two_of_three]),  # 100%: nothing
        insp("Q3", "2021-03-03", [("XX-1", "合格"), ("XX-2", "不合格")]),  # 50% = floor: none
        insp("Q4", "2021-03-04", [("XX-1", "不合格"), ("XX-2", "不合格")]),  # 0% < 50% → notice
    ]}
    ev = strict.evaluate(facts, D(2021, 12, 31))
    rate = [f for f in ev.findings if f.rule == "BF-1-rate"]
    assert [(f.key, f.level, f.triggered_on) for f in rate] == [
        ("Q1/设施设备完备度", "notice", D(2021, 3, 1)),
        ("Q4/信息公开透明度", "notice", D(2021, 3, 4))]
    assert "合格率66.7%，低于下限90%" in rate[0].message
    # the failed items themselves are violations in both bundles, with the same rate
    base = load_program("baofeng").evaluate(facts, D(2021, 12, 31))
    assert not [f for f in base.findings if f.rule == "BF-1-rate"]
    items = _by_rule(base, "BF-1-item")
    assert [k for _, k, *_ in items] == ["Q0/SS-2", "Q1/SS-2", "Q3/XX-2", "Q4/XX-1", "Q4/XX-2"]


def test_later_evaluation_never_removes_an_earlier_finding(program):
    facts = _bf_example_facts()
    early = program.evaluate(facts, D(2020, 12, 31))
    late = program.evaluate(facts, D(2022, 6, 30))
    later = {(f.rule, f.key, f.level, f.triggered_on) for f in late.findings}
    assert early.findings
    for f in early.findings:
        assert (f.rule, f.key, f.level, f.triggered_on) in later
    # the 2021 year without an invited evaluation shows up only once 2022-01-01 is reached
    assert not [f for f in early.findings if f.rule == "BF-2.2"]
    assert [(f.key, f.triggered_on) for f in late.findings if f.rule == "BF-2.2"] == [
        ("2021年", D(2022, 1, 1))]


# ------------------------------------------------------------------ the shipped examples


def _bf_example_facts():
    facts = {}
    for coll, fname in (("attendance", "attendance.csv"),
                        ("hall_inspections", "hall_inspections.json"),
                        ("hall_channels", "hall_channels.csv"),
                        ("hall_supervisions", "hall_supervisions.csv")):
        ent = load_bundle("baofeng").entities[coll]
        facts[coll] = list(read_file(BF_EX / fname, collection=coll, columns=dict(ent.columns)))
    return facts


def test_examples_evaluate_and_the_malformed_row_is_reported_with_its_row():
    r = _cli("eval", "baofeng",
             f"attendance={BF_EX / 'attendance.csv'}",
             f"hall_inspections={BF_EX / 'hall_inspections.json'}",
             f"hall_channels={BF_EX / 'hall_channels.csv'}",
             f"hall_supervisions={BF_EX / 'hall_supervisions.csv'}",
             "--as-of", "2022-06-30", "--format", "json")
    assert r.exit_code == ExitCode.OK, r.output
    doc = json.loads(r.stdout)
    # row 28 of the CSV (line 1 is the header) writes 8:05 without the leading zero
    assert [(x["position"], x["collection"]) for x in doc["rejected"]] == [
        (f"{BF_EX / 'attendance.csv'}:28", "attendance")]
    assert "check_in" in doc["rejected"][0]["reason"]
    assert "attendance.csv:28" in r.stderr
    s = doc["summary"]
    assert s["read"] == s["evaluated"] + s["rejected"] == 41 and s["rejected"] == 1
    got = {(f["rule"], f["key"]) for f in doc["findings"]}
    for expected in [
        ("BF-1.1-late", "004/2020-06-22"),           # 08:03 > 08:00
        ("BF-1.1-absent", "004/2020-06-24"),
        ("BF-1.1-front-desk", "社保/2020-06-24"),     # the only front-desk person absent
        ("BF-1.1-absent", "001/2020-06-28"),         # 端午 make-up Sunday
        ("BF-1.1-front-desk", "不动产登记/2020-06-28"),
        ("BF-1.1-early", "005/2020-06-24"),          # 17:45 < 18:00
        ("BF-1.1-method", "003/2020-06-29"),         # 手工登记
        ("BF-1.1-punch", "005/2020-06-29"),          # no check-out
        ("BF-1.1-record", "005/2020-06-23"),         # no row on a working day
        ("BF-1-item", "BFJC-2020-001/SS-2"),
        ("BF-1.3-item", "BFJC-2020-001/ZD-3.3"),
        ("BF-1.2", "BFJC-2020-001/c[0]"),
        ("BF-1-unknown-item", "BFJC-2020-002/XX-3"),
        ("BF-2.1", "短信"),
        ("BF-2.1-closed", "留言簿/2021-04-01"),
        ("BF-2.2", "2021年"),
    ]:
        assert expected in got, expected
    # approved leave excuses: 刘洋 (002) on 06-23 (全天) and late on 06-29 (上午)
    assert not [k for k in got if k[1] in ("002/2020-06-23", "002/2020-06-29")]
    # 2020-06-27 (端午, Saturday) overtime is not judged; 王磊 08:00 on 06-23 is on time
    assert not [k for k in got if k[1].endswith("2020-06-27") or k[1] == "004/2020-06-23"]
    assert len(doc["findings"]) == 18
