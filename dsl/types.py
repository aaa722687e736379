"""Static types of the DSL.

Input: JSON Schemas of entities and parameter declarations. Output: :class:`Type` values used by
the checker. Optional types (``T?``) mark values that may be missing; they must be handled
explicitly (``require``, ``??``, ``is missing``/``is present``) before use.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Type:
    kind: str  # int number bool text date duration null any list record lambda pause period
    elem: "Type | None" = None  # list element / lambda result
    unit: str | None = None  # duration unit
    name: str | None = None  # record name
    fields: tuple = field(default=(), compare=False)  # record: ((name, Type), ...)
    optional: bool = False

    def __str__(self) -> str:
        if self.kind == "list":
            s = f"list[{self.elem}]"
        elif self.kind == "record":
            s = self.name or "record"
        elif self.kind == "duration":
            s = f"duration[{self.unit}]"
        else:
            s = self.kind
        return s + ("?" if self.optional and self.kind not in ("null", "any") else "")

    def field_map(self) -> dict:
        return dict(self.fields)

    def opt(self, optional: bool = True) -> "Type":
        if self.optional == optional:
            return self
        return Type(self.kind, self.elem, self.unit, self.name, self.fields, optional)

    def required(self) -> "Type":
        return self.opt(False)


INT = Type("int")
NUMBER = Type("number")
BOOL = Type("bool")
TEXT = Type("text")
DATE = Type("date")
NULL = Type("null", optional=True)
ANY = Type("any")
PAUSE = Type("pause")
PERIOD = Type("record", name="period", fields=(("start", DATE), ("end", DATE), ("label", TEXT),
                                                ("kind", TEXT)))


def list_of(t: Type) -> Type:
    return Type("list", elem=t)


def duration(unit: str) -> Type:
    return Type("duration", unit=unit)


def is_numeric(t: Type) -> bool:
    return t.kind in ("int", "number", "any")


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two branches, or None when they are incompatible."""
    opt = a.optional or b.optional
    if a.kind == "null":
        return b.opt(True)
    if b.kind == "null":
        return a.opt(True)
    if a.kind == "any" or b.kind == "any":
        return ANY
    if a.kind == b.kind:
        if a.kind == "list":
            ae, be = a.elem, b.elem
            # `any` elements (the empty list `[]`) take the other side's type: `c.fees ?? []`
            if ae is not None and ae.kind == "any" and be is not None:
                ae = be
            if be is not None and be.kind == "any" and ae is not None:
                be = ae
            e = unify(ae, be) if ae and be else (ae or be)
            return None if e is None else Type("list", elem=e, optional=opt)
        if a.kind == "record" and a.name != b.name:
            return None
        if a.kind == "duration" and a.unit != b.unit:
            return None
        return a.opt(opt)
    if {a.kind, b.kind} == {"int", "number"}:
        return NUMBER.opt(opt)
    return None


def assignable(src: Type, dst: Type) -> bool:
    """Can a value of type ``src`` be used where ``dst`` is expected (ignoring optionality)?"""
    if dst.kind == "any" or src.kind == "any":
        return True
    if src.kind == dst.kind:
        if src.kind == "list":
            return src.elem is None or dst.elem is None or assignable(src.elem, dst.elem)
        if src.kind == "record":
            return dst.name is None or src.name == dst.name
        if src.kind == "duration":
            return dst.unit is None or src.unit == dst.unit
        return True
    return src.kind == "int" and dst.kind == "number"


def from_json_schema(sch: dict, name: str | None = None) -> Type:
    """Map a JSON Schema (the subset entity schemas use) to a DSL type."""
    if not isinstance(sch, dict):
        return ANY
    t = sch.get("type")
    optional = False
    if isinstance(t, list):
        optional = "null" in t
        rest = [x for x in t if x != "null"]
        t = rest[0] if len(rest) == 1 else None
    if t == "string":
        out = DATE if sch.get("format") == "date" else TEXT
    elif t == "integer":
        out = INT
    elif t == "number":
        out = NUMBER
    elif t == "boolean":
        out = BOOL
    elif t == "array":
        out = list_of(from_json_schema(sch.get("items", {}), None))
    elif t == "object" or "properties" in sch:
        req = set(sch.get("required", []))
        fields = []
        for fname, fs in sch.get("properties", {}).items():
            ft = from_json_schema(fs, fname)
            if fname not in req:
                ft = ft.opt(True)
            fields.append((fname, ft))
        out = Type("record", name=name or sch.get("title") or "record", fields=tuple(fields))
    elif "enum" in sch and all(isinstance(v, str) for v in sch["enum"]):
        out = TEXT
    else:
        out = ANY
    return out.opt(True) if optional else out


PARAM_TYPES = {"int": INT, "number": NUMBER, "bool": BOOL, "text": TEXT, "date": DATE}


def param_type(kind: str, items: str | None = None, columns: dict | None = None) -> Type:
    if kind == "list":
        return list_of(PARAM_TYPES.get(items or "text", TEXT))
    if kind == "table":
        cols = tuple((c, PARAM_TYPES.get(t, BOOL if t == "bool" else TEXT))
                     for c, t in (columns or {}).items())
        return list_of(Type("record", name="row", fields=cols))
    return PARAM_TYPES[kind]
