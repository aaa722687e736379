"""Authoring and forking commands for policy staff: ``fmt``, ``doc``, ``diff``, ``fork``.

Input: command-line arguments. Output: text on stdout/stderr, files where the command writes
them, and an exit code from :class:`~govsup.cli.exitcodes.ExitCode`. Each command is a thin layer
over the library (:mod:`govsup.dsl.formatter`, :mod:`govsup.engine.doc`,
:mod:`govsup.engine.diff`, :mod:`govsup.engine.scaffold`). ``cli/main.py`` mounts them with
:func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..engine.diagnostics import Diagnostic, PolicyError, render_human
from ..engine.loc import Loc
from .exitcodes import ExitCode

ROOTS_HELP = "extra folder(s) holding bundles (searched before the shipped ones)"


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _roots(roots):
    from ..engine.bundle import policy_roots

    return policy_roots(tuple(roots or ()))


def _load(ref: str, roots):
    from ..engine.bundle import load_bundle

    return load_bundle(ref, _roots(roots))


def _usage(msg: str, hint: str = "") -> None:
    _err(render_human([Diagnostic("E051", msg, Loc("<command line>"), hint)]))
    raise typer.Exit(ExitCode.DATA_ERROR)


# ------------------------------------------------------------------------------------- fmt


def _rule_files(target: str, roots) -> list[Path]:
    """The rule files named by ``target``: a ``.rule`` file, a folder (its ``rules/*.rule`` when
    it is a bundle, else every ``*.rule`` below it) or a bundle name (that bundle's own rule
    files, not its parents')."""
    from ..engine.bundle import MANIFEST, find_bundle

    p = Path(target)
    if p.is_file():
        return [p]
    if p.is_dir():
        if (p / MANIFEST).is_file():
            return sorted((p / "rules").glob("*.rule"))
        return sorted(p.rglob("*.rule"))
    folder = find_bundle(target, _roots(roots))
    return sorted((folder / "rules").glob("*.rule"))


def fmt_cmd(
    targets: List[str] = typer.Argument(..., help="rule files, folders or bundle names"),
    check: bool = typer.Option(False, "--check",
                               help="write nothing; list the files that would change and exit 1"),
    roots: List[Path] = typer.Option(None, "--policy-root", help=ROOTS_HELP),
) -> None:
    """Format rule files canonically (statement order, indentation; comments kept).
    规则文件统一格式（语句顺序、缩进；保留注释）。"""
    from ..dsl.formatter import check_roundtrip, format_text

    files: list[Path] = []
    diags: list[Diagnostic] = []
    for t in targets:
        try:
            files += [f for f in _rule_files(t, roots) if f not in files]
        except PolicyError as e:
            diags += e.diagnostics
    changed: list[Path] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
            new = format_text(text, str(f))
        except UnicodeDecodeError:
            diags.append(Diagnostic("E020", "file is not valid utf-8", Loc(str(f), 1, 1)))
            continue
        except PolicyError as e:
            diags += e.diagnostics
            continue
        if new == text:
            continue
        why = check_roundtrip(text, new, str(f))
        if why:  # never write a file whose meaning or comments would change
            _err(f"internal error: formatting {f} is refused: {why}; please report it")
            raise typer.Exit(ExitCode.INTERNAL)
        changed.append(f)
        if check:
            typer.echo(f"would reformat {f}")
        else:
            f.write_text(new, encoding="utf-8")
            typer.echo(f"reformatted {f}")
    if diags:
        _err(render_human(diags))
    verb = "would be reformatted" if check else "reformatted"
    typer.echo(f"{len(files)} file(s) checked, {len(changed)} {verb}")
    if diags:
        raise typer.Exit(ExitCode.POLICY_ERROR)
    if check and changed:
        raise typer.Exit(ExitCode.FINDINGS)


# ------------------------------------------------------------------------------------ diff


def diff_cmd(
    a: str = typer.Argument(..., help="first bundle: name or folder"),
    b: str = typer.Argument(..., help="second bundle: name or folder"),
    as_json: bool = typer.Option(False, "--json", help="the differences as JSON"),
    roots: List[Path] = typer.Option(None, "--policy-root", help=ROOTS_HELP),
) -> None:
    """Show what differs between two bundles (exit 0 identical, 1 different, 3 load error).
    比较两个规则包（或同一规则包的两个版本）的差异。"""
    from ..engine.diagnostics import render_json
    from ..engine.diff import diff_bundles

    bundles = []
    diags: list[Diagnostic] = []
    for ref in (a, b):
        try:
            bundles.append(_load(ref, roots))
        except PolicyError as e:
            diags += e.diagnostics
    if diags:
        _err(render_json(diags) if as_json else render_human(diags))
        raise typer.Exit(ExitCode.POLICY_ERROR)
    d = diff_bundles(*bundles)
    typer.echo(d.render_json() if as_json else d.render_text(), nl=as_json)
    if not d.identical:
        raise typer.Exit(ExitCode.FINDINGS)


# ------------------------------------------------------------------------------------- doc


def doc_cmd(
    bundle: str = typer.Argument(..., help="bundle name or folder"),
    out: Path = typer.Option(..., "--out", "-o", help="folder to write the rulebook into"),
    fmt: str = typer.Option("md", "--format", "-f", help="md | html"),
    roots: List[Path] = typer.Option(None, "--policy-root", help=ROOTS_HELP),
) -> None:
    """Render the bundle as a readable rulebook in Chinese (Markdown or one HTML page).
    生成规则手册：规则、条款、参数取值表、结果等级、与上级规则包的差异。"""
    from ..engine.doc import FORMATS, write_rulebook

    if fmt not in FORMATS:
        _usage(f"unknown format `{fmt}`", "use one of: " + ", ".join(FORMATS))
    try:
        b = _load(bundle, roots)
        path = write_rulebook(b, out, fmt, _roots(roots))
    except PolicyError as e:
        _err(render_human(e.diagnostics))
        raise typer.Exit(ExitCode.POLICY_ERROR)
    typer.echo(f"wrote {path}")


# ------------------------------------------------------------------------------------ fork


def fork_cmd(
    parent: str = typer.Argument(..., help="parent bundle: name or folder"),
    name: str = typer.Argument(..., help="name of the new fork (lower case, e.g. zhengzhou)"),
    directory: Path = typer.Option(Path("."), "--dir",
                                   help="folder to create NAME in (default: current folder)"),
    title: Optional[str] = typer.Option(None, "--title", help="中文标题 of the fork"),
    roots: List[Path] = typer.Option(None, "--policy-root", help=ROOTS_HELP),
) -> None:
    """Create a fork folder DIR/NAME that extends PARENT and evaluates like it.
    生成一个继承上级规则包的分支包目录。"""
    from ..engine.scaffold import scaffold_fork

    extra = list(roots or ())
    if directory.resolve() not in [Path(r).resolve() for r in extra]:
        extra.append(directory)  # the new fork's folder is where the parent may live too
    try:
        sc = scaffold_fork(parent, name, directory, _roots(extra), title)
    except PolicyError as e:
        _err(render_human(e.diagnostics))
        code = ExitCode.POLICY_ERROR
        if any(d.loc.file == "<command line>" for d in e.diagnostics):
            code = ExitCode.DATA_ERROR
        raise typer.Exit(code)
    typer.echo(f"created fork `{name}` of `{sc.parent}` in {sc.path} (extends: {sc.extends})")
    for f in sc.files:
        typer.echo(f"  {f.relative_to(sc.path.parent)}")
    typer.echo(f"next: policy check {name} --policy-root {directory}")


def register(app: typer.Typer) -> None:
    """Add the authoring commands to the ``policy`` app."""
    app.command("fmt")(fmt_cmd)
    app.command("doc")(doc_cmd)
    app.command("diff")(diff_cmd)
    app.command("fork")(fork_cmd)
