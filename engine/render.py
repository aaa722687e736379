"""Render an evaluation for people and programs.

Input: :class:`~govsup.engine.findings.Evaluation`. Output: text in one of ``json``, ``jsonl``,
``table`` or ``markdown``. Personal data (ID numbers, phones) is masked by default (RULEBOOK C10);
``show_pii=True`` is the only way to see it. JSON output is deterministic (sorted keys).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from .findings import Evaluation
from .identity import mask_value

FORMATS = ("json", "jsonl", "table", "markdown")


def finding_dicts(ev: Evaluation, show_pii: bool = False) -> list[dict]:
    out = [f.model_dump(mode="json") for f in ev.findings]
    return out if show_pii else [mask_value(d) for d in out]


def evaluation_dict(ev: Evaluation, show_pii: bool = False) -> dict:
    d = ev.model_dump(mode="json", exclude_none=False)
    d["findings"] = finding_dicts(ev, show_pii)
    for k in ("trace", "flows"):  # absent rather than null: older consumers see no change
        if d.get(k) is None:
            d.pop(k, None)
    return d if show_pii else mask_value(d)


def _dumps(obj: Any, indent: int | None = None) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=indent,
                      separators=None if indent else (",", ":"))


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, w: int) -> str:
    return s + " " * max(0, w - _width(s))


def _rows(ev: Evaluation, show_pii: bool) -> list[list[str]]:
    rows = []
    for f in finding_dicts(ev, show_pii):
        status = "已解决 " + f["resolved_on"] if f["status"] == "resolved" else "未解决"
        if f["provisional"]:
            status += "（暂定）"
        rows.append([f["triggered_on"], f["level_name"], f["rule"], ",".join(f["clauses"]),
                     f["key"], status, f["message"]])
    return rows


HEADERS = ["日期", "等级", "规则", "条款", "对象", "状态", "说明"]


def summary_line(ev: Evaluation) -> str:
    s = ev.summary
    names = {f.level: f.level_name for f in ev.findings}
    levels = "，".join(f"{names.get(k, k)} {v}" for k, v in s.by_level.items()) or "无"
    return (f"读取 {s.read} 条，评估 {s.evaluated} 条，拒收 {s.rejected} 条；"
            f"发现 {s.findings} 项（{levels}）")


def render(ev: Evaluation, fmt: str = "table", show_pii: bool = False) -> str:
    if fmt == "json":
        return _dumps(evaluation_dict(ev, show_pii), indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(_dumps(d) + "\n" for d in finding_dicts(ev, show_pii))
    rows = _rows(ev, show_pii)
    if fmt == "markdown":
        out = [f"# {ev.bundle} 评估结果（截至 {ev.as_of}）", "", summary_line(ev), ""]
        out.append("| " + " | ".join(HEADERS) + " |")
        out.append("|" + "---|" * len(HEADERS))
        for r in rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
        if ev.flows:
            out += ["", "## 流程状态", "", "| 流程 | 对象 | 状态 | 进入日期 | 逾期未办 |", "|---|---|---|---|---|"]
            out += [f"| {x.flow} | {x.key} | {x.state or x.error or '（无记录）'} | {x.since or ''} "
                    f"| {x.open_overdue} |" for x in ev.flows]
        if ev.rejected:
            out += ["", "## 拒收的记录", ""]
            out += [f"- {r.reason}" for r in ev.rejected]
        return "\n".join(out) + "\n"
    if fmt == "table":
        widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(HEADERS)]
        widths[-1] = 0
        lines = ["  ".join(_pad(h, w) for h, w in zip(HEADERS, widths)).rstrip()]
        for r in rows:
            lines.append("  ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip())
        lines.append("")
        lines.append(summary_line(ev))
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt}")


def render_trace(ev: Evaluation, show_pii: bool = False) -> str:
    """``--explain``: per rule and entity, the value of every binding and condition."""
    lines = []
    for t in ev.trace or []:
        lines.append(f"{t.rule}  [{t.key}]")
        for label, value in t.steps:
            v = value if show_pii else mask_value(value)
            lines.append(f"    {label} = {_dumps(v)}")
    return "\n".join(lines) + ("\n" if lines else "")
