"""What differs between two resolved bundles (``policy diff A B``).

Input: two :class:`~govsup.engine.bundle.Bundle` values — two bundles (a parent and its fork) or
two versions of one bundle in two folders. Output: a :class:`BundleDiff`, a list of
:class:`Change` values in a stable order (kind, then name), renderable as text with Chinese and
English labels or as JSON.

What is compared (each bundle as resolved: its chain merged, its fork's overrides applied):

* ``param`` — parameters: added, removed; for a parameter in both, each dated value (by its
  ``from`` date: entries added, removed, or with a changed value) and its description (title,
  type, unit, clauses, source sentence, legal reference);
* ``rule`` — active rules added or removed, rules whose meaning changed (``replaced``: the parsed
  rule differs; layout and comments do not count), rules ``disabled`` (with the reason) or
  ``enabled`` again;
* ``level``, ``clause`` — outcome levels and clause ids (article, summary, 施行日期): added,
  removed, changed;
* ``workflow`` — workflows added, removed, or ``replaced`` (states added, removed or changed;
  transitions, by their from → to, added, removed or with a changed title, guard or deadline —
  guards and deadlines compared as parsed DSL, layout does not count);
* ``entity`` — fact collections: added, removed, or with a changed schema (fields added, removed
  or changed, required fields), key or title;
* ``document`` — the source documents listed by the chain;
* ``calendar`` — calendar years: added, removed, or with different days off / make-up days.

Bundle names, versions and titles are shown in the header but are not differences.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .bundle import Bundle

KINDS = ("param", "rule", "workflow", "level", "clause", "entity", "document", "calendar")

LABELS = {
    "param": ("parameter", "参数"), "rule": ("rule", "规则"), "workflow": ("workflow", "流程"),
    "level": ("level", "结果等级"),
    "clause": ("clause", "条款"), "entity": ("entity", "数据集合"),
    "document": ("document", "文件依据"), "calendar": ("calendar year", "日历年份"),
    "added": ("added", "新增"), "removed": ("removed", "删除"), "changed": ("changed", "修改"),
    "replaced": ("replaced", "改写"), "disabled": ("disabled", "停用"),
    "enabled": ("enabled", "恢复启用"),
}


def plain_value(v: Any) -> Any:
    """A JSON-able copy of a (frozen) policy value."""
    if isinstance(v, (MappingProxyType, dict)):
        return {str(k): plain_value(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [plain_value(x) for x in v]
    if isinstance(v, _dt.date):
        return v.isoformat()
    return v


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    action: str  # added | removed | changed | replaced | disabled | enabled
    name: str
    detail: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        return {"kind": self.kind, "action": self.action, "name": self.name,
                "detail": plain_value(self.detail)}


@dataclass
class BundleDiff:
    a: str  # "name version (path)"
    b: str
    changes: list[Change]

    @property
    def identical(self) -> bool:
        return not self.changes

    def of_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def to_json(self) -> dict:
        counts: dict = {}
        for c in self.changes:
            counts.setdefault(c.kind, {}).setdefault(c.action, 0)
            counts[c.kind][c.action] += 1
        return {"a": self.a, "b": self.b, "identical": self.identical, "counts": counts,
                "changes": [c.to_json() for c in self.changes]}

    def render_json(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2, sort_keys=False)

    def render_text(self) -> str:
        return render_text(self)


# ------------------------------------------------------------------------------- comparing


def _value_text(v: Any) -> str:
    return json.dumps(plain_value(v), ensure_ascii=False)


def _diff_params(a: Bundle, b: Bundle) -> list[Change]:
    out = []
    for name in sorted(set(a.params) | set(b.params)):
        pa, pb = a.params.get(name), b.params.get(name)
        if pa is None:
            out.append(Change("param", "added", name, {
                "title": pb.title, "values": [{"from": v.start, "value": v.value, "by": v.origin}
                                              for v in pb.values]}))
            continue
        if pb is None:
            out.append(Change("param", "removed", name, {"title": pa.title}))
            continue
        va = {v.start: v for v in pa.values}
        vb = {v.start: v for v in pb.values}
        entries = []
        for d in sorted(set(va) | set(vb)):
            x, y = va.get(d), vb.get(d)
            if x is None:
                entries.append({"from": d, "action": "added", "new": y.value, "by": y.origin,
                                "source": y.source})
            elif y is None:
                entries.append({"from": d, "action": "removed", "old": x.value, "by": x.origin})
            elif x.value != y.value:
                entries.append({"from": d, "action": "changed", "old": x.value, "new": y.value,
                                "by": y.origin, "source": y.source})
            elif x.source != y.source:
                entries.append({"from": d, "action": "changed", "old_source": x.source,
                                "new_source": y.source, "by": y.origin})
        fields = {}
        for f in ("title", "type", "unit", "clauses", "source", "reference", "items"):
            if getattr(pa, f) != getattr(pb, f):
                fields[f] = {"old": getattr(pa, f), "new": getattr(pb, f)}
        if entries or fields:
            out.append(Change("param", "changed", name, {"title": pb.title, "values": entries,
                                                         "fields": fields}))
    return out


def _rule_source(b: Bundle, rid: str) -> str:
    """The canonical text of an active rule (layout-independent, for showing what changed)."""
    from ..dsl import ast as A
    from ..dsl.formatter import format_module

    rule = next((r for r in b.rules if r.id == rid), None)
    return format_module(A.Module("", (rule,))) if rule is not None else ""


def _diff_rules(a: Bundle, b: Bundle) -> list[Change]:
    import difflib

    out = []
    ra = {r.id: r for r in a.rules}
    rb = {r.id: r for r in b.rules}
    for rid in sorted(set(ra) | set(rb) | set(a.disabled) | set(b.disabled)):
        x, y = ra.get(rid), rb.get(rid)
        dis_a, dis_b = a.disabled.get(rid), b.disabled.get(rid)
        if x is not None and y is None:
            if dis_b is not None:
                out.append(Change("rule", "disabled", rid, {
                    "title": x.title, "reason": dis_b[0], "by": dis_b[1]}))
            else:
                out.append(Change("rule", "removed", rid, {"title": x.title}))
        elif x is None and y is not None:
            if dis_a is not None:
                out.append(Change("rule", "enabled", rid, {
                    "title": y.title, "by": b.rule_origin.get(rid, "")}))
            else:
                out.append(Change("rule", "added", rid, {
                    "title": y.title, "by": b.rule_origin.get(rid, ""),
                    "cites": [c.id for c in y.cites]}))
        elif x is not None and y is not None:
            if x != y:
                old, new = _rule_source(a, rid), _rule_source(b, rid)
                udiff = "".join(difflib.unified_diff(
                    old.splitlines(True), new.splitlines(True), "a", "b", n=1))
                out.append(Change("rule", "replaced", rid, {
                    "title": y.title, "by": b.rule_origin.get(rid, ""),
                    "old_title": x.title, "diff": udiff}))
        elif dis_a is not None and dis_b is not None and dis_a[0] != dis_b[0]:
            out.append(Change("rule", "disabled", rid, {
                "reason": dis_b[0], "old_reason": dis_a[0], "by": dis_b[1]}))
    return out


def _diff_mapping(kind: str, a: dict, b: dict, fields: tuple[str, ...], title) -> list[Change]:
    out = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x is None:
            out.append(Change(kind, "added", k, {f: plain_value(getattr(y, f)) for f in fields}))
        elif y is None:
            out.append(Change(kind, "removed", k, {f: plain_value(getattr(x, f)) for f in fields}))
        else:
            ch = {f: {"old": plain_value(getattr(x, f)), "new": plain_value(getattr(y, f))}
                  for f in fields if getattr(x, f) != getattr(y, f)}
            if ch:
                out.append(Change(kind, "changed", k, {"title": title(y), "fields": ch}))
    return out


def _schema_changes(sa, sb) -> dict:
    pa = dict((sa or {}).get("properties", {}) or {})
    pb = dict((sb or {}).get("properties", {}) or {})
    out: dict = {}
    added = sorted(set(pb) - set(pa))
    removed = sorted(set(pa) - set(pb))
    changed = sorted(k for k in set(pa) & set(pb) if plain_value(pa[k]) != plain_value(pb[k]))
    if added:
        out["fields_added"] = added
    if removed:
        out["fields_removed"] = removed
    if changed:
        out["fields_changed"] = changed
    ra, rb = set((sa or {}).get("required", ()) or ()), set((sb or {}).get("required", ()) or ())
    if ra != rb:
        out["required"] = {"old": sorted(ra), "new": sorted(rb)}
    rest_a = {k: v for k, v in (sa or {}).items() if k not in ("properties", "required")}
    rest_b = {k: v for k, v in (sb or {}).items() if k not in ("properties", "required")}
    if plain_value(rest_a) != plain_value(rest_b):
        out["schema"] = "changed"
    return out


def _diff_entities(a: Bundle, b: Bundle) -> list[Change]:
    out = []
    for coll in sorted(set(a.entities) | set(b.entities)):
        x, y = a.entities.get(coll), b.entities.get(coll)
        if x is None:
            out.append(Change("entity", "added", coll, {"title": y.title, "entity": y.entity}))
        elif y is None:
            out.append(Change("entity", "removed", coll, {"title": x.title, "entity": x.entity}))
        else:
            d = _schema_changes(x.schema, y.schema)
            for f in ("entity", "title", "key", "reference"):
                if getattr(x, f) != getattr(y, f):
                    d[f] = {"old": getattr(x, f), "new": getattr(y, f)}
            if plain_value(x.columns) != plain_value(y.columns):
                d["columns"] = {"old": plain_value(x.columns), "new": plain_value(y.columns)}
            if d:
                out.append(Change("entity", "changed", coll, dict(title=y.title, **d)))
    return out


def _doc_key(d) -> str:
    return " ".join(x for x in (d.get("title", ""), d.get("number", "")) if x)


def _diff_documents(a: Bundle, b: Bundle) -> list[Change]:
    da = {_doc_key(d): d for d in a.documents}
    db = {_doc_key(d): d for d in b.documents}
    out = []
    for k in sorted(set(da) | set(db)):
        if k not in da:
            out.append(Change("document", "added", k, plain_value(db[k])))
        elif k not in db:
            out.append(Change("document", "removed", k, plain_value(da[k])))
        elif plain_value(da[k]) != plain_value(db[k]):
            out.append(Change("document", "changed", k, {"old": plain_value(da[k]),
                                                         "new": plain_value(db[k])}))
    return out


def _calendar_years(b: Bundle) -> dict[int, tuple] | None:
    if not b.calendar_dirs:
        return {}
    from .calendar import load_calendar
    from .diagnostics import PolicyError

    try:
        cal = load_calendar(b.calendar_dirs)
    except PolicyError:
        return None
    out = {}
    for y in cal.years:
        s = cal.year_spec(y)
        off = set()
        for h in s.holidays:
            d = h.start
            while d <= h.end:
                off.add(d)
                d += _dt.timedelta(days=1)
        out[y] = (frozenset(off), frozenset(m.date for m in s.make_up_workdays))
    return out


def _diff_calendar(a: Bundle, b: Bundle) -> list[Change]:
    ya, yb = _calendar_years(a), _calendar_years(b)
    if ya is None or yb is None:
        return []  # a broken calendar is reported by `policy check`
    out = []
    for y in sorted(set(ya) | set(yb)):
        if y not in ya:
            out.append(Change("calendar", "added", str(y)))
        elif y not in yb:
            out.append(Change("calendar", "removed", str(y)))
        elif ya[y] != yb[y]:
            (offa, upa), (offb, upb) = ya[y], yb[y]
            out.append(Change("calendar", "changed", str(y), {
                "days_off_added": sorted(d.isoformat() for d in offb - offa),
                "days_off_removed": sorted(d.isoformat() for d in offa - offb),
                "workdays_added": sorted(d.isoformat() for d in upb - upa),
                "workdays_removed": sorted(d.isoformat() for d in upa - upb)}))
    return out


def _state_text(s) -> dict:
    return {"title": s.title, "initial": s.initial, "final": s.final,
            "requires": [f for f, _ in s.requires]}


def _transition_text(t) -> dict:
    from ..dsl.format import fmt_expr

    return {"title": t.title, "guard": fmt_expr(t.guard) if t.guard is not None else None,
            "deadline": fmt_expr(t.deadline) if t.deadline is not None else None}


def _diff_workflows(a: Bundle, b: Bundle) -> list[Change]:
    out = []
    for name in sorted(set(a.workflows) | set(b.workflows)):
        x, y = a.workflows.get(name), b.workflows.get(name)
        if x is None:
            out.append(Change("workflow", "added", name, {
                "title": y.title, "by": y.defined_in, "collection": y.collection,
                "states": [s.name for s in y.states]}))
            continue
        if y is None:
            out.append(Change("workflow", "removed", name, {"title": x.title}))
            continue
        d: dict = {}
        for f in ("title", "description", "clauses", "collection", "history", "state_field",
                  "date_field"):
            if getattr(x, f) != getattr(y, f):
                d.setdefault("fields", {})[f] = {"old": plain_value(getattr(x, f)),
                                                 "new": plain_value(getattr(y, f))}
        sa = {s.name: _state_text(s) for s in x.states}
        sb = {s.name: _state_text(s) for s in y.states}
        ta = {f"{t.src} → {t.dst}": _transition_text(t) for t in x.transitions}
        tb = {f"{t.src} → {t.dst}": _transition_text(t) for t in y.transitions}
        for label, m_a, m_b in (("state", sa, sb), ("transition", ta, tb)):
            for k in sorted(set(m_b) - set(m_a)):
                d.setdefault(f"{label}s_added", []).append(k)
            for k in sorted(set(m_a) - set(m_b)):
                d.setdefault(f"{label}s_removed", []).append(k)
            for k in sorted(set(m_a) & set(m_b)):
                ch = {f: {"old": m_a[k][f], "new": m_b[k][f]} for f in m_a[k]
                      if m_a[k][f] != m_b[k][f]}
                if ch:
                    d.setdefault(f"{label}s_changed", {})[k] = ch
        if d:
            out.append(Change("workflow", "replaced", name,
                              dict(title=y.title, by=y.defined_in, **d)))
    return out


def _label(b: Bundle) -> str:
    return f"{b.name} {b.version} ({b.path})"


def diff_bundles(a: Bundle, b: Bundle) -> BundleDiff:
    """Everything that differs from ``a`` to ``b``."""
    changes = (
        _diff_params(a, b) + _diff_rules(a, b)
        + _diff_mapping("level", dict(a.levels), dict(b.levels),
                        ("name", "severity", "description"), lambda v: v.name)
        + _diff_mapping("clause", dict(a.clauses), dict(b.clauses),
                        ("article", "summary", "in_force_from"), lambda v: v.article)
        + _diff_workflows(a, b)
        + _diff_entities(a, b) + _diff_documents(a, b) + _diff_calendar(a, b)
    )
    order = {k: i for i, k in enumerate(KINDS)}
    changes.sort(key=lambda c: (order[c.kind], c.name))
    return BundleDiff(_label(a), _label(b), changes)


# ------------------------------------------------------------------------------- rendering


def _lbl(key: str) -> str:
    en, zh = LABELS.get(key, (key, key))
    return f"{zh} {en}"


def _show(v: Any) -> str:
    return _value_text(v)


def render_text(d: BundleDiff) -> str:
    """The differences for a person, with Chinese and English labels."""
    lines = [f"--- {d.a}", f"+++ {d.b}"]
    if d.identical:
        lines.append("无差异 no differences")
        return "\n".join(lines) + "\n"
    for kind in KINDS:
        group = d.of_kind(kind)
        if not group:
            continue
        lines.append("")
        lines.append(f"{_lbl(kind)} ({len(group)})")
        for c in group:
            det = c.detail
            title = det.get("title") or ""
            show_title = isinstance(title, str) and title and title not in c.name
            lines.append(f"  [{_lbl(c.action)}] {c.name}" + (f"  {title}" if show_title else ""))
            if c.action in ("added", "removed") and kind in ("level", "clause", "document"):
                extra = "；".join(f"{k}: {plain_value(v)}" for k, v in det.items()
                                 if v not in ("", None) and k != "title")
                if extra:
                    lines.append(f"      {extra}")
            if kind == "param":
                for e in det.get("values", []):
                    by = f"  (由 {e['by']} 设定 set by {e['by']})" if e.get("by") else ""
                    if c.action == "added":
                        lines.append(f"      自 from {plain_value(e['from'])}: {_show(e['value'])}{by}")
                    elif e["action"] == "added":
                        lines.append(f"      + 自 from {plain_value(e['from'])}: {_show(e['new'])}{by}")
                    elif e["action"] == "removed":
                        lines.append(f"      - 自 from {plain_value(e['from'])}: {_show(e['old'])}")
                    elif "new" in e:
                        lines.append(f"      ~ 自 from {plain_value(e['from'])}: {_show(e['old'])} → "
                                     f"{_show(e['new'])}{by}")
                    else:
                        lines.append(f"      ~ 自 from {plain_value(e['from'])}: 原文 source "
                                     f"{_show(e['old_source'])} → {_show(e['new_source'])}")
                for f, ch in det.get("fields", {}).items():
                    lines.append(f"      ~ {f}: {_show(ch['old'])} → {_show(ch['new'])}")
            elif kind == "workflow":
                if det.get("by") and c.action != "removed":
                    lines.append(f"      定义于 defined in: {det['by']}")
                for f, ch in (det.get("fields") or {}).items():
                    lines.append(f"      ~ {f}: {_show(ch['old'])} → {_show(ch['new'])}")
                for f in ("states_added", "states_removed", "transitions_added",
                          "transitions_removed"):
                    if det.get(f):
                        lines.append(f"      {f}: {'、'.join(det[f])}")
                for f in ("states_changed", "transitions_changed"):
                    for k, ch in (det.get(f) or {}).items():
                        for g, v in ch.items():
                            lines.append(f"      ~ {k} {g}: {_show(v['old'])} → {_show(v['new'])}")
            elif kind == "rule":
                if c.action == "disabled":
                    lines.append(f"      理由 reason: {det.get('reason', '')}"
                                 + (f"（由 {det['by']} 停用 by {det['by']}）" if det.get("by") else ""))
                elif c.action in ("added", "replaced", "enabled") and det.get("by"):
                    lines.append(f"      定义于 defined in: {det['by']}")
                if c.action == "replaced" and det.get("diff"):
                    lines += ["      " + ln for ln in det["diff"].rstrip("\n").split("\n")]
            elif c.action == "changed":
                for f, ch in (det.get("fields") or {}).items():
                    lines.append(f"      ~ {f}: {_show(ch['old'])} → {_show(ch['new'])}")
                for f in ("fields_added", "fields_removed", "fields_changed", "required",
                          "schema", "entity", "key", "reference", "columns",
                          "days_off_added", "days_off_removed", "workdays_added",
                          "workdays_removed", "old", "new"):
                    if det.get(f):
                        lines.append(f"      {f}: {_show(det[f])}")
    n = len(d.changes)
    lines.append("")
    lines.append(f"{n} 处差异 difference(s)")
    return "\n".join(lines) + "\n"
