"""Henan social supervisors (HN-SUP) with the Pingdingshan fork (PDS-R2) and Weidong.

Spreadsheet rosters through `policy eval` (sheet row positions, masking), the shipped roster
template against the supervisor entity, the county roster deadline in henan and pingdingshan
(hand-computed dates), the fork's replaced rule against its parent's, and two properties of the
shipped examples: both back ends agree, and a later as-of date never removes a finding (C6).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from govsup.cli.exitcodes import ExitCode
from govsup.cli.main import app
from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.diff import plain_value
from govsup.engine.evaluate import load_program
from govsup.engine.inputs import Record, Rejected, read_file
from govsup.engine.render import render

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "policies" / "henan" / "templates" / "社会监督员花名册模板.xlsx"
HN_EX = ROOT / "examples" / "henan-supervisors"
PDS_EX = ROOT / "examples" / "pingdingshan"
FORM = ["姓名", "身份证号码", "单位", "联系电话", "备注"]

HN_FILES = {"agencies": "agencies.csv", "supervisors": "roster.xlsx", "renewals": "renewals.csv",
            "supervision_records": "supervision_records.csv",
            "agency_activities": "agency_activities.csv",
            "roster_submissions": "roster_submissions.csv"}
PDS_FILES = {"agencies": "agencies.csv", "supervisors": "roster.csv",
             "agency_activities": "agency_activities.csv",
             "roster_submissions": "roster_submissions.csv"}


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def read_facts(bundle: str, folder: Path, files: dict) -> dict:
    """The example files read the way `policy eval` reads them (entity columns and schema)."""
    b = load_program(bundle).bundle
    facts = {}
    for coll, name in files.items():
        ent = b.entities[coll]
        facts[coll] = list(read_file(folder / name, collection=coll, columns=dict(ent.columns),
                                     schema=plain_value(ent.schema)))
    return facts


# ------------------------------------------------------------------ template and entity


def test_template_header_is_the_entity_columns_form_first():
    ent = load_bundle("henan", policy_roots()).entities["supervisors"]
    ws = openpyxl.load_workbook(TEMPLATE)["花名册"]
    header = [c.value for c in ws[1]]
    assert header == list(ent.columns)
    assert header[:5] == FORM
    assert [ent.columns[h] for h in FORM] == ["name", "id_number", "unit", "phone", "remark"]
    # every field a roster row must have is a column of the template
    assert set(ent.schema["required"]) <= {ent.columns[h] for h in header}
    # and every column names a field of the schema
    assert {ent.columns[h] for h in header} <= set(ent.schema["properties"])


def test_filled_template_reads_and_validates_with_sheet_rows(tmp_path):
    ent = load_bundle("henan", policy_roots()).entities["supervisors"]
    cols, schema = dict(ent.columns), plain_value(ent.schema)
    assert list(read_file(TEMPLATE, collection="supervisors", columns=cols, schema=schema)) == []
    wb = openpyxl.load_workbook(TEMPLATE)
    ws = wb["花名册"]
    col = {c.value: c.column_letter for c in ws[1]}
    row2 = {"姓名": "张三", "身份证号码": "410402198001010081", "联系电话": "0371-69698285",
            "编号": "S1", "聘任机构编号": "410000", "聘任日期": "2020年7月1日", "政治法律素养": "是",
            "熟悉政务服务": "否"}
    row4 = {"姓名": "李四", "编号": "S2", "聘任机构编号": "410000", "聘任日期": "2020-02-30"}
    for r, vals in ((2, row2), (4, row4)):
        for h, v in vals.items():
            ws[f"{col[h]}{r}"] = v
    p = tmp_path / "roster.xlsx"
    wb.save(p)
    items = list(read_file(p, collection="supervisors", columns=cols, schema=schema))
    from govsup.engine.inputs import validate_records

    items = list(validate_records(items, schema))
    assert isinstance(items[0], Record) and items[0].position == f"{p}:花名册!2"
    assert items[0].data == {"name": "张三", "id_number": "410402198001010081",
                             "phone": "0371-69698285", "supervisor_id": "S1",
                             "agency_id": "410000", "appointed_on": "2020-07-01",
                             "cond_integrity": True, "cond_knowledge": False}
    assert isinstance(items[1], Rejected) and items[1].position == f"{p}:花名册!4"
    assert "`appointed_on` must be a date" in items[1].reason


# ------------------------------------------------------------------ policy eval on spreadsheets


def test_eval_xlsx_roster_reports_the_bad_row_by_sheet_row_and_masks_ids():
    args = ["eval", "henan", *(f"{c}={HN_EX / f}" for c, f in HN_FILES.items()),
            "--as-of", "2023-01-31", "--format", "json"]
    r = run(*args)
    assert r.exit_code == ExitCode.OK, r.output
    out = json.loads(r.stdout)
    positions = [x["position"] for x in out["rejected"]]
    assert out["summary"]["read"] == out["summary"]["evaluated"] + out["summary"]["rejected"]
    assert positions == [f"{HN_EX / 'roster.xlsx'}:花名册!14"]
    assert f"{HN_EX / 'roster.xlsx'}:花名册!14" in r.stderr
    bad_id = [f for f in out["findings"] if f["rule"] == "HN-SUP-R1-id"]
    assert [f["key"] for f in bad_id] == ["HN004"]
    assert "410***********2212" in bad_id[0]["message"]
    ids = [c.value for c in openpyxl.load_workbook(HN_EX / "roster.xlsx")["花名册"]["B"][1:]]
    assert len(ids) == 40 and not any(i in r.stdout for i in ids)  # no ID number in clear (C10)
    r2 = run(*args, "--show-pii")
    assert "410***********2212" not in r2.stdout and ids[3] in r2.stdout
    by_rule = {}
    for f in out["findings"]:
        by_rule.setdefault(f["rule"], []).append((f["key"], f["triggered_on"], f["resolved_on"]))
    # hand-checked against the example data (see examples/henan-supervisors)
    assert by_rule["HN-SUP-8.1"] == [("410000/2021年第2季度", "2021-07-01", None)]
    assert by_rule["HN-SUP-8.3"] == [("410181/2021年下半年", "2022-01-01", None)]
    assert by_rule["HN-SUP-8.4"] == [("410000/2022年", "2023-01-01", None)]
    assert by_rule["HN-SUP-R2"] == [("410181/2020/盖章扫描版", "2020-07-01", "2020-07-06")]
    assert sorted(by_rule["HN-SUP-5b"]) == [("JD004", "2021-04-12", None),
                                            ("JD005", "2022-08-05", None),
                                            ("JD008", "2020-06-27", None)]
    # 巩义 has 6 supervisors for a county target of 10 ± 20 %: one notice for the whole run
    assert by_rule["HN-SUP-4b"] == [("410181/2020年7月", "2020-07-01", None)]


def test_eval_csv_roster_reports_the_bad_row_by_line():
    r = run("eval", "pingdingshan", *(f"{c}={PDS_EX / f}" for c, f in PDS_FILES.items()),
            "--as-of", "2021-01-31", "--format", "json")
    assert r.exit_code == ExitCode.OK, r.output
    out = json.loads(r.stdout)
    assert f"{PDS_EX / 'roster.csv'}:22: column `身份证号码`: excel stored the value as a number" \
        in r.stderr
    got = sorted((f["rule"], f["key"], f["triggered_on"], tuple(f["clauses"]))
                 for f in out["findings"])
    assert got == [
        ("HN-SUP-8.1", "410422/2020年第4季度", "2021-01-01", ("HN-SUP-8.1",)),
        ("HN-SUP-R2-county", "410421/2020/盖章扫描版", "2020-06-26", ("HN-SUP-R2", "PDS-R2")),
    ]


# ------------------------------------------------------------------ PDS-R2: the county deadline

AGENCIES = [
    {"agency_id": "410400", "name": "平顶山市政务服务和大数据管理局", "level": "市"},
    {"agency_id": "410421", "name": "宝丰县政务服务和大数据管理局", "level": "县", "parent_id": "410400"},
    {"agency_id": "410181", "name": "巩义市政务服务和大数据管理局", "level": "县"},
]


def _submissions(*rows):
    return [{"submission_id": f"N{i}", "agency_id": a, "year": 2020, "form": f, "submitted_on": d}
            for i, (a, f, d) in enumerate(rows)]


def _r2(bundle: str, subs, as_of="2020-12-31"):
    ev = load_program(bundle).evaluate({"agencies": AGENCIES, "roster_submissions": subs},
                                       dt.date.fromisoformat(as_of))
    return sorted((f.rule, f.key, f.triggered_on.isoformat(),
                   f.resolved_on.isoformat() if f.resolved_on else None, tuple(f.clauses))
                  for f in ev.findings if f.rule.startswith("HN-SUP-R2"))


@pytest.mark.parametrize("bundle", ["pingdingshan", "weidong"])
def test_county_roster_due_2020_06_25_in_pingdingshan_and_its_forks(bundle):
    # 宝丰县 reports to the city: 电子版 06-25 (the last day, on time), 盖章扫描版 06-29 → late from
    # 06-26 until 06-29. The city itself: both 06-30 → on time (the province's date is unchanged).
    # 巩义 (directly under the province) is due 06-30: 电子版 07-02 → 07-01 … 07-02; no 盖章扫描版.
    subs = _submissions(("410421", "电子版", "2020-06-25"), ("410421", "盖章扫描版", "2020-06-29"),
                        ("410400", "电子版", "2020-06-30"), ("410400", "盖章扫描版", "2020-06-30"),
                        ("410181", "电子版", "2020-07-02"))
    assert _r2(bundle, subs) == [
        ("HN-SUP-R2", "410181/2020/电子版", "2020-07-01", "2020-07-02", ("HN-SUP-R2",)),
        ("HN-SUP-R2", "410181/2020/盖章扫描版", "2020-07-01", None, ("HN-SUP-R2",)),
        ("HN-SUP-R2-county", "410421/2020/盖章扫描版", "2020-06-26", "2020-06-29",
         ("HN-SUP-R2", "PDS-R2")),
    ]


def test_county_roster_due_2020_06_30_in_henan():
    # the same submissions under the province's rules: the county may hand its roster to the
    # city up to the province's date 06-30 — 06-29 is on time; 07-01 would be late from 07-01
    subs = _submissions(("410421", "电子版", "2020-06-25"), ("410421", "盖章扫描版", "2020-06-29"),
                        ("410400", "电子版", "2020-06-30"), ("410400", "盖章扫描版", "2020-06-30"),
                        ("410181", "电子版", "2020-07-02"))
    assert _r2("henan", subs) == [
        ("HN-SUP-R2", "410181/2020/电子版", "2020-07-01", "2020-07-02", ("HN-SUP-R2",)),
        ("HN-SUP-R2", "410181/2020/盖章扫描版", "2020-07-01", None, ("HN-SUP-R2",)),
    ]
    late = _submissions(("410421", "电子版", "2020-07-01"))
    assert _r2("henan", late) == [
        ("HN-SUP-R2", "410181/2020/电子版", "2020-07-01", None, ("HN-SUP-R2",)),
        ("HN-SUP-R2", "410181/2020/盖章扫描版", "2020-07-01", None, ("HN-SUP-R2",)),
        ("HN-SUP-R2", "410400/2020/电子版", "2020-07-01", None, ("HN-SUP-R2",)),
        ("HN-SUP-R2", "410400/2020/盖章扫描版", "2020-07-01", None, ("HN-SUP-R2",)),
        ("HN-SUP-R2-county", "410421/2020/电子版", "2020-07-01", "2020-07-01", ("HN-SUP-R2",)),
        ("HN-SUP-R2-county", "410421/2020/盖章扫描版", "2020-07-01", None, ("HN-SUP-R2",)),
    ]


def test_pingdingshan_changes_only_the_county_date_and_the_citation():
    hn, pds = load_bundle("henan", policy_roots()), load_bundle("pingdingshan", policy_roots())
    assert dict(pds.overridden_params) == {"county_roster_due_dates": "pingdingshan"}
    assert dict(pds.replaced) == {"HN-SUP-R2-county": "pingdingshan"}
    a = next(r for r in hn.rules if r.id == "HN-SUP-R2-county")
    b = next(r for r in pds.rules if r.id == "HN-SUP-R2-county")
    # the replacement is the parent's rule word for word, except that it also cites PDS-R2
    assert [c.id for c in a.cites] == ["HN-SUP-R2"]
    assert [c.id for c in b.cites] == ["HN-SUP-R2", "PDS-R2"]
    for part in ("steps", "levels", "on", "resolved", "key", "message", "ref"):
        assert getattr(a, part) == getattr(b, part), part
    assert [plain_value(v.value) for v in pds.params["county_roster_due_dates"].values] == [
        [{"year": 2020, "due_on": "2020-06-25"}]]
    assert plain_value(pds.params["roster_due_dates"].values[0].value) == [
        {"year": 2020, "due_on": "2020-06-30"}]


# ------------------------------------------------------------------ forks and properties


def test_weidong_evaluates_the_supervisor_examples_exactly_as_pingdingshan():
    facts = read_facts("henan", HN_EX, HN_FILES)
    as_of = dt.date(2023, 1, 31)
    pds = json.loads(render(load_program("pingdingshan").evaluate(facts, as_of), "json"))
    wd = json.loads(render(load_program("weidong").evaluate(facts, as_of), "json"))
    hn = json.loads(render(load_program("henan").evaluate(facts, as_of), "json"))
    assert pds["findings"]
    for d in (pds, wd, hn):
        d.pop("bundle"), d.pop("bundle_version")
    assert wd == pds
    # henan's example has no county under a city: pingdingshan's one change does not show
    assert [{**f, "bundle": ""} for f in pds["findings"]] == \
        [{**f, "bundle": ""} for f in hn["findings"]]


@pytest.mark.parametrize("bundle, folder, files", [
    ("henan", HN_EX, HN_FILES), ("pingdingshan", PDS_EX, PDS_FILES)])
def test_examples_compiled_equals_interpreted(bundle, folder, files):
    facts = read_facts(bundle, folder, files)
    program = load_program(bundle)
    for as_of in (dt.date(2020, 6, 30), dt.date(2021, 7, 1), dt.date(2023, 1, 31)):
        compiled = render(program.evaluate(facts, as_of), "json")
        interpreted = render(program.evaluate(facts, as_of, interpret=True), "json")
        assert compiled == interpreted


def test_later_as_of_never_removes_a_supervisor_finding():
    # C6: findings as of an earlier date all reappear later with the same date; an open one may
    # become resolved, a resolved one stays resolved on the same day
    facts = read_facts("henan", HN_EX, HN_FILES)
    program = load_program("henan")
    days = [dt.date(2020, 6, 1) + dt.timedelta(days=k) for k in range(0, 1000, 37)]
    prev = None
    for d in days:
        now = {(f.rule, f.key, f.level): f for f in program.evaluate(facts, d).findings}
        if prev is not None:
            for k, f in prev.items():
                assert k in now, (d, k)
                g = now[k]
                assert g.triggered_on == f.triggered_on, (d, k)
                if f.status == "resolved":
                    assert g.resolved_on == f.resolved_on, (d, k)
        prev = now


def test_the_bare_official_form_names_the_missing_columns(tmp_path):
    # the notice's five columns alone cannot be evaluated: the rules need 编号, 聘任机构编号 and
    # 聘任日期 — one E051 per missing column, exit 2; optional columns may be left out
    p = tmp_path / "form.csv"
    p.write_text("姓名,身份证号码,单位,联系电话,备注\n张三,410402198001010081,某单位,13812345678,\n",
                 encoding="utf-8")
    r = run("eval", "henan", f"supervisors={p}", "--as-of", "2021-01-01")
    assert r.exit_code == ExitCode.DATA_ERROR, r.output
    for col in ("编号", "聘任机构编号", "聘任日期"):
        assert f"error[E051] missing column `{col}`" in r.stderr
    assert "missing column `人员类别`" not in r.stderr
    q = tmp_path / "roster.csv"
    q.write_text("姓名,身份证号码,单位,联系电话,备注,编号,聘任机构编号,聘任日期\n"
                 "张三,410402198001010081,某单位,13812345678,,S1,410000,2020/7/1\n", encoding="utf-8")
    r = run("eval", "henan", f"supervisors={q}", "--as-of", "2021-01-01", "--format", "json")
    assert r.exit_code == ExitCode.OK, r.output
    out = json.loads(r.stdout)
    assert out["summary"]["rejected"] == 0 and out["summary"]["evaluated"] == 1
    # the attestations and the sector were left out: data gaps, never a silent pass (C8)
    assert {(f["rule"], f["level"]) for f in out["findings"]} >= {
        ("HN-SUP-3-attest", "data_gap"), ("HN-SUP-4a", "data_gap")}
