"""Scaffold a fork of a bundle (``policy fork PARENT NAME``).

Input: a parent bundle (name or folder; it must load), the fork's name and the folder to create it
in. Output: a new folder ``DIR/NAME`` that evaluates exactly like its parent until someone edits it:

    NAME/
      bundle.yaml              extends PARENT; name, version, a Chinese title to fill in;
                               commented examples of `documents`, `clauses`, `replace`, `disable`
      README.md                what the fork is and how to work on it (Chinese)
      parameters/overrides.yaml  `overrides: {}` plus commented examples using a real parameter
                               of the parent (a value from a date on; a whole new history)
      rules/README.md          how to add, replace and disable rules
      tests/README.md          the parent's test cases run automatically for the fork
      tests/cases.yaml         `cases: []` and a commented example case

Nothing is written when the folder exists already, when the name is not a valid bundle name, or
when the parent does not load (:class:`PolicyError` with located diagnostics).

``extends``: a parent given by name is written as the name (it is found through the policy
roots). A parent given as a folder is written as the relative path from the fork to it; both
must then be under a policy root when the fork is checked (``--policy-root``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .bundle import MANIFEST, Bundle, find_bundle, load_bundle
from .diagnostics import Diagnostic, PolicyError
from .loc import Loc

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class Scaffold:
    path: Path
    files: tuple[Path, ...]
    parent: str
    extends: str


def _yaml_scalar(v) -> str:
    """A YAML flow scalar for a parameter value (JSON is valid YAML flow syntax)."""
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_yaml_scalar(x) for x in v) + "]"
    if hasattr(v, "items"):
        return "{" + ", ".join(f"{k}: {_yaml_scalar(x)}" for k, x in v.items()) + "}"
    return json.dumps(v, ensure_ascii=False)


def _example_param(parent: Bundle):
    """A parameter to show in the examples: prefer a scalar number (a threshold)."""
    params = sorted(parent.params.values(), key=lambda p: p.name)
    for want in (("int", "number"), ("bool", "text", "date"), ("list",), ("table",)):
        for p in params:
            if p.type in want and p.values:
                return p
    return None


def _bundle_yaml(name: str, extends: str, parent: Bundle, title: str) -> str:
    some_rule = parent.rules[0].id if parent.rules else "RULE-ID"
    return f"""\
# {title}
# 本分支规则包继承上级规则包 `{parent.name}`（{parent.title}），只写与上级不同的部分。
# 未改动之前，本包的评估结果与上级完全相同；`policy diff {parent.name} {name}` 列出全部差异。
name: {name}
version: "0.1"
title: {title}
description: >-
  继承 {parent.name}。请在此说明本地文件与上级规则的不同之处（改了哪些参数、停用或改写了哪些规则、为什么）。
extends: {extends}

# 本地依据文件（文号、日期、发文单位）。示例：
# documents:
#   - title: 关于转发……的通知
#     number: ……〔2025〕1号
#     date: 2025-01-01
#     issuer: ……办公室
#     note: 与上级规则不同的要求写在这里。

# 本包新增的条款编号（规则 `cites` 与参数 `clause` 引用）。示例：
# clauses:
#   LOCAL-1:
#     article: 第一条
#     summary: 一句话说明该条款要求什么。

# 改写上级的规则：在 rules/*.rule 中写一条同 id 的规则，并在这里列出它的 id。示例：
# replace:
#   - {some_rule}

# 停用上级的规则（必须写明理由，理由会出现在规则手册与差异报告中）。示例：
# disable:
#   - rule: {some_rule}
#     reason: 本地不适用：……（依据文件、文号）
"""


def _overrides_yaml(parent: Bundle) -> str:
    p = _example_param(parent)
    head = f"""\
# 参数覆盖（overrides）：改写上级规则包 `{parent.name}` 的参数。只写要改的参数；
# 未写的参数沿用上级的全部取值。以下示例都已注释，去掉行首的 `# ` 即可生效，
# 同时删除最后一行的 `overrides: {{}}`（一个文件只能有一个 `overrides:`）。
#
"""
    if p is None:
        return head + "overrides: {}\n"
    cur = p.values[-1]
    later = max(cur.start, _dt.date(_dt.date.today().year, 1, 1)) + _dt.timedelta(days=0)
    later = _dt.date(later.year + 1, 1, 1)
    unit = f"（单位：{p.unit}）" if p.unit else ""
    hist = "\n".join(f"#       - {{from: {v.start.isoformat()}, value: {_yaml_scalar(v.value)}}}"
                     for v in p.values)
    return head + f"""\
# 参数 `{p.name}`：{p.title}{unit}，条款 {", ".join(p.clauses)}。
# 上级当前取值：自 {cur.start.isoformat()} 起为 {_yaml_scalar(cur.value)}（由 `{cur.origin}` 设定）。
#
# 示例一：自某日起改用新值（该日之前仍按上级的取值；`source` 写本地文件的原文）：
# overrides:
#   {p.name}:
#     from: {later.isoformat()}
#     value: {_yaml_scalar(cur.value)}
#     source: "（本地文件原文，写明新的要求）"
#     reference: "（文号、条款）"
#
# 示例二：整体改写该参数的全部取值（替换上级的全部历史）：
# overrides:
#   {p.name}:
#     source: "（本地文件原文）"
#     values:
{hist}
#
overrides: {{}}
"""


def _readme(name: str, parent: Bundle, title: str, dir_hint: str) -> str:
    return f"""\
# {title}（`{name}`）

本规则包是 `{parent.name}`（{parent.title}）的分支（fork）：它继承上级的全部规则、参数、结果等级和
数据集合，只记录本地与上级不同的地方。刚生成时它与上级完全相同。

## 目录

| 文件 | 作用 |
| --- | --- |
| `bundle.yaml` | 清单：名称、版本、标题、上级（`extends`）、依据文件、新增条款、改写（`replace`）与停用（`disable`）的规则 |
| `parameters/overrides.yaml` | 改写上级的参数（某日起的新值，或整体改写） |
| `rules/` | 本包新增或改写的规则（`*.rule`），见 `rules/README.md` |
| `tests/` | 本包自己的测试用例；上级的测试用例会自动运行，见 `tests/README.md` |

## 常用命令

```console
$ policy check {name} --policy-root {dir_hint}     # 检查：加载、校验、编译
$ policy test {name} --policy-root {dir_hint}      # 运行测试（含上级的用例）
$ policy diff {parent.name} {name} --policy-root {dir_hint}   # 与上级的差异
$ policy doc {name} --out site --policy-root {dir_hint}       # 生成规则手册
$ policy fmt {name} --policy-root {dir_hint}       # 统一规则文件格式
```

详细步骤见项目文档 `docs/author-guide.zh.md`（规则编写指南）。
"""


_RULES_README = """\
# 规则（rules/*.rule）

本目录放本分支包**新增**或**改写**的规则，每个文件可写多条规则（语法见 `docs/dsl.zh.md`）。
本文件（README.md）不是规则文件，加载时会被忽略。

## 新增规则

新建 `rules/本地.rule`，写一条 id 与上级不重复的规则；它引用的条款编号须在本包或上级的
`bundle.yaml` 的 `clauses:` 中定义。

## 改写（replace）上级的规则

1. 在 `rules/*.rule` 中写一条**与上级同 id** 的规则（可先把上级的规则整段复制过来再修改）；
2. 在 `bundle.yaml` 中列出：

   ```yaml
   replace:
     - HN-ESUP-8.1b
   ```

没有列在 `replace:` 里的同 id 规则会报错 E013（重复定义），防止无意中覆盖上级的规则。
改写后，上级针对这条规则的测试用例不再对本包运行（它们测试的是上级的行为），请为新规则写用例。

## 停用（disable）上级的规则

不需要写规则文件，只在 `bundle.yaml` 中写明规则 id 和**理由**（必填，会写进规则手册和差异报告）：

```yaml
disable:
  - rule: HN-ESUP-8.1b
    reason: 本地不适用：……（依据文件、文号）
```

## 只改阈值？

若只是改一个期限、天数或名单，不要改写规则，改参数即可：见 `parameters/overrides.yaml`。
"""


def _tests_readme(name: str, parent: Bundle) -> str:
    return f"""\
# 测试用例（tests/*.yaml）

`policy test {name}` 会运行：

1. 本目录下每个 `*.yaml` 文件中的用例；
2. **上级规则包（`{parent.name}` 及其上级）的全部用例**——不需要复制过来。例外：本包改写（replace）
   或停用（disable）了的规则、以及读取了本包所覆盖参数的规则，其上级用例会被跳过（显示 SKIP），
   因为它们测试的是上级的行为；请在这里为本包的新行为写用例。

用例格式（字段说明见 `policy schema` 生成的 `tests.schema.json`）：

```yaml
cases:
  - name: 一句话说明这个用例
    note: 期限是怎么手算出来的（例如：受理日 2024-03-01 后第 3 个工作日为 2024-03-06）
    as_of: 2024-03-31            # 评估日期
    facts:                       # 输入数据，按数据集合分组
      cases:
        - {{case_id: A1, ...}}
    expect:                      # 应当产生的结果
      - {{rule: 规则id, key: A1, level: warning, triggered_on: 2024-03-05, status: open}}
    absent:                      # 不应产生的结果
      - {{rule: 规则id, key: A1}}
```

`cases.yaml` 目前是空的（`cases: []`），所以刚生成的分支包只运行上级的用例。
"""


def _cases_yaml(parent: Bundle) -> str:
    rid = parent.rules[0].id if parent.rules else "RULE-ID"
    return f"""\
# 本分支包自己的测试用例（上级的用例会自动运行，见 README.md）。示例（已注释）：
#
# cases:
#   - name: 本地阈值生效后的预警日期
#     note: 手算过程写在这里
#     as_of: 2025-06-30
#     facts:
#       cases: []
#     expect:
#       - {{rule: {rid}, key: "…", triggered_on: 2025-06-01}}
cases: []
"""


def default_title(parent: Bundle) -> str:
    return f"（待填写）{parent.title}·分支规则包"


def scaffold_fork(parent_ref: str, name: str, directory: Path,
                  roots: tuple[Path, ...], title: str | None = None) -> Scaffold:
    """Create the fork folder ``directory/name`` extending ``parent_ref``."""
    where = Loc("<command line>")
    if not NAME_RE.match(name):
        raise PolicyError([Diagnostic("E003", f"`{name}` is not a valid bundle name", where,
                                      "use lower-case letters, digits, `-` and `_`, starting "
                                      "with a letter, e.g. `zhengzhou`")])
    parent_dir = find_bundle(parent_ref, roots)
    parent = load_bundle(parent_dir, roots)  # the parent must load: a fork of a broken bundle
    if name == parent.name or any(layer.name == name for layer in parent.chain):
        raise PolicyError([Diagnostic("E013", f"the chain of `{parent.name}` already has a "
                                      f"bundle named `{name}`", where, "choose another name")])
    target = (Path(directory) / name)
    if target.exists():
        raise PolicyError([Diagnostic("E013", f"{target} already exists", where,
                                      "choose another name or folder (nothing was written)")])
    ref = str(parent_ref)
    looks_like_path = "/" in ref or "\\" in ref or ref.startswith(".") or Path(ref).is_dir()
    if looks_like_path:
        extends = os.path.relpath(parent_dir, Path(directory).resolve() / name)
        if "/" not in extends and "\\" not in extends:
            extends = "./" + extends
    else:
        extends = ref
    title = title or default_title(parent)
    try:
        dir_hint = os.path.relpath(Path(directory).resolve())
    except ValueError:  # another drive on Windows
        dir_hint = str(Path(directory).resolve())
    files = {
        MANIFEST: _bundle_yaml(name, extends, parent, title),
        "README.md": _readme(name, parent, title, dir_hint),
        "parameters/overrides.yaml": _overrides_yaml(parent),
        "rules/README.md": _RULES_README,
        "tests/README.md": _tests_readme(name, parent),
        "tests/cases.yaml": _cases_yaml(parent),
    }
    written = []
    for rel, text in files.items():
        p = target / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        written.append(p)
    return Scaffold(target, tuple(written), parent.name, extends)
