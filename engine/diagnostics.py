"""Diagnostics: the one error shape of the project.

Input: problems found by any stage (YAML loading, schema validation, parsing, checking, input
reading). Output: :class:`Diagnostic` values (stable ``code``, ``severity``, ``loc``, ``message``,
``help``) and :class:`PolicyError`, which carries a sorted, capped list of them. Rendering is human
(``file:line:col``, a caret excerpt, a hint, the code's Chinese title) or JSON.

Messages are lowercase, one line, and say "did you mean `x`?" where a near name exists.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from .loc import Loc

# code -> (english title, chinese title). Codes are stable: tests and integrators match on them.
CODES: dict[str, tuple[str, str]] = {
    "E001": ("yaml syntax error", "YAML 语法错误"),
    "E002": ("duplicate key", "重复的键"),
    "E003": ("schema violation", "不符合文件格式"),
    "E004": ("unknown key", "未知的键"),
    "E005": ("missing key", "缺少必填的键"),
    "E006": ("file not found", "找不到文件"),
    "E010": ("bundle not found", "找不到规则包"),
    "E011": ("fork cycle", "继承关系成环"),
    "E012": ("path escapes policy roots", "路径超出规则目录"),
    "E013": ("duplicate definition", "重复定义"),
    "E014": ("bad override", "覆盖无效"),
    "E020": ("dsl syntax error", "规则语法错误"),
    "E021": ("unknown name", "未知名称"),
    "E022": ("unknown field", "未知字段"),
    "E023": ("unknown parameter", "未知参数"),
    "E024": ("unknown level", "未知结果等级"),
    "E025": ("unknown function", "未知函数"),
    "E026": ("wrong number of arguments", "参数个数错误"),
    "E027": ("type error", "类型错误"),
    "E028": ("unknown collection", "未知数据集合"),
    "E029": ("unknown clause id", "未知条款编号"),
    "E030": ("parameter has no value", "参数没有生效值"),
    "E031": ("invalid parameter value", "参数值无效"),
    "E040": ("calendar year not published", "日历年份未发布"),
    "E041": ("calendar data error", "日历数据错误"),
    "E050": ("bad input record", "输入记录有误"),
    "E051": ("bad input file", "输入文件有误"),
    "E060": ("test case failed", "测试用例未通过"),
    "E070": ("report template not found", "找不到报告模板"),
    "E071": ("report template error", "报告模板有误"),
    "W001": ("calendar coverage ends soon", "日历覆盖即将到期"),
    "W002": ("unused parameter", "参数未被使用"),
}

MAX_DIAGNOSTICS = 50


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    loc: Loc
    help: str = ""
    severity: str = "error"  # "error" | "warning"

    def sort_key(self) -> tuple:
        return (self.loc.sort_key(), self.code, self.message)

    def to_json(self) -> dict:
        en, zh = CODES.get(self.code, ("", ""))
        return {
            "code": self.code,
            "severity": self.severity,
            "title": en,
            "title_zh": zh,
            "file": self.loc.file,
            "line": self.loc.line,
            "col": self.loc.col,
            "message": self.message,
            "help": self.help,
        }


@dataclass
class PolicyError(Exception):
    """Raised by any stage that found errors; holds every diagnostic it found."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.diagnostics = sort_diagnostics(self.diagnostics)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if not self.diagnostics:
            return "policy error"
        d = self.diagnostics[0]
        more = f" (+{len(self.diagnostics) - 1} more)" if len(self.diagnostics) > 1 else ""
        return f"{d.loc}: {d.code}: {d.message}{more}"


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in sorted(diags, key=Diagnostic.sort_key):
        k = (d.code, d.loc.sort_key(), d.message)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ``did you mean `x`?`` hint, or '' when nothing is close."""
    cands = sorted(set(candidates))
    m = difflib.get_close_matches(name, cands, n=1, cutoff=0.6)
    if not m:
        low = {c.lower(): c for c in cands}
        m2 = difflib.get_close_matches(name.lower(), list(low), n=1, cutoff=0.6)
        m = [low[m2[0]]] if m2 else []
    return f"did you mean `{m[0]}`?" if m else ""


def _source_line(loc: Loc, sources: Mapping[str, str] | None) -> str | None:
    text = None
    if sources and loc.file in sources:
        text = sources[loc.file]
    else:
        try:
            text = Path(loc.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    lines = text.splitlines()
    if 1 <= loc.line <= len(lines):
        return lines[loc.line - 1]
    return None


def _display_width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def render_human(diags: Iterable[Diagnostic], sources: Mapping[str, str] | None = None,
                 cap: int = MAX_DIAGNOSTICS) -> str:
    """Render diagnostics for a person: location, code with its Chinese title, caret, hint."""
    diags = sort_diagnostics(diags)
    out: list[str] = []
    for d in diags[:cap]:
        en, zh = CODES.get(d.code, ("", ""))
        out.append(f"{d.loc}: {d.severity}[{d.code}] {d.message}")
        if zh:
            out.append(f"  = {en} / {zh}")
        line = _source_line(d.loc, sources) if d.loc.line else None
        if line is not None:
            gutter = f"{d.loc.line:>4} | "
            out.append(gutter + line)
            prefix = line[: max(d.loc.col - 1, 0)]
            width = 1
            if d.loc.end_line == d.loc.line and d.loc.end_col > d.loc.col:
                width = _display_width(line[d.loc.col - 1 : d.loc.end_col - 1]) or 1
            out.append(" " * (len(gutter) - 2) + "| " + " " * _display_width(prefix) + "^" * width)
        if d.help:
            out.append(f"  help: {d.help}")
    if len(diags) > cap:
        out.append(f"... and {len(diags) - cap} more")
    n_err = sum(1 for d in diags if d.severity == "error")
    n_warn = len(diags) - n_err
    out.append(f"{n_err} error(s), {n_warn} warning(s)")
    return "\n".join(out)


def render_json(diags: Iterable[Diagnostic], cap: int = MAX_DIAGNOSTICS) -> str:
    diags = sort_diagnostics(diags)
    return json.dumps({"diagnostics": [d.to_json() for d in diags[:cap]],
                       "total": len(diags)}, ensure_ascii=False, indent=2)
