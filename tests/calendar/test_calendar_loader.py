"""Loading calendar dirs: schema errors, E041 data checks, layering (replace / amends), caching."""

import datetime as dt
import shutil
import textwrap

import pytest

from govsup.engine.calendar import (
    Calendar,
    CalendarGap,
    HolidayBlock,
    MakeUpDay,
    YearSpec,
    load_calendar,
    shipped_calendar_dir,
)
from govsup.engine.diagnostics import PolicyError

D = dt.date

GOOD_2025 = """\
year: 2025
notice:
  title: 国务院办公厅关于2025年部分节假日安排的通知
holidays:
  - name: 春节
    from: 2025-01-28
    to: 2025-02-04
make_up_workdays:
  - date: 2025-01-26
    for: 春节
"""


def write(dir_, name, text):
    dir_.mkdir(parents=True, exist_ok=True)
    p = dir_ / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def errors(dirs, **kw):
    with pytest.raises(PolicyError) as exc:
        load_calendar(dirs, **kw)
    return exc.value.diagnostics


def test_minimal_dir_loads(tmp_path):
    write(tmp_path, "2025.yaml", GOOD_2025)
    cal = load_calendar([tmp_path])
    assert cal.years == (2025,)
    assert not cal.is_workday(D(2025, 1, 28)) and cal.is_workday(D(2025, 1, 26))
    assert cal.origin == str(tmp_path.resolve())


def test_unknown_key_gives_e004_at_its_line(tmp_path):
    write(tmp_path, "2025.yaml", GOOD_2025.replace("    to: 2025-02-04", "    too: 2025-02-04"))
    diags = errors([tmp_path])
    e004 = [d for d in diags if d.code == "E004"]
    assert e004, diags
    assert e004[0].loc.line == 7 and e004[0].loc.file.endswith("2025.yaml")
    assert "too" in e004[0].message and "`to`" in e004[0].help


def test_wrong_year_gives_e041(tmp_path):
    write(tmp_path, "2025.yaml", GOOD_2025.replace("year: 2025", "year: 2024"))
    (d,) = errors([tmp_path])
    assert d.code == "E041" and d.loc.line == 1 and "2025.yaml" in d.message


def test_bad_file_name_gives_e041(tmp_path):
    write(tmp_path, "2025.yaml", GOOD_2025)
    write(tmp_path, "holidays.yaml", GOOD_2025)
    (d,) = errors([tmp_path])
    assert d.code == "E041" and "holidays.yaml" in d.message


def test_data_errors_are_all_collected(tmp_path):
    write(tmp_path, "2025.yaml", """\
        year: 2025
        notice:
          title: t
        holidays:
          - name: 春节
            from: 2025-02-04
            to: 2025-01-28
          - name: 劳动节
            from: 2025-05-01
            to: 2025-05-05
          - name: 国庆节
            from: 2025-10-01
            to: 2026-01-08
        make_up_workdays:
          - date: 2025-01-27
            for: 春节
          - date: 2025-04-27
            for: 劳动
          - date: 2025-05-03
            for: 劳动节
        """)
    diags = errors([tmp_path])
    assert all(d.code == "E041" for d in diags)
    msgs = "\n".join(d.message for d in diags)
    assert "after its last day" in msgs                      # from > to (line 5)
    assert "outside 2025" in msgs                            # block ends in 2026
    assert "not a saturday or sunday" in msgs                # 2025-01-27 is a Monday
    assert "`劳动`, which is not a holiday of 2025" in msgs  # unknown `for`
    assert "both a make-up working day" in msgs              # 05-03 inside 劳动节
    lines = sorted(d.loc.line for d in diags)
    assert lines == [5, 11, 15, 17, 19]
    helps = [d.help for d in diags if "劳动`," in d.message]
    assert helps == ["did you mean `劳动节`?"]


def test_december_spill_is_allowed_only_for_late_december(tmp_path):
    write(tmp_path, "2019.yaml", """\
        year: 2019
        notice: {title: t}
        holidays:
          - {name: 元旦, from: 2018-12-30, to: 2019-01-01}
        make_up_workdays:
          - {date: 2018-12-29, for: 元旦}
        """)
    cal = load_calendar([tmp_path], fallback_weekdays=True)
    assert cal.is_workday(D(2018, 12, 29)) and cal.why(D(2018, 12, 30)) == "元旦"
    assert cal.is_provisional(D(2018, 12, 29))          # 2018 itself is not covered
    with pytest.raises(CalendarGap) as exc:
        load_calendar([tmp_path]).is_workday(D(2018, 12, 29))
    assert exc.value.year == 2018
    write(tmp_path, "2019.yaml", """\
        year: 2019
        notice: {title: t}
        holidays:
          - {name: 元旦, from: 2018-11-30, to: 2019-01-01}
        """)
    (d,) = errors([tmp_path])
    assert d.code == "E041" and "late december of 2018" in d.help


def test_uncovered_year_names_the_year():
    cal = load_calendar([shipped_calendar_dir()])
    with pytest.raises(CalendarGap) as exc:
        cal.why(D(2031, 5, 1))
    assert exc.value.year == 2031
    assert exc.value.diagnostics[0].code == "E040"
    assert exc.value.diagnostics[0].message == "calendar year 2031 is not published"
    assert isinstance(exc.value, PolicyError)


def test_a_hole_in_the_years_is_a_gap(tmp_path):
    for y in (2024, 2026):
        write(tmp_path, f"{y}.yaml", f"year: {y}\nnotice: {{title: t}}\nholidays: []\n")
    cal = load_calendar([tmp_path])
    with pytest.raises(CalendarGap) as exc:
        cal.workdays_between(D(2024, 6, 1), D(2026, 6, 1))
    assert exc.value.year == 2025
    fb = load_calendar([tmp_path], fallback_weekdays=True)
    assert fb.is_provisional(D(2025, 3, 3)) and fb.is_workday(D(2025, 3, 3))
    assert fb.touches_provisional(D(2024, 6, 1), D(2026, 6, 1))


def test_fallback_marks_provisional(tmp_path):
    write(tmp_path, "2025.yaml", GOOD_2025)
    fb = load_calendar([tmp_path], fallback_weekdays=True)
    assert fb.is_workday(D(2026, 1, 28))                     # a Wednesday, Mon–Fri rule
    assert fb.is_provisional(D(2026, 1, 28))
    assert not fb.is_provisional(D(2025, 1, 28))
    assert load_calendar([tmp_path]) is not fb


def test_amends_adds_a_local_holiday(tmp_path):
    fork = tmp_path / "fork"
    write(fork, "2025.yaml", """\
        year: 2025
        amends: true
        holidays:
          - name: 火把节
            from: 2025-07-18
            to: 2025-07-20
        make_up_workdays:
          - date: 2025-07-26
            for: 火把节
        """)
    root = shipped_calendar_dir()
    cal = load_calendar([root, fork])
    assert not cal.is_workday(D(2025, 7, 18)) and cal.why(D(2025, 7, 18)) == "火把节"
    assert cal.is_workday(D(2025, 7, 26))                    # the local make-up Saturday
    assert cal.why(D(2025, 1, 28)) == "春节"                 # the national year is kept
    assert cal.is_workday(D(2025, 1, 26))
    assert cal.year_spec(2025).notice.number == "国办发明电〔2024〕12号"
    assert cal.year_spec(2025).sources[-1].endswith("2025.yaml")
    assert len(cal.year_spec(2025).sources) == 2
    assert cal.workdays_in_year(2025) == 248 - 1 + 1         # 07-18 (Fri) off, 07-26 (Sat) on
    # the root alone is unaffected
    assert load_calendar([root]).is_workday(D(2025, 7, 18))


def test_a_fork_year_without_amends_replaces_the_year(tmp_path):
    fork = tmp_path / "fork"
    write(fork, "2025.yaml", GOOD_2025)
    cal = load_calendar([shipped_calendar_dir(), fork])
    assert cal.is_workday(D(2025, 10, 2))                    # 国庆节 is gone in the replacement
    assert cal.why(D(2025, 1, 28)) == "春节"
    assert cal.years == tuple(range(2004, 2027))


def test_amends_needs_an_inherited_year(tmp_path):
    write(tmp_path, "2025.yaml", "year: 2025\namends: true\nholidays: []\n")
    (d,) = errors([tmp_path])
    assert d.code == "E041" and "amends" in d.message and d.loc.line == 1


def test_amending_holiday_on_an_inherited_make_up_day_is_an_error(tmp_path):
    fork = tmp_path / "fork"
    write(fork, "2025.yaml", """\
        year: 2025
        amends: true
        holidays:
          - {name: 地方节, from: 2025-01-26, to: 2025-01-26}
        """)
    diags = errors([shipped_calendar_dir(), fork])
    assert [d.code for d in diags] == ["E041"]
    assert "2025-01-26 is both a make-up working day" in diags[0].message


def test_missing_notice_without_amends_is_e005(tmp_path):
    write(tmp_path, "2025.yaml", "year: 2025\nholidays: []\n")
    (d,) = errors([tmp_path])
    assert d.code == "E005" and "notice" in d.message


def test_missing_dir_is_e006(tmp_path):
    (d,) = errors([tmp_path / "nope"])
    assert d.code == "E006"


def test_load_is_cached_and_sees_edits(tmp_path):
    p = write(tmp_path, "2025.yaml", GOOD_2025)
    a = load_calendar([tmp_path])
    assert load_calendar([str(tmp_path)]) is a
    p.write_text(GOOD_2025.replace("2025-02-04", "2025-02-05") + "# edited\n", encoding="utf-8")
    b = load_calendar([tmp_path])
    assert b is not a and not b.is_workday(D(2025, 2, 5))


def test_copied_shipped_dir_loads_identically(tmp_path):
    dst = tmp_path / "calendar"
    shutil.copytree(shipped_calendar_dir(), dst)
    a, b = load_calendar([shipped_calendar_dir()]), load_calendar([dst])
    day = D(2004, 1, 1)
    while day <= D(2026, 12, 31):
        assert a.is_workday(day) == b.is_workday(day)
        day += dt.timedelta(days=30)


def test_calendar_from_specs_checks_its_data():
    ok = YearSpec(2025, holidays=(HolidayBlock("春节", D(2025, 1, 28), D(2025, 2, 4)),),
                  make_up_workdays=(MakeUpDay(D(2025, 1, 26), "春节"),))
    cal = Calendar([ok])
    assert cal.add_workdays(D(2025, 1, 24), 3) == D(2025, 2, 5)
    bad = YearSpec(2025, make_up_workdays=(MakeUpDay(D(2025, 1, 27), "春节"),))
    with pytest.raises(PolicyError) as exc:
        Calendar([bad])
    assert {d.code for d in exc.value.diagnostics} == {"E041"}
    with pytest.raises(ValueError):
        Calendar([])
