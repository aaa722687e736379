"""`policy doc`: the Chinese rulebook as Markdown and as a self-contained HTML page.

The HTML page is also loaded in a real headless browser (Debian's `chromium`) when it is
installed; CI installs it with `apt-get install -y chromium` (see .ci/run).
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def test_markdown_rulebook_of_a_fork(roots, run, tmp_path):
    out = tmp_path / "site"
    r = run("doc", "minifork", "--out", out, "--policy-root", roots)
    assert r.exit_code == 0, r.output
    md = (out / "index.md").read_text(encoding="utf-8")
    assert md.startswith("# 最小测试分支包")
    # rules with their clauses (id and article), title and DSL source
    assert "#### T-1/red 超期（本地）" in md and "#### T-2 办结早于受理" in md
    assert "`T-1` 第一条" in md and "`T-2` 第二条" in md
    assert "on limit + 1 workday" in md  # the replacing rule's own source
    assert "# 改写上级的红牌规则" in md  # with the comment above it
    assert "本规则由 `minifork` 改写（replace）上级的同名规则" in md
    # parameters: a table of dated values with source, reference and who set it
    assert "| 2 | 2019-01-01 | 所剩时限小于等于2个工作日 | 分〔2025〕2号第二条 | `mini` |" in md
    assert "| 3 | 2025-01-01 | 所剩时限小于等于3个工作日 | 分〔2025〕2号第二条 | `minifork` |" in md
    assert "#### T-1/warn" not in md  # disabled in the fork: listed under 停用的规则
    # levels, documents of every layer
    assert "| `notice` | 提示 | 10 |" in md
    assert "最小测试文件" in md and "分支测试文件" in md
    # the fork's differences from its parent
    diff = md.split("## 与上级规则包的差异", 1)[1].split("\n## ", 1)[0]
    assert "warn_days" in diff and "自 2025-01-01：新增" in diff
    assert "| [T-1/warn](#rule-T-1_warn) | 预警 | 停用 | 本地由窗口人工提醒" in diff
    assert "| 改写 |" in diff and "| 新增 |" in diff
    assert "新增：notice" in diff
    # disabled rules listed with the reason
    assert "| <a id=\"rule-T-1_warn\"></a>T-1/warn | 本地由窗口人工提醒" in md


def test_root_bundle_has_no_difference_section(roots, run, tmp_path):
    r = run("doc", "mini", "--out", tmp_path, "--policy-root", roots, "--format", "md")
    assert r.exit_code == 0
    md = (tmp_path / "index.md").read_text(encoding="utf-8")
    assert "与上级规则包的差异" not in md and "T-1/warn" in md
    # the rule's own section has a table of its parameters' dated values
    rule = md.split("#### T-1/warn 预警", 1)[1].split("```", 1)[0]
    assert ("| [warn_days](#param-warn_days) 预警阈值 | 2 工作日 | 2019-01-01 | "
            "所剩时限小于等于2个工作日 |  | `mini` |") in rule


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.tags: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if "href" in a:
            self.hrefs.append(a["href"])
        if "src" in a:
            self.srcs.append(a["src"])


def _html(roots, run, tmp_path, bundle="minifork") -> Path:
    out = tmp_path / "site"
    r = run("doc", bundle, "--out", out, "--format", "html", "--policy-root", roots)
    assert r.exit_code == 0, r.output
    return out / "index.html"


def test_html_is_self_contained_and_links_resolve(roots, run, tmp_path):
    page = _html(roots, run, tmp_path)
    html = page.read_text(encoding="utf-8")
    p = _Collect()
    p.feed(html)
    assert "script" not in p.tags and "link" not in p.tags and not p.srcs
    assert "<style>" in html
    assert all(h.startswith("#") for h in p.hrefs), "no external links or assets"
    missing = [h for h in p.hrefs if h[1:] not in p.ids]
    assert not missing, missing
    assert {"rule-T-1_red", "rule-T-2", "rule-T-1_warn", "param-warn_days", "changes"} <= p.ids


def test_html_escapes_policy_text(roots, run, tmp_path):
    f = roots / "minifork" / "rules" / "local.rule"
    f.write_text(f.read_text(encoding="utf-8").replace('"办结早于受理"', '"办结<b>早于</b>受理"'),
                 encoding="utf-8")
    html = _html(roots, run, tmp_path).read_text(encoding="utf-8")
    assert "<b>早于</b>" not in html and "&lt;b&gt;早于&lt;/b&gt;" in html


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason="Debian's chromium is not installed (apt-get install -y chromium); "
                           "the HTML rulebook is not loaded in a browser")
def test_html_rulebook_in_headless_chromium(roots, run, tmp_path):
    page = _html(roots, run, tmp_path)
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<html" in dom and "</html>" in dom
    for rid, title in (("T-1/red", "超期（本地）"), ("T-2", "办结早于受理")):
        assert f'id="rule-{rid.replace("/", "_")}"' in dom
        assert rid in dom and title in dom
    assert "T-1/warn" in dom and "本地由窗口人工提醒" in dom
    assert "与上级规则包的差异" in dom and "最小测试分支包" in dom
    shutil.rmtree(profile, ignore_errors=True)


def test_unknown_format_and_broken_bundle(roots, run, tmp_path):
    assert run("doc", "mini", "--out", tmp_path, "--format", "pdf",
               "--policy-root", roots).exit_code == 2
    (roots / "mini" / "rules" / "r.rule").write_text("rule {\n", encoding="utf-8")
    r = run("doc", "mini", "--out", tmp_path, "--policy-root", roots)
    assert r.exit_code == 3 and "E020" in r.stderr


def test_shipped_fork_rulebook(run, tmp_path):
    """The shipped chain renders (pingdingshan extends henan)."""
    r = run("doc", "pingdingshan", "--out", tmp_path, "--format", "html")
    assert r.exit_code == 0, r.output
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "与上级规则包的差异" in html and "HN-ESUP-8.1b" in html


def test_rulebook_shows_each_rules_in_force_date(run, tmp_path):
    """henan dates HN-ESUP-* from 2019-03-21 and HN-SUP-* from 2020-05-21 (bundle.yaml)."""
    r = run("doc", "henan", "--out", tmp_path)
    assert r.exit_code == 0, r.output
    md = (tmp_path / "index.md").read_text(encoding="utf-8")
    rule = md.split("#### HN-ESUP-7.2 承诺时限超过法定时限", 1)[1].split("\n#### ", 1)[0]
    assert "- 施行日期：2019-03-21（参照日早于此日的记录不适用本规则）" in rule
    rule = md.split("#### HN-SUP-3 ", 1)[1].split("\n#### ", 1)[0]
    assert "- 施行日期：2020-05-21（参照日早于此日的记录不适用本规则）" in rule
    assert "| 2019-03-21 | 2019-03-21（HN-ESUP-*） |" in md
