"""``policy report``: a periodic report (通报) rendered with the bundle's own template.

Input: a bundle, fact files (as for ``policy eval``), ``--period`` (``2025``, ``2025-H1``,
``2025-Q2``, ``2025-06``), ``--as-of``, ``--template`` (a name: ``templates/NAME.FORMAT.j2`` of
the bundle or its parents, most specific first), ``--format md|html``, ``--level`` filter,
``--out``. Output: the rendered report on stdout or in ``--out``; warnings, rejected records and
a summary line on stderr. Exit codes (``cli/exitcodes.py``): 0 written; 2 bad usage or input (bad
period or date, unknown level, format or template name, unreadable file); 3 the bundle or the
template does not load or render (located diagnostics).

All logic lives in :mod:`govsup.engine.report`; this module only parses and prints. It is
registered on the main app by :func:`register` (one line at the end of ``cli/main.py``).
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..engine.diagnostics import Diagnostic, PolicyError, render_human
from ..engine.loc import Loc
from .exitcodes import ExitCode

def _err(text: str) -> None:
    typer.echo(text, err=True)


def _usage_diag(d: Diagnostic) -> None:
    _err(render_human([d]))
    raise typer.Exit(ExitCode.DATA_ERROR)


def report_cmd(
    bundle: str = typer.Argument(..., help="bundle name (henan) or folder"),
    inputs: List[str] = typer.Argument(None, help="fact files: PATH or COLLECTION=PATH; - is stdin"),
    period: str = typer.Option(..., "--period", "-p",
                               help="reporting period: 2025 | 2025-H1 | 2025-Q2 | 2025-06"),
    as_of: Optional[str] = typer.Option(None, "--as-of",
                                        help="evaluation date (default: the period's last day, "
                                             "or today if earlier)"),
    template: str = typer.Option("bulletin", "--template", "-t",
                                 help="template name: the bundle's templates/NAME.FORMAT.j2"),
    fmt: str = typer.Option("md", "--format", "-f", help="md | html"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write to this file (default: stdout)"),
    level: Optional[str] = typer.Option(None, "--level",
                                        help="report only these levels, comma-separated "
                                             "(e.g. red_card,warning; default: all)"),
    group_by: str = typer.Option("department", "--group-by",
                                 help="record field naming the responsible unit"),
    input_format: Optional[str] = typer.Option(None, "--input-format",
                                               help="json | jsonl | csv | xlsx (default: by extension)"),
    fallback: bool = typer.Option(False, "--fallback-weekdays",
                                  help="treat unpublished calendar years as Monday–Friday (findings marked provisional)"),
    show_pii: bool = typer.Option(False, "--show-pii", help="do not mask ID numbers and phones"),
    roots: List[Path] = typer.Option(None, "--policy-root",
                                     help="extra folder(s) holding bundles (searched before the shipped ones)"),
) -> None:
    """Evaluate facts and render a period report (通报) with the bundle's template.

    Findings are counted in the period by their date; grouped by department, most red cards first.
    """
    # imported here: cli.main imports this module at its end, so import it lazily
    from ..engine import report as R
    from .main import _date, _fail_policy, _program, _read_inputs

    try:
        per = R.parse_period(period)
        if fmt not in R.FORMATS:
            raise R.ReportError(f"unknown report format `{fmt}`",
                                "use one of: " + ", ".join(R.FORMATS))
    except R.ReportError as e:
        _usage_diag(e.diagnostic())
    day = _date(as_of) if as_of is not None else min(per.end, _dt.date.today())
    program = _program(bundle, roots)
    try:
        # fail on a wrong template name or level before reading any data
        R.find_template(program.bundle.template_dirs, template, fmt, program.bundle.name)
        levels = R.parse_levels(program, level)
    except R.ReportError as e:
        _usage_diag(e.diagnostic())
    facts = _read_inputs(program, list(inputs or ["-"]), input_format)
    try:
        ctx, ev = R.build_context(program, facts, day, per, levels=levels, group_by=group_by,
                                  show_pii=show_pii, fallback_weekdays=fallback)
        text = R.render_report(program, ctx, template, fmt)
    except R.ReportError as e:
        _usage_diag(e.diagnostic())
    except PolicyError as e:
        _fail_policy(e)
    for w in ev.warnings:
        _err(f"warning: {w}")
    for r in ev.rejected:
        _err(f"rejected: {r.reason}")
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as e:
            _usage_diag(Diagnostic("E051", f"cannot write {out}: {e.strerror or e}".lower(),
                                   Loc(str(out))))
    rc = ctx["red_cards"]["total"]
    wn = ctx["warnings"]["total"]
    _err(f"{per.label}（{per.start}–{per.end}，截至 {day}）：红牌 {rc}，预警 {wn}，"
         f"共 {len(ctx['findings'])} 项，{len(ctx['departments'])} 个部门"
         + (f"；流程记录 {len(ctx['flows'])} 条" if ctx.get("flows") else "")
         + (f"；已写入 {out}" if out is not None else ""))


def register(app: typer.Typer) -> None:
    """Add ``policy report`` to the main app."""
    app.command("report")(report_cmd)
