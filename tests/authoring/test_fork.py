"""`policy fork`: the scaffold checks, evaluates like its parent, and its examples work."""

from __future__ import annotations

import json
import re

from govsup.engine.schema import validate
from govsup.engine.source import load_yaml


def test_fork_checks_and_runs_the_parents_cases(roots, run):
    r = run("fork", "mini", "county", "--dir", roots, "--policy-root", roots)
    assert r.exit_code == 0, r.output
    d = roots / "county"
    for rel in ("bundle.yaml", "README.md", "parameters/overrides.yaml", "rules/README.md",
                "tests/README.md", "tests/cases.yaml"):
        assert (d / rel).is_file(), rel
    assert not list((d / "rules").glob("*.rule"))
    man = load_yaml(d / "bundle.yaml")
    validate(man, "manifest")  # the strict schema accepts the scaffold
    assert man.value["extends"] == "mini" and man.value["name"] == "county"
    assert "待填写" in man.value["title"]
    r = run("check", "county", "--policy-root", roots)
    assert r.exit_code == 0, r.output
    assert "(mini → county)" in r.stdout
    r = run("test", "county", "--policy-root", roots, "-v")
    assert r.exit_code == 0, r.output
    assert "[mini]" in r.stdout and "1 passed, 0 failed, 0 skipped" in r.stdout
    # it evaluates exactly like its parent
    assert run("diff", "mini", "county", "--policy-root", roots).exit_code == 0


def _uncomment_example(text: str, n: int) -> str:
    """Activate the n-th commented `overrides:` example of the scaffold and drop `overrides: {}`."""
    blocks = re.split(r"(?m)^# 示例", text)
    block = blocks[n]
    lines = block.split("\n")
    body = []
    for ln in lines[1:]:
        if ln.startswith("# ") and not ln.startswith("# 示例"):
            body.append(ln[2:])
        elif ln == "#" or not ln.startswith("#"):
            break
    return "\n".join(body) + "\n"


def test_override_examples_work_when_uncommented(roots, run):
    assert run("fork", "mini", "county", "--dir", roots, "--policy-root", roots).exit_code == 0
    f = roots / "county" / "parameters" / "overrides.yaml"
    text = f.read_text(encoding="utf-8")
    assert "overrides: {}" in text and "warn_days" in text
    for n in (1, 2):
        f.write_text(_uncomment_example(text, n), encoding="utf-8")
        r = run("check", "county", "--policy-root", roots)
        assert r.exit_code == 0, (n, r.output, f.read_text(encoding="utf-8"))
        r = run("diff", "mini", "county", "--json", "--policy-root", roots)
        data = json.loads(r.stdout)
        # example 1 adds a dated entry with the same value; example 2 repeats the history,
        # so only the source sentence may differ — either way the parameter is listed or equal
        assert r.exit_code in (0, 1)
        assert all(c["name"] == "warn_days" for c in data["changes"])


def test_fork_of_a_folder_uses_a_relative_extends(roots, run, tmp_path, monkeypatch):
    monkeypatch.chdir(roots)
    r = run("fork", "./minifork", "village")
    assert r.exit_code == 0, r.output
    man = load_yaml(roots / "village" / "bundle.yaml")
    assert man.value["extends"] == "../minifork"
    r = run("check", "village", "--policy-root", ".")
    assert r.exit_code == 0, r.output
    assert "(mini → minifork → village)" in r.stdout
    r = run("test", "village", "--policy-root", ".")
    assert r.exit_code == 0


def test_refuses_existing_folder_bad_name_and_unknown_parent(roots, run):
    r = run("fork", "mini", "minifork", "--dir", roots, "--policy-root", roots)
    assert r.exit_code == 2 and "already exists" in r.stderr
    r = run("fork", "mini", "Bad Name", "--dir", roots, "--policy-root", roots)
    assert r.exit_code == 2 and "not a valid bundle name" in r.stderr
    r = run("fork", "mimi", "x", "--dir", roots, "--policy-root", roots)
    assert r.exit_code == 3 and "did you mean `mini`?" in r.stderr
    assert not (roots / "x").exists()


def test_fork_of_shipped_henan(tmp_path, run):
    r = run("fork", "henan", "zhengzhou", "--dir", tmp_path)
    assert r.exit_code == 0, r.output
    text = (tmp_path / "zhengzhou" / "parameters" / "overrides.yaml").read_text(encoding="utf-8")
    assert "overrides: {}" in text
    assert run("check", "zhengzhou", "--policy-root", tmp_path).exit_code == 0
