"""`policy eval … -f jsonl` streaming a large collection: the summary line on stderr reconciles
each collection on its own — the streamed one (its lines: evaluated + rejected) and, apart, the
reference collections read whole (here the item catalogue, with one malformed item) — and the
findings it counts are the lines written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_henan  # noqa: E402

LINE = re.compile(r"^streamed cases: read (\d+) = evaluated (\d+) \+ rejected (\d+) "
                  r"\(reference items: read (\d+) = evaluated (\d+) \+ rejected (\d+)\); "
                  r"findings (\d+)$")


def test_streamed_summary_reconciles_each_collection(tmp_path):
    manifest = gen_henan.generate(tmp_path, 300, 3, malformed_rate=0.02)
    items = json.loads((tmp_path / "items.json").read_text(encoding="utf-8"))
    bad_item = dict(items[0])
    del bad_item["name"]  # a required field
    bad_item["item_code"] = "BAD-ITEM"
    (tmp_path / "items.json").write_text(json.dumps(items + [bad_item], ensure_ascii=False),
                                         encoding="utf-8")
    n_lines = sum(1 for ln in (tmp_path / "cases.jsonl").read_text(encoding="utf-8")
                  .splitlines() if ln.strip())
    n_bad = len(manifest["malformed_lines"]["cases"])
    assert n_lines == 300 and n_bad > 0
    proc = subprocess.run(
        [sys.executable, "-m", "govsup", "eval", "henan", f"items={tmp_path / 'items.json'}",
         f"cases={tmp_path / 'cases.jsonl'}", "-f", "jsonl", "--as-of",
         gen_henan.AS_OF.isoformat(), "--jobs", "2"],
        capture_output=True, text=True, encoding="utf-8", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    m = LINE.match(last)
    assert m, last
    read, evaluated, rejected, i_read, i_evaluated, i_rejected, findings = map(int, m.groups())
    # the streamed collection: every line once, nothing else
    assert (read, evaluated, rejected) == (n_lines, n_lines - n_bad, n_bad)
    # the reference collection, apart: every item once, the malformed one rejected
    assert (i_read, i_evaluated, i_rejected) == (len(items) + 1, len(items), 1)
    assert findings == len(proc.stdout.splitlines()) > 0
    rejected_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("rejected: ")]
    assert len(rejected_lines) == n_bad + 1
