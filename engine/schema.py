"""Strict JSON Schema validation of policy files with located errors.

Input: a :class:`~govsup.engine.source.Located` document and a JSON Schema (the bundle file kinds
live in ``engine/schemas/*.json``). Output: nothing, or :class:`PolicyError` whose diagnostics
point at the offending key (``file:line:col``). Unknown keys are errors (every object schema says
``additionalProperties: false``), with "did you mean" against the allowed keys.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from .diagnostics import Diagnostic, PolicyError, did_you_mean
from .source import Located, to_jsonable

_FORMATS = Draft202012Validator.FORMAT_CHECKER


@lru_cache(maxsize=None)
def schema(kind: str) -> dict:
    """The JSON Schema for a bundle file kind (``manifest``, ``parameters``, ``levels``, ...)."""
    text = resources.files("govsup.engine").joinpath("schemas", f"{kind}.json").read_text("utf-8")
    return json.loads(text)


def schema_kinds() -> list[str]:
    d = resources.files("govsup.engine").joinpath("schemas")
    return sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".json"))


@lru_cache(maxsize=None)
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema(kind), format_checker=_FORMATS)


def _allowed_keys(sch: dict) -> list[str]:
    return sorted(sch.get("properties", {}))


def _diag_for(err: jsonschema.ValidationError, doc: Located) -> Diagnostic:
    path = tuple(err.absolute_path)
    where = "/".join(str(p) for p in path) or "top level"
    if err.validator == "additionalProperties":
        allowed = _allowed_keys(err.schema)
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        extra_key = sorted(extra)[0] if extra else "?"
        hint = did_you_mean(extra_key, allowed)
        if not hint:
            hint = "allowed keys here: " + ", ".join(f"`{k}`" for k in allowed)
        return Diagnostic("E004", f"unknown key `{extra_key}` in {where}",
                          doc.loc(path + (extra_key,)), hint)
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else "?"
        return Diagnostic("E005", f"missing required key `{missing}` in {where}", doc.loc(path),
                          f"add `{missing}:`")
    if err.validator == "dependentRequired":
        present = next((k for k, needs in err.validator_value.items()
                        if k in err.instance and any(n not in err.instance for n in needs)), "?")
        missing = next((n for n in err.validator_value.get(present, ()) if n not in err.instance),
                       "?")
        return Diagnostic("E005", f"`{present}` needs `{missing}` next to it in {where}",
                          doc.loc(path + (present,)), f"add `{missing}:` or remove `{present}:`")
    if err.validator == "format" and err.validator_value == "date":
        return Diagnostic("E003", f"`{err.instance}` is not a date ({where})", doc.loc(path),
                          "write dates as yyyy-mm-dd, e.g. 2024-01-31")
    if err.validator == "enum":
        choices = ", ".join(f"`{c}`" for c in err.validator_value)
        hint = did_you_mean(str(err.instance), [str(c) for c in err.validator_value])
        return Diagnostic("E003", f"`{err.instance}` is not allowed for {where}", doc.loc(path),
                          hint or f"choose one of {choices}")
    if err.validator == "type":
        return Diagnostic("E003", f"{where} must be of type {err.validator_value}, "
                          f"not {type(err.instance).__name__}", doc.loc(path))
    msg = err.message.replace("\n", " ")
    msg = msg[:1].lower() + msg[1:]
    return Diagnostic("E003", f"{msg} ({where})", doc.loc(path),
                      err.schema.get("description", "") if isinstance(err.schema, dict) else "")


def _leaf_errors(err: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    # oneOf/anyOf: report the branch that got furthest rather than a wall of alternatives.
    if err.context:
        best = jsonschema.exceptions.best_match(err.context)
        return _leaf_errors(best) if best is not None else [err]
    return [err]


def validate(doc: Located, kind: str, instance: Any | None = None) -> None:
    """Validate ``doc`` against the schema of ``kind``; raise PolicyError with every problem."""
    data = to_jsonable(doc.value if instance is None else instance)
    diags = []
    for err in _validator(kind).iter_errors(data):
        for leaf in _leaf_errors(err):
            diags.append(_diag_for(leaf, doc))
    if diags:
        raise PolicyError(diags)
