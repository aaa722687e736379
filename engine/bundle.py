"""Resolve a policy bundle: manifests, forks, dated parameters, levels, entities and rules.

Input: a bundle name (looked up in the policy roots) or a folder path. Output: an immutable
:class:`Bundle` — the parent chain merged root-first, with the fork's overrides applied — or a
:class:`PolicyError` carrying every problem found (all at once, located). Nothing here evaluates
rules; the checker and compiler take the Bundle from here.

Bundle folder layout::

    bundle.yaml          manifest (name, version, title, documents, extends, calendar, clauses,
                         replace, disable)
    levels.yaml          outcome levels (optional in a fork)
    parameters/*.yaml    dated parameters, and a fork's `overrides`
    entities/*.yaml      fact collections and the JSON Schema of their records
    rules/*.rule         rules in the DSL
    tests/*.yaml         test cases run by `policy test`
    templates/           jinja2 templates for `policy report` (optional)
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from dataclasses import replace as _with
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ..dsl import ast as A
from ..dsl.parser import parse_file
from ..dsl.types import Type, from_json_schema, param_type
from .diagnostics import Diagnostic, PolicyError, did_you_mean
from .loc import Loc
from .schema import validate
from .source import Located, load_yaml

MANIFEST = "bundle.yaml"


# ------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class ParamValue:
    start: _dt.date
    value: Any
    source: str = ""
    origin: str = ""  # bundle that set it
    loc: Loc = field(default=Loc("<unknown>"), compare=False)


@dataclass(frozen=True)
class Param:
    name: str
    title: str
    type: str
    type_t: Type
    unit: str
    clauses: tuple[str, ...]
    source: str
    reference: str
    values: tuple[ParamValue, ...]  # sorted by start
    defined_in: str
    loc: Loc = field(compare=False)
    items: str | None = None
    columns: tuple = ()

    def value_on(self, d: _dt.date) -> Any:
        """The value in force on ``d`` (latest start <= d), or None before the first value."""
        found = None
        for v in self.values:
            if v.start <= d:
                found = v.value
            else:
                break
        return found

    def entry_on(self, d: _dt.date) -> ParamValue | None:
        found = None
        for v in self.values:
            if v.start <= d:
                found = v
            else:
                break
        return found


@dataclass(frozen=True)
class Level:
    key: str
    name: str
    severity: int
    description: str = ""
    defined_in: str = ""


@dataclass(frozen=True)
class Entity:
    entity: str
    collection: str
    title: str
    key: str | None
    reference: bool
    schema: Mapping
    type: Type
    columns: Mapping
    defined_in: str
    loc: Loc = field(compare=False)


@dataclass(frozen=True)
class Clause:
    id: str
    article: str
    summary: str
    defined_in: str
    # 施行日期: the clause applies from this date on (its document's `in_force_from`, or its own);
    # None: no date is declared, the clause applies on every date
    in_force_from: _dt.date | None = None


@dataclass(frozen=True)
class Layer:
    """One bundle folder of the chain, as written (before merging)."""

    name: str
    version: str
    title: str
    path: Path
    extends: str | None
    documents: tuple
    description: str = ""


@dataclass(frozen=True)
class Bundle:
    name: str
    version: str
    title: str
    path: Path
    chain: tuple[Layer, ...]  # root ancestor first, this bundle last
    clauses: Mapping[str, Clause]
    params: Mapping[str, Param]
    levels: Mapping[str, Level]
    entities: Mapping[str, Entity]  # by collection
    rules: tuple[A.Rule, ...]
    rule_origin: Mapping[str, str]
    disabled: Mapping[str, tuple[str, str]]  # rule id -> (reason, bundle)
    replaced: Mapping[str, str]  # rule id -> bundle that replaced it
    overridden_params: Mapping[str, str]  # param -> bundle that overrode it
    calendar_dirs: tuple[Path, ...]
    test_files: tuple[tuple[str, Path], ...]  # (bundle name, file)
    template_dirs: tuple[Path, ...]  # most specific first
    sources: tuple[Path, ...]
    workflows: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # name -> govsup.engine.workflow.Workflow

    @property
    def documents(self) -> tuple:
        return tuple(d for layer in self.chain for d in layer.documents)

    def entity_by_name(self, entity: str) -> Entity | None:
        for e in self.entities.values():
            if e.entity == entity:
                return e
        return None


# ------------------------------------------------------------------------- roots and lookup


def shipped_root() -> Path:
    """The folder of the bundles shipped with the package (works from a wheel too)."""
    return Path(str(resources.files("govsup.policies")))


def policy_roots(extra: tuple[str | Path, ...] | list = ()) -> tuple[Path, ...]:
    roots = [Path(p).resolve() for p in extra]
    env = os.environ.get("GOVSUP_POLICY_PATH", "")
    roots += [Path(p).resolve() for p in env.split(os.pathsep) if p]
    roots.append(shipped_root().resolve())
    out = []
    for r in roots:
        if r not in out:
            out.append(r)
    return tuple(out)


def _inside(p: Path, roots) -> bool:
    return any(p == r or r in p.parents for r in roots)


def find_bundle(ref: str | Path, roots: tuple[Path, ...], loc: Loc | None = None,
                base: Path | None = None) -> Path:
    """Locate a bundle folder from a name, a path, or (from ``extends``) a relative path."""
    ref_s = str(ref)
    cands = []
    looks_like_path = "/" in ref_s or "\\" in ref_s or ref_s.startswith(".")
    # a bare name is a folder of the current directory only on the command line (base is None);
    # in `extends` (base given) it is looked up in the policy roots
    if looks_like_path or (base is None and Path(ref_s).is_dir()):
        p = (base / ref_s) if base is not None and not Path(ref_s).is_absolute() else Path(ref_s)
        cands.append(p.resolve())
    else:
        cands += [(r / ref_s).resolve() for r in roots]
    for c in cands:
        if (c / MANIFEST).is_file():
            if base is not None and not _inside(c, roots):
                raise PolicyError([Diagnostic(
                    "E012", f"`{ref_s}` points outside the policy roots", loc or Loc(ref_s),
                    "a parent bundle must live under a policy root: " +
                    ", ".join(str(r) for r in roots))])
            return c
    names = sorted({d.name for r in roots if r.is_dir() for d in r.iterdir()
                    if (d / MANIFEST).is_file()})
    hint = did_you_mean(ref_s, names) or ("known bundles: " + ", ".join(names) if names else "")
    raise PolicyError([Diagnostic("E010", f"bundle `{ref_s}` not found", loc or Loc(ref_s), hint)])


# ------------------------------------------------------------------------- loading


def _load_checked(path: Path, kind: str, diags: list) -> Located | None:
    try:
        doc = load_yaml(path)
        validate(doc, kind)
        return doc
    except PolicyError as e:
        diags.extend(e.diagnostics)
        return None


def _clauses_of(v) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


_PY_TYPES = {"int": (int,), "number": (int, float), "bool": (bool,), "text": (str,),
             "date": (_dt.date,)}


def _check_value(p_type: str, items: str | None, columns: dict | None, value: Any) -> str | None:
    """Why ``value`` does not fit the declared parameter type, or None."""
    def fits(t, v):
        if t == "int" or t == "number":
            return isinstance(v, _PY_TYPES[t]) and not isinstance(v, bool)
        return isinstance(v, _PY_TYPES[t])

    if p_type == "list":
        if not isinstance(value, list):
            return "a list is expected"
        bad = [v for v in value if not fits(items or "text", v)]
        return f"list items must be {items or 'text'}: {bad[0]!r}" if bad else None
    if p_type == "table":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            return "a list of rows (mappings) is expected"
        cols = columns or {}
        for r in value:
            for k, v in r.items():
                if k not in cols:
                    return f"unknown column `{k}`" + (" (" + did_you_mean(k, cols) + ")" if did_you_mean(k, cols) else "")
                if v is not None and not fits(cols[k], v):
                    return f"column `{k}` must be {cols[k]}: {v!r}"
            missing = [c for c in cols if c not in r]
            if missing:
                return f"row is missing column `{missing[0]}`"
        return None
    return None if fits(p_type, value) else f"a value of type {p_type} is expected, not {value!r}"


def _freeze(v):
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return MappingProxyType({k: _freeze(x) for k, x in v.items()})
    return v


@dataclass
class _Acc:
    """Mutable accumulator used while merging the chain; frozen into a Bundle at the end."""

    clauses: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    levels: dict = field(default_factory=dict)
    entities: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)  # id -> Rule (insertion order = definition order)
    rule_origin: dict = field(default_factory=dict)
    disabled: dict = field(default_factory=dict)
    replaced: dict = field(default_factory=dict)
    overridden: dict = field(default_factory=dict)
    calendar_dirs: list = field(default_factory=list)
    test_files: list = field(default_factory=list)
    template_dirs: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    workflows: dict = field(default_factory=dict)


def _apply_layer(layer_path: Path, man: Located, acc: _Acc, diags: list) -> Layer:
    m = man.value
    name = m["name"]
    for cid, c in (m.get("clauses") or {}).items():
        if cid in acc.clauses:
            diags.append(Diagnostic("E013", f"clause `{cid}` is already defined by bundle "
                                    f"`{acc.clauses[cid].defined_in}`", man.loc(("clauses", cid))))
            continue
        acc.clauses[cid] = Clause(cid, c["article"], c.get("summary", ""), name,
                                  c.get("in_force_from"))
    _clause_dates(m, man, name, acc, diags)
    if "calendar" in m:
        cdir = (layer_path / m["calendar"]).resolve()
        if not cdir.is_dir():
            diags.append(Diagnostic("E006", f"calendar folder `{m['calendar']}` not found",
                                    man.loc(("calendar",))))
        else:
            acc.calendar_dirs.append(cdir)

    # levels
    lv_path = layer_path / "levels.yaml"
    if lv_path.is_file():
        acc.sources.append(lv_path)
        doc = _load_checked(lv_path, "levels", diags)
        if doc:
            for key, lv in doc.value["levels"].items():
                if key in acc.levels:
                    diags.append(Diagnostic("E013", f"level `{key}` is already defined by bundle "
                                            f"`{acc.levels[key].defined_in}`",
                                            doc.loc(("levels", key))))
                    continue
                acc.levels[key] = Level(key, lv["name"], lv["severity"],
                                        lv.get("description", ""), name)

    # entities
    for ep in sorted((layer_path / "entities").glob("*.yaml")):
        acc.sources.append(ep)
        doc = _load_checked(ep, "entity", diags)
        if not doc:
            continue
        e = doc.value
        sch = e["schema"]
        try:
            Draft202012Validator.check_schema(sch)
        except SchemaError as exc:
            path = ("schema",) + tuple(exc.absolute_path)
            diags.append(Diagnostic("E003", f"invalid json schema: {exc.message}".lower()[:200],
                                    doc.loc(path)))
            continue
        coll = e["collection"]
        if coll in acc.entities:
            diags.append(Diagnostic("E013", f"collection `{coll}` is already defined by bundle "
                                    f"`{acc.entities[coll].defined_in}`", doc.loc(("collection",))))
            continue
        key = e.get("key")
        if key and key not in sch.get("properties", {}):
            diags.append(Diagnostic("E003", f"key field `{key}` is not a property of the schema",
                                    doc.loc(("key",)),
                                    did_you_mean(key, sch.get("properties", {}))))
        acc.entities[coll] = Entity(e["entity"], coll, e["title"], key, bool(e.get("reference")),
                                    _freeze(sch), from_json_schema(sch, e["entity"]),
                                    MappingProxyType(dict(e.get("columns") or {})), name,
                                    doc.loc(("entity",)))

    # parameters
    for pp in sorted((layer_path / "parameters").glob("*.yaml")):
        acc.sources.append(pp)
        doc = _load_checked(pp, "parameters", diags)
        if not doc:
            continue
        for pname, p in (doc.value.get("parameters") or {}).items():
            ploc = doc.loc(("parameters", pname))
            if pname in acc.params:
                diags.append(Diagnostic("E013", f"parameter `{pname}` is already defined by bundle "
                                        f"`{acc.params[pname].defined_in}`", ploc,
                                        "to change it in a fork, put it under `overrides:`"))
                continue
            if p["type"] == "table" and not p.get("columns"):
                diags.append(Diagnostic("E005", f"table parameter `{pname}` needs `columns`", ploc))
                continue
            vals = []
            for i, v in enumerate(p["values"]):
                why = _check_value(p["type"], p.get("items"), p.get("columns"), v["value"])
                vloc = doc.loc(("parameters", pname, "values", i, "value"))
                if why:
                    diags.append(Diagnostic("E031", f"parameter `{pname}`: {why}", vloc))
                vals.append(ParamValue(v["from"], _freeze(v["value"]), v.get("source", p["source"]),
                                       name, vloc))
            vals.sort(key=lambda x: x.start)
            for a, b in zip(vals, vals[1:]):
                if a.start == b.start:
                    diags.append(Diagnostic("E013", f"parameter `{pname}` has two values from "
                                            f"{a.start}", b.loc))
            acc.params[pname] = Param(
                pname, p["title"], p["type"], param_type(p["type"], p.get("items"), p.get("columns")),
                p.get("unit", ""), _clauses_of(p["clause"]), p["source"], p.get("reference", ""),
                tuple(vals), name, ploc, p.get("items"), tuple((p.get("columns") or {}).items()))
        for pname, o in (doc.value.get("overrides") or {}).items():
            oloc = doc.loc(("overrides", pname))
            base = acc.params.get(pname)
            if base is None:
                diags.append(Diagnostic("E023", f"cannot override unknown parameter `{pname}`", oloc,
                                        did_you_mean(pname, acc.params) or
                                        "new parameters go under `parameters:`"))
                continue
            cols = dict(base.columns)
            if "values" in o:
                entries = [(v["from"], v["value"], v.get("source", o.get("source", base.source)),
                            ("overrides", pname, "values", i, "value"))
                           for i, v in enumerate(o["values"])]
                kept: list = []
            else:
                entries = [(o["from"], o["value"], o.get("source", base.source),
                            ("overrides", pname, "value"))]
                kept = [v for v in base.values if v.start < o["from"]]
            new = list(kept)
            for start, value, src, path in entries:
                why = _check_value(base.type, base.items, cols, value)
                if why:
                    diags.append(Diagnostic("E031", f"parameter `{pname}`: {why}", doc.loc(path)))
                new.append(ParamValue(start, _freeze(value), src, name, doc.loc(path)))
            new.sort(key=lambda x: x.start)
            for a, b in zip(new, new[1:]):
                if a.start == b.start:
                    diags.append(Diagnostic("E013", f"parameter `{pname}` has two values from "
                                            f"{a.start}", b.loc))
            acc.params[pname] = Param(base.name, base.title, base.type, base.type_t, base.unit,
                                      base.clauses, base.source, o.get("reference", base.reference),
                                      tuple(new), base.defined_in, base.loc, base.items, base.columns)
            acc.overridden[pname] = name

    # rules
    replace = {r: man.loc(("replace", i)) for i, r in enumerate(m.get("replace") or [])}
    disable = {d["rule"]: (d["reason"], man.loc(("disable", i)))
               for i, d in enumerate(m.get("disable") or [])}
    parent_rules = set(acc.rules)
    seen_here: dict = {}
    for rp in sorted((layer_path / "rules").glob("*.rule")):
        acc.sources.append(rp)
        try:
            mod = parse_file(rp)
        except PolicyError as e:
            diags.extend(e.diagnostics)
            continue
        for rule in mod.rules:
            if rule.id in seen_here:
                diags.append(Diagnostic("E013", f"rule `{rule.id}` is defined twice", rule.loc,
                                        f"first defined at {seen_here[rule.id]}"))
                continue
            seen_here[rule.id] = rule.loc
            if rule.id in parent_rules:
                if rule.id not in replace:
                    diags.append(Diagnostic("E013", f"rule `{rule.id}` is already defined by bundle "
                                            f"`{acc.rule_origin[rule.id]}`", rule.loc,
                                            f"to replace it, list it in {MANIFEST} under `replace:`"))
                    continue
                acc.replaced[rule.id] = name
                # a fork that redefines a rule an ancestor disabled enables it again: the
                # redefinition is explicit (it is listed under `replace:`), a silent no-op is not
                acc.disabled.pop(rule.id, None)
            elif rule.id in replace:
                diags.append(Diagnostic("E014", f"rule `{rule.id}` replaces nothing: no parent "
                                        "defines it", rule.loc,
                                        did_you_mean(rule.id, parent_rules)))
            acc.rules[rule.id] = rule
            acc.rule_origin[rule.id] = name
    for rid, loc in replace.items():
        if rid not in seen_here and not (layer_path / "workflows" / f"{rid}.yaml").is_file():
            diags.append(Diagnostic("E014", f"`replace` names rule `{rid}` but no rule file of "
                                    "this bundle defines it", loc))
    for rid, (reason, loc) in disable.items():
        if rid not in parent_rules:
            diags.append(Diagnostic("E014", f"cannot disable unknown rule `{rid}`", loc,
                                    did_you_mean(rid, parent_rules)))
            continue
        acc.disabled[rid] = (reason, name)

    _load_workflows(layer_path, name, replace, acc, diags)

    for tp in sorted((layer_path / "tests").glob("*.yaml")):
        acc.test_files.append((name, tp))
    if (layer_path / "templates").is_dir():
        acc.template_dirs.insert(0, layer_path / "templates")
    return Layer(name, m["version"], m["title"], layer_path, m.get("extends"),
                 tuple(_freeze(d) for d in (m.get("documents") or [])), m.get("description", ""))


def _clause_dates(m: dict, man: Located, name: str, acc: _Acc, diags: list) -> None:
    """Each document's ``in_force_from`` given to the clauses its ``clauses`` patterns match —
    only this layer's own clauses (a fork's document does not re-date its parent's clauses) and
    only those without a date of their own. A pattern that matches none of them, or a clause
    two documents give different dates, is an error."""
    own = [cid for cid, c in acc.clauses.items() if c.defined_in == name]
    dated_by: dict[str, int] = {}
    for i, doc in enumerate(m.get("documents") or []):
        start = doc.get("in_force_from")
        if start is None:
            continue
        for j, pat in enumerate(doc.get("clauses") or []):
            rx = re.compile("^" + ".*".join(re.escape(part) for part in pat.split("*")) + "$")
            hits = [cid for cid in own if rx.match(cid)]
            if not hits:
                diags.append(Diagnostic(
                    "E029", f"`{pat}` matches no clause defined in bundle `{name}`",
                    man.value_loc(("documents", i, "clauses", j)),
                    did_you_mean(pat, own) or "list clause ids of this bundle's `clauses:`; "
                    "`*` matches any text, e.g. HN-ESUP-*"))
            for cid in hits:
                if cid in dated_by and dated_by[cid] != i and \
                        m["documents"][dated_by[cid]]["in_force_from"] != start:
                    diags.append(Diagnostic(
                        "E013", f"clause `{cid}` is given two dates, by documents "
                        f"{dated_by[cid] + 1} and {i + 1}", man.value_loc(("documents", i, "clauses", j)),
                        "a clause has one 施行日期: narrow one of the patterns, or give the "
                        "clause its own `in_force_from:`"))
                    continue
                dated_by[cid] = i
                c = acc.clauses[cid]
                if c.in_force_from is None:
                    acc.clauses[cid] = _with(c, in_force_from=start)


def _load_workflows(layer_path: Path, name: str, replace: dict, acc: _Acc, diags: list) -> None:
    """``workflows/*.yaml`` of one layer; a fork redefines a parent's workflow only when its
    manifest lists the workflow's name under ``replace:`` (as for rules)."""
    from .workflow import load_workflow

    for wp in sorted((layer_path / "workflows").glob("*.yaml")):
        acc.sources.append(wp)
        doc = _load_checked(wp, "workflow", diags)
        if not doc:
            continue
        wf = load_workflow(doc, name, diags)
        if wf is None:
            continue
        if wf.name != wp.stem:
            diags.append(Diagnostic("E013", f"workflow `{wf.name}` must be in a file named "
                                    f"`{wf.name}.yaml`", doc.value_loc(("workflow",)),
                                    f"rename the file or set `workflow: {wp.stem}`"))
            continue
        prev = acc.workflows.get(wf.name)
        if prev is not None and (prev.defined_in == name or wf.name not in replace):
            diags.append(Diagnostic("E013", f"workflow `{wf.name}` is already defined by bundle "
                                    f"`{prev.defined_in}`", wf.loc,
                                    f"to replace it, list `{wf.name}` in {MANIFEST} under "
                                    "`replace:`" if prev.defined_in != name else
                                    f"first defined at {prev.loc}"))
            continue
        acc.workflows[wf.name] = wf


def load_bundle(ref: str | Path, roots: tuple[Path, ...] | None = None) -> Bundle:
    """Resolve ``ref`` and its ancestors into one :class:`Bundle`."""
    roots = roots if roots is not None else policy_roots()
    diags: list[Diagnostic] = []
    chain_paths: list[tuple[Path, Located]] = []
    path = find_bundle(ref, roots)
    seen: dict[Path, Loc] = {}
    while True:
        if path in seen:
            raise PolicyError([Diagnostic("E011", "bundles extend each other in a cycle: " +
                                          " → ".join(p.name for p, _ in chain_paths) +
                                          f" → {path.name}", seen[path],
                                          "remove one of the `extends`")])
        man = load_yaml(path / MANIFEST)
        validate(man, "manifest")
        seen[path] = man.loc(("extends",)) if "extends" in man.value else man.loc(())
        chain_paths.append((path, man))
        parent = man.value.get("extends")
        if not parent:
            break
        path = find_bundle(parent, roots, man.loc(("extends",)), base=path)
    chain_paths.reverse()
    names: dict = {}
    for p, man in chain_paths:
        n = man.value["name"]
        if n in names:
            diags.append(Diagnostic("E013", f"two bundles in the chain are named `{n}`",
                                    man.loc(("name",))))
        names[n] = p
    acc = _Acc()
    layers = []
    for p, man in chain_paths:
        acc.sources.append(p / MANIFEST)
        layers.append(_apply_layer(p, man, acc, diags))
    # (not when a levels.yaml exists but failed to load: its own error says why)
    if not acc.levels and not any(Path(d.loc.file).name == "levels.yaml" for d in diags):
        diags.append(Diagnostic("E005", "no outcome levels are defined (levels.yaml)",
                                chain_paths[0][1].loc(())))
    if diags:
        raise PolicyError(diags)
    leaf = layers[-1]
    rules = tuple(r for rid, r in acc.rules.items() if rid not in acc.disabled)
    return Bundle(
        name=leaf.name, version=leaf.version, title=leaf.title, path=leaf.path,
        chain=tuple(layers), clauses=MappingProxyType(acc.clauses),
        params=MappingProxyType(acc.params), levels=MappingProxyType(acc.levels),
        entities=MappingProxyType(acc.entities), rules=rules,
        rule_origin=MappingProxyType(acc.rule_origin), disabled=MappingProxyType(acc.disabled),
        replaced=MappingProxyType(acc.replaced), overridden_params=MappingProxyType(acc.overridden),
        calendar_dirs=tuple(acc.calendar_dirs), test_files=tuple(acc.test_files),
        template_dirs=tuple(acc.template_dirs), sources=tuple(acc.sources),
        workflows=MappingProxyType(dict(acc.workflows)))
