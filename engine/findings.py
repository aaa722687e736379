"""Typed results of an evaluation.

Input: raw findings from the evaluator. Output: pydantic models — :class:`Finding`,
:class:`RejectedRecord`, :class:`Summary`, :class:`Evaluation` — with a published JSON Schema
(``policy schema`` writes it; ``Evaluation.model_json_schema()``).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..dsl.runtime import Dur, Pause


class Finding(BaseModel):
    """One dated finding of one rule about one entity (RULEBOOK C6)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str = Field(description="rule id")
    clauses: list[str] = Field(description="RULEBOOK clause ids the rule implements")
    level: str = Field(description="outcome level key, e.g. red_card")
    level_name: str = Field(description="the level's Chinese name, e.g. 红牌")
    severity: int
    collection: str | None = Field(description="the fact collection the entity comes from")
    key: str = Field(description="the entity's key, e.g. a case id")
    triggered_on: _dt.date = Field(description="the finding's date")
    status: Literal["open", "resolved"]
    resolved_on: _dt.date | None = Field(description="when resolved (on or before as_of)")
    message: str
    provisional: bool = Field(False, description="a date lies in a calendar year that is not "
                              "published; the Monday–Friday fallback was used")
    bundle: str = Field(description="the bundle that defined the rule")
    values: dict[str, Any] = Field(description="the values that decided the finding")


# every field is set: one set for all findings built here (pydantic copies it in model_copy and
# never changes it on a frozen model)
_ALL_FIELDS = set(Finding.model_fields)
_new = object.__new__
_set = object.__setattr__


def trusted_finding(fields: dict) -> Finding:
    """A :class:`Finding` from a dict holding every field, in declaration order, each already of
    its declared type — what ``Finding.model_construct(**fields)`` gives, without its per-field
    bookkeeping (the evaluator builds one per finding)."""
    m = _new(Finding)
    _set(m, "__dict__", fields)
    _set(m, "__pydantic_fields_set__", _ALL_FIELDS)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


class RejectedRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    collection: str
    index: int
    position: str = Field(description="file:line, file:collection[i] or file:sheet!row")
    reason: str


class CollectionCount(BaseModel):
    read: int = 0
    evaluated: int = 0
    rejected: int = 0


class Summary(BaseModel):
    """Reconciles the input: read = evaluated + rejected."""

    read: int = 0
    evaluated: int = 0
    rejected: int = 0
    by_collection: dict[str, CollectionCount] = Field(default_factory=dict)
    findings: int = 0
    by_level: dict[str, int] = Field(default_factory=dict)


class TraceEntry(BaseModel):
    rule: str
    key: str
    steps: list[tuple[str, Any]]


class FlowState(BaseModel):
    """Where one record stands in a workflow on the evaluation date (docs/workflows.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flow: str = Field(description="workflow name")
    collection: str
    key: str = Field(description="the record's key")
    state: str | None = Field(description="the state on as_of (null: no event yet)")
    since: _dt.date | None = Field(description="when that state was entered")
    final: bool = Field(description="the state is final")
    open_overdue: int = Field(description="deadline breaches still open on as_of")
    error: str | None = Field(None, description="why the history could not be replayed")


class Evaluation(BaseModel):
    """Everything one `policy eval` produces."""

    bundle: str
    bundle_version: str
    as_of: _dt.date
    findings: list[Finding]
    rejected: list[RejectedRecord] = Field(default_factory=list)
    summary: Summary
    warnings: list[str] = Field(default_factory=list)
    trace: list[TraceEntry] | None = None
    flows: list[FlowState] | None = Field(None, description="each record's workflow state "
                                          "(bundles that declare workflows)")


_SCALARS = frozenset({str, int, bool, type(None)})
_TEXT_TYPES = frozenset({Dur, Pause})  # shown as their text


def to_json_value(v: Any, _memo: dict | None = None) -> Any:
    """Plain JSON for the values of a finding (dates as ISO text; pauses, durations as text).

    With ``_memo`` (a dict), a dict or list met more than once in ``v`` is converted once and the
    result shared (a finding's values often show the same record under several names)."""
    t = type(v)  # fast paths for the exact types records are made of; same results as below
    if t in _SCALARS:
        return v
    if t is dict or t is list:
        if _memo is None:
            return _container_json(v, t, None)
        r = _memo.get(id(v))
        if r is not None:
            return r[1]
        return _container_json(v, t, _memo)
    if t is _dt.date:
        return v.isoformat()
    if t in _TEXT_TYPES:  # pauses, durations: their text (as _to_json_value), each once
        if _memo is not None:
            r = _memo.get(id(v))
            if r is not None:
                return r[1]
            r = str(v)
            _memo[id(v)] = (v, r)
            return r
        return str(v)
    return _to_json_value(v)


def _container_json(v, t, _memo):
    """``to_json_value`` of a dict or list not converted yet (remembered in ``_memo``)."""
    get = _memo.get if _memo is not None else _nothing
    if t is list:
        r = []
        for x in v:
            tx = type(x)
            if tx in _SCALARS:
                r.append(x)
            elif tx is _date:
                r.append(x.isoformat())
            else:
                h = get(id(x))
                r.append(h[1] if h is not None else to_json_value(x, _memo))
    else:
        try:
            ks = sorted(v)
        except TypeError:
            return _to_json_value(v)
        r = {}
        for k in ks:
            if type(k) is not str:
                return _to_json_value(v)
            x = v[k]
            tx = type(x)
            if tx in _SCALARS:
                r[k] = x
            elif tx is _date:
                r[k] = x.isoformat()
            else:
                h = get(id(x))
                r[k] = h[1] if h is not None else to_json_value(x, _memo)
    if _memo is not None:
        _memo[id(v)] = (v, r)  # keeps v alive, so its id is not reused meanwhile
    return r


def _nothing(_k):
    return None


_date = _dt.date


def values_json(v: dict, _memo: dict) -> dict:
    """``to_json_value(v, _memo)`` for a finding's values: a dict made for one finding, so it is
    not remembered itself (what it holds is)."""
    try:
        ks = sorted(v)
    except TypeError:
        return to_json_value(v, _memo)
    r = {}
    get = _memo.get
    for k in ks:
        if type(k) is not str:
            return to_json_value(v, _memo)
        x = v[k]
        t = type(x)
        if t in _SCALARS:
            r[k] = x
        elif t is _date:
            r[k] = x.isoformat()
        else:
            h = get(id(x))
            r[k] = h[1] if h is not None else to_json_value(x, _memo)
    return r


def _to_json_value(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else v
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, dict) or hasattr(v, "items"):
        return {str(k): to_json_value(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, (list, tuple)):
        return [to_json_value(x) for x in v]
    return str(v)
