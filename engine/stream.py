"""Streaming, parallel evaluation of a large JSONL collection.

Input: a Program's bundle reference, the collection to stream (e.g. ``cases``) as a JSONL file,
the other collections (loaded whole: reference data such as the item catalogue), an as-of date.
Output: findings written as they are produced (JSONL, one finding per line, masked by default),
rejected records with their line numbers, and a :class:`~govsup.engine.findings.Summary`.

Memory stays flat as the file grows: the parent reads raw lines in chunks and hands them to
worker processes (each compiles the bundle once); results come back in chunk order, so the output
is deterministic — ordered by input line, and within a record's chunk by the usual finding order.
Only rules that read the streamed collection record by record (``CheckedRule.per_record``) and
otherwise only whole-loaded collections can stream; ``stream_plan`` says which rules cannot.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import multiprocessing as mp
import os
import re
from dataclasses import dataclass
from typing import IO, Iterable, Iterator

from .bundle import load_bundle, policy_roots
from .evaluate import Program, _Collect, prepare, run_rules, sort_with_ties
from .findings import CollectionCount, RejectedRecord, Summary
from .inputs import Record, Rejected, read_file, read_jsonl_lines
from .render import _dumps
from .identity import ID_KEYS, PHONE_KEYS, mask_id, mask_phone, mask_text

CHUNK_LINES = 2000


def stream_plan(program: Program, coll: str) -> tuple[list[str], list[str]]:
    """(rules that can stream over ``coll``, rules that need ``coll`` whole)."""
    ok, blocked = [], []
    for cr in program.rules:
        c = cr.checked
        if coll not in c.collections_read:
            continue
        (ok if (c.collection == coll and c.per_record) else blocked).append(cr.rule.id)
    return ok, blocked


@dataclass(frozen=True)
class _Job:
    bundle: str
    roots: tuple
    refs: tuple  # ((collection, path), ...)
    stream: str
    display: str
    as_of: _dt.date
    fallback: bool
    show_pii: bool


_STATE: dict = {}


def _init(job: _Job) -> None:
    program = prepare(load_bundle(job.bundle, policy_roots(job.roots)))
    facts = {}
    for coll, path in job.refs:
        facts.setdefault(coll, []).extend(read_file(path, collection=coll))
    summary = Summary()
    rejected: list = []
    warnings: list = []
    colls = program.read_facts(facts, summary, rejected, warnings)
    _STATE.update(program=program, colls=colls, job=job, ref_summary=summary,
                  ref_rejected=rejected, warnings=warnings,
                  indexes=program.indexes(colls),
                  calendar=program.calendar(job.fallback))


def _run_chunk(args) -> tuple[list[str], list[RejectedRecord], int, int, dict]:
    first_line, first_index, lines = args
    st = _STATE
    program: Program = st["program"]
    job: _Job = st["job"]
    ent = program.bundle.entities[job.stream]
    items = read_jsonl_lines(lines, job.display, job.stream, first_line=first_line,
                             first_index=first_index)
    from .facts import typed_records
    from ..dsl.runtime import Runtime

    recs = []
    rejected = []
    read = 0
    for it in typed_records(items, ent):
        read += 1
        if isinstance(it, Rejected):
            rejected.append(RejectedRecord(collection=it.collection, index=it.index,
                                           position=it.position, reason=it.reason))
        else:
            recs.append(it.data)
    colls = dict(st["colls"])
    colls[job.stream] = recs
    idx = dict(st["indexes"])
    ek = ent.key
    if ek:
        idx[job.stream] = {r.get(ek): r for r in recs}
    rt = Runtime(as_of=job.as_of, calendar=st["calendar"], params=program.bundle.params,
                 indexes=idx, flows=dict(program.flows), in_force=program.in_force)
    sink = _DictCollect(program, job.as_of, False)
    run_rules([cr for cr in program.rules
               if cr.checked.collection == job.stream and cr.checked.per_record], rt, colls, sink,
              program.fused)
    # order: by the record's position in the file, then the usual finding order
    keypos = {}
    if ek:
        for i, r in enumerate(recs):
            keypos.setdefault(str(r.get(ek)), i)
    findings = _sort_dicts(sink.raw, keypos)
    by_level: dict = {}
    out = []
    mask = None if job.show_pii else _Masker()
    for d in findings:
        by_level[d["level"]] = by_level.get(d["level"], 0) + 1
        d["triggered_on"] = d["triggered_on"].isoformat()
        if d["resolved_on"] is not None:
            d["resolved_on"] = d["resolved_on"].isoformat()
        out.append(_dumps(d if mask is None else mask(d)))
        out.append("\n")
    return "".join(out), rejected, read, len(recs), by_level


class _DictCollect(_Collect):
    """The evaluator's sink, making each finding the plain dict that ``Finding.model_dump(
    mode="json")`` would give (dates still ``date`` until written): the streaming path writes
    findings and never needs the pydantic models."""

    @staticmethod
    def _make(fields: dict) -> dict:
        return fields


def _sort_dicts(raw: list[dict], keypos: dict) -> list[dict]:
    """By record position, then ``finding_sort_key``'s order; the values are serialised only to
    break ties (see ``evaluate.sort_findings``)."""
    def key(f):
        return (keypos.get(f["key"].split("/")[0], 0), f["triggered_on"], f["rule"], f["key"],
                -f["severity"], f["level"], f["message"])
    return sort_with_ties(raw, key, lambda f: json.dumps(f["values"], sort_keys=True,
                                                       ensure_ascii=False))


# Any text with an ID or phone number that mask_text masks has at least 10 digits (an ID 15 or
# 18, a mobile 11, a landline an area code 0xx plus 7 local digits), ASCII or full-width.
_TEN_DIGITS = re.compile("(?:[^0-9\uff10-\uff19]*[0-9\uff10-\uff19]){10}")


class _Masker:
    """``identity.mask_value`` for one chunk's findings, skipping ``mask_text`` for text with
    fewer than 10 digits (it cannot hold an ID or a phone number) and remembering what it masked
    (a case id and its dates recur in every finding of the case). Same result as mask_value."""

    def __init__(self):
        self.done: dict[str, str] = {}
        self.idk = ID_KEYS
        self.phk = PHONE_KEYS
        self.keys = ID_KEYS | PHONE_KEYS

    def __call__(self, obj):
        return self._mask(obj, None)

    def _text(self, s: str) -> str:
        r = self.done.get(s)
        if r is None:
            r = mask_text(s) if _TEN_DIGITS.match(s) else s
            self.done[s] = r
        return r

    def _mask(self, obj, key):  # identity._mask, with _text for mask_text
        t = type(obj)
        if t is str and key not in self.keys:
            return self._text(obj)
        if t is dict:  # text values inlined: the common case, without a call per string
            m, done, txt, keys = self._mask, self.done, self._text, self.keys
            return {k: (done.get(v) or txt(v)) if type(v) is str and k not in keys else m(v, k)
                    for k, v in obj.items()}
        if t is list:
            m, done, txt = self._mask, self.done, self._text
            if key in self.keys:
                return [m(v, key) for v in obj]
            return [(done.get(v) or txt(v)) if type(v) is str else m(v, key) for v in obj]
        if obj is None or t is bool or t is float:
            return obj
        if isinstance(obj, str) or (isinstance(obj, int) and not isinstance(obj, bool)):
            s = str(obj)
            if key in self.idk and s.strip():
                return mask_id(s)
            if key in self.phk and s.strip():
                return mask_phone(s)
            if isinstance(obj, int):
                masked = self._text(s)
                return obj if masked == s else masked
            return self._text(obj)
        if isinstance(obj, dict):
            return {k: self._mask(v, k) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self._mask(v, key) for v in obj]
        return obj


def _chunks(fh: IO[bytes], size: int) -> Iterator[tuple[int, int, list[bytes]]]:
    line = 1
    index = 0
    while True:
        lines = list(itertools.islice(fh, size))
        if not lines:
            return
        yield line, index, lines
        line += len(lines)
        index += sum(1 for ln in lines if ln.strip())


def evaluate_stream(bundle: str, stream: str, path: str, refs: Iterable[tuple[str, str]],
                    as_of: _dt.date, out: IO[str], *, roots: tuple = (), jobs: int | None = None,
                    fallback: bool = False, show_pii: bool = False,
                    chunk_lines: int = CHUNK_LINES) -> tuple[Summary, list[RejectedRecord], list[str]]:
    """Stream ``path`` (JSONL records of ``stream``) through the bundle; write findings to
    ``out`` as JSONL. Returns the summary, the rejected records and warnings."""
    job = _Job(bundle, tuple(str(r) for r in roots), tuple(refs), stream, path, as_of, fallback,
               show_pii)
    jobs = jobs or os.cpu_count() or 1
    summary = Summary()
    rejected: list[RejectedRecord] = []
    _init(job)  # in the parent too: validates the bundle and references before forking
    summary = _STATE["ref_summary"].model_copy(deep=True)
    rejected.extend(_STATE["ref_rejected"])
    warnings = list(_STATE["warnings"])
    cc = summary.by_collection.setdefault(stream, CollectionCount())
    by_level: dict = {}
    with open(path, "rb") as fh:
        chunks = _chunks(fh, chunk_lines)
        if jobs > 1:
            ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
            # forked workers inherit the parent's compiled bundle and reference data (_STATE);
            # only spawned ones prepare their own
            forked = ctx.get_start_method() == "fork"
            with ctx.Pool(jobs, initializer=None if forked else _init,
                          initargs=() if forked else (job,)) as pool:
                results = pool.imap(_run_chunk, chunks, chunksize=1)
                _drain(results, out, summary, cc, rejected, by_level)
        else:
            _drain(map(_run_chunk, chunks), out, summary, cc, rejected, by_level)
    summary.by_level = dict(sorted(by_level.items()))
    summary.findings = sum(by_level.values())
    return summary, rejected, warnings


def summary_line(summary: Summary, stream: str, findings: int) -> str:
    """The streamed evaluation's account, reconciled collection by collection — the streamed
    one first, then the reference collections read whole: ``read = evaluated + rejected`` for
    each; ``findings`` is the total written."""
    def part(coll: str) -> str:
        cc = summary.by_collection.get(coll) or CollectionCount()
        return f"{coll}: read {cc.read} = evaluated {cc.evaluated} + rejected {cc.rejected}"

    refs = [c for c in sorted(summary.by_collection) if c != stream]
    text = "streamed " + part(stream)
    if refs:
        text += " (reference " + "; ".join(part(c) for c in refs) + ")"
    return f"{text}; findings {findings}"


def _drain(results, out, summary, cc, rejected, by_level) -> None:
    for text, rej, read, evaluated, levels in results:
        out.write(text)
        rejected.extend(rej)
        summary.read += read
        summary.evaluated += evaluated
        summary.rejected += read - evaluated
        cc.read += read
        cc.evaluated += evaluated
        cc.rejected += read - evaluated
        for k, v in levels.items():
            by_level[k] = by_level.get(k, 0) + v
