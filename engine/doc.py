"""Render a bundle as a readable rulebook in Chinese (``policy doc``).

Input: a resolved :class:`~govsup.engine.bundle.Bundle` (and the policy roots, to load a fork's
parent for the "与上级规则包的差异" section). Output: a Markdown file (``index.md``) or a
self-contained HTML page (``index.html``: inline CSS, no scripts, no external assets; one page
with anchors — an index of the bundle layers and of the rules, then each rule, parameter and
level).

For each rule: its id and title, the clause ids it cites with their article and summary, the
bundle that defined it (or replaced it), its levels, the parameters it reads and its DSL source
as written (with the comment lines right above it). For each parameter: its dated values as a
table (value, from, source sentence, legal reference, the bundle that set it). Then the levels,
the source documents of every layer, the fact collections, and, for a fork, what it changed
relative to its parent (computed by :func:`govsup.engine.diff.diff_bundles`).

The templates are package data in ``engine/templates/doc/`` (jinja2); a template only lays out
the context built here, it computes nothing.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2

from ..dsl import ast as A
from ..dsl.format import fmt_expr
from .bundle import Bundle, load_bundle
from .diff import plain_value

FORMATS = ("md", "html")
OUT_NAMES = {"md": "index.md", "html": "index.html"}

TYPE_NAMES = {"int": "整数", "number": "数值", "bool": "是/否", "text": "文本", "date": "日期",
              "list": "列表", "table": "表"}
UNIT_NAMES = {"workdays": "工作日", "days": "日", "months": "个月", "years": "年",
              "persons": "人", "yuan": "元", "percent": "%"}
ACTION_NAMES = {"added": "新增", "removed": "删除", "changed": "修改", "replaced": "改写",
                "disabled": "停用", "enabled": "恢复启用"}


def value_text(v: Any) -> str:
    """A parameter value for people: scalars as written, lists joined with 、, tables as JSON."""
    v = plain_value(v)
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
        return "、".join(str(x) for x in v) if v else "（空）"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def anchor(prefix: str, name: str) -> str:
    return prefix + "-" + re.sub(r"[^\w.\-]", "_", name)


def _params_read(rule: A.Rule) -> list[str]:
    """Names of the parameters a rule reads (``param.NAME``), in order of first use."""
    nodes = []
    for s in rule.steps:
        if isinstance(s, A.For):
            nodes.append(s.source)
        elif isinstance(s, A.Let):
            nodes.append(s.value)
        elif isinstance(s, A.Require):
            nodes.extend(s.facts)
        elif isinstance(s, A.When):
            nodes.append(s.cond)
    nodes += [rule.on, rule.resolved, rule.message, rule.key, rule.ref]
    out: list[str] = []
    for n in nodes:
        for x in A.walk(n):
            if isinstance(x, A.Field) and isinstance(x.obj, A.Name) and x.obj.name == "param":
                if x.name not in out:
                    out.append(x.name)
    return out


def _rule_source(rule: A.Rule) -> str:
    """The rule as written in its file, with the comment lines directly above it."""
    try:
        lines = Path(rule.loc.file).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        lines = []
    a, b = rule.span
    if not lines or not a:
        from ..dsl.formatter import format_module

        return format_module(A.Module("", (rule,))).rstrip("\n")
    start = a - 1
    while start > 0 and lines[start - 1].strip().startswith("#"):
        start -= 1
    return "\n".join(lines[start:b]).rstrip()


def _layer_of_path(bundle: Bundle, file: str) -> str:
    p = Path(file).resolve()
    for layer in reversed(bundle.chain):
        if Path(layer.path).resolve() in p.parents:
            return layer.name
    return ""


def build_context(bundle: Bundle, roots: tuple[Path, ...] | None = None,
                  parent: Bundle | None = None) -> dict:
    """The data the rulebook templates lay out (plain dicts, lists and strings)."""
    params_used: dict[str, list[str]] = {}
    rules_by_layer: dict[str, list[dict]] = {layer.name: [] for layer in bundle.chain}
    for rule in bundle.rules:
        origin = bundle.rule_origin.get(rule.id, "")
        read = _params_read(rule)
        for p in read:
            params_used.setdefault(p, []).append(rule.id)
        cites = []
        for c in rule.cites:
            cl = bundle.clauses.get(c.id)
            cites.append({"id": c.id, "article": cl.article if cl else "",
                          "summary": cl.summary if cl else "",
                          "defined_in": cl.defined_in if cl else "",
                          "in_force_from": plain_value(cl.in_force_from) if cl else None})
        rules_by_layer.setdefault(origin, []).append({
            "id": rule.id, "anchor": anchor("rule", rule.id), "title": rule.title or "",
            "cites": cites, "origin": origin,
            # the rule applies from its first clause's 施行日期 (None: no date declared)
            "in_force_from": cites[0]["in_force_from"] if cites else None,
            "replaced": bundle.replaced.get(rule.id) == origin and origin != bundle.chain[0].name,
            "levels": [{"key": lv.key, "name": bundle.levels[lv.key].name
                        if lv.key in bundle.levels else lv.key} for lv in rule.levels],
            "params": [{"name": p, "anchor": anchor("param", p),
                        "title": bundle.params[p].title if p in bundle.params else ""}
                       for p in read],
            "file": Path(rule.loc.file).name, "source": _rule_source(rule),
        })
    params = []
    by_name: dict[str, dict] = {}
    for name in sorted(bundle.params):
        p = bundle.params[name]
        unit = UNIT_NAMES.get(p.unit, p.unit)
        params.append({
            "name": name, "anchor": anchor("param", name), "title": p.title,
            "type": TYPE_NAMES.get(p.type, p.type), "unit": unit, "clauses": list(p.clauses),
            "source": p.source, "reference": p.reference, "defined_in": p.defined_in,
            "overridden_by": bundle.overridden_params.get(name, ""),
            "used_by": [{"id": r, "anchor": anchor("rule", r)} for r in params_used.get(name, [])],
            "entries": [{"from": v.start.isoformat(), "value": value_text(v.value),
                        "source": v.source, "reference": p.reference, "origin": v.origin}
                       for v in p.values],
        })
        by_name[name] = params[-1]
    for rules in rules_by_layer.values():  # each rule shows the dated values of its parameters
        for r in rules:
            for rp in r["params"]:
                rp["entries"] = by_name.get(rp["name"], {}).get("entries", [])
                rp["unit"] = by_name.get(rp["name"], {}).get("unit", "")
    levels = [{"key": lv.key, "name": lv.name, "severity": lv.severity,
               "description": lv.description, "defined_in": lv.defined_in}
              for lv in sorted(bundle.levels.values(), key=lambda x: x.severity)]
    layers = []
    for layer in bundle.chain:
        layers.append({
            "name": layer.name, "version": layer.version, "title": layer.title,
            "extends": layer.extends or "", "description": layer.description,
            "anchor": anchor("layer", layer.name),
            "documents": [plain_value(d) for d in layer.documents],
            "rules": rules_by_layer.get(layer.name, []),
        })
    disabled = [{"id": rid, "anchor": anchor("rule", rid), "reason": reason, "by": by}
                for rid, (reason, by) in sorted(bundle.disabled.items())]
    entities = []
    for coll, e in sorted(bundle.entities.items()):
        props = dict(e.schema.get("properties", {}) or {})
        req = set(e.schema.get("required", ()) or ())
        fields = []
        for k, v in props.items():
            t = v.get("type", "") if hasattr(v, "get") else ""
            if isinstance(t, (list, tuple)):
                t = "/".join(t)
            fmt = v.get("format", "") if hasattr(v, "get") else ""
            fields.append({"name": k, "type": fmt or t, "required": k in req,
                           "description": (v.get("description", "") or v.get("title", ""))
                           if hasattr(v, "get") else ""})
        entities.append({"collection": coll, "entity": e.entity, "title": e.title,
                         "key": e.key or "", "reference": e.reference, "fields": fields,
                         "defined_in": e.defined_in})
    workflows = []
    for name, wf in sorted((getattr(bundle, "workflows", None) or {}).items()):
        workflows.append({
            "name": name, "title": wf.title, "anchor": anchor("flow", name),
            "description": wf.description, "collection": wf.collection, "history": wf.history,
            "clauses": list(wf.clauses), "defined_in": wf.defined_in,
            "file": Path(wf.file).name,
            "states": [{"name": st.name, "title": st.title, "initial": st.initial,
                        "final": st.final, "requires": [f for f, _ in st.requires]}
                       for st in wf.states],
            "transitions": [{"from": t.src, "to": t.dst, "title": t.title,
                             "guard": fmt_expr(t.guard) if t.guard is not None else "",
                             "deadline": fmt_expr(t.deadline) if t.deadline is not None else ""}
                            for t in wf.transitions],
        })
    changes = None
    if len(bundle.chain) > 1:
        if parent is None:
            parent = load_bundle(bundle.chain[-2].path, roots)
        from .diff import diff_bundles

        d = diff_bundles(parent, bundle)
        changes = _changes_context(d, parent)
    return {
        "bundle": {"name": bundle.name, "version": bundle.version, "title": bundle.title,
                   "description": bundle.chain[-1].description,
                   "parent": bundle.chain[-2].name if len(bundle.chain) > 1 else ""},
        "layers": layers, "params": params, "levels": levels, "disabled": disabled,
        "entities": entities, "changes": changes, "workflows": workflows,
        "counts": {"rules": len(bundle.rules), "params": len(bundle.params),
                   "levels": len(bundle.levels), "disabled": len(bundle.disabled)},
    }


def _changes_context(d, parent: Bundle) -> dict:
    """The fork's differences from its parent, grouped for the template."""
    out: dict = {"parent": parent.name, "identical": d.identical, "params": [], "rules": [],
                 "levels": [], "clauses": [], "entities": [], "documents": [], "calendar": []}
    for c in d.changes:
        det = plain_value(c.detail)
        row = {"name": c.name, "action": ACTION_NAMES.get(c.action, c.action),
               "title": det.get("title", "") if isinstance(det.get("title", ""), str) else ""}
        if c.kind == "param":
            row["anchor"] = anchor("param", c.name)
            vals = []
            for e in det.get("values", []):
                act = e.get("action", "added")
                old = value_text(e["old"]) if "old" in e else ""
                new = value_text(e["new"]) if "new" in e else (
                    value_text(e["value"]) if "value" in e else "")
                vals.append({"from": e["from"], "action": ACTION_NAMES.get(act, act),
                             "old": old, "new": new, "by": e.get("by", ""),
                             "source": e.get("source", "")})
            row["entries"] = vals
            out["params"].append(row)
        elif c.kind == "rule":
            row.update(anchor=anchor("rule", c.name), reason=det.get("reason", ""),
                       by=det.get("by", ""), diff=det.get("diff", ""))
            out["rules"].append(row)
        elif c.kind in ("level", "clause", "entity", "document", "calendar"):
            extra = {k: v for k, v in det.items() if k not in ("title",) and v not in ("", None)}
            row["detail"] = "；".join(f"{k}: {value_text(v)}" for k, v in extra.items())
            out[{"level": "levels", "clause": "clauses", "entity": "entities",
                 "document": "documents", "calendar": "calendar"}[c.kind]].append(row)
    return out


# ------------------------------------------------------------------------------- rendering


def _load_template(name: str) -> str:
    return resources.files("govsup.engine").joinpath("templates", "doc", name).read_text("utf-8")


def _md_cell(v: Any) -> str:
    s = "" if v is None else str(v)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _env(fmt: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FunctionLoader(_load_template),
                             autoescape=(fmt == "html"), trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["mdcell"] = _md_cell
    return env


def render_rulebook(bundle: Bundle, fmt: str = "md", roots: tuple[Path, ...] | None = None,
                    parent: Bundle | None = None) -> str:
    """The rulebook of ``bundle`` as Markdown (``md``) or one self-contained HTML page."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")
    ctx = build_context(bundle, roots, parent)
    name = {"md": "rulebook.md.j2", "html": "rulebook.html.j2"}[fmt]
    return _env(fmt).get_template(name).render(**ctx)


def write_rulebook(bundle: Bundle, out_dir: Path, fmt: str = "md",
                   roots: tuple[Path, ...] | None = None) -> Path:
    """Write the rulebook into ``out_dir`` (created if needed); returns the file written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / OUT_NAMES[fmt]
    path.write_text(render_rulebook(bundle, fmt, roots), encoding="utf-8")
    return path
