"""Make the social-supervisor roster template (RULEBOOK HN-SUP-R1).

Input: ``policies/henan/entities/supervisor.yaml`` (its ``columns:`` and schema); an output path
as the only argument is optional. Output: ``policies/henan/templates/社会监督员花名册模板.xlsx`` —
sheet ``花名册`` with the bold header row: the official form's five columns 姓名, 身份证号码, 单位,
联系电话, 备注 first, then the entity's further columns (编号, 人员类别, 聘任机构编号, 聘任日期, …) in
the order of ``columns:``, required ones marked by a darker fill; every column formatted as text
(so Excel keeps the 18 digits of an ID number and the leading 0 of an area code) and yes/no columns
restricted to 是/否; and sheet ``说明`` explaining each column in Chinese (the form's columns by the
text below, the others by the schema's descriptions). The file is byte-for-byte reproducible
(fixed document and zip timestamps), so re-running the script does not change the committed file.

    python tools/make_roster_template.py [OUT.xlsx]
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import zipfile
from pathlib import Path

import yaml
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "policies" / "henan" / "templates" / "社会监督员花名册模板.xlsx"
ENTITY = ROOT / "policies" / "henan" / "entities" / "supervisor.yaml"

FORM = ["姓名", "身份证号码", "单位", "联系电话", "备注"]  # the notice's attachment (HN-SUP-R1)
FORM_WIDTHS = [12, 24, 30, 20, 30]
TEXT_ROWS = 500  # rows pre-formatted as text below the header


def entity() -> tuple[list[str], dict[str, str], dict, set[str]]:
    """(headers in order, header → field, field → schema property, required fields)."""
    doc = yaml.safe_load(ENTITY.read_text(encoding="utf-8"))
    columns: dict[str, str] = doc["columns"]
    headers = list(columns)
    if headers[:len(FORM)] != FORM:
        raise SystemExit(f"{ENTITY}: `columns:` must start with the form's columns {FORM}")
    schema = doc["schema"]
    return headers, columns, schema["properties"], set(schema.get("required", []))


FORM_EXPLANATION = [
    ("姓名", "社会监督员的姓名，与身份证一致。"),
    ("身份证号码", "18位居民身份证号码（GB 11643），末位校验码可为数字或X（大小写均可）；"
                  "也接受15位旧号码。本列已设为文本格式，请勿改为“常规”或“数值”，"
                  "否则Excel会把号码显示为科学计数法并丢失末尾三位。校验码或出生日期不正确的号码"
                  "会被判为不符合（HN-SUP-R1）。"),
    ("单位", "工作单位或所在社区、村（居）委会的全称。"),
    ("联系电话", "11位手机号码（可带+86），或固定电话：区号-号码，如0371-12345678，"
                "分机写作-123或转123。不带区号的固定电话无法识别，会被提示。本列已设为文本格式，"
                "以保留区号开头的0。"),
    ("备注", "其他需要说明的情况。可不填。"),
]

NOTE = ("注意", "第一行为表头，请勿修改或删除；每行填写一名监督员，中间可以有空行。前五列是《河南省政务服务"
        "社会监督员名单》的格式，其后各列是规则检查所需的信息（深色表头为必填）；报省时可只保留前五列。"
        "日期写作2020-07-01、2020/7/1或2020年7月1日；“是/否”列从下拉框选择。连聘另填连聘记录"
        "（监督员编号、新聘期开始日期）。身份证号码和联系电话属于个人信息，系统输出时默认打码显示"
        "（如410***********1234、138****5678）。")


def explanation(headers, columns, props, required) -> list[tuple[str, str]]:
    form = dict(FORM_EXPLANATION)
    rows = [("列名", "填写说明")]
    for h in headers:
        text = form.get(h) or props[columns[h]].get("description", "")
        if columns[h] in required:
            text = "（必填）" + text
        rows.append((h, text))
    return rows + [("", ""), NOTE]

FIXED_TIME = dt.datetime(2020, 6, 2, 0, 0, 0)  # the Pingdingshan forwarding notice (seed 000)
STAMP = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()


def build() -> Workbook:
    headers, columns, props, required = entity()
    widths = FORM_WIDTHS + [max(12, 2 * len(h) + 4) for h in headers[len(FORM):]]
    wb = Workbook()
    ws = wb.active
    ws.title = "花名册"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    required_fill = PatternFill("solid", fgColor="9BC2E6")
    center = Alignment(horizontal="center", vertical="center")
    yes_no = DataValidation(type="list", formula1='"是,否"', allow_blank=True,
                            showErrorMessage=True, errorTitle="是/否", error="请填写“是”或“否”。")
    for j, (name, width) in enumerate(zip(headers, widths), start=1):
        cell = ws.cell(row=1, column=j, value=name)
        cell.font = bold
        cell.fill = required_fill if columns[name] in required else fill
        cell.alignment = center
        cell.number_format = "@"
        letter = cell.column_letter
        ws.column_dimensions[letter].width = width
        ws.column_dimensions[letter].number_format = "@"
        for i in range(2, TEXT_ROWS + 2):
            ws.cell(row=i, column=j).number_format = "@"
        if props[columns[name]].get("type") == "boolean":
            yes_no.add(f"{letter}2:{letter}{TEXT_ROWS + 1}")
    ws.freeze_panes = "A2"
    if yes_no.sqref:
        ws.add_data_validation(yes_no)
    dv = DataValidation(type="textLength", operator="between", formula1="15", formula2="18",
                        allow_blank=True, showErrorMessage=True,
                        errorTitle="身份证号码", error="身份证号码应为18位（或15位旧号码）。")
    dv.add(f"B2:B{TEXT_ROWS + 1}")
    ws.add_data_validation(dv)

    doc = wb.create_sheet("说明")
    rows = explanation(headers, columns, props, required)
    for row in rows:
        doc.append(list(row))
    for cell in doc[1]:
        cell.font = bold
        cell.fill = fill
    doc.cell(row=len(rows), column=1).font = bold
    doc.column_dimensions["A"].width = 14
    doc.column_dimensions["B"].width = 90
    for row in doc.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
        row[0].alignment = Alignment(vertical="top")

    wb.properties.creator = "govsup"
    wb.properties.title = "社会监督员花名册模板"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.active = 0
    return wb


def reproducible_bytes(wb: Workbook) -> bytes:
    """Save, then rewrite the zip with fixed entry and document timestamps."""
    raw = io.BytesIO()
    wb.save(raw)
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps `modified` on save
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + STAMP + rb"\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, data)
    return out.getvalue()


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(reproducible_bytes(build()))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
