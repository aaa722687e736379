"""Facts: records of the collections a bundle declares, validated and typed.

Input: raw records (``engine.inputs.Record``: JSON-like dicts, dates as ISO text) and the bundle's
entity schemas. Output: records whose date fields are ``datetime.date`` (what the DSL computes
with), and :class:`~govsup.engine.inputs.Rejected` items for records that fail their schema.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Callable, Iterable, Iterator

from .inputs import Record, Rejected, validate_records


def date_converter(schema: Any) -> Callable[[Any], Any] | None:
    """A function turning the ISO date strings of ``schema``'s date fields into dates, or None
    when the schema has no date field."""
    if not isinstance(schema, dict) and not hasattr(schema, "get"):
        return None
    t = schema.get("type")
    types = set(t) if isinstance(t, (list, tuple)) else {t}
    if "string" in types and schema.get("format") == "date":
        def conv_date(v):
            return _dt.date.fromisoformat(v) if isinstance(v, str) else v
        return conv_date
    if "array" in types:
        inner = date_converter(schema.get("items", {}))
        if inner is None:
            return None

        def conv_list(v):
            return [inner(x) for x in v] if isinstance(v, list) else v
        return conv_list
    props = schema.get("properties")
    if props:
        convs = {}
        for k, s in props.items():
            c = date_converter(s)
            if c is not None:
                convs[k] = c
        if not convs:
            return None
        items = tuple(convs.items())

        def conv_obj(v):
            if not isinstance(v, dict):
                return v
            out = dict(v)
            for k, c in items:
                x = out.get(k)
                if x is not None:
                    out[k] = c(x)
            return out
        return conv_obj
    return None


def typed_records(items: Iterable[Record | Rejected], entity) -> Iterator[Record | Rejected]:
    """Validate records against the entity's schema and convert their dates.

    A record that :func:`fast_checker` accepts is valid for the JSON Schema validator too, so only
    the others (the malformed ones, or values the fast check does not decide) go through
    :func:`~govsup.engine.inputs.validate_records`, which gives the reasons."""
    schema = _plain(entity.schema)
    conv = date_converter(schema)
    fast = fast_checker(schema)
    if fast is None:
        checked: Iterable[Record | Rejected] = validate_records(items, schema)
    else:
        checked = _fast_then_full(items, schema, fast)
    for it in checked:
        if isinstance(it, Record) and conv is not None:
            yield Record(it.collection, it.index, it.position, conv(it.data), it.loc)
        else:
            yield it


def _fast_then_full(items, schema, fast) -> Iterator[Record | Rejected]:
    for it in items:
        if isinstance(it, Record) and fast(it.data):
            yield it
        else:
            yield from validate_records((it,), schema)


# ------------------------------------------------------------------------------ fast validation
#
# The entity schemas use a small part of JSON Schema (type, properties, required,
# additionalProperties, items, enum, minimum/maximum, minLength/maxLength, minItems/maxItems,
# format: date). ``fast_checker`` compiles such a schema into a predicate that answers True only
# when the Draft 2020-12 validator (with the format checker) surely accepts the instance — after
# ``to_jsonable``, i.e. a ``datetime.date`` counts as its ISO text. Any keyword it does not know
# makes it give up (None); any value it is unsure about gives False, and the caller asks the
# full validator. It never decides a record is invalid, so reasons and rejections are unchanged.

_IGNORED = frozenset({"title", "description", "$schema", "$comment", "default", "examples",
                      "deprecated", "readOnly", "writeOnly", "x-columns"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)  # as jsonschema's `date` format
_PLAIN_TYPES = (str, int, float, bool, dict, list, type(None), _dt.date)


class _Unsupported(Exception):
    pass


def fast_checker(schema: Any) -> Callable[[Any], bool] | None:
    """A predicate that is True only for instances ``schema`` surely accepts, or None when the
    schema uses a keyword the fast check does not know."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _is_date_text(v: str) -> bool:
    # _DATE_RE.fullmatch(v), spelled out (ASCII digits: isascii() and isdigit())
    if not (len(v) == 10 and v[4] == "-" and v[7] == "-" and v.isascii()
            and v[:4].isdigit() and v[5:7].isdigit() and v[8:].isdigit()):
        return False
    try:
        _dt.date.fromisoformat(v)
    except ValueError:
        return False
    return True


_KNOWN = frozenset({"type", "properties", "required", "additionalProperties", "items", "enum",
                    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
                    "maxLength", "minItems", "maxItems", "format"})
_TYPES = {"string": (str, _dt.date), "integer": (int,), "number": (int, float),
          "boolean": (bool,), "object": (dict,), "array": (list,), "null": (type(None),)}
_ABSENT = object()


class _Emit:
    """Writes the fast check of a schema as the statements of one Python function: each
    keyword becomes an ``if …: return False``; nested objects and arrays are inlined."""

    def __init__(self):
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self.n = 0

    def const(self, v) -> str:
        name = f"_c{len(self.consts)}"
        self.consts[name] = v
        return name

    def var(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def out(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def node(self, schema: Any, x: str, d: int) -> None:
        if schema is True:
            self.out(d, f"if type({x}) not in _PLAIN: return False")
            return
        if not isinstance(schema, dict):
            raise _Unsupported(schema)
        keys = set(schema) - _IGNORED
        if keys - _KNOWN:
            raise _Unsupported(keys - _KNOWN)
        t = schema.get("type")
        if t is not None:
            allowed: set = set()
            for name in (t if isinstance(t, list) else [t]):
                if name not in _TYPES:
                    raise _Unsupported(t)
                allowed |= set(_TYPES[name])
            self.out(d, f"if type({x}) not in {self.const(frozenset(allowed))}: return False")
        else:
            self.out(d, f"if type({x}) not in _PLAIN: return False")
        if "enum" in schema:
            vals = schema["enum"]
            if not isinstance(vals, list) or not all(type(v) is str for v in vals):
                raise _Unsupported("enum")
            e = self.const(frozenset(vals))
            self.out(d, f"if type({x}) is str:")
            self.out(d + 1, f"if {x} not in {e}: return False")
            self.out(d, f"elif type({x}) is _date:")
            self.out(d + 1, f"if {x}.isoformat() not in {e}: return False")
            self.out(d, "else: return False")
        fmt = schema.get("format")
        if fmt is not None:
            if fmt != "date":
                raise _Unsupported(fmt)
            self.out(d, f"if type({x}) is str:")
            self.out(d + 1, f"if not _is_date_text({x}): return False")
            self.out(d, f"elif type({x}) is _datetime: return False")
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        if lo is not None or hi is not None:
            for b in (lo, hi):
                if b is not None and type(b) is not int:
                    raise _Unsupported(b)
            y = self.var()
            self.out(d, f"if type({x}) in (str, _date):")
            self.out(d + 1, f"{y} = len({x}) if type({x}) is str else len({x}.isoformat())")
            if lo is not None:
                self.out(d + 1, f"if {y} < {lo}: return False")
            if hi is not None:
                self.out(d + 1, f"if {y} > {hi}: return False")
        ops = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        bounds = [(ops[k], schema[k]) for k in ops if k in schema]
        if bounds:
            self.out(d, f"if type({x}) is int or type({x}) is float:")
            for op, b in bounds:
                if type(b) not in (int, float):
                    raise _Unsupported(b)
                self.out(d + 1, f"if not ({x} {op} {b!r}): return False")
        if "items" in schema or "minItems" in schema or "maxItems" in schema:
            self.out(d, f"if type({x}) is list:")
            nmin, nmax = schema.get("minItems"), schema.get("maxItems")
            for b in (nmin, nmax):
                if b is not None and type(b) is not int:
                    raise _Unsupported(b)
            if nmin:
                self.out(d + 1, f"if len({x}) < {nmin}: return False")
            if nmax is not None:
                self.out(d + 1, f"if len({x}) > {nmax}: return False")
            if "items" in schema:
                y = self.var()
                self.out(d + 1, f"for {y} in {x}:")
                self.node(schema["items"], y, d + 2)
            self.out(d + 1, "pass")
        if "properties" in schema or "required" in schema or "additionalProperties" in schema:
            props = schema.get("properties") or {}
            required = schema.get("required") or []
            extra = schema.get("additionalProperties", True)
            if not isinstance(props, dict) or not isinstance(required, list) or \
                    not all(type(k) is str for k in list(props) + required):
                raise _Unsupported("properties")
            self.out(d, f"if type({x}) is dict:")
            if required:
                self.out(d + 1, f"if not {self.const(frozenset(required))} <= {x}.keys(): "
                                "return False")
            if extra is False:
                self.out(d + 1, f"if not {x}.keys() <= {self.const(frozenset(props))}: "
                                "return False")
            elif extra is not True:
                y = self.var()
                self.out(d + 1, f"for {y} in {x}.keys() - {self.const(frozenset(props))}:")
                self.node(extra, f"{x}[{y}]", d + 2)
            for k, sub in props.items():
                y = self.var()
                self.out(d + 1, f"{y} = {x}.get({k!r}, _ABSENT)")
                self.out(d + 1, f"if {y} is not _ABSENT:")
                self.node(sub, y, d + 2)
                self.out(d + 2, "pass")
            self.out(d + 1, "pass")


def _compile(schema: Any) -> Callable[[Any], bool]:
    em = _Emit()
    em.node(schema, "v0", 1)
    src = "def check(v0):\n" + "\n".join(em.lines) + "\n    return True\n"
    ns = dict(em.consts, _PLAIN=frozenset(_PLAIN_TYPES), _date=_dt.date, _datetime=_dt.datetime,
              _is_date_text=_is_date_text, _ABSENT=_ABSENT, str=str, int=int, float=float,
              len=len, type=type, frozenset=frozenset, dict=dict, list=list, bool=bool)
    ns["__builtins__"] = {}
    exec(compile(src, "<fast schema check>", "exec"), ns)
    check = ns["check"]
    check.source = src  # type: ignore[attr-defined]
    return check


def _plain(v):
    if hasattr(v, "items"):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
