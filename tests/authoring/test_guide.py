"""Run every command of docs/author-guide.zh.md, in order, on a temporary copy of the bundles.

The guide is executable documentation:

* a ```console block holds commands (`$ policy …  # 退出码 N`) each followed by the output lines
  it shows; the command must exit with N, and every output line shown must appear in the real
  output (`…` stands for any text; paths are shown relative to the working folder);
* a ```yaml (or ```rule) block whose first line is `# 文件：PATH` is the full content of that
  file: it is written before the commands that follow it;
* `<!-- guide-test: replace PATH "OLD" "NEW" -->` (invisible in the rendered guide) applies the
  edit the text describes.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from govsup.engine.bundle import shipped_root

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "author-guide.zh.md"
BUNDLES = ("henan", "pingdingshan", "calendar")

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
_REPLACE = re.compile(r'<!-- guide-test: replace (\S+) "(.*?)" "(.*?)" -->')
_EXIT = re.compile(r"^(?P<cmd>.*?)\s+#\s*退出码\s*(?P<code>\d+)\s*$")
_FILE = re.compile(r"^#\s*文件：\s*(\S+)")


@dataclass
class Command:
    line: int
    argv: list[str]
    exit_code: int
    expect: list[str] = field(default_factory=list)


@dataclass
class WriteFile:
    line: int
    path: str
    text: str


@dataclass
class Replace:
    line: int
    path: str
    old: str
    new: str


def steps(text: str) -> list:
    """The guide's actions in document order."""
    found = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        lang, body = m.group(1), m.group(2)
        if lang == "console":
            current = None
            for i, ln in enumerate(body.split("\n")):
                if ln.startswith("$ "):
                    em = _EXIT.match(ln[2:])
                    assert em, f"guide line {line + 1 + i}: command without `# 退出码 N`: {ln}"
                    current = Command(line + 1 + i, shlex.split(em["cmd"]), int(em["code"]))
                    found.append((m.start(), current))
                elif ln.strip() and current is not None:
                    current.expect.append(ln.rstrip())
        elif lang in ("yaml", "rule"):
            fm = _FILE.match(body)
            if fm:
                found.append((m.start(), WriteFile(line, fm.group(1), body)))
    for m in _REPLACE.finditer(text):
        found.append((m.start(), Replace(text.count("\n", 0, m.start()) + 1, *m.groups())))
    return [s for _, s in sorted(found, key=lambda x: x[0])]


def _matches(expected: str, output_lines: list[str]) -> bool:
    if "…" in expected:
        pat = re.compile(".*?".join(re.escape(p) for p in expected.split("…")) + r"\Z")
        return any(pat.match(ol.rstrip()) for ol in output_lines)
    return any(ol.rstrip() == expected for ol in output_lines)


def test_guide_is_well_formed():
    s = steps(GUIDE.read_text(encoding="utf-8"))
    cmds = [x for x in s if isinstance(x, Command)]
    assert len(cmds) >= 15
    assert all(c.argv[0] == "policy" for c in cmds)
    used = {c.argv[1] for c in cmds}
    assert {"check", "test", "diff", "doc", "fork", "fmt"} <= used
    assert {1, 3} <= {c.exit_code for c in cmds}  # differences and a real error are shown
    for w in s:
        if isinstance(w, (WriteFile, Replace)):
            assert w.path.startswith("local/") and ".." not in w.path, w.path


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    dst = tmp_path / "policies"
    for name in BUNDLES:
        shutil.copytree(Path(shipped_root()) / name, dst / name)
    monkeypatch.chdir(tmp_path)
    # bundle names resolve to the copy first (before the shipped bundles)
    monkeypatch.setenv("GOVSUP_POLICY_PATH", str(dst))
    return tmp_path


def test_every_command_of_the_guide(workdir, run):
    prefix = str(workdir.resolve()) + "/"
    for step in steps(GUIDE.read_text(encoding="utf-8")):
        if isinstance(step, WriteFile):
            p = workdir / step.path
            assert p.parent.is_dir(), f"guide line {step.line}: {step.path}: no such folder yet"
            p.write_text(step.text, encoding="utf-8")
            continue
        if isinstance(step, Replace):
            p = workdir / step.path
            text = p.read_text(encoding="utf-8")
            assert text.count(step.old) == 1, f"guide line {step.line}: `{step.old}` not once"
            p.write_text(text.replace(step.old, step.new), encoding="utf-8")
            continue
        r = run(*step.argv[1:])
        out = (r.stdout + "\n" + r.stderr).replace(prefix, "")
        where = f"guide line {step.line}: {' '.join(step.argv)}"
        assert r.exit_code == step.exit_code, f"{where}: exit {r.exit_code}\n{out}"
        lines = out.split("\n")
        for exp in step.expect:
            assert _matches(exp, lines), f"{where}: output lacks\n  {exp}\n--- output:\n{out}"
    # the rulebook the guide generates shows the fork's changes
    html = (workdir / "site" / "lushan" / "index.html").read_text(encoding="utf-8")
    assert "与上级规则包的差异" in html and "HN-ESUP-9.9" in html and "12345热线" in html
