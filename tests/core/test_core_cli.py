"""The `policy` command line, called in-process with typer's CliRunner."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from core_helpers import FIXTURES
from govsup.cli.exitcodes import ExitCode
from govsup.cli.main import app

MINI = str(FIXTURES / "mini")
FORKS = str(FIXTURES / "forks")
ID_NO = "11010519491231002X"  # a valid resident ID number (check digit X)
PHONE = "13812345678"


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def run(runner, *args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def facts(tmp_path):
    """Input files: cases.json (an object of collections) and cases.jsonl with a bad line 2."""
    cases = [
        # Fri 09-27 + 5: 09-29 (make-up), 09-30, 10-08, 10-09, 10-10 → red 10-11; countdown
        # (k = 2): the 3rd working day = 10-08
        {"id": "A", "accepted_on": "2024-09-27", "days": 5},
        # Tue 10-08 + 1 → 10-09, done 10-08: on time; countdown 10-08 (5 − 2 < 1: at once)
        {"id": "C", "accepted_on": "2024-10-08", "days": 1, "completed_on": "2024-10-08"},
    ]
    (tmp_path / "facts.json").write_text(json.dumps({"cases": cases}), encoding="utf-8")
    lines = [json.dumps(cases[0]), '{"id": "B", "accepted_on": ', json.dumps(cases[1])]
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


# ------------------------------------------------------------------------------ check


def test_check_ok(runner):
    r = run(runner, "check", MINI, "--as-of", "2024-12-31")
    assert r.exit_code == ExitCode.OK, r.output
    assert r.stdout == ("ok: mini 1 (mini): 2 rules, 1 parameters, 3 levels, 1 collections, "
                        "0 disabled\n")
    assert r.stderr == ""


def test_check_fork_by_name_with_policy_root(runner):
    r = run(runner, "check", "leaf", "--policy-root", FORKS, "--as-of", "2024-12-31")
    assert r.exit_code == ExitCode.OK, r.output
    assert "ok: leaf 2 (root → mid → leaf): 3 rules, 4 parameters, 5 levels" in r.stdout
    assert "1 disabled" in r.stdout


def test_check_warns_when_calendar_coverage_ends_soon(runner):
    r = run(runner, "check", MINI, "--as-of", "2026-12-01")
    assert r.exit_code == ExitCode.OK
    assert "W001" in r.stderr and r.stdout.startswith("ok: mini")


def test_check_errors_exit_3_with_location_and_caret(runner):
    r = run(runner, "check", FIXTURES / "broken" / "type_error")
    assert r.exit_code == ExitCode.POLICY_ERROR == 3
    err = r.stderr.splitlines()
    assert err[0].endswith("broken/type_error/rules/r.rule:10:12: error[E027] cannot apply `+` "
                           "to date and int")
    assert err[2] == "  10 |   on limit + 1"
    assert err[3] == "     |            ^"
    assert err[-1] == "2 error(s), 0 warning(s)"
    assert r.stdout == ""


def test_check_json_output_parses(runner):
    r = run(runner, "check", FIXTURES / "broken" / "dsl_fullwidth", "--json")
    assert r.exit_code == ExitCode.POLICY_ERROR
    doc = json.loads(r.stderr)
    assert doc["total"] == 1
    d = doc["diagnostics"][0]
    assert (d["code"], d["line"], d["col"]) == ("E020", 8, 8)
    assert d["title_zh"] == "规则语法错误" and "full-width" in d["help"]
    ok = run(runner, "check", MINI, "--json", "--as-of", "2024-12-31")
    assert ok.exit_code == 0 and json.loads(ok.stdout) == {"diagnostics": [], "total": 0}


def test_check_show_compiled(runner):
    r = run(runner, "check", MINI, "--show-compiled", "--as-of", "2024-12-31")
    assert r.exit_code == 0
    assert "# rule T-1/red\ndef run(rt, colls, sink):" in r.stdout
    assert "# rule T-1/warn\n" in r.stdout


def test_check_unknown_bundle(runner):
    r = run(runner, "check", "leef", "--policy-root", FORKS)
    assert r.exit_code == ExitCode.POLICY_ERROR
    assert "error[E010] bundle `leef` not found" in r.stderr and "did you mean `leaf`?" in r.stderr


# ------------------------------------------------------------------------------ eval


def test_eval_json_input_json_output(runner, facts):
    r = run(runner, "eval", MINI, facts / "facts.json", "--as-of", "2024-10-31", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    got = [(f["rule"], f["key"], f["level"], f["triggered_on"], f["status"], f["resolved_on"])
           for f in doc["findings"]]
    assert got == [
        ("T-1/warn", "A", "warning", "2024-10-08", "open", None),
        ("T-1/warn", "C", "warning", "2024-10-08", "resolved", "2024-10-08"),
        ("T-1/red", "A", "red_card", "2024-10-11", "open", None),
    ]
    assert doc["summary"]["read"] == 2 and doc["summary"]["rejected"] == 0
    assert doc["as_of"] == "2024-10-31" and doc["bundle"] == "mini"
    # the summary line goes to stderr so stdout stays machine-readable
    assert r.stderr.strip() == "读取 2 条，评估 2 条，拒收 0 条；发现 3 项（红牌 1，预警 2）"


def test_eval_jsonl_with_a_malformed_line(runner, facts):
    r = run(runner, "eval", MINI, facts / "cases.jsonl", "--as-of", "2024-10-31", "--format", "jsonl")
    assert r.exit_code == ExitCode.OK, r.output  # a malformed record is not a data error
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert sorted((x["rule"], x["key"]) for x in rows) == [
        ("T-1/red", "A"), ("T-1/warn", "A"), ("T-1/warn", "C")]
    rejected = [x for x in r.stderr.splitlines() if x.startswith("rejected:")]
    assert len(rejected) == 1
    assert rejected[0].startswith("rejected: ") and "cases.jsonl:2: invalid json" in rejected[0]
    assert "读取 3 条，评估 2 条，拒收 1 条" in r.stderr


def test_eval_reads_stdin(runner, facts):
    text = (facts / "cases.jsonl").read_text(encoding="utf-8")
    r = run(runner, "eval", MINI, "cases=-", "--input-format", "jsonl", "--as-of", "2024-10-31",
            "--format", "jsonl", input=text)
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 3
    assert "<stdin>:2: invalid json" in r.stderr


def test_eval_table_and_markdown(runner, facts):
    t = run(runner, "eval", MINI, facts / "facts.json", "--as-of", "2024-10-31")
    assert t.exit_code == 0
    lines = t.stdout.splitlines()
    assert lines[0].split() == ["日期", "等级", "规则", "条款", "对象", "状态", "说明"]
    assert lines[1].split() == ["2024-10-08", "预警", "T-1/warn", "T-1", "A", "未解决",
                                "办件A剩余时限不足2个工作日"]
    assert "已解决 2024-10-08" in lines[2]
    assert lines[-1] == "读取 2 条，评估 2 条，拒收 0 条；发现 3 项（红牌 1，预警 2）"
    m = run(runner, "eval", MINI, facts / "facts.json", "--as-of", "2024-10-31", "-f", "markdown")
    assert m.exit_code == 0
    md = m.stdout.splitlines()
    assert md[0] == "# mini 评估结果（截至 2024-10-31）"
    assert "| 日期 | 等级 | 规则 | 条款 | 对象 | 状态 | 说明 |" in md
    assert "| 2024-10-11 | 红牌 | T-1/red | T-1 | A | 未解决 | 办件A超过期限2024-10-10 |" in md


def test_eval_explain_prints_bindings(runner, facts):
    r = run(runner, "eval", MINI, facts / "facts.json", "--as-of", "2024-10-31", "--explain",
            "-f", "jsonl")
    assert r.exit_code == 0
    err = r.stderr
    block = err[err.index("T-1/red  [A]"):]
    assert block.splitlines()[:8] == [
        "T-1/red  [A]",
        '    ref = "2024-09-27"',
        "    let pauses = []",
        '    let limit = "2024-10-10"',
        '    require limit = "2024-10-10"',
        "    when c.completed_on ?? as_of + 1 days > limit = true",
        '    on = "2024-10-11"',
        "    resolved = null",
    ]
    assert "T-1/red  [C]" in err and "limit = false" in err  # the condition that stopped it
    # --explain evaluates with the interpreter: same findings as the compiled code
    plain = run(runner, "eval", MINI, facts / "facts.json", "--as-of", "2024-10-31", "-f", "jsonl")
    assert plain.stdout == r.stdout


def test_fail_on(runner, facts):
    args = ("eval", MINI, facts / "facts.json", "--as-of", "2024-10-31", "-f", "jsonl")
    assert run(runner, *args, "--fail-on", "red_card").exit_code == ExitCode.FINDINGS == 1
    # before the red card (as of 10-10) only warnings exist
    early = ("eval", MINI, facts / "facts.json", "--as-of", "2024-10-10", "-f", "jsonl")
    assert run(runner, *early, "--fail-on", "red_card").exit_code == 0
    assert run(runner, *early, "--fail-on", "warning").exit_code == 1
    bad = run(runner, *args, "--fail-on", "red_crad")
    assert bad.exit_code == ExitCode.DATA_ERROR == 2
    assert "unknown level `red_crad`" in bad.stderr and "did you mean `red_card`?" in bad.stderr
    assert bad.stdout == ""  # nothing is evaluated


def test_eval_usage_errors_exit_2(runner, facts, tmp_path):
    base = ("eval", MINI, facts / "facts.json")
    r = run(runner, *base, "--format", "xml")
    assert r.exit_code == 2 and "unknown format `xml`" in r.stderr
    r = run(runner, *base, "--as-of", "2024-02-30")
    assert r.exit_code == 2 and "`2024-02-30` is not a date" in r.stderr
    r = run(runner, "eval", MINI, tmp_path / "nope.json", "--as-of", "2024-10-31")
    assert r.exit_code == 2 and "input file not found" in r.stderr
    r = run(runner, "eval", MINI, f"casez={facts / 'cases.jsonl'}", "--as-of", "2024-10-31")
    assert r.exit_code == 2 and "did you mean `cases`?" in r.stderr


def test_eval_of_a_broken_bundle_exits_3(runner, facts):
    r = run(runner, "eval", FIXTURES / "broken" / "yaml_syntax", facts / "facts.json")
    assert r.exit_code == ExitCode.POLICY_ERROR and "error[E001]" in r.stderr


def test_personal_data_is_masked_unless_asked(runner, tmp_path):
    cases = [{"id": "P", "accepted_on": "2024-09-27", "days": 5, "applicant_id": ID_NO,
              "applicant_phone": PHONE}]
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"cases": cases}), encoding="utf-8")
    args = ("eval", "root", path, "--policy-root", FORKS, "--as-of", "2024-10-31")
    for fmt in ("json", "jsonl", "table", "markdown"):
        r = run(runner, *args, "-f", fmt)
        assert r.exit_code == 0, r.output
        assert ID_NO not in r.stdout and PHONE not in r.stdout, fmt
        assert "110***********002X" in r.stdout and "138****5678" in r.stdout, fmt
        shown = run(runner, *args, "-f", fmt, "--show-pii")
        assert ID_NO in shown.stdout and PHONE in shown.stdout, fmt
    # --explain traces are masked too
    r = run(runner, *args, "-f", "jsonl", "--explain")
    assert ID_NO not in r.stderr and PHONE not in r.stderr


# ------------------------------------------------------------------------------ test, schema


def test_test_command_exit_codes(runner, tmp_path):
    r = run(runner, "test", "root", "--policy-root", FORKS, "-v")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == "2 passed, 0 failed, 0 skipped"
    assert "  ok [root] late case" in r.stdout
    r = run(runner, "test", "leaf", "--policy-root", FORKS, "-v")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[-1] == "0 passed, 0 failed, 2 skipped"
    assert "SKIP (fork `leaf` changed rule `R-1`) [root] late case" in r.stdout
    r = run(runner, "test", "root", "--policy-root", FORKS, "-k", "fee")
    assert r.stdout.splitlines()[-1] == "1 passed, 0 failed, 0 skipped"

    forks = tmp_path / "forks"
    shutil.copytree(FORKS, forks)
    t = forks / "root" / "tests" / "root.yaml"
    t.write_text(t.read_text(encoding="utf-8").replace("triggered_on: 2024-09-30",
                                                       "triggered_on: 2024-10-01"), encoding="utf-8")
    r = run(runner, "test", "root", "--policy-root", forks)
    assert r.exit_code == ExitCode.FINDINGS == 1
    assert "FAIL " in r.stdout and "root.yaml:2:5: [root] late case" in r.stdout
    assert "unexpected finding: R-1 A red_card 2024-09-30" in r.stdout
    assert r.stdout.splitlines()[-1] == "1 passed, 1 failed, 0 skipped"

    r = run(runner, "test", "nosuch", "--policy-root", forks)
    assert r.exit_code == ExitCode.POLICY_ERROR


def test_schema_writes_files(runner, tmp_path):
    out = tmp_path / "schemas"
    r = run(runner, "schema", out)
    assert r.exit_code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["calendar_year.schema.json", "entity.schema.json", "evaluation.schema.json",
                     "levels.schema.json", "manifest.schema.json", "parameters.schema.json",
                     "tests.schema.json", "workflow.schema.json"]
    assert r.stdout.strip() == f"wrote 8 schemas to {out}"
    ev = json.loads((out / "evaluation.schema.json").read_text(encoding="utf-8"))
    assert "Finding" in ev["$defs"] and "triggered_on" in ev["$defs"]["Finding"]["properties"]
    man = json.loads((out / "manifest.schema.json").read_text(encoding="utf-8"))
    assert man["additionalProperties"] is False
