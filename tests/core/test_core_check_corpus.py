"""Check corpus: ``cases/check/*.yaml`` (rule files over a fixture bundle and the complete, sorted
list of diagnostics that loading, parsing and checking them must give)."""

from __future__ import annotations

import pytest

from core_helpers import RULE_FILE, BundleFactory, corpus
from govsup.engine.diagnostics import CODES, sort_diagnostics

CASES = corpus("check")


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return BundleFactory(tmp_path_factory.mktemp("check"))


@pytest.mark.parametrize("defaults,case", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_case(factory, defaults, case):
    bundle_dir, diags = factory.errors(case.get("bundle", defaults["bundle"]), case["rules"])
    exps = case["errors"]
    got = [(d.code, d.loc.line, d.loc.col, d.message) for d in diags]
    assert len(diags) == len(exps), "\n".join(map(str, got))
    # reported all at once, in one total order (file, line, col, code, message)
    assert diags == sort_diagnostics(diags)
    for d, exp in zip(diags, exps):
        assert d.code in CODES
        assert d.severity == "error"
        assert d.loc.file == str(bundle_dir / RULE_FILE), d
        assert (d.code, d.loc.line, d.loc.col) == (exp["code"], exp["line"], exp["col"]), d
        assert exp.get("message", "") in d.message, d
        if "help" in exp:
            if exp["help"] == "":
                assert d.help == "", d
            else:
                assert exp["help"] in d.help, d


def test_every_checker_code_is_covered():
    codes = {e["code"] for _, _, c in CASES for e in c["errors"]}
    assert {"E005", "E013", "E021", "E022", "E023", "E024", "E025", "E026", "E027", "E028",
            "E029"} <= codes
    assert any(c["errors"] == [] for _, _, c in CASES)  # and rules that must check cleanly
