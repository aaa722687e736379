"""`policy report` and engine.report: the HN-ESUP-11 bulletin (通报) from the henan bundle's templates."""

from __future__ import annotations

import datetime as _dt
import re

import pytest

from govsup.cli.exitcodes import ExitCode
from govsup.engine.diagnostics import PolicyError
from govsup.engine.report import (NO_DEPARTMENT, ReportError, TemplateNotFoundError,
                                  available_templates, build_context, cn_num, parse_period,
                                  render_report, report)

from report_helpers import AS_OF, FORK_ROOT, HERE, ID_NUMBER, INPUTS, PHONE, load_facts

Q2_RED = {"市场监督管理局": 3, "公安局": 2, NO_DEPARTMENT: 1}


def _md(henan, **kw):
    kw.setdefault("period", "2025-Q2")
    text, _ = report(henan, load_facts(), AS_OF, kw.pop("period"), **kw)
    return text


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start): text.index(end)]


# ------------------------------------------------------------------------- periods


@pytest.mark.parametrize("text, start, end, label", [
    ("2025", "2025-01-01", "2025-12-31", "2025年"),
    ("2025-H1", "2025-01-01", "2025-06-30", "2025年上半年"),
    ("2025-h2", "2025-07-01", "2025-12-31", "2025年下半年"),
    ("2025-Q1", "2025-01-01", "2025-03-31", "2025年第一季度"),
    ("2025-Q2", "2025-04-01", "2025-06-30", "2025年第二季度"),
    ("2024-Q4", "2024-10-01", "2024-12-31", "2024年第四季度"),
    ("2025-06", "2025-06-01", "2025-06-30", "2025年6月"),
    ("2024-02", "2024-02-01", "2024-02-29", "2024年2月"),
])
def test_parse_period(text, start, end, label):
    p = parse_period(text)
    assert (p.start.isoformat(), p.end.isoformat(), p.label) == (start, end, label)


@pytest.mark.parametrize("text", ["2025-Q5", "2025-13", "2025-H3", "Q2", "2025Q2", "25-06", ""])
def test_bad_period_is_a_usage_error(text):
    with pytest.raises(ReportError):
        parse_period(text)


def test_cn_num():
    assert [cn_num(n) for n in (1, 2, 10, 11, 20, 23)] == ["一", "二", "十", "十一", "二十", "二十三"]


# ------------------------------------------------------------------------- context


def test_context_counts_per_department(henan, facts):
    ctx, ev = build_context(henan, facts, AS_OF, "2025-Q2")
    assert {r["name"]: r["count"] for r in ctx["red_cards"]["by_department"]} == Q2_RED
    # sorted by red cards (descending); a department with warnings only comes last
    assert [d["name"] for d in ctx["departments"]] == [
        "市场监督管理局", "公安局", NO_DEPARTMENT, "自然资源和规划局"]
    zr = ctx["departments"][-1]
    assert zr["red_cards"] == 0 and zr["warnings"] == 1
    assert ctx["counts"]["red_card"] == 6 and ctx["counts"]["warning"] == 7
    assert ctx["red_cards"]["open"] == 5 and ctx["red_cards"]["resolved"] == 1
    # NO-01 has no department: the item it refers to names one (实施部门)
    no1 = next(f for f in ctx["red_cards"]["findings"] if f["key"] == "NO-01")
    assert no1["department"] == "公安局" and no1["department_from"] == "items"
    assert no1["refs"]["items"]["name"] == "户口迁移（测试）"
    assert no1["record"]["case_id"] == "NO-01"
    # clause ids cited by the findings in the period, HN-ESUP-11 among them
    assert "HN-ESUP-11" in [c["id"] for c in ctx["clauses"]]
    assert next(c for c in ctx["clauses"] if c["id"] == "HN-ESUP-11")["article"] == "第十一条"
    assert ctx["complete"] is True


def test_nested_rule_keys_find_their_record(henan, facts):
    # HN-ESUP-8.9 loops over a case's special procedures: its findings are keyed `case/part`
    zr1 = next(r for r in facts["cases"] if r.data["case_id"] == "ZR-01")
    rec = dict(zr1.data)  # 自然资源和规划局, item T-GHXK (拍卖 is not allowed for it)
    rec.update(case_id="ZR-02", special_procedures=[
        {"kind": "拍卖", "started_on": "2025-06-10", "limit_on": "2025-06-20",
         "completed_on": "2025-06-18"}])
    facts["cases"].append(rec)
    ctx, _ = build_context(henan, facts, AS_OF, "2025-Q2", levels="red_card")
    f = next(f for f in ctx["findings"] if f["rule"] == "HN-ESUP-8.9")
    assert f["key"].startswith("ZR-02/") and f["record"]["case_id"] == "ZR-02"
    assert f["department"] == "自然资源和规划局" and f["department_from"] == "cases"
    assert {r["name"]: r["count"] for r in ctx["red_cards"]["by_department"]} == {
        **Q2_RED, "自然资源和规划局": 1}


def test_evaluation_findings_take_the_department_of_their_case(henan, facts):
    facts["evaluations"] = [{"evaluation_id": "EV-1", "case_id": "SJ-01", "item_code": "T-SPJY",
                             "evaluated_on": "2025-05-08", "satisfaction": "不满意",
                             "satisfaction_reason": "窗口人员让我反复跑"}]
    ctx, _ = build_context(henan, facts, AS_OF, "2025-Q2", levels="abnormal")
    [f] = ctx["findings"]
    assert f["collection"] == "evaluations" and f["key"] == "EV-1"
    assert f["department"] == "市场监督管理局" and f["department_from"] == "cases"
    assert f["refs"]["cases"]["case_id"] == "SJ-01"


def test_level_filter(henan, facts):
    ctx, _ = build_context(henan, facts, AS_OF, "2025-Q2", levels="red_card")
    assert {f["level"] for f in ctx["findings"]} == {"red_card"}
    assert ctx["warnings"]["total"] == 0
    assert ctx["selected"] == ["red_card"]
    # Chinese level names are accepted too
    ctx2, _ = build_context(henan, facts, AS_OF, "2025-Q2", levels="红牌,预警")
    assert ctx2["selected"] == ["red_card", "warning"]
    with pytest.raises(ReportError, match="unknown level `red`"):
        build_context(henan, facts, AS_OF, "2025-Q2", levels="red")


def test_as_of_defaults_to_period_end_and_may_not_precede_it(henan, facts):
    ctx, ev = build_context(henan, facts, None, "2025-Q2")
    assert ev.as_of == _dt.date(2025, 6, 30)
    with pytest.raises(ReportError, match="before the period"):
        build_context(henan, facts, _dt.date(2025, 3, 31), "2025-Q2")


def test_as_of_inside_the_period_is_a_partial_report(henan, facts):
    ctx, _ = build_context(henan, facts, _dt.date(2025, 5, 31), "2025-Q2")
    assert ctx["complete"] is False
    # SJ-03's red card (2025-06-18) is not known yet on 2025-05-31 (C6)
    assert {r["name"]: r["count"] for r in ctx["red_cards"]["by_department"]} == {
        "市场监督管理局": 2, "公安局": 2, NO_DEPARTMENT: 1}
    assert "阶段性" in render_report(henan, ctx, "bulletin", "md")


# ------------------------------------------------------------------------- Markdown bulletin


def test_markdown_bulletin_structure_and_red_card_counts(henan):
    md = _md(henan)
    assert md.startswith("# 关于2025年第二季度政务服务电子监察红黄牌情况的通报\n")
    for heading in ("## 一、总体情况", "## 二、红牌情况（按部门）", "## 三、预警情况",
                    "## 四、工作要求"):
        assert heading in md
    assert "第十一条" in md and "HN-ESUP-11" in md
    reds = _section(md, "## 二、红牌情况（按部门）", "## 三、预警情况")
    # ranking table: | rank | department | red cards | open |
    rows = re.findall(r"^\| (\d+) \| (\S+) \| (\d+) \| (\d+) \|$", reds, re.M)
    assert [(r[1], int(r[2])) for r in rows] == [
        ("市场监督管理局", 3), ("公安局", 2), (NO_DEPARTMENT, 1)]
    assert [int(r[3]) for r in rows] == [2, 2, 1]  # SJ-02's red card was resolved
    # one sub-section per department with its exact count
    assert "### （一）市场监督管理局：红牌 3 张" in reds
    assert "### （二）公安局：红牌 2 张" in reds
    assert f"### （三）{NO_DEPARTMENT}：红牌 1 张" in reds
    assert "自然资源和规划局" not in reds  # no red card in Q2
    assert "共发出红牌 6 张（未解除 5 张，已解除 1 张），涉及 3 个部门" in md
    assert "发出预警 7 条" in md


def test_period_filter_excludes_findings_outside_the_period(henan):
    md = _md(henan)
    # GA-02 (red card 2025-03-06, Q1), ZR-01 and SJ-04 (red cards in July) are not in Q2
    reds = _section(md, "## 二、红牌情况（按部门）", "## 三、预警情况")
    for key in ("GA-02", "SJ-04", "ZR-01"):
        assert key not in reds
    assert "GA-02" not in md and "SJ-04" not in md
    # ZR-01's warning (2025-06-30) is in Q2, its red card (2025-07-03) is not
    assert "ZR-01" in _section(md, "## 三、预警情况", "## 四、工作要求")
    # the same facts, other periods
    q1 = _md(henan, period="2025-Q1")
    assert "### （一）公安局：红牌 1 张" in q1 and "GA-02" in q1 and "SJ-01" not in q1
    july = _md(henan, period="2025-07")
    assert "### （一）市场监督管理局：红牌 1 张" in july
    assert "### （二）自然资源和规划局：红牌 1 张" in july
    assert "SJ-04" in july and "SJ-01" not in july
    h1 = _md(henan, period="2025-H1")
    assert "### （一）公安局：红牌 3 张" in h1 and "### （二）市场监督管理局：红牌 3 张" in h1


def test_id_numbers_and_phones_are_masked(henan, facts):
    md = _md(henan)
    assert ID_NUMBER not in md
    assert "410***********1230" in md  # the applicant column of the red-card list
    html, _ = report(henan, load_facts(), AS_OF, "2025-Q2", fmt="html")
    assert ID_NUMBER not in html and "410***********1230" in html
    ctx, _ = build_context(henan, facts, AS_OF, "2025-Q2")
    sj1 = next(f for f in ctx["findings"] if f["key"] == "SJ-01")
    assert sj1["record"]["applicant"]["id_number"] == "410***********1230"
    assert sj1["record"]["applicant"]["phone"] == "138****5678"
    assert PHONE not in repr(ctx) and ID_NUMBER not in repr(ctx)
    shown = _md(henan, show_pii=True)
    assert ID_NUMBER in shown


# ------------------------------------------------------------------------- HTML bulletin


def test_html_is_one_self_contained_file_with_an_svg_bar_per_department(henan):
    html, _ = report(henan, load_facts(), AS_OF, "2025-Q2", fmt="html")
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<title>关于2025年第二季度政务服务电子监察红黄牌情况的通报</title>" in html
    low = html.lower()
    assert "http" not in low
    for external in ("<script", "<link", " src=", "@import", "url("):
        assert external not in low
    assert "<style>" in html  # inline CSS
    assert low.count("<svg") == 1
    svg = html[html.index("<svg"): html.index("</svg>")]
    bars = re.findall(r'<rect class="bar[^"]*" data-department="([^"]+)" data-count="(\d+)"', svg)
    # one bar per department of the report, in the order of the ranking
    assert [(d, int(n)) for d, n in bars] == [
        ("市场监督管理局", 3), ("公安局", 2), (NO_DEPARTMENT, 1), ("自然资源和规划局", 0)]
    widths = [float(w) for w in re.findall(r'<rect class="bar[^"]*"[^>]* width="([\d.]+)"', svg)]
    assert widths[0] > widths[1] > widths[2] > widths[3]  # proportional to the red cards
    for heading in ("一、总体情况", "二、红牌情况（按部门）", "三、预警情况", "四、工作要求"):
        assert f"<h2>{heading}</h2>" in html


def test_html_escapes_data(henan):
    facts = load_facts()
    rec = dict(facts["cases"][0].data)
    rec.update(case_id="XSS-1", department="<b>恶意</b>部门")
    facts["cases"].append(rec)
    html, _ = report(henan, facts, AS_OF, "2025-Q2", fmt="html")
    assert "<b>恶意</b>" not in html
    assert "&lt;b&gt;恶意&lt;/b&gt;部门" in html


def test_empty_period(henan):
    md = _md(henan, period="2024")
    assert "未发出红牌和预警" in md and "本期未发出红牌。" in md and "本期未发出预警。" in md
    html, _ = report(henan, load_facts(), AS_OF, "2024", fmt="html")
    assert "<svg" not in html


# ------------------------------------------------------------------------- templates


def test_templates_of_henan():
    from govsup.engine.bundle import load_bundle

    dirs = load_bundle("henan").template_dirs
    assert available_templates(dirs) == ["bulletin"]
    assert available_templates(dirs, "html") == ["bulletin"]


def test_fork_overrides_the_template(fork):
    assert fork.bundle.template_dirs[0].parent.name == "henan_fork"
    text, _ = report(fork, load_facts(), AS_OF, "2025-Q2")
    assert text.startswith("# 分支模板：2025年第二季度红牌情况")
    assert "- 市场监督管理局：红牌 3 张" in text
    assert "- 公安局：红牌 2 张" in text
    assert "四、工作要求" not in text  # henan's template is not used
    # the fork ships no HTML template: the parent's is used
    html, _ = report(fork, load_facts(), AS_OF, "2025-Q2", fmt="html")
    assert "<h2>四、工作要求</h2>" in html


def test_fork_template_can_extend_the_parent_and_override_one_block(tmp_path):
    child = _tmp_fork(tmp_path, '{% extends "henan/bulletin.md.j2" %}\n'
                                "{% block requirements %}\n## 四、工作要求\n\n分支自己的工作要求。\n"
                                "{% endblock %}\n")
    text, _ = report(child, load_facts(), AS_OF, "2025-Q2")
    assert text.startswith("# 关于2025年第二季度政务服务电子监察红黄牌情况的通报")
    assert "### （一）市场监督管理局：红牌 3 张" in text  # the parent's blocks
    assert "分支自己的工作要求。" in text
    assert "从源头上减少红黄牌" not in text  # the parent's requirements block was replaced
    html_child = _tmp_fork(tmp_path / "h", '{% extends "henan/bulletin.html.j2" %}'
                           "{% block requirements %}<h2>四、工作要求</h2><p>分支</p>{% endblock %}",
                           name="bulletin.html.j2")
    html, _ = report(html_child, load_facts(), AS_OF, "2025-Q2", fmt="html")
    assert "<p>分支</p>" in html and "<svg" in html and "http" not in html.lower()


def test_unknown_template_is_a_clear_error(henan):
    with pytest.raises(TemplateNotFoundError) as e:
        report(henan, load_facts(), AS_OF, "2025-Q2", template="bulletn")
    assert "`bulletn`" in e.value.message and "not found" in e.value.message
    assert "bulletin" in e.value.hint
    with pytest.raises(TemplateNotFoundError):
        report(henan, load_facts(), AS_OF, "2025-Q2", template="../bundle")


def _tmp_fork(tmp_path, template_text: str, name="bulletin.md.j2"):
    from govsup.engine.bundle import load_bundle, policy_roots
    from govsup.engine.evaluate import prepare

    b = tmp_path / "tmpfork"
    (b / "templates").mkdir(parents=True)
    (b / "bundle.yaml").write_text("name: tmpfork\nversion: '1'\ntitle: 临时\nextends: henan\n",
                                   encoding="utf-8")
    (b / "templates" / name).write_text(template_text, encoding="utf-8")
    return prepare(load_bundle("tmpfork", policy_roots((tmp_path,))))


def test_template_errors_are_located_policy_errors(tmp_path):
    bad = _tmp_fork(tmp_path, "line one\n{% for x in %}\n")
    with pytest.raises(PolicyError) as e:
        report(bad, load_facts(), AS_OF, "2025-Q2")
    d = e.value.diagnostics[0]
    assert d.code == "E071" and d.loc.file.endswith("bulletin.md.j2") and d.loc.line == 2


def test_templates_are_sandboxed(tmp_path):
    evil = _tmp_fork(tmp_path, "{{ period.__class__.__mro__ }}\n")
    with pytest.raises(PolicyError) as e:
        report(evil, load_facts(), AS_OF, "2025-Q2")
    assert e.value.diagnostics[0].code == "E071"


def test_undefined_names_are_errors_not_blanks(tmp_path):
    typo = _tmp_fork(tmp_path, "# {{ period.lable }}\n")
    with pytest.raises(PolicyError, match="lable"):
        report(typo, load_facts(), AS_OF, "2025-Q2")


# ------------------------------------------------------------------------- command line


def test_cli_markdown_to_stdout(cli):
    r = cli("henan", *INPUTS, "--as-of", "2025-07-31", "--period", "2025-Q2")
    assert r.exit_code == ExitCode.OK, r.output
    assert "### （一）市场监督管理局：红牌 3 张" in r.stdout
    assert ID_NUMBER not in r.stdout
    assert "红牌 6，预警 7" in r.stderr


def test_cli_html_to_file(cli, tmp_path):
    out = tmp_path / "out" / "通报.html"
    r = cli("henan", *INPUTS, "--as-of", "2025-07-31", "--period", "2025-Q2",
            "--format", "html", "--out", out, "--level", "red_card,warning")
    assert r.exit_code == ExitCode.OK, r.output
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html and "http" not in html.lower()
    assert r.stdout == ""


def test_cli_show_pii(cli):
    r = cli("henan", *INPUTS, "--as-of", "2025-07-31", "--period", "2025-Q2", "--show-pii")
    assert r.exit_code == ExitCode.OK and ID_NUMBER in r.stdout


def test_cli_fork_template(cli):
    r = cli("henan_fork", *INPUTS, "--policy-root", FORK_ROOT, "--as-of", "2025-07-31",
            "--period", "2025-Q2")
    assert r.exit_code == ExitCode.OK, r.output
    assert r.stdout.startswith("# 分支模板")


def test_cli_unknown_template_exits_2(cli):
    r = cli("henan", *INPUTS, "--as-of", "2025-07-31", "--period", "2025-Q2",
            "--template", "weekly")
    assert r.exit_code == ExitCode.DATA_ERROR == 2
    assert "E070" in r.stderr and "report template `weekly` (md) not found" in r.stderr
    assert "templates: bulletin" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--period", "2025-Q5"], "is not a period"),
    (["--period", "2025-Q2", "--format", "pdf"], "unknown report format `pdf`"),
    (["--period", "2025-Q2", "--level", "red"], "unknown level `red`"),
    (["--period", "2025-Q2", "--as-of", "2025-02-30"], "is not a date"),
    (["--period", "2025-Q2", "--as-of", "2025-03-01"], "before the period"),
])
def test_cli_usage_errors_exit_2(cli, args, message):
    r = cli("henan", *INPUTS, *args)
    assert r.exit_code == ExitCode.DATA_ERROR, r.output
    assert message in r.stderr


def test_cli_broken_template_exits_3(cli, tmp_path):
    _tmp_fork(tmp_path, "{% if %}\n")
    r = cli("tmpfork", *INPUTS, "--policy-root", tmp_path, "--period", "2025-Q2",
            "--as-of", "2025-07-31")
    assert r.exit_code == ExitCode.POLICY_ERROR, r.output
    assert "E071" in r.stderr


EXAMPLES = HERE.parents[1] / "examples" / "henan"


@pytest.mark.skipif(not (EXAMPLES / "cases.jsonl").exists(), reason="examples/henan not present")
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_bulletin_renders_on_the_henan_examples(cli, fmt):
    args = [f"{c}={EXAMPLES / f}" for c, f in (("items", "items.json"), ("cases", "cases.jsonl"),
                                               ("evaluations", "evaluations.jsonl"))
            if (EXAMPLES / f).exists()]
    r = cli("henan", *args, "--period", "2024", "--as-of", "2025-06-30", "--format", fmt)
    assert r.exit_code == ExitCode.OK, r.output
    assert "政务服务电子监察红黄牌情况的通报" in r.stdout
    assert not re.search(r"\b\d{17}[\dXx]\b", r.stdout)  # no unmasked ID number
