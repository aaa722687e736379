"""Constants and fact loading for the `policy report` tests (imported by conftest and tests).

Fixture facts (``fixtures/facts``) are hand-made against the henan entity schemas; their findings
were checked with ``policy eval henan … --as-of 2025-07-31``. Red cards (HN-ESUP-8.1b, dated the
day after the promised deadline) by department and quarter:

| case  | department            | red card    | quarter |
| ----- | --------------------- | ----------- | ------- |
| GA-02 | 公安局                 | 2025-03-06  | Q1      |
| SJ-01 | 市场监督管理局          | 2025-04-15  | Q2      |
| NO-01 | (none; item: 公安局)    | 2025-04-16  | Q2      |
| NO-02 | (none; unknown item)   | 2025-04-24  | Q2      |
| GA-01 | 公安局                 | 2025-05-15  | Q2      |
| SJ-02 | 市场监督管理局          | 2025-05-10  | Q2 (resolved 2025-05-20) |
| SJ-03 | 市场监督管理局          | 2025-06-18  | Q2      |
| ZR-01 | 自然资源和规划局        | 2025-07-03  | Q3 (its warning 2025-06-30 is Q2) |
| SJ-04 | 市场监督管理局          | 2025-07-05  | Q3      |
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from govsup.engine.inputs import read_file

HERE = Path(__file__).resolve().parent
FACTS = HERE / "fixtures" / "facts"
FORK_ROOT = HERE / "fixtures" / "policies"
AS_OF = _dt.date(2025, 7, 31)
ID_NUMBER = "410102199003071230"  # SJ-01's applicant (valid GB 11643 check digit)
PHONE = "13812345678"
INPUTS = [f"items={FACTS / 'items.json'}", f"cases={FACTS / 'cases.jsonl'}"]


def load_facts() -> dict[str, list]:
    return {"items": list(read_file(FACTS / "items.json", collection="items")),
            "cases": list(read_file(FACTS / "cases.jsonl", collection="cases"))}
