"""The shipped roster template (HN-SUP-R1) is what tools/make_roster_template.py makes."""

import importlib.util
from pathlib import Path

import openpyxl
import pytest

from govsup.engine.inputs import read_file

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "policies" / "henan" / "templates" / "社会监督员花名册模板.xlsx"
SCRIPT = ROOT / "tools" / "make_roster_template.py"
COLUMNS = {"姓名": "name", "身份证号码": "id_number", "单位": "unit", "联系电话": "phone",
           "备注": "remark"}


def _script():
    spec = importlib.util.spec_from_file_location("make_roster_template", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_template_is_reproducible_and_committed_copy_is_current():
    mod = _script()
    made = mod.reproducible_bytes(mod.build())
    assert made == mod.reproducible_bytes(mod.build())
    assert TEMPLATE.read_bytes() == made, "re-run tools/make_roster_template.py"


def test_template_layout():
    wb = openpyxl.load_workbook(TEMPLATE)
    assert wb.sheetnames == ["花名册", "说明"]
    ws = wb["花名册"]
    # the form's five columns first; the supervisor entity's further columns follow
    # (tests/people/test_people_roster.py checks them against policies/henan/entities)
    assert [c.value for c in ws[1]][:5] == ["姓名", "身份证号码", "单位", "联系电话", "备注"]
    assert all(c.font.b for c in ws[1])
    for col in "ABCDE":
        assert ws[f"{col}2"].number_format == "@"
        assert ws.column_dimensions[col].number_format == "@"
    explained = {row[0] for row in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert {"姓名", "身份证号码", "单位", "联系电话", "备注"} <= explained


def test_template_reads_as_an_empty_roster(tmp_path):
    assert list(read_file(TEMPLATE, collection="supervisors", columns=COLUMNS)) == []
    # filled in like a user would (text cells), it reads back as records with Excel row numbers
    wb = openpyxl.load_workbook(TEMPLATE)
    ws = wb["花名册"]
    ws["A2"], ws["B2"], ws["D2"] = "张三", "410102199001011234", "0371-12345678"
    ws["A4"], ws["B4"] = "李四", "11010519491231002X"
    p = tmp_path / "roster.xlsx"
    wb.save(p)
    items = list(read_file(p, collection="supervisors", columns=COLUMNS))
    assert [(i.position, i.data) for i in items] == [
        (f"{p}:花名册!2", {"name": "张三", "id_number": "410102199001011234",
                           "phone": "0371-12345678"}),
        (f"{p}:花名册!4", {"name": "李四", "id_number": "11010519491231002X"}),
    ]
