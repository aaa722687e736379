"""Facts: records of the collections a bundle declares, validated and typed.

Input: raw records (``engine.inputs.Record``: JSON-like dicts, dates as ISO text) and the bundle's
entity schemas. Output: records whose date fields are ``datetime.date`` (what the DSL computes
with), and :class:`~govsup.engine.inputs.Rejected` items for records that fail their schema.
"""

from __future__ import annotations

import datetime as _dt
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
    """Validate records against the entity's schema and convert their dates."""
    schema = _plain(entity.schema)
    conv = date_converter(schema)
    for it in validate_records(items, schema):
        if isinstance(it, Record) and conv is not None:
            yield Record(it.collection, it.index, it.position, conv(it.data), it.loc)
        else:
            yield it


def _plain(v):
    if hasattr(v, "items"):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
