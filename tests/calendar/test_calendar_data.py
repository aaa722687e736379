"""The shipped year files 2004–2026 against the `chinesecalendar` package, day by day.

The package is the reference for the days; the one place where it disagrees with the notice
text is listed in NOTICE_OVER_PACKAGE (the notice wins, see policies/calendar/2006.yaml).
"""

import datetime as dt
import json
from pathlib import Path

import chinese_calendar as cc
import pytest
from chinese_calendar.constants import holidays as CC_HOLIDAYS
from chinese_calendar.constants import workdays as CC_WORKDAYS

from govsup.engine.calendar import load_calendar, shipped_calendar_dir

ONE = dt.timedelta(days=1)

# package English holiday value -> our Chinese name
NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}

# Days where the notice text and chinesecalendar 1.11.0 disagree; the calendar follows the notice.
NOTICE_OVER_PACKAGE = {
    # 国务院办公厅关于2006年部分节假日安排的通知（国办发明电〔2005〕35号）：元旦……12月31日（星期六）上班。
    # chinesecalendar issues #17 and #125 report the same omission.
    dt.date(2005, 12, 31): (True, "调休上班日（元旦）"),
}


@pytest.fixture(scope="module")
def cal():
    return load_calendar([shipped_calendar_dir()])


def all_days():
    d = dt.date(2004, 1, 1)
    while d <= dt.date(2026, 12, 31):
        yield d
        d += ONE


def test_every_day_2004_2026_matches_the_package(cal):
    mismatches = []
    for d in all_days():
        expected = NOTICE_OVER_PACKAGE.get(d, (cc.is_workday(d), None))[0]
        if cal.is_workday(d) != expected:
            mismatches.append((d.isoformat(), cal.why(d)))
    assert mismatches == []


def test_notice_over_package_days(cal):
    for d, (work, why) in NOTICE_OVER_PACKAGE.items():
        assert cal.is_workday(d) is work
        assert cal.why(d) == why
        assert cc.is_workday(d) is not work  # still a known difference; drop it when fixed


def test_holiday_names_match_the_package(cal):
    wrong = []
    for d, value in CC_HOLIDAYS.items():
        if not dt.date(2004, 1, 1) <= d <= dt.date(2026, 12, 31) or d in NOTICE_OVER_PACKAGE:
            continue
        ours = cal.why(d).split("、")
        if NAMES[value] not in ours:
            wrong.append((d.isoformat(), cal.why(d), NAMES[value]))
    assert wrong == []


def test_make_up_day_reasons_match_the_package(cal):
    wrong = []
    for d, value in CC_WORKDAYS.items():
        why = cal.why(d)
        assert why.startswith("调休上班日（") and why.endswith("）"), (d, why)
        if NAMES[value] not in why[len("调休上班日（"):-1].split("、"):
            wrong.append((d.isoformat(), why, NAMES[value]))
    assert wrong == []


def test_plain_days_say_weekday_or_weekend(cal):
    for d in (dt.date(2025, 3, 3), dt.date(2025, 3, 8), dt.date(2025, 3, 9)):
        assert cal.why(d) == ("工作日" if d.weekday() < 5 else "周末")


def test_no_qingming_duanwu_zhongqiu_before_2008(cal):
    for y in range(2004, 2008):
        names = {b.name for b in cal.year_spec(y).holidays}
        assert names == {"元旦", "春节", "劳动节", "国庆节"}, y


def test_every_year_file_is_present_with_its_notice(cal):
    assert cal.years == tuple(range(2004, 2027))
    assert (cal.first_year, cal.last_year) == (2004, 2026)
    assert cal.coverage_end == dt.date(2026, 12, 31)
    for y in cal.years:
        spec = cal.year_spec(y)
        assert spec.notice is not None
        assert spec.notice.title == f"国务院办公厅关于{y}年部分节假日安排的通知"
    n = cal.year_spec(2025).notice
    assert (n.number, n.published) == ("国办发明电〔2024〕12号", dt.date(2024, 11, 12))


def test_blocks_are_contiguous_days_off_and_named(cal):
    for y in cal.years:
        for b in cal.year_spec(y).holidays:
            d = b.start
            while d <= b.end:
                assert not cal.is_workday(d), (b, d)
                d += ONE
            assert b.end.year == y


def test_known_workday_totals(cal):
    # 365 days − 104 weekend days = 261 weekdays; − 18 weekday holidays + 5 make-up days = 248
    assert cal.workdays_in_year(2025) == 248
    # 2024 (leap, starts on a monday): 262 weekdays − 19 weekday holidays + 8 make-up days = 251
    assert cal.workdays_in_year(2024) == 251


def test_readme_and_schema_exist():
    d = shipped_calendar_dir()
    assert (d / "README.md").read_text(encoding="utf-8").startswith("# 工作日日历")
    schema_path = Path(__file__).resolve().parents[2] / "engine" / "schemas" / "calendar_year.json"
    sch = json.loads(schema_path.read_text(encoding="utf-8"))
    assert sch["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield node
            for v in node.values():
                yield from objects(v)
        elif isinstance(node, list):
            for v in node:
                yield from objects(v)

    objs = list(objects(sch))
    assert len(objs) >= 4
    assert all(o.get("additionalProperties") is False for o in objs)
    assert all("description" in o for o in objs)
