"""YAML sources with locations.

Input: a YAML file (or text). Output: :class:`Located` — the plain Python value (dicts, lists,
str, int, float, bool, None, ``datetime.date``) plus a map from each key path to the
:class:`~govsup.engine.loc.Loc` of that key (and of each list item). Only YAML's safe scalar types
are built: no tags, no Python objects; YAML text is never executed. Duplicate keys are errors.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .diagnostics import Diagnostic, PolicyError
from .loc import Loc

Path_ = tuple  # a key path: tuple of str | int


@dataclass
class Located:
    value: Any
    file: str
    locs: dict[tuple, Loc] = field(default_factory=dict)
    vlocs: dict[tuple, Loc] = field(default_factory=dict)  # where a scalar value's text starts

    def value_loc(self, path: tuple) -> Loc:
        """Where the text of the scalar at ``path`` starts (inside its quotes; the first line of
        a block scalar), so an expression written in YAML is located character by character."""
        return self.vlocs.get(tuple(path)) or self.loc(path)

    def loc(self, path: tuple = ()) -> Loc:
        """The location of ``path``, or of its nearest located ancestor."""
        p = tuple(path)
        while p:
            if p in self.locs:
                return self.locs[p]
            p = p[:-1]
        return self.locs.get((), Loc(self.file, 1, 1))


_constructor = yaml.constructor.SafeConstructor()


def _loc(file: str, node: yaml.Node) -> Loc:
    s, e = node.start_mark, node.end_mark
    end_line, end_col = (e.line + 1, e.column + 1) if e.line == s.line else (0, 0)
    return Loc(file, s.line + 1, s.column + 1, end_line, end_col)


def _build(node: yaml.Node, file: str, path: tuple, locs: dict, errors: list) -> Any:
    locs.setdefault(path, _loc(file, node))
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                errors.append(Diagnostic("E003", "a mapping key must be a plain name",
                                         _loc(file, knode)))
                continue
            key = knode.value
            if knode.tag == "tag:yaml.org,2002:merge" or key == "<<":
                errors.append(Diagnostic("E003", "yaml merge keys (`<<`) are not supported",
                                         _loc(file, knode), "write the keys out"))
                continue
            if key in out:
                errors.append(Diagnostic("E002", f"duplicate key `{key}`", _loc(file, knode),
                                         f"`{key}` is already defined at "
                                         f"{locs[path + (key,)]}"))
                continue
            locs[path + (key,)] = _loc(file, knode)
            out[key] = _build(vnode, file, path + (key,), locs, errors)
            locs[path + (key,)] = _loc(file, knode)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, child in enumerate(node.value):
            items.append(_build(child, file, path + (i,), locs, errors))
        return items
    if isinstance(node, yaml.ScalarNode):
        vlocs = locs.setdefault("__values__", {})  # type: ignore[arg-type]
        m = node.start_mark
        if node.style in ('"', "'"):
            vlocs[path] = Loc(file, m.line + 1, m.column + 2)
        elif node.style in ("|", ">"):
            vlocs[path] = Loc(file, m.line + 2, m.column + 1)
        else:
            vlocs[path] = Loc(file, m.line + 1, m.column + 1)
        tag = node.tag
        if tag.startswith("tag:yaml.org,2002:") and tag.rsplit(":", 1)[1] in {
            "str", "int", "float", "bool", "null", "timestamp"}:
            try:
                v = _constructor.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError) as exc:
                if tag.endswith(":timestamp"):  # 2024-02-30: shaped like a date, not one
                    errors.append(Diagnostic(
                        "E003", f"`{node.value}` is not a date: {exc}".lower(), _loc(file, node),
                        "write dates as yyyy-mm-dd that exist on the calendar, e.g. 2024-02-29"))
                else:
                    errors.append(Diagnostic("E001", f"bad scalar: {exc}".lower(),
                                             _loc(file, node)))
                return None
            if isinstance(v, _dt.datetime):
                errors.append(Diagnostic("E003", "a date-time is not allowed here; write a date "
                                         "like 2024-01-31", _loc(file, node)))
                return None
            return v
        errors.append(Diagnostic("E003", f"yaml tag `{tag}` is not allowed", _loc(file, node),
                                 "policy files hold plain data only"))
        return None
    errors.append(Diagnostic("E003", "unsupported yaml node", _loc(file, node)))
    return None


def load_yaml_text(text: str, file: str) -> Located:
    """Parse YAML text into a :class:`Located`; raise :class:`PolicyError` on any problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
        msg = (exc.problem or exc.context or "invalid yaml").strip().lower()
        hint = "check indentation, and quote text containing `:` or `#`"
        raise PolicyError([Diagnostic("E001", msg, loc, hint)]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Diagnostic("E001", str(exc).lower().splitlines()[0],
                                      Loc(file, 1, 1))]) from None
    if node is None:
        return Located({}, file, {(): Loc(file, 1, 1)})
    locs: dict = {}
    errors: list = []
    value = _build(node, file, (), locs, errors)
    if errors:
        raise PolicyError(errors)
    vlocs = locs.pop("__values__", {})
    return Located(value, file, locs, vlocs)


def read_policy_text(path: str | Path, bad_encoding_code: str = "E001") -> str:
    """The UTF-8 text of a policy file; a missing or non-UTF-8 file is a located PolicyError."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError([Diagnostic("E006", f"file not found: {p}", Loc(str(p)))]) from None
    except UnicodeDecodeError:
        raise PolicyError([Diagnostic(bad_encoding_code, "file is not valid utf-8",
                                      Loc(str(p), 1, 1), "save the file as utf-8")]) from None


def load_yaml(path: str | Path) -> Located:
    return load_yaml_text(read_policy_text(path), str(path))


def to_jsonable(value: Any) -> Any:
    """Dates become ISO strings so JSON Schema (``format: date``) can validate them."""
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value
