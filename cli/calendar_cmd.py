"""``policy calendar …``: the working-day calendar on the command line.

Input: command-line arguments — dates as ``yyyy-mm-dd``, ``--calendar-dir PATH`` (repeatable,
root ancestor's dir first; default: the shipped ``policies/calendar``) and ``--fallback-weekdays``.
Output: Chinese-friendly text on stdout. Every command is a thin layer over
:mod:`govsup.engine.calendar`; problems (a bad date, an unpublished year, a broken year file) are
printed with :func:`~govsup.engine.diagnostics.render_human` on stderr and exit with code 2.

The main ``policy`` CLI mounts :data:`app` as ``policy calendar``.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import List, NoReturn, Optional

import typer

from govsup.engine.calendar import Calendar, load_calendar
from govsup.engine.diagnostics import Diagnostic, PolicyError, render_human
from govsup.engine.loc import Loc

app = typer.Typer(
    name="calendar",
    help="工作日日历：查询某天是否工作日、推算 N 个工作日后的日期、统计区间工作日、列出全年安排。",
    no_args_is_help=True,
    add_completion=False,
)

EXIT_DATA = 2
"""Exit code for data and usage errors (bad date, unpublished year, broken calendar file)."""

WEEKDAYS = "一二三四五六日"
LIST_LIMIT = 60
"""`add` lists the counted working days one per line up to this many."""

_DIRS_HELP = ("日历目录（可重复，从根祖先规则包到最具体的分支依次给出；"
              "默认使用随软件发布的 policies/calendar）")
_FALLBACK_HELP = "未发布的年份按周一至周五暂定计算（结果标为“暂定”），而不是报错"


def _wd(d: _dt.date) -> str:
    return f"{d.isoformat()} 星期{WEEKDAYS[d.weekday()]}"


def _fail(diags: list[Diagnostic]) -> NoReturn:
    typer.echo(render_human(diags), err=True)
    raise typer.Exit(EXIT_DATA)


def _usage(message: str, hint: str = "") -> NoReturn:
    _fail([Diagnostic("E050", message, Loc("<command line>"), hint)])


def _date(text: str, what: str = "date") -> _dt.date:
    try:
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        _usage(f"`{text}` is not a {what}", "write dates as yyyy-mm-dd, e.g. 2025-01-26")


def _int(text: str, what: str, hint: str = "write a whole number, e.g. 3 or -3") -> int:
    try:
        return int(text.strip())
    except ValueError:
        _usage(f"`{text}` is not {what}", hint)


def _load(dirs: Optional[List[Path]], fallback: bool) -> Calendar:
    return load_calendar(list(dirs) if dirs else None, fallback_weekdays=fallback)


def _provisional_note(cal: Calendar, *days: _dt.date) -> str:
    years = sorted({d.year for d in days if cal.is_provisional(d)})
    if not years:
        return ""
    ys = "、".join(str(y) for y in years)
    return f"  [暂定：{ys}年日历未发布，按周一至周五计]"


def _run(fn):
    """Call ``fn()``, turning PolicyError / ValueError into a diagnostic and exit code 2."""
    try:
        return fn()
    except PolicyError as exc:
        _fail(exc.diagnostics)
    except (ValueError, TypeError) as exc:
        _usage(str(exc))


DirsOpt = typer.Option(None, "--calendar-dir", help=_DIRS_HELP, show_default=False)
FallbackOpt = typer.Option(False, "--fallback-weekdays", help=_FALLBACK_HELP)


@app.command("is-workday")
def is_workday_cmd(
    day: str = typer.Argument(..., metavar="DATE", help="日期，如 2025-01-26"),
    calendar_dir: Optional[List[Path]] = DirsOpt,
    fallback_weekdays: bool = FallbackOpt,
) -> None:
    """某天是不是工作日，以及原因（周末、节假日、调休上班）。"""
    d = _date(day)

    def go():
        cal = _load(calendar_dir, fallback_weekdays)
        work = cal.is_workday(d)
        why = cal.why(d)
        status = "工作日" if work else "休息日"
        reason = "" if why == status else f" ({why})"
        typer.echo(f"{_wd(d)} {status}{reason}{_provisional_note(cal, d)}")

    _run(go)


@app.command("add", context_settings={"ignore_unknown_options": True})
def add_cmd(
    day: str = typer.Argument(..., metavar="DATE", help="起算日（当天不计入，C2）"),
    count: str = typer.Argument(..., metavar="N", help="工作日个数；负数表示往前数"),
    calendar_dir: Optional[List[Path]] = DirsOpt,
    fallback_weekdays: bool = FallbackOpt,
) -> None:
    """DATE 之后第 N 个工作日（当天不计入）；N 为负数时为之前第 |N| 个工作日。"""
    d = _date(day)
    n = _int(count, "a whole number of working days")

    def go():
        cal = _load(calendar_dir, fallback_weekdays)
        result = cal.add_workdays(d, n)
        if n == 0:
            typer.echo(f"{_wd(d)} 后第 0 个工作日：{_wd(result)}{_provisional_note(cal, d)}")
            return
        side = "后" if n > 0 else "前"
        typer.echo(f"{_wd(d)} {side}第 {abs(n)} 个工作日：{_wd(result)}"
                   f"{_provisional_note(cal, d, result)}")
        if abs(n) <= LIST_LIMIT:
            step = 1 if n > 0 else -1
            for i in range(1, abs(n) + 1):
                x = cal.add_workdays(d, i * step)
                why = cal.why(x)
                extra = "" if why == "工作日" else f"  {why}"
                typer.echo(f"  {i:>3}. {_wd(x)}{extra}")

    _run(go)


@app.command("between")
def between_cmd(
    start: str = typer.Argument(..., metavar="A", help="区间起点（不含）"),
    end: str = typer.Argument(..., metavar="B", help="区间终点（含）"),
    calendar_dir: Optional[List[Path]] = DirsOpt,
    fallback_weekdays: bool = FallbackOpt,
) -> None:
    """区间 (A, B] 内的工作日天数（A 当天不计，B 当天计入）；B 早于 A 时为负数。"""
    a, b = _date(start), _date(end)

    def go():
        cal = _load(calendar_dir, fallback_weekdays)
        k = cal.workdays_between(a, b)
        days = (b - a).days
        typer.echo(f"({_wd(a)}, {_wd(b)}] 工作日 {k} 天（自然日 {days} 天）"
                   f"{_provisional_note(cal, a, b)}")

    _run(go)


@app.command("year")
def year_cmd(
    year_text: str = typer.Argument(..., metavar="YEAR", help="年份，如 2025"),
    calendar_dir: Optional[List[Path]] = DirsOpt,
    fallback_weekdays: bool = FallbackOpt,
) -> None:
    """列出一年的安排：每月放假的工作日（星期一至五）、调休上班日及原因，和工作日天数。"""
    year = _int(year_text, "a year", "write a year like 2025")
    if not 1 <= year <= 9998:
        _usage(f"`{year_text}` is not a year", "write a year like 2025")

    def go():
        cal = _load(calendar_dir, fallback_weekdays)
        first, last = _dt.date(year, 1, 1), _dt.date(year, 12, 31)
        cal.is_workday(first)  # raises CalendarGap for an unpublished year without the fallback
        lines = [f"{year}年 工作日日历"]
        if cal.covers(year):
            spec = cal.year_spec(year)
            if spec.notice is not None:
                meta = "，".join(x for x in (spec.notice.number,
                                             spec.notice.published and
                                             spec.notice.published.isoformat()) if x)
                lines.append(f"依据：{spec.notice.title}" + (f"（{meta}）" if meta else ""))
            if len(spec.sources) > 1:
                lines.append("本地增补：" + "、".join(spec.sources[1:]))
            if spec.holidays:
                lines.append("放假安排：")
                for b in spec.holidays:
                    lines.append(f"  {b.name}：{_wd(b.start)} 至 {_wd(b.end)}，共{b.days}天")
        else:
            lines.append(f"（{year}年日历未发布，按周一至周五暂定）")
        d = first
        one = _dt.timedelta(days=1)
        for month in range(1, 13):
            month_end = (_dt.date(year + (month == 12), month % 12 + 1, 1) - one)
            count = cal.workdays_between(d - one, month_end)
            lines.append(f"{month}月：工作日 {count} 天")
            while d <= month_end:
                work = cal.is_workday(d)
                weekend = d.weekday() >= 5
                if work and weekend:
                    lines.append(f"  {d.month:02d}-{d.day:02d} 星期{WEEKDAYS[d.weekday()]} "
                                 f"上班  {cal.why(d)}")
                elif not work and not weekend:
                    lines.append(f"  {d.month:02d}-{d.day:02d} 星期{WEEKDAYS[d.weekday()]} "
                                 f"放假  {cal.why(d)}")
                d += one
        total = cal.workdays_between(first - one, last)
        lines.append(f"全年工作日 {total} 天{_provisional_note(cal, first)}")
        typer.echo("\n".join(lines))

    _run(go)


@app.command("coverage")
def coverage_cmd(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="以哪天为准检查覆盖期（默认今天）"),
    calendar_dir: Optional[List[Path]] = DirsOpt,
    fallback_weekdays: bool = FallbackOpt,
) -> None:
    """日历覆盖哪些年份；覆盖期 60 天内到期时给出 W001 提醒（写到 stderr）。"""
    ref = _date(as_of) if as_of else _dt.date.today()

    def go():
        cal = _load(calendar_dir, fallback_weekdays)
        years = cal.years
        span = f"{years[0]}–{years[-1]}"
        missing = [y for y in range(years[0], years[-1] + 1) if not cal.covers(y)]
        gap = f"，缺 {'、'.join(map(str, missing))} 年" if missing else ""
        typer.echo(f"日历覆盖 {span} 年{gap}，截止 {cal.coverage_end.isoformat()}")
        warning = cal.coverage_warning(ref)
        if warning is not None:
            typer.echo(render_human([warning]), err=True)

    _run(go)
