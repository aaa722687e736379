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
    if _DATE_RE.fullmatch(v) is None:
        return False
    try:
        _dt.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _compile(schema: Any) -> Callable[[Any], bool]:
    if schema is True or (isinstance(schema, dict) and not set(schema) - _IGNORED):
        return lambda v: type(v) in _PLAIN_TYPES
    if not isinstance(schema, dict):
        raise _Unsupported(schema)
    unknown = set(schema) - _IGNORED - {
        "type", "properties", "required", "additionalProperties", "items", "enum", "minimum",
        "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
        "minItems", "maxItems", "format"}
    if unknown:
        raise _Unsupported(unknown)
    checks: list[Callable[[Any], bool]] = []

    t = schema.get("type")
    if t is not None:
        types = set(t) if isinstance(t, list) else {t}
        allowed: set = set()
        for name in types:
            allowed |= {"string": {str, _dt.date}, "integer": {int}, "number": {int, float},
                        "boolean": {bool}, "object": {dict}, "array": {list},
                        "null": {type(None)}}.get(name, {None})
        if None in allowed:
            raise _Unsupported(t)
        allowed_t = frozenset(allowed)
        checks.append(lambda v: type(v) in allowed_t)
    else:
        checks.append(lambda v: type(v) in _PLAIN_TYPES)

    if "enum" in schema:
        vals = schema["enum"]
        if not isinstance(vals, list) or not all(type(x) is str for x in vals):
            raise _Unsupported("enum")
        members = frozenset(vals)
        checks.append(lambda v: (v.isoformat() if type(v) is _dt.date else v) in members
                      if type(v) in (str, _dt.date) else False)

    fmt = schema.get("format")
    if fmt is not None:
        if fmt != "date":
            raise _Unsupported(fmt)

        def date_format(v):
            if type(v) is str:
                return _is_date_text(v)
            return type(v) is not _dt.datetime  # a date is its ISO text; others: not a string
        checks.append(date_format)

    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if lo is not None or hi is not None:
        lo = lo or 0
        hi = hi if hi is not None else float("inf")

        def length(v, lo=lo, hi=hi):
            if type(v) is _dt.date:
                v = v.isoformat()
            return lo <= len(v) <= hi if type(v) is str else True
        checks.append(length)

    bounds = [(k, schema[k]) for k in ("minimum", "maximum", "exclusiveMinimum",
                                       "exclusiveMaximum") if k in schema]
    if bounds:
        for _, b in bounds:
            if type(b) not in (int, float):
                raise _Unsupported(b)

        def in_bounds(v, bounds=tuple(bounds)):
            if type(v) not in (int, float):
                return True
            for k, b in bounds:
                if ((k == "minimum" and not v >= b) or (k == "maximum" and not v <= b)
                        or (k == "exclusiveMinimum" and not v > b)
                        or (k == "exclusiveMaximum" and not v < b)):
                    return False
            return True
        checks.append(in_bounds)

    if "items" in schema or "minItems" in schema or "maxItems" in schema:
        item = _compile(schema["items"]) if "items" in schema else None
        nmin = schema.get("minItems", 0)
        nmax = schema.get("maxItems")

        def array(v, item=item, nmin=nmin, nmax=nmax):
            if type(v) is not list:
                return True
            if len(v) < nmin or (nmax is not None and len(v) > nmax):
                return False
            if item is not None:
                for x in v:
                    if not item(x):
                        return False
            return True
        checks.append(array)

    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        props = {k: _compile(s) for k, s in (schema.get("properties") or {}).items()}
        required = tuple(schema.get("required") or ())
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is False else (None if extra is True else _compile(extra))
        closed = extra is False

        def obj(v, props=props, required=required, closed=closed, extra_check=extra_check):
            if type(v) is not dict:
                return True
            for r in required:
                if r not in v:
                    return False
            get = props.get
            for k, x in v.items():
                c = get(k)
                if c is None:
                    if closed or (extra_check is not None and not extra_check(x)):
                        return False
                elif not c(x):
                    return False
            return True
        checks.append(obj)

    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda v: a(v) and b(v)
    cs = tuple(checks)
    return lambda v: all(c(v) for c in cs)


def _plain(v):
    if hasattr(v, "items"):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
