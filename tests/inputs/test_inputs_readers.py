"""engine.inputs: JSON, JSON Lines, CSV and XLSX readers."""

import datetime as dt
import io
import json
import sys

import openpyxl
import pytest

from govsup.engine.diagnostics import PolicyError
from govsup.engine.inputs import ReadSummary, Record, Rejected, read_file
from govsup.engine.loc import Loc

ROSTER_COLUMNS = {"姓名": "name", "身份证号码": "id_number", "单位": "unit", "联系电话": "phone",
                  "备注": "remark"}
ROSTER_SCHEMA = {
    "type": "object",
    "required": ["name", "id_number"],
    "properties": {
        "name": {"type": "string"},
        "id_number": {"type": "string"},
        "unit": {"type": "string"},
        "phone": {"type": "string"},
        "remark": {"type": "string"},
        "appointed_on": {"type": "string", "format": "date"},
        "age": {"type": "integer"},
        "score": {"type": "number"},
        "active": {"type": "boolean"},
    },
}


# --- JSON Lines -----------------------------------------------------------------------------

def test_jsonl_malformed_line_in_the_middle(tmp_path):
    p = tmp_path / "cases.jsonl"
    p.write_text('{"id": "a"}\n'
                 '\n'
                 '{"id": "b", oops}\n'
                 '{"id": "c"}\n'
                 '[1, 2]\n'
                 '{"id": "d", "id": "e"}\n'
                 '{"id": "f"}', encoding="utf-8")
    items = list(read_file(p, collection="cases"))
    assert [type(i).__name__ for i in items] == ["Record", "Rejected", "Record", "Rejected",
                                                 "Rejected", "Record"]
    assert [i.index for i in items] == [0, 1, 2, 3, 4, 5]
    bad = items[1]
    assert bad.position == f"{p}:3"
    assert bad.reason.startswith(f"{p}:3: invalid json: expecting property name enclosed in "
                                 "double quotes at column 13")
    assert bad.diagnostic.code == "E050"
    assert bad.diagnostic.loc == Loc(str(p), 3, 13)
    assert items[2] == Record("cases", 2, f"{p}:4", {"id": "c"})
    assert items[3].reason == f"{p}:5: a record must be a json object, found array"
    assert items[4].reason == f"{p}:6: duplicate key `id`"
    assert items[5].data == {"id": "f"} and items[5].position == f"{p}:7"


def test_jsonl_streams(tmp_path, monkeypatch):
    """The reader must not read the whole file: it yields a record before the end exists."""
    p = tmp_path / "big.jsonl"
    p.write_text('{"n": 1}\n{"n": 2}\n', encoding="utf-8")
    it = read_file(p, collection="x")
    first = next(it)
    assert first.data == {"n": 1}
    with open(p, "a", encoding="utf-8") as f:  # appended after reading started
        f.write('{"n": 3}\n')
    assert [r.data["n"] for r in it] == [2, 3]


def test_jsonl_bom_crlf_nan_and_bad_utf8(tmp_path):
    p = tmp_path / "c.ndjson"
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"a": NaN}\r\n{"a": "\xff"}\r\n{"a": "\xe6\x98\xaf"}\r\n')
    items = list(read_file(p))  # collection defaults to the file's stem
    assert items[0] == Record("c", 0, f"{p}:1", {"a": 1})
    assert items[1].reason == f"{p}:2: `NaN` is not valid json"
    assert items[2].reason == f"{p}:3: line is not valid utf-8 (byte 8)"
    assert items[3].data == {"a": "是"}


# --- JSON documents -------------------------------------------------------------------------

def test_json_object_of_collections(tmp_path):
    p = tmp_path / "facts.json"
    p.write_text(json.dumps({
        "cases": [{"id": "a"}, {"id": "b"}, 3, {"id": "d"}],
        "items": [{"code": "x"}],
    }, indent=2), encoding="utf-8")
    items = list(read_file(p, collection=None))
    assert [(i.collection, i.index, i.position) for i in items] == [
        ("cases", 0, f"{p}:cases[0]"), ("cases", 1, f"{p}:cases[1]"),
        ("cases", 2, f"{p}:cases[2]"), ("cases", 3, f"{p}:cases[3]"),
        ("items", 0, f"{p}:items[0]")]
    assert isinstance(items[2], Rejected)
    assert items[2].reason == f"{p}:cases[2]: a record must be a json object, found number"
    assert items[2].diagnostic.loc == Loc(str(p), 9, 5)
    assert items[3].loc == Loc(str(p), 10, 5)
    only = list(read_file(p, collection="items"))
    assert [i.data for i in only] == [{"code": "x"}]


def test_json_array_and_unknown_collection(tmp_path):
    p = tmp_path / "cases.json"
    p.write_text('[{"id": "a"}, {"id": "b", "x": {"k": 1, "k": 2}}]', encoding="utf-8")
    items = list(read_file(p, collection=None))
    assert items[0] == Record("cases", 0, f"{p}:[0]", {"id": "a"})
    assert items[1].reason == f"{p}:[1]: duplicate key `k`"
    q = tmp_path / "facts.json"
    q.write_text('{"cases": []}', encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        list(read_file(q, collection="casess"))
    d = e.value.diagnostics[0]
    assert d.code == "E051" and d.message == f"no collection `casess` in {q}"
    assert d.help == "did you mean `cases`?"


def test_json_syntax_error_is_e051_with_line_col(tmp_path):
    p = tmp_path / "facts.json"
    p.write_text('{\n  "cases": [\n    {"id": 1},\n    {"id": 2,}\n  ]\n}\n', encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        list(read_file(p))
    d = e.value.diagnostics[0]
    assert d.code == "E051"
    assert (d.loc.line, d.loc.col) == (4, 14)
    assert d.message.startswith("invalid json: expecting property name")


def test_json_object_value_not_array(tmp_path):
    p = tmp_path / "facts.json"
    p.write_text('{"cases": [], "as_of": "2024-01-31"}', encoding="utf-8")
    with pytest.raises(PolicyError, match="`as_of` must be an array of records, found string"):
        list(read_file(p))


def test_file_not_found(tmp_path):
    with pytest.raises(PolicyError) as e:
        list(read_file(tmp_path / "nope.jsonl"))
    assert e.value.diagnostics[0].code == "E006"


# --- stdin ----------------------------------------------------------------------------------

class _Stdin:
    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)


@pytest.mark.parametrize("data, kind", [
    (b'{"a": 1}\n{"a": 2}\n', "jsonl"),
    (b'\n[{"a": 1}, {"a": 2}]', "json"),
    (b'{\n "cases": [{"a": 1}, {"a": 2}]\n}\n', "json"),
])
def test_stdin_sniffing(monkeypatch, data, kind):
    monkeypatch.setattr(sys, "stdin", _Stdin(data))
    items = list(read_file("-", collection="cases"))
    assert [i.data for i in items] == [{"a": 1}, {"a": 2}]
    assert items[0].position == ("<stdin>:1" if kind == "jsonl" else
                                 "<stdin>:[0]" if data.strip().startswith(b"[") else
                                 "<stdin>:cases[0]")


def test_stdin_single_line_collections_object(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Stdin(b'{"cases": [{"a": 1}], "items": []}\n'))
    items = list(read_file("-", collection=None))
    assert items == [Record("cases", 0, "<stdin>:cases[0]", {"a": 1})]


def test_stdin_csv_needs_fmt(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Stdin("姓名\n张三\n".encode()))
    with pytest.raises(PolicyError, match="cannot tell the input format"):
        list(read_file("-", collection="roster"))
    monkeypatch.setattr(sys, "stdin", _Stdin("姓名\n张三\n".encode()))
    assert [r.data for r in read_file("-", collection="roster", fmt="csv",
                                      columns={"姓名": "name"})] == [{"name": "张三"}]


# --- CSV ------------------------------------------------------------------------------------

ROSTER_CSV = ("姓名,身份证号码,单位,联系电话,备注\n"
              "张三,410102199001011234,市政务服务中心,13812345678,\n"
              "\n"
              "李四,11010519491231002X,\"某社区,居委会\",0371-12345678,\"两行\n备注\"\n"
              "王五,,,,\n")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_csv_encodings_with_chinese_headers(tmp_path, encoding):
    p = tmp_path / "roster.csv"
    p.write_bytes(ROSTER_CSV.encode(encoding))
    items = list(read_file(p, collection="roster", columns=ROSTER_COLUMNS))
    assert items == [
        Record("roster", 0, f"{p}:2", {"name": "张三", "id_number": "410102199001011234",
                                       "unit": "市政务服务中心", "phone": "13812345678"}),
        Record("roster", 1, f"{p}:4", {"name": "李四", "id_number": "11010519491231002X",
                                       "unit": "某社区,居委会", "phone": "0371-12345678",
                                       "remark": "两行\n备注"}),
        Record("roster", 2, f"{p}:6", {"name": "王五"}),  # empty cells → absent fields
    ]


def test_csv_unknown_headers_kept_and_header_whitespace(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text(" 姓 名 ,身份证号码,界别,,\n张三,410102199001011234,人大代表,,x\n", encoding="utf-8")
    [r] = list(read_file(p, columns={"姓名": "name", "身份证号码": "id_number"}))
    assert r.data == {"name": "张三", "id_number": "410102199001011234", "界别": "人大代表",
                      "column_5": "x"}


def test_csv_missing_expected_column_reported_once(tmp_path):
    p = tmp_path / "roster.csv"
    p.write_text("姓名,身份证号,单位\n" + "张三,410102199001011234,x\n" * 5, encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        list(read_file(p, columns=ROSTER_COLUMNS, schema=ROSTER_SCHEMA))
    assert [(d.code, d.message) for d in e.value.diagnostics] == [
        ("E051", "missing column `身份证号码` (field `id_number`)")]
    assert e.value.diagnostics[0].help == "did you mean `身份证号`?"
    # pointed at the column it probably is: 身份证号 starts at character 4 of line 1
    assert e.value.diagnostics[0].loc == Loc(str(p), 1, 4)
    # without a schema every mapped column is expected
    with pytest.raises(PolicyError) as e:
        list(read_file(p, columns=ROSTER_COLUMNS))
    assert sorted(d.message for d in e.value.diagnostics) == [
        "missing column `备注` (field `remark`)", "missing column `联系电话` (field `phone`)",
        "missing column `身份证号码` (field `id_number`)"]


def test_csv_duplicate_column(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text('"单位",姓名,"a,b",name\n甲,张三,x,张三\n', encoding="utf-8")
    with pytest.raises(PolicyError, match="duplicate column `name`") as e:
        list(read_file(p, columns={"姓名": "name"}))
    # the second one, after a quoted field holding a comma: character 15
    assert [d.loc for d in e.value.diagnostics] == [Loc(str(p), 1, 15)]
    assert e.value.diagnostics[0].message == \
        "duplicate column `name` (columns 2 and 4 both give field `name`)"


def test_csv_extra_cells_and_excel_scientific_id(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("姓名,身份证号码\n"
                 "张三,410102199001011234,多余\n"
                 "李四,4.10102E+17\n"
                 "王五,410102199001011234,\n", encoding="utf-8")
    items = list(read_file(p, columns={"姓名": "name", "身份证号码": "id_number"}))
    assert items[0].reason == (f"{p}:2: row has 3 cells but the header has 2 "
                               "(a value containing a comma must be quoted)")
    assert items[1].reason.startswith(f"{p}:3: column `身份证号码`: excel stored the value as "
                                      "a number and lost its last digits; format the column "
                                      "as text")
    assert items[2].data == {"name": "王五", "id_number": "410102199001011234"}


def test_csv_bad_gbk_line_is_rejected_and_reading_continues(tmp_path):
    p = tmp_path / "r.csv"
    good = "姓名\n张三\n".encode("gbk")
    p.write_bytes(good + b"\x81\x20\n" + "李四\n".encode("gbk"))
    items = list(read_file(p, columns={"姓名": "name"}))
    assert items[0].data == {"name": "张三"}
    assert items[1].reason == f"{p}:3: line 3 is not valid gbk text"
    assert items[2].data == {"name": "李四"}


def test_csv_coercion_with_schema(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("姓名,身份证号码,appointed_on,age,score,active\n"
                 "a,1,2024/1/31,30,1.5,是\n"
                 "b,1,2024年1月31日,30.0,2,否\n"
                 "c,1,2024-01-31,x,y,maybe\n"
                 "d,1,2024-02-30,,,TRUE\n"
                 "e,1,20240131, , ,0\n", encoding="utf-8")
    rows = [r.data for r in read_file(p, columns=ROSTER_COLUMNS | {}, schema=ROSTER_SCHEMA)
            if isinstance(r, Record)]
    for r in rows:
        r.pop("id_number")
    assert rows == [
        {"name": "a", "appointed_on": "2024-01-31", "age": 30, "score": 1.5, "active": True},
        {"name": "b", "appointed_on": "2024-01-31", "age": 30, "score": 2, "active": False},
        {"name": "c", "appointed_on": "2024-01-31", "age": "x", "score": "y", "active": "maybe"},
        {"name": "d", "appointed_on": "2024-02-30", "active": True},
        {"name": "e", "appointed_on": "2024-01-31", "active": False},
    ]


# --- XLSX -----------------------------------------------------------------------------------

def _roster_xlsx(path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "花名册"
    ws.append([])                                       # row 1 empty: header is row 2
    ws.append(["姓名", "身份证号码", "单位", "联系电话", "备注", "appointed_on", "age"])
    ws.append(["张三", "410102199001011234", "市中心", 13812345678, None,
               dt.datetime(2024, 1, 31), 30])          # row 3: numeric phone, date cell
    ws.append([None, None, None])                       # row 4 empty
    ws.append(["李四", 4.10102199001012e17, "社区", 1.3812345678e10, "  ", "2024/2/1", 41.0])
    ws.append(["王五", "11010519491231002X", None, "0371-12345678", "备注", 45322, "x"])
    ws.cell(row=5, column=6).number_format = "@"
    other = wb.create_sheet("说明")
    other.append(["x"])
    wb.save(path)


def test_xlsx_positions_types_and_lost_digits(tmp_path):
    p = tmp_path / "roster.xlsx"
    _roster_xlsx(p)
    items = list(read_file(p, collection="roster", columns=ROSTER_COLUMNS, schema=ROSTER_SCHEMA))
    assert [i.position for i in items] == [f"{p}:花名册!3", f"{p}:花名册!5", f"{p}:花名册!6"]
    assert [i.index for i in items] == [0, 1, 2]
    assert items[0] == Record("roster", 0, f"{p}:花名册!3", {
        "name": "张三", "id_number": "410102199001011234", "unit": "市中心",
        "phone": "13812345678", "appointed_on": "2024-01-31", "age": 30})
    rej = items[1]
    assert isinstance(rej, Rejected)
    assert rej.reason == (
        f"{p}:花名册!5: column `身份证号码`: excel stored the value as a number and "
        "lost its last digits; format the column as text (设置单元格格式 → 文本) and enter the "
        "numbers again (sheet `花名册`)")
    assert rej.diagnostic.loc == Loc(str(p), 5, 2)
    assert items[2].data == {"name": "王五", "id_number": "11010519491231002X",
                             "phone": "0371-12345678", "remark": "备注",
                             "appointed_on": "2024-01-31", "age": "x"}


def test_xlsx_without_schema_keeps_phone_text(tmp_path):
    p = tmp_path / "roster.xlsx"
    _roster_xlsx(p)
    items = list(read_file(p, collection="roster", columns=ROSTER_COLUMNS))
    assert items[0].data["phone"] == "13812345678"
    assert items[0].data["age"] == 30
    assert items[0].data["appointed_on"] == "2024-01-31"


def test_xlsx_sheet_choice(tmp_path):
    p = tmp_path / "roster.xlsx"
    _roster_xlsx(p)
    assert [r.position for r in read_file(p, collection="n", sheet="说明")] == []
    with pytest.raises(PolicyError) as e:
        list(read_file(p, collection="n", sheet="花名"))
    assert e.value.diagnostics[0].help == "did you mean `花名册`?"


def test_xlsx_not_a_workbook(tmp_path):
    p = tmp_path / "roster.xlsx"
    p.write_text("not a zip", encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        list(read_file(p, collection="r"))
    assert e.value.diagnostics[0].code == "E051"


def test_unknown_format_and_xls(tmp_path):
    with pytest.raises(PolicyError, match="old excel .xls"):
        list(read_file(tmp_path / "a.xls", collection="r"))
    with pytest.raises(PolicyError, match="unknown input format `xml`"):
        list(read_file(tmp_path / "a.xml", collection="r", fmt="xml"))


# --- summary --------------------------------------------------------------------------------

def test_read_summary_counts(tmp_path):
    p = tmp_path / "cases.jsonl"
    p.write_text('{"a": 1}\nnope\n{"a": 2}\n', encoding="utf-8")
    s = ReadSummary()
    out = list(s.track(read_file(p)))
    assert len(out) == 3
    assert (s.read, s.accepted, s.rejected) == (3, 2, 1)
    assert s.by_collection == {"cases": {"read": 3, "accepted": 2, "rejected": 1}}
    j = s.to_json()
    assert j["read"] == j["accepted"] + j["rejected"]
    assert j["rejections"][0]["position"] == f"{p}:2"


def test_csv_utf8_with_one_corrupt_line_stays_utf8(tmp_path):
    p = tmp_path / "r.csv"
    p.write_bytes("姓名,单位\n张三,中心\n".encode() + b"\xff\xfe,x\n" + "李四,社区\n".encode())
    items = list(read_file(p, columns={"姓名": "name"}))
    assert items[0].data == {"name": "张三", "单位": "中心"}
    assert items[1].reason == f"{p}:3: line 3 is not valid utf-8 text"
    assert items[2].data == {"name": "李四", "单位": "社区"}



def test_xlsx_number_cells_from_a_program(tmp_path):
    """xlsx numbers are doubles: an 18-digit number written by a program is no more exact than
    one typed into Excel, so it is rejected too; an 11-digit phone is exact and becomes text."""
    p = tmp_path / "roster.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "身份证号码", "联系电话", "其他"])
    wb.active.append(["张三", 410102199001011234, 13812345678, 7])
    wb.active.append(["李四", "410102199001011234", 13812345678.0, 2.5])
    wb.save(p)
    cols = {"姓名": "name", "身份证号码": "id_number", "联系电话": "phone"}
    rej, ok = list(read_file(p, collection="roster", columns=cols))
    assert "excel stored the value as a number and lost its last digits" in rej.reason
    assert "4101" not in rej.reason.replace(str(p), "")
    assert ok.data == {"name": "李四", "id_number": "410102199001011234", "phone": "13812345678",
                       "其他": 2.5}


def test_xlsx_header_errors_point_at_the_sheet_column(tmp_path):
    import openpyxl

    p = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名单"
    ws.append([])  # a blank first row: the header is row 2
    ws.append(["单位", "姓名", "备注", "name"])
    ws.append(["甲", "张三", "", "张三"])
    wb.save(p)
    with pytest.raises(PolicyError) as e:
        list(read_file(p, columns={"姓名": "name"}))
    assert [(d.code, d.loc) for d in e.value.diagnostics] == [("E051", Loc(str(p), 2, 4))]
