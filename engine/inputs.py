"""Input records: streaming readers that lose nothing.

Input: a facts file — JSON (``.json``), JSON Lines (``.jsonl``/``.ndjson``), CSV (``.csv``) or an
Excel workbook (``.xlsx``) — or ``-`` for standard input; optionally a column map (header text →
field name) and the JSON Schema of the collection's records. Output: an iterator of
:class:`Record` (one accepted record, with a human position such as ``cases.jsonl:17``) and
:class:`Rejected` (a record that could not be read, with a lowercase one-line reason and an
``E050`` :class:`~govsup.engine.diagnostics.Diagnostic`). Every record of the file comes out as
exactly one of the two, in file order (HN-ESUP-3: nothing is dropped). Problems with the file as a
whole (unreadable, JSON syntax error, missing column) raise :class:`PolicyError` with ``E051``
(``E006`` when the file does not exist).

Formats
    * ``.json``: a JSON array of records (of ``collection``, default the file's stem), or a JSON
      object mapping collection names to arrays — with ``collection=None`` every key is read and
      its records are tagged with the key; with a collection name only that key is read.
      Positions: ``facts.json:cases[3]`` (``cases.json:[3]`` for a top-level array), and the
      diagnostic points at the record's line and column. A syntax error is ``E051`` with line:col.
    * ``.jsonl`` / ``.ndjson``: one JSON object per line, read as a stream (never the whole file).
      Blank lines are skipped. A malformed line is a :class:`Rejected` with its line number and the
      JSON error, and reading continues. Position: ``cases.jsonl:17`` (file line).
    * ``.csv``: comma-separated, header row = first non-empty row. UTF-8 with or without BOM; if
      the start of the file is not valid UTF-8 it is read as GB 18030 (a superset of GBK — Excel in
      China saves CSV in GBK). Position: ``roster.csv:5`` (the file line where the row starts).
    * ``.xlsx``: read with openpyxl in read-only mode (cached formula values); the first sheet
      unless ``sheet`` is given; header row = first non-empty row; fully empty rows are skipped.
      Position: ``roster.xlsx:花名册!5`` (the row number Excel shows); the diagnostic's line and
      column are the Excel row and column numbers.
    * ``-`` (stdin): ``fmt`` names the format; without it JSON vs JSON Lines is sniffed — a first
      non-blank line starting with ``[``, or a ``{`` line that is not a complete object, is a JSON
      document; a complete object on the first line is JSON Lines (unless it is the only line and
      every value is an array: then it is a JSON object of collections).

Tables (CSV, XLSX)
    Header cells are matched against ``columns`` ignoring whitespace and full-width forms; a
    header that already is a mapped field name is accepted too. Unknown headers are kept under
    their own (trimmed) text; a header-less column that holds data becomes ``column_N``. Expected
    columns are the schema's ``required`` fields (every mapped column when no schema is given); a
    missing one raises one ``E051`` per column. A row with more non-empty cells than the header is
    rejected (an unquoted comma, usually).

    Cells are trimmed; an empty cell leaves the field absent (never ``''``). With a schema, the
    field's type guides coercion: ``integer`` / ``number`` from text or Excel numbers;
    ``boolean`` from 是/否, true/false, yes/no, 1/0; a ``string`` with ``format: date`` from
    ``2024-01-31``, ``2024/1/31``, ``2024.1.31``, ``2024年1月31日``, ``20240131`` or an Excel date
    cell (serial numbers too) → ``'2024-01-31'``; other strings from Excel numbers → text
    (``1.3812345678e10`` → ``'13812345678'``). A value that cannot be coerced is left as it is, for
    :func:`validate_records` to report. Without a schema (or for a field it does not describe),
    text stays text and Excel numbers become ``int`` when integral — except under ID/phone field
    names (``id_number``, ``身份证号码``, ``phone``, ``联系电话``, …), which are always text. A
    number cell of 16 or more digits cannot be exact (an xlsx number is a double and Excel keeps
    15 significant digits: an ID number typed into a General cell loses its last digits), so such
    a cell in a text or untyped field — or scientific-notation text like ``4.10102E+17`` in an
    ID/phone field of a CSV — rejects the row with a reason saying to format the column as text.

Validation
    :func:`validate_records` checks each :class:`Record` against a JSON Schema (Draft 2020-12 with
    the format checker; dates are ISO strings), compiled once. A failing record becomes a
    :class:`Rejected` whose reason lists all its problems: ``cases.jsonl:17: missing required field
    `received_on`; `promised_days` must be integer``. :class:`ReadSummary` counts what went by
    (``read == accepted + rejected``) and keeps the rejections for the report.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import datetime as _dt
import io
import itertools
import json
import math
import re
import sys
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import jsonschema
from jsonschema import Draft202012Validator

from .diagnostics import Diagnostic, PolicyError, did_you_mean
from .identity import ID_KEYS, PHONE_KEYS
from .loc import Loc
from .source import to_jsonable

__all__ = [
    "Record",
    "Rejected",
    "ReadSummary",
    "read_file",
    "validate_records",
    "FORMATS",
]

FORMATS = ("json", "jsonl", "csv", "xlsx")
_FMT_ALIASES = {"json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv",
                "xlsx": "xlsx", "xlsm": "xlsx"}
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Record:
    collection: str
    index: int          # 0-based, in its source (per collection)
    position: str       # human: 'cases.jsonl:17', 'facts.json:cases[3]', 'roster.xlsx:花名册!5'
    data: dict
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Rejected:
    collection: str
    index: int
    position: str
    reason: str         # lowercase, one line, starts with the position
    diagnostic: Diagnostic


Item = Record | Rejected


def _one_line(s: str) -> str:
    return " ".join(str(s).split())


def _reject(collection: str, index: int, position: str, message: str, loc: Loc,
            help: str = "") -> Rejected:
    message = _one_line(message)
    return Rejected(collection, index, position, f"{position}: {message}",
                    Diagnostic("E050", message, loc, help))


def _file_error(message: str, loc: Loc, help: str = "", code: str = "E051") -> PolicyError:
    return PolicyError([Diagnostic(code, _one_line(message), loc, help)])


# ------------------------------------------------------------------------------------- read_file

def read_for_entity(path: str | Path, entity: Any | None, *, collection: str | None = None,
                    fmt: str | None = None) -> Iterator[Record | Rejected]:
    """``read_file`` guided by the bundle's entity of the collection (``Bundle.entities[c]``, or
    None): its column map turns a form's headers (姓名, 身份证号码 …) into field names, and its
    schema types spreadsheet cells (dates, 是/否, numbers) and says which columns a table must
    have (its required fields; optional columns may be left out)."""
    columns = _plain(entity.columns) if entity is not None else None
    schema = _plain(entity.schema) if entity is not None else None
    return read_file(path, collection=collection, fmt=fmt, columns=columns or None, schema=schema)


def _plain(v: Any) -> Any:
    """A plain copy of a frozen policy value (mapping proxies and tuples → dicts and lists)."""
    if hasattr(v, "items"):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def read_file(path: str | Path, *, collection: str | None = None, fmt: str | None = None,
              columns: dict[str, str] | None = None, schema: dict | None = None,
              sheet: str | None = None) -> Iterator[Record | Rejected]:
    """Read the records of one file (see the module docstring). A generator: file-level
    problems raise :class:`PolicyError` on the first ``next()``."""
    is_stdin = str(path) == "-"
    display = "<stdin>" if is_stdin else str(path)
    if fmt is not None:
        kind = _FMT_ALIASES.get(fmt.lower().lstrip("."))
        if kind is None:
            raise _file_error(f"unknown input format `{fmt}`", Loc(display),
                              "use one of: " + ", ".join(FORMATS))
    else:
        suffix = "" if is_stdin else Path(path).suffix.lower().lstrip(".")
        if suffix == "xls":
            raise _file_error("old excel .xls files are not supported", Loc(display),
                              "open the file in excel and save it as .xlsx")
        kind = _FMT_ALIASES.get(suffix)
    default_collection = collection
    if collection is None and not is_stdin:
        default_collection = Path(path).stem
    if kind == "xlsx":
        yield from _read_xlsx(path, display, is_stdin, default_collection, columns, schema, sheet)
        return
    stream = _open_binary(path, display, is_stdin)
    try:
        lines: Iterator[bytes] = iter(stream)
        if kind is None:
            kind, lines = _sniff(lines, display)
        if kind == "jsonl":
            yield from _read_jsonl(lines, display, _need(default_collection, display))
        elif kind == "json":
            yield from _read_json(b"".join(lines), display, collection, default_collection)
        else:
            yield from _read_csv(lines, display, _need(default_collection, display), columns,
                                 schema)
    finally:
        if not is_stdin:
            stream.close()


def _need(collection: str | None, display: str) -> str:
    if not collection:
        raise _file_error("a collection name is needed to read this input", Loc(display),
                          "pass the collection the records belong to (e.g. `cases`)")
    return collection


def _open_binary(path: str | Path, display: str, is_stdin: bool) -> BinaryIO:
    if is_stdin:
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise _file_error(f"file not found: {display}", Loc(display), code="E006") from None
    except OSError as exc:
        raise _file_error(f"cannot read {display}: {exc.strerror or exc}".lower(),
                          Loc(display)) from None


def _sniff(lines: Iterator[bytes], display: str) -> tuple[str, Iterator[bytes]]:
    """Tell a JSON document from JSON Lines by the first non-blank line(s)."""
    buffered: list[bytes] = []
    first = b""
    for raw in lines:
        buffered.append(raw)
        first = raw.strip().lstrip(codecs.BOM_UTF8).strip() if len(buffered) == 1 else raw.strip()
        if first:
            break
    kind = "jsonl"
    if first.startswith(b"["):
        kind = "json"
    elif first.startswith(b"{"):
        try:
            obj = json.loads(first)
        except ValueError:
            kind = "json"
        else:
            nxt = b""
            for raw in lines:
                buffered.append(raw)
                nxt = raw.strip()
                if nxt:
                    break
            if not nxt and isinstance(obj, dict) and obj and all(
                    isinstance(v, list) for v in obj.values()):
                kind = "json"
    elif first:
        raise _file_error("cannot tell the input format", Loc(display, 1, 1),
                          "name the format: json, jsonl, csv or xlsx")
    return kind, itertools.chain(buffered, lines)


# ----------------------------------------------------------------------------------------- JSON

class _Flags:
    """Problems the JSON decoder's hooks found inside the value being decoded."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def pairs(self, pairs: list) -> dict:
        d = dict(pairs)
        if len(d) != len(pairs):
            seen: set = set()
            for k, _ in pairs:
                if k in seen:
                    self.problems.append(f"duplicate key `{k}`")
                    break
                seen.add(k)
        return d

    def constant(self, name: str) -> float:
        self.problems.append(f"`{name}` is not valid json")
        return math.nan

    def take(self) -> list[str]:
        out, self.problems = self.problems, []
        return out


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _decoder(flags: _Flags) -> json.JSONDecoder:
    return json.JSONDecoder(object_pairs_hook=flags.pairs, parse_constant=flags.constant)


def _record_from_json(value: Any, problems: list[str], collection: str, index: int,
                      position: str, loc: Loc) -> Item:
    if problems:
        return _reject(collection, index, position, "; ".join(problems), loc)
    if not isinstance(value, dict):
        return _reject(collection, index, position,
                       f"a record must be a json object, found {_json_type(value)}", loc)
    return Record(collection, index, position, value, loc)


def read_jsonl_lines(lines: Iterable[bytes], display: str, collection: str, *,
                     first_line: int = 1, first_index: int = 0) -> Iterator[Item]:
    """Parse JSONL lines that start at line ``first_line`` of ``display`` (used by the parallel
    evaluator, which hands chunks of raw lines to worker processes)."""
    return _read_jsonl(lines, display, collection, first_line, first_index)


def _read_jsonl(lines: Iterable[bytes], display: str, collection: str, first_line: int = 1,
                first_index: int = 0) -> Iterator[Item]:
    flags = _Flags()
    dec = _decoder(flags)
    index = first_index
    for lineno, raw in enumerate(lines, first_line):
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        if not raw.strip():
            continue
        position = f"{display}:{lineno}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _reject(collection, index, position,
                          f"line is not valid utf-8 (byte {exc.start + 1})",
                          Loc(display, lineno, exc.start + 1), "save the file as utf-8")
            index += 1
            continue
        try:
            value = dec.decode(text)
        except json.JSONDecodeError as exc:
            flags.take()
            yield _reject(collection, index, position,
                          f"invalid json: {exc.msg.lower()} at column {exc.colno}",
                          Loc(display, lineno, exc.colno))
            index += 1
            continue
        col = len(text) - len(text.lstrip()) + 1
        yield _record_from_json(value, flags.take(), collection, index, position,
                                Loc(display, lineno, col))
        index += 1


_WS = re.compile(r"[ \t\n\r]*")


class _Text:
    """A JSON document's text with offset → line:col."""

    def __init__(self, text: str, display: str) -> None:
        self.text = text
        self.display = display
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def loc(self, offset: int) -> Loc:
        i = bisect.bisect_right(self.starts, offset) - 1
        return Loc(self.display, i + 1, offset - self.starts[i] + 1)

    def skip(self, i: int) -> int:
        return _WS.match(self.text, i).end()


def _read_json(data: bytes, display: str, collection: str | None,
               default_collection: str | None) -> Iterator[Item]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _file_error("file is not valid utf-8", Loc(display, line, 1),
                          "save the file as utf-8") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _file_error(f"invalid json: {exc.msg.lower()}", Loc(display, exc.lineno, exc.colno),
                          "") from None
    t = _Text(text, display)
    flags = _Flags()
    dec = _decoder(flags)
    i = t.skip(0)
    if isinstance(doc, list):
        name = _need(collection or default_collection, display)
        yield from _walk_array(t, dec, flags, i, name, f"{display}:[{{}}]")
        return
    if not isinstance(doc, dict):
        raise _file_error("a json input must be an array of records or an object mapping "
                          f"collection names to arrays, found {_json_type(doc)}", t.loc(i))
    if collection is not None and collection not in doc:
        hint = did_you_mean(collection, doc) or (
            "found: " + ", ".join(f"`{k}`" for k in doc) if doc else "the object is empty")
        raise _file_error(f"no collection `{collection}` in {display}", t.loc(i), hint)
    wanted = [collection] if collection is not None else list(doc)
    for k in wanted:
        if not isinstance(doc[k], list):
            raise _file_error(f"`{k}` must be an array of records, found {_json_type(doc[k])}",
                              t.loc(i), "a json object must map collection names to arrays")
    # walk the object to find each array's offset (json.loads already proved it well-formed)
    i = t.skip(i + 1)
    seen: set[str] = set()
    while t.text[i] != "}":
        key_loc = t.loc(i)
        key, i = dec.raw_decode(t.text, i)  # the key string
        flags.take()
        i = t.skip(i)
        i = t.skip(i + 1)  # ':'
        if key in seen:
            raise _file_error(f"duplicate key `{key}`", key_loc)
        seen.add(key)
        if key in wanted:
            end = yield from _walk_array(t, dec, flags, i, key, f"{display}:{key}[{{}}]")
            i = end
        else:
            _, i = dec.raw_decode(t.text, i)
            flags.take()
        i = t.skip(i)
        if t.text[i] == ",":
            i = t.skip(i + 1)


def _walk_array(t: _Text, dec: json.JSONDecoder, flags: _Flags, i: int, collection: str,
                position_fmt: str):
    """Yield the records of the array at offset ``i``; return the offset after it."""
    i = t.skip(i + 1)  # '['
    index = 0
    while t.text[i] != "]":
        start = i
        value, i = dec.raw_decode(t.text, i)
        yield _record_from_json(value, flags.take(), collection, index,
                                position_fmt.format(index), t.loc(start))
        index += 1
        i = t.skip(i)
        if t.text[i] == ",":
            i = t.skip(i + 1)
    return i + 1


# --------------------------------------------------------------------------------- tables: shared

_ABSENT = object()


def _norm_header(s: str) -> str:
    return "".join(unicodedata.normalize("NFKC", s).split())


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _resolve(schema: dict, node: Any) -> Any:
    """Follow local ``$ref``s (``#/...``)."""
    for _ in range(20):
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            return node
        target: Any = schema
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                return node
            target = target[part]
        node = target
    return node


def _field_types(schema: dict | None) -> dict[str, tuple[str | None, str | None]]:
    """field → (json type, format) from the record schema's ``properties``."""
    if not schema:
        return {}
    root = _resolve(schema, schema)
    out = {}
    for name, prop in (root.get("properties") or {}).items():
        prop = _resolve(schema, prop)
        if not isinstance(prop, dict):
            continue
        typ = prop.get("type")
        if isinstance(typ, list):
            typ = next((x for x in typ if x != "null"), None)
        out[name] = (typ, prop.get("format"))
    return out


@dataclass
class _Table:
    """A parsed header row: the field name of each column."""

    fields: list[str | None]        # None: a header-less column
    headers: list[str]


def _csv_field_starts(text: str) -> list[int]:
    """The 1-based character column where each field of one CSV line starts (quotes honoured)."""
    starts = [1]
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted  # a doubled quote inside a quoted field toggles twice
        elif ch == "," and not quoted:
            starts.append(i + 2)
    return starts


def _header(cells: list[Any], columns: dict[str, str] | None, schema: dict | None,
            display: str, loc: Loc, col_of=None) -> _Table:
    """``col_of(j)``: the column to show for cell ``j`` (a character column in a CSV line, the
    sheet's column number in a workbook); errors about one column point at it."""
    col_of = col_of or (lambda j: 1)

    def at(j: int) -> Loc:
        return Loc(loc.file, loc.line, col_of(j))

    columns = columns or {}
    by_norm = {_norm_header(k): v for k, v in columns.items()}
    field_names = set(columns.values())
    headers = [_cell_text(c) for c in cells]
    fields: list[str | None] = []
    diags: list[Diagnostic] = []
    first_col: dict[str, int] = {}
    for j, h in enumerate(headers):
        if not h:
            fields.append(None)
            continue
        n = _norm_header(h)
        name = by_norm.get(n) or (n if n in field_names else h)
        if name in first_col:
            diags.append(Diagnostic("E051", f"duplicate column `{h}` (columns {first_col[name] + 1}"
                                    f" and {j + 1} both give field `{name}`)", at(j),
                                    "remove one of them, or rename it"))
        else:
            first_col[name] = j
        fields.append(name)
    present = {f for f in fields if f}
    if schema:
        required = _resolve(schema, schema).get("required") or []
        reverse = {v: k for k, v in columns.items()}
        expected = [(reverse.get(f, f), f) for f in required]
    else:
        expected = list(columns.items())
    for col, fname in expected:
        if fname not in present:
            hint = did_you_mean(col, [h for h in headers if h])
            near = next((j for j, h in enumerate(headers) if h and f"`{h}`" in hint), 0)
            diags.append(Diagnostic("E051", f"missing column `{col}`"
                                    + (f" (field `{fname}`)" if fname != col else ""),
                                    at(near), hint or "found columns: " + ", ".join(
                                        f"`{h}`" for h in headers if h)))
    if diags:
        raise PolicyError(diags)
    return _Table(fields, headers)


_TRUE = {"是", "true", "yes", "y", "1", "对", "√", "t"}
_FALSE = {"否", "false", "no", "n", "0", "错", "×", "f"}
_INT_RE = re.compile(r"[+-]?\d+(?:\.0*)?")
_NUM_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATE_RES = (
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)
_SCI_RE = re.compile(r"\d(?:\.\d+)?[eE]\+?\d+")
_EXACT_LIMIT = 10 ** 15     # Excel keeps 15 significant digits
_TEXT_KEYS = ID_KEYS | PHONE_KEYS


def _parse_date_text(v: str) -> str | None:
    v = unicodedata.normalize("NFKC", v).strip()
    for rx in _DATE_RES:
        m = rx.fullmatch(v)
        if m:
            try:
                return _dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
            except ValueError:
                return None
    return None


def _lost_digits(header: str) -> str:
    # the damaged value is not shown: it is most of an ID number (C10)
    return (f"column `{header}`: excel stored the value as a number and lost its last digits; "
            "format the column as text (设置单元格格式 → 文本) and enter the numbers again")


def _number_text(v: int | float, header: str) -> tuple[Any, str | None]:
    """An Excel number as text (phones, codes); a problem if it cannot be exact."""
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v), None
        if v.is_integer():
            if abs(v) >= _EXACT_LIMIT:
                return _ABSENT, _lost_digits(header)
            return str(int(v)), None
        return repr(v), None
    if abs(v) >= _EXACT_LIMIT:
        return _ABSENT, _lost_digits(header)
    return str(v), None


def _coerce(v: Any, name: str, header: str, ftype: str | None, ffmt: str | None,
            from_excel: bool) -> tuple[Any, str | None]:
    """One cell → (value or _ABSENT, problem or None)."""
    if v is None:
        return _ABSENT, None
    if isinstance(v, str):
        v = v.strip()
        if not v:
            return _ABSENT, None
    textlike = name in _TEXT_KEYS or header in _TEXT_KEYS
    if ftype == "string" and ffmt == "date":
        if isinstance(v, _dt.datetime):
            return (v.date().isoformat() if v.time() == _dt.time(0) else v.isoformat()), None
        if isinstance(v, _dt.date):
            return v.isoformat(), None
        if isinstance(v, str):
            return _parse_date_text(v) or v, None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, int) and 10_000_000 <= v <= 99_991_231:
                return _parse_date_text(str(v)) or str(v), None
            if from_excel and 1 <= v < 2_958_466 and float(v).is_integer():
                from openpyxl.utils.datetime import from_excel as _from_excel

                return _from_excel(v).date().isoformat(), None
        return (v if isinstance(v, str) else _cell_text(v)), None
    if isinstance(v, _dt.datetime):
        return (v.date().isoformat() if v.time() == _dt.time(0) else v.isoformat()), None
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat(), None
    if isinstance(v, _dt.timedelta):
        return str(v), None
    if ftype == "integer":
        if isinstance(v, str) and _INT_RE.fullmatch(v):
            return int(v.split(".")[0]), None
        if isinstance(v, float) and v.is_integer():
            return int(v), None
        return v, None
    if ftype == "number":
        if isinstance(v, str) and _NUM_RE.fullmatch(v):
            return (int(v) if re.fullmatch(r"[+-]?\d+", v) else float(v)), None
        return v, None
    if ftype == "boolean":
        if isinstance(v, bool):
            return v, None
        if isinstance(v, (int, float)) and v in (0, 1):
            return bool(v), None
        if isinstance(v, str):
            low = v.lower()
            if low in _TRUE:
                return True, None
            if low in _FALSE:
                return False, None
        return v, None
    if isinstance(v, bool):
        return (("true" if v else "false") if ftype == "string" else v), None
    if ftype == "string" or (ftype is None and textlike):
        if isinstance(v, (int, float)):
            return _number_text(v, header)
        if textlike and _SCI_RE.fullmatch(v):
            return _ABSENT, _lost_digits(header)
        return v, None
    if ftype is None and isinstance(v, (int, float)):
        if isinstance(v, float) and v.is_integer():
            if abs(v) >= _EXACT_LIMIT:
                return _number_text(v, header)
            return int(v), None
        if isinstance(v, int) and abs(v) >= _EXACT_LIMIT:
            return _number_text(v, header)
    return v, None


class _RowMaker:
    def __init__(self, table: _Table, schema: dict | None, from_excel: bool) -> None:
        self.table = table
        self.from_excel = from_excel
        types = _field_types(schema)
        self.plan = [(f, h, *(types.get(f, (None, None)) if f else (None, None)))
                     for f, h in zip(table.fields, table.headers)]

    def make(self, cells: list[Any]) -> tuple[dict, list[str], int]:
        """→ (data, problems, first bad column number or 0)."""
        data: dict = {}
        problems: list[str] = []
        bad_col = 0
        n = len(self.plan)
        extra = [j for j in range(n, len(cells)) if _cell_text(cells[j])]
        for j, cell in enumerate(cells[:n]):
            fname, header, ftype, ffmt = self.plan[j]
            if fname is None:
                if _cell_text(cell):
                    fname = header = f"column_{j + 1}"
                else:
                    continue
            value, problem = _coerce(cell, fname, header, ftype, ffmt, self.from_excel)
            if problem:
                problems.append(problem)
                bad_col = bad_col or j + 1
            elif value is not _ABSENT:
                data[fname] = value
        if extra:
            problems.append(f"row has {max(extra) + 1} cells but the header has {n} "
                            "(a value containing a comma must be quoted)")
            bad_col = bad_col or extra[0] + 1
        return data, problems, bad_col


def _blank(cells: Iterable[Any]) -> bool:
    return all(not _cell_text(c) for c in cells)


# ------------------------------------------------------------------------------------------- CSV

def _read_csv(lines: Iterator[bytes], display: str, collection: str,
              columns: dict[str, str] | None, schema: dict | None) -> Iterator[Item]:
    head: list[bytes] = []
    size = 0
    for raw in lines:
        head.append(raw)
        size += len(raw)
        if size >= _SNIFF_BYTES:
            break
    lines = itertools.chain(head, lines)
    first = head[0] if head else b""
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _file_error("utf-16 text is not supported", Loc(display, 1, 1),
                          "in excel, save as \"CSV UTF-8 (逗号分隔)\"")
    # GBK text is practically never valid UTF-8 once it holds a few Chinese characters: read as
    # GB 18030 (a superset of GBK) when more head lines fail UTF-8 than pass it with non-ASCII
    # text, so one corrupt line in a UTF-8 file is rejected on its own instead of turning the
    # whole file into mojibake. A UTF-8 BOM settles it.
    utf8_ok = utf8_bad = 0
    if not first.startswith(codecs.BOM_UTF8):
        for raw in head:
            if raw.isascii():
                continue
            try:
                raw.decode("utf-8")
                utf8_ok += 1
            except UnicodeDecodeError:
                utf8_bad += 1
    encoding = "gb18030" if utf8_bad > utf8_ok else "utf-8"
    bad_lines: set[int] = set()
    head_text: dict[int, str] = {}  # line -> text, kept until the header row is read

    def decoded() -> Iterator[str]:
        for lineno, raw in enumerate(lines, 1):
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                bad_lines.add(lineno)
                text = raw.decode(encoding, errors="replace")
            if table is None:
                head_text[lineno] = text
            yield text

    enc_name = "utf-8" if encoding == "utf-8" else "gbk"
    reader = csv.reader(decoded())
    table: _Table | None = None
    maker: _RowMaker | None = None
    index = 0
    last_line = 0
    while True:
        try:
            row = next(reader)
            error = None
        except StopIteration:
            break
        except csv.Error as exc:
            row, error = None, str(exc).lower()
        first_line, last_line = last_line + 1, reader.line_num
        position = f"{display}:{first_line}"
        loc = Loc(display, first_line, 0)
        bad = [n for n in range(first_line, last_line + 1) if n in bad_lines]
        if table is None:
            if error or bad:
                raise _file_error("cannot read the header row: " + (
                    error or f"line is not valid {enc_name} text"), loc,
                    "save the file as utf-8")
            if _blank(row):
                continue
            starts = _csv_field_starts(head_text.get(first_line, "")) \
                if first_line == last_line else []  # (a header spanning lines: column 1)
            table = _header(row, columns, schema, display, Loc(display, first_line, 1),
                            lambda j: starts[j] if j < len(starts) else 1)
            head_text.clear()
            maker = _RowMaker(table, schema, from_excel=False)
            continue
        if error is None and _blank(row) and not bad:
            continue
        if error is not None:
            yield _reject(collection, index, position, f"bad csv row: {error}", loc)
        elif bad:
            yield _reject(collection, index, position,
                          f"line {bad[0]} is not valid {enc_name} text", Loc(display, bad[0], 0),
                          "save the file as utf-8")
        else:
            assert maker is not None
            data, problems, _ = maker.make(row)
            if problems:
                yield _reject(collection, index, position, "; ".join(problems), loc)
            else:
                yield Record(collection, index, position, data, loc)
        index += 1


# ------------------------------------------------------------------------------------------ XLSX

def _read_xlsx(path: str | Path, display: str, is_stdin: bool, collection: str | None,
               columns: dict[str, str] | None, schema: dict | None,
               sheet: str | None) -> Iterator[Item]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    collection = _need(collection, display)
    if is_stdin:
        source: Any = io.BytesIO(sys.stdin.buffer.read())
    else:
        if not Path(path).exists():
            raise _file_error(f"file not found: {display}", Loc(display), code="E006")
        source = path
    try:
        wb = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _file_error(f"not a readable xlsx workbook ({type(exc).__name__})", Loc(display),
                          "open the file in excel and save it as .xlsx") from None
    try:
        if sheet is not None:
            if sheet not in wb.sheetnames:
                raise _file_error(f"no sheet `{sheet}` in {display}", Loc(display),
                                  did_you_mean(sheet, wb.sheetnames) or "sheets: " + ", ".join(
                                      f"`{s}`" for s in wb.sheetnames))
            ws = wb[sheet]
        else:
            if not wb.worksheets:
                raise _file_error(f"{display} has no worksheet", Loc(display))
            ws = wb.worksheets[0]
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()  # stored dimensions are often wrong; read every cell
        title = ws.title
        table: _Table | None = None
        maker: _RowMaker | None = None
        index = 0
        for rownum, row in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = list(row)
            if _blank(cells):
                continue
            position = f"{display}:{title}!{rownum}"
            if table is None:
                table = _header(cells, columns, schema, display, Loc(display, rownum, 1),
                                lambda j: j + 1)
                maker = _RowMaker(table, schema, from_excel=True)
                continue
            assert maker is not None
            data, problems, bad_col = maker.make(cells)
            if problems:
                yield _reject(collection, index, position,
                              "; ".join(problems) + f" (sheet `{title}`)",
                              Loc(display, rownum, bad_col))
            else:
                yield Record(collection, index, position, data, Loc(display, rownum, 0))
            index += 1
    finally:
        wb.close()


# ------------------------------------------------------------------------------------ validation

def _where(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def _describe(err: jsonschema.ValidationError) -> list[str]:
    path = list(err.absolute_path)
    where = _where(path)
    w = f"`{where}`" if where else "the record"
    v, val = err.validator, err.validator_value
    inst = err.instance
    if v == "required":
        return [f"missing required field `{_where(path + [k])}`" for k in val
                if isinstance(inst, dict) and k not in inst]
    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = list((err.schema.get("properties") or {}).keys())
        pats = list((err.schema.get("patternProperties") or {}).keys())
        out = []
        for k in inst:
            if k in allowed or any(re.search(p, k) for p in pats):
                continue
            hint = did_you_mean(k, allowed)
            out.append(f"unknown field `{_where(path + [k])}`" + (f" ({hint})" if hint else ""))
        return out
    if v == "type":
        types = val if isinstance(val, list) else [val]
        return [f"{w} must be {' or '.join(types)}"]
    if v == "format":
        if val == "date":
            shown = f", found `{inst}`" if isinstance(inst, str) and len(inst) <= 40 else ""
            return [f"{w} must be a date like 2024-01-31{shown}"]
        return [f"{w} must be a valid {val}"]
    if v == "enum":
        shown = ", ".join(str(x) for x in val[:12]) + (", …" if len(val) > 12 else "")
        return [f"{w} must be one of: {shown}"]
    if v == "const":
        return [f"{w} must be {json.dumps(val, ensure_ascii=False)}"]
    ops = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if v in ops:
        return [f"{w} must be {ops[v]} {val}"]
    if v == "minLength":
        return [f"{w} must not be empty" if val == 1 else f"{w} must have at least {val} "
                "characters"]
    if v == "maxLength":
        return [f"{w} must have at most {val} characters"]
    if v == "pattern":
        return [f"{w} does not have the expected form"]
    if v == "minItems":
        return [f"{w} must not be empty" if val == 1 else f"{w} must have at least {val} items"]
    if v == "maxItems":
        return [f"{w} must have at most {val} items"]
    if v == "uniqueItems":
        return [f"{w} must not repeat items"]
    if v in ("anyOf", "oneOf"):
        return [f"{w} does not match any allowed form"]
    if v == "not":
        return [f"{w} has a form that is not allowed"]
    return [f"{w} fails `{v}`"]


_FIRST = {"required": 0, "additionalProperties": 1}


def _error_order(err: jsonschema.ValidationError) -> tuple:
    path = tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in err.absolute_path)
    return (path, _FIRST.get(str(err.validator), 2), str(err.validator))


def validate_records(items: Iterable[Record | Rejected], schema: dict) -> Iterator[Record | Rejected]:
    """Check every :class:`Record` against ``schema``; failing ones become :class:`Rejected`
    (``E050``) with all their problems in one reason line. Rejected items pass through."""
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise _file_error(f"invalid record schema: {exc.message}".lower(), Loc("<schema>"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for item in items:
        if not isinstance(item, Record):
            yield item
            continue
        errors = list(validator.iter_errors(to_jsonable(item.data)))
        if not errors:
            yield item
            continue
        errors.sort(key=_error_order)
        msgs: list[str] = []
        for e in errors:
            for m in _describe(e):
                if m not in msgs:
                    msgs.append(m)
        loc = item.loc or Loc(item.position)
        yield _reject(item.collection, item.index, item.position, "; ".join(msgs), loc)


# --------------------------------------------------------------------------------------- summary

@dataclass
class ReadSummary:
    """Counts of what was read: ``read == accepted + rejected`` (overall and per collection).

    ``track(items)`` passes items through while counting; ``rejections`` keeps every
    :class:`Rejected` (for the report) unless ``keep_rejected`` is false."""

    accepted: int = 0
    rejected: int = 0
    by_collection: dict[str, dict[str, int]] = field(default_factory=dict)
    rejections: list[Rejected] = field(default_factory=list)
    keep_rejected: bool = True

    @property
    def read(self) -> int:
        return self.accepted + self.rejected

    def add(self, item: Item) -> Item:
        c = self.by_collection.setdefault(item.collection, {"read": 0, "accepted": 0,
                                                            "rejected": 0})
        c["read"] += 1
        if isinstance(item, Rejected):
            self.rejected += 1
            c["rejected"] += 1
            if self.keep_rejected:
                self.rejections.append(item)
        else:
            self.accepted += 1
            c["accepted"] += 1
        return item

    def track(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            yield self.add(item)

    def to_json(self) -> dict:
        return {
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "by_collection": {k: dict(v) for k, v in sorted(self.by_collection.items())},
            "rejections": [{"collection": r.collection, "index": r.index,
                            "position": r.position, "reason": r.reason}
                           for r in self.rejections],
        }
