"""engine.inputs.validate_records: JSON Schema checks with one reason line per record."""

import time

import pytest

from govsup.engine.diagnostics import PolicyError
from govsup.engine.inputs import ReadSummary, Record, Rejected, read_file, validate_records
from govsup.engine.loc import Loc

CASE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "received_on", "promised_days"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "received_on": {"type": "string", "format": "date"},
        "completed_on": {"type": ["string", "null"], "format": "date"},
        "promised_days": {"type": "integer", "minimum": 0},
        "status": {"enum": ["open", "done"]},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
    },
    "$defs": {"step": {"type": "object", "required": ["name"],
                       "properties": {"name": {"type": "string"}}}},
}


def _jsonl(tmp_path, text):
    p = tmp_path / "cases.jsonl"
    p.write_text(text, encoding="utf-8")
    return p


def test_all_problems_in_one_reason(tmp_path):
    lines = ['{"id": "ok", "received_on": "2024-01-31", "promised_days": 5}'] * 16
    lines.append('{"id": "x", "promised_days": "5"}')
    p = _jsonl(tmp_path, "\n".join(lines) + "\n")
    items = list(validate_records(read_file(p), CASE_SCHEMA))
    assert all(isinstance(i, Record) for i in items[:16])
    bad = items[16]
    assert isinstance(bad, Rejected)
    assert bad.reason == (f"{p}:17: missing required field `received_on`; "
                          "`promised_days` must be integer")
    assert bad.diagnostic.code == "E050"
    assert bad.diagnostic.loc == Loc(str(p), 17, 1)
    assert bad.diagnostic.message == ("missing required field `received_on`; "
                                      "`promised_days` must be integer")
    assert (bad.collection, bad.index, bad.position) == ("cases", 16, f"{p}:17")


@pytest.mark.parametrize("record, reason", [
    ({"id": "a", "received_on": "2024-02-30", "promised_days": 1},
     "`received_on` must be a date like 2024-01-31, found `2024-02-30`"),
    ({"id": "a", "received_on": "2024/01/31", "promised_days": -1},
     "`promised_days` must be >= 0; `received_on` must be a date like 2024-01-31, "
     "found `2024/01/31`"),
    ({"id": "", "received_on": "2024-01-31", "promised_days": 1, "status": "closed"},
     "`id` must not be empty; `status` must be one of: open, done"),
    ({"id": "a", "received_on": "2024-01-31", "promised_days": 1, "recieved": 1},
     "unknown field `recieved` (did you mean `received_on`?)"),
    ({"id": "a", "received_on": "2024-01-31", "promised_days": 1, "colour": 1},
     "unknown field `colour`"),
    ({"id": "a", "received_on": "2024-01-31", "promised_day": 1},
     "missing required field `promised_days`; unknown field `promised_day` "
     "(did you mean `promised_days`?)"),
    ({"id": "a", "received_on": "2024-01-31", "promised_days": 1, "steps": [{"name": "受理"}, {}]},
     "missing required field `steps[1].name`"),
    ({"id": "a", "received_on": "2024-01-31", "promised_days": 1, "completed_on": 3},
     "`completed_on` must be string or null"),
])
def test_reasons(record, reason):
    [out] = validate_records([Record("cases", 0, "cases.json:[0]", record)], CASE_SCHEMA)
    assert isinstance(out, Rejected)
    assert out.reason == f"cases.json:[0]: {reason}"
    assert out.reason == out.reason.replace("\n", " ")
    assert out.diagnostic.loc == Loc("cases.json:[0]")  # no Loc on the record: the position


def test_valid_and_rejected_pass_through():
    ok = Record("cases", 0, "p:1", {"id": "a", "received_on": "2024-01-31", "promised_days": 0,
                                    "completed_on": None})
    rej = validate_records([Record("cases", 1, "p:2", {})], CASE_SCHEMA)
    rej = next(rej)
    out = list(validate_records([ok, rej], CASE_SCHEMA))
    assert out == [ok, rej]


def test_dates_as_python_dates_are_iso():
    import datetime as dt

    r = Record("cases", 0, "p:1", {"id": "a", "received_on": dt.date(2024, 1, 31),
                                   "promised_days": 2})
    assert list(validate_records([r], CASE_SCHEMA)) == [r]


def test_bad_schema_is_an_error():
    with pytest.raises(PolicyError, match="invalid record schema"):
        list(validate_records([], {"type": "no-such-type"}))


def test_validation_with_coerced_xlsx_like_csv(tmp_path):
    p = tmp_path / "cases.csv"
    p.write_text("id,received_on,promised_days\na,2024/1/31,5\nb,2024年2月30日,x\n",
                 encoding="utf-8")
    s = ReadSummary()
    items = list(s.track(validate_records(read_file(p, schema=CASE_SCHEMA), CASE_SCHEMA)))
    assert items[0].data == {"id": "a", "received_on": "2024-01-31", "promised_days": 5}
    assert items[1].reason == (f"{p}:3: `promised_days` must be integer; `received_on` must be a "
                               "date like 2024-01-31, found `2024年2月30日`")
    assert (s.read, s.accepted, s.rejected) == (2, 1, 1)


def test_fast_enough(tmp_path):
    n = 5000
    good = '{"id": "c%d", "received_on": "2024-01-31", "promised_days": 5}\n'
    p = _jsonl(tmp_path, "".join(good % i for i in range(n)) + '{"id": 1}\n')
    start = time.perf_counter()
    s = ReadSummary()
    for _ in s.track(validate_records(read_file(p), CASE_SCHEMA)):
        pass
    elapsed = time.perf_counter() - start
    assert (s.accepted, s.rejected) == (n, 1)
    assert elapsed < 10, elapsed
