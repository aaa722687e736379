"""`policy calendar …` through typer's CliRunner against cli.calendar_cmd.app directly."""

import textwrap

import pytest
from typer.testing import CliRunner

from govsup.cli.calendar_cmd import EXIT_DATA, app


@pytest.fixture(scope="module")
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, list(args))

    return invoke


def test_is_workday_make_up_sunday(run):
    r = run("is-workday", "2025-01-26")
    assert r.exit_code == 0
    assert r.stdout.strip() == "2025-01-26 星期日 工作日 (调休上班日（春节）)"


def test_is_workday_holiday_and_plain_days(run):
    assert run("is-workday", "2025-01-28").stdout.strip() == "2025-01-28 星期二 休息日 (春节)"
    assert run("is-workday", "2025-03-03").stdout.strip() == "2025-03-03 星期一 工作日"
    assert run("is-workday", "2025-03-01").stdout.strip() == "2025-03-01 星期六 休息日 (周末)"


def test_add_lists_the_counted_days(run):
    r = run("add", "2025-01-24", "3")
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "2025-01-24 星期五 后第 3 个工作日：2025-02-05 星期三"
    assert "2025-01-26 星期日  调休上班日（春节）" in lines[1]
    assert lines[2].endswith("2025-01-27 星期一")
    assert lines[3].endswith("2025-02-05 星期三")


def test_add_negative(run):
    r = run("add", "2025-02-05", "-3")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == "2025-02-05 星期三 前第 3 个工作日：2025-01-24 星期五"


def test_between(run):
    r = run("between", "2025-01-24", "2025-02-10")
    assert r.exit_code == 0
    assert "工作日 7 天" in r.stdout and "自然日 17 天" in r.stdout


def test_year_printout(run):
    r = run("year", "2025")
    assert r.exit_code == 0
    out = r.stdout
    assert "国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号，2024-11-12）" in out
    assert "  01-26 星期日 上班  调休上班日（春节）" in out
    assert "  10-06 星期一 放假  国庆节、中秋节" in out
    assert "1月：工作日 19 天" in out and "10月：工作日 18 天" in out
    assert out.strip().endswith("全年工作日 248 天")
    assert "03-01" not in out  # an ordinary weekend is not listed


def test_bad_date_text_is_a_diagnostic_with_exit_2(run):
    r = run("is-workday", "2025-13-01")
    assert r.exit_code == EXIT_DATA == 2
    assert r.stdout == ""
    assert "error[E050] `2025-13-01` is not a date" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("add", "2025-01-24", "three")
    assert r.exit_code == 2 and "[E050]" in r.stderr


def test_uncovered_year_is_e040_with_exit_2(run):
    for args in (("is-workday", "2027-01-04"), ("add", "2026-12-30", "5"),
                 ("between", "2026-12-01", "2027-01-10"), ("year", "2027")):
        r = run(*args)
        assert r.exit_code == 2, args
        assert "error[E040] calendar year 2027 is not published" in r.stderr
        assert "Traceback" not in r.stderr


def test_fallback_option(run):
    r = run("is-workday", "2027-01-04", "--fallback-weekdays")
    assert r.exit_code == 0
    assert r.stdout.startswith("2027-01-04 星期一 工作日") and "暂定" in r.stdout
    r = run("year", "2027", "--fallback-weekdays")
    assert r.exit_code == 0 and "全年工作日 261 天" in r.stdout


def test_calendar_dir_option_with_a_local_holiday(run, tmp_path):
    from govsup.engine.calendar import shipped_calendar_dir

    fork = tmp_path / "fork"
    fork.mkdir()
    (fork / "2025.yaml").write_text(textwrap.dedent("""\
        year: 2025
        amends: true
        holidays:
          - {name: 火把节, from: 2025-07-18, to: 2025-07-20}
        """), encoding="utf-8")
    r = run("is-workday", "2025-07-18", "--calendar-dir", str(shipped_calendar_dir()),
            "--calendar-dir", str(fork))
    assert r.exit_code == 0 and r.stdout.strip() == "2025-07-18 星期五 休息日 (火把节)"
    r = run("year", "2025", "--calendar-dir", str(shipped_calendar_dir()),
            "--calendar-dir", str(fork))
    assert "  07-18 星期五 放假  火把节" in r.stdout and "全年工作日 247 天" in r.stdout


def test_broken_calendar_dir_is_exit_2(run, tmp_path):
    (tmp_path / "2025.yaml").write_text("year: 2025\nnotice: {title: t}\nholidays: []\nfoo: 1\n",
                                        encoding="utf-8")
    r = run("is-workday", "2025-01-02", "--calendar-dir", str(tmp_path))
    assert r.exit_code == 2 and "error[E004] unknown key `foo`" in r.stderr
    assert "   4 | foo: 1" in r.stderr


def test_coverage(run):
    r = run("coverage", "--as-of", "2026-11-20")
    assert r.exit_code == 0
    assert r.stdout.strip() == "日历覆盖 2004–2026 年，截止 2026-12-31"
    assert "warning[W001]" in r.stderr
    r = run("coverage", "--as-of", "2026-01-01")
    assert r.exit_code == 0 and r.stderr == ""
