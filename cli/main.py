"""The ``policy`` command line: a thin layer over the library.

Input: command-line arguments. Output: text on stdout/stderr and an exit code from
:class:`~govsup.cli.exitcodes.ExitCode`. Each command parses its arguments, calls the library
(``govsup.engine``) and prints; no rule logic lives here.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..engine.bundle import load_bundle, policy_roots
from ..engine.diagnostics import Diagnostic, PolicyError, render_human, render_json
from ..engine.evaluate import prepare
from ..engine.inputs import read_for_entity
from ..engine.loc import Loc
from ..engine.render import FORMATS, render, render_trace, summary_line
from .calendar_cmd import app as calendar_app
from .exitcodes import ExitCode

app = typer.Typer(name="policy", add_completion=False, no_args_is_help=True,
                  help="政务服务监督规则引擎 — policy-as-data engine for government-service "
                       "supervision.")
app.add_typer(calendar_app, name="calendar")

ROOTS_HELP = "extra folder(s) holding bundles (searched before the shipped ones)"


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _fail_policy(e: PolicyError, as_json: bool = False) -> None:
    _err(render_json(e.diagnostics) if as_json else render_human(e.diagnostics))
    code = ExitCode.POLICY_ERROR
    if any(d.code in ("E050", "E051", "E006") for d in e.diagnostics):
        code = ExitCode.DATA_ERROR
    raise typer.Exit(code)


def _usage(msg: str, hint: str = "") -> None:
    _err(render_human([Diagnostic("E051", msg, Loc("<command line>"), hint)]))
    raise typer.Exit(ExitCode.DATA_ERROR)


def _date(text: str | None) -> _dt.date:
    if text is None:
        return _dt.date.today()
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        _usage(f"`{text}` is not a date", "write dates as yyyy-mm-dd, e.g. 2025-01-31")


def _program(bundle: str, roots: list[Path]):
    try:
        return prepare(load_bundle(bundle, policy_roots(tuple(roots or ()))))
    except PolicyError as e:
        _fail_policy(e)


def _read_inputs(program, specs: list[str], fmt: str | None) -> dict[str, list]:
    """Each spec is `collection=path`, or a path whose file name (or JSON keys) names the
    collection(s); `-` reads standard input."""
    facts: dict[str, list] = {}
    for spec in specs:
        coll = None
        path = spec
        if "=" in spec and not Path(spec).exists():
            coll, path = spec.split("=", 1)
        if coll is not None and coll not in program.bundle.entities:
            from ..engine.diagnostics import did_you_mean

            _usage(f"unknown collection `{coll}`", did_you_mean(coll, program.bundle.entities) or
                   "collections: " + ", ".join(sorted(program.bundle.entities)))
        if path != "-" and not Path(path).exists():
            _usage(f"input file not found: {path}")
        ent = program.bundle.entities.get(coll or ("" if path == "-" else Path(path).stem))
        try:
            for it in read_for_entity(path, ent, collection=coll, fmt=fmt):
                facts.setdefault(it.collection, []).append(it)
        except PolicyError as e:
            _fail_policy(e)
    return facts


@app.command("eval")
def eval_cmd(
    bundle: str = typer.Argument(..., help="bundle name (henan) or folder"),
    inputs: List[str] = typer.Argument(None, help="fact files: PATH or COLLECTION=PATH; - is stdin"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="evaluation date (default: today)"),
    fmt: str = typer.Option("table", "--format", "-f", help="json | jsonl | table | markdown"),
    input_format: Optional[str] = typer.Option(None, "--input-format",
                                               help="json | jsonl | csv | xlsx (default: by extension)"),
    explain: bool = typer.Option(False, "--explain", help="print every binding and condition"),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="exit 1 if a finding at or above this level exists"),
    fallback: bool = typer.Option(False, "--fallback-weekdays",
                                  help="treat unpublished calendar years as Monday–Friday (findings marked provisional)"),
    show_pii: bool = typer.Option(False, "--show-pii", help="do not mask ID numbers and phones"),
    roots: List[Path] = typer.Option(None, "--policy-root", help=ROOTS_HELP),
    jobs: int = typer.Option(0, "--jobs", "-j", help="worker processes for streaming (0 = all cores)"),
) -> None:
    """Evaluate facts with a bundle and print the dated findings.

    With `--format jsonl` and a large `COLLECTION=file.jsonl` whose rules read it record by
    record, the file is streamed through worker processes: memory stays flat and findings are
    written in input order."""
    if fmt not in FORMATS:
        _usage(f"unknown format `{fmt}`", "use one of: " + ", ".join(FORMATS))
    program = _program(bundle, roots)
    if fmt == "jsonl" and not explain and fail_on is None:
        if _maybe_stream(program, bundle, list(inputs or []), _date(as_of), roots, jobs,
                         fallback, show_pii):
            return
    if fail_on is not None and fail_on not in program.bundle.levels:
        from ..engine.diagnostics import did_you_mean

        _usage(f"unknown level `{fail_on}`", did_you_mean(fail_on, program.bundle.levels) or
               "levels: " + ", ".join(program.bundle.levels))
    day = _date(as_of)
    facts = _read_inputs(program, list(inputs or ["-"]), input_format)
    try:
        ev = program.evaluate(facts, day, explain=explain, fallback_weekdays=fallback)
    except PolicyError as e:
        _fail_policy(e)
    sys.stdout.write(render(ev, fmt, show_pii))
    if explain:
        _err(render_trace(ev, show_pii))
    for w in ev.warnings:
        _err(f"warning: {w}")
    for r in ev.rejected:
        _err(f"rejected: {r.reason}")
    if fmt in ("json", "jsonl"):
        _err(summary_line(ev))
    if fail_on is not None:
        threshold = program.bundle.levels[fail_on].severity
        if any(f.severity >= threshold for f in ev.findings):
            raise typer.Exit(ExitCode.FINDINGS)


def _maybe_stream(program, bundle, specs, day, roots, jobs, fallback, show_pii) -> bool:
    """Stream the one JSONL input that every rule reading it can take record by record."""
    from ..engine.stream import evaluate_stream, stream_plan
    from ..engine.stream import summary_line as stream_summary_line

    pairs = []
    for spec in specs:
        if "=" not in spec or Path(spec).exists():
            return False
        coll, path = spec.split("=", 1)
        if coll not in program.bundle.entities or not Path(path).exists():
            return False
        pairs.append((coll, path))
    big = [(c, p) for c, p in pairs if p.endswith((".jsonl", ".ndjson"))
           and not program.bundle.entities[c].reference]
    if len(big) != 1:
        return False
    coll, path = big[0]
    ok, blocked = stream_plan(program, coll)
    if blocked or not ok:
        return False
    refs = [(c, p) for c, p in pairs if c != coll]
    # rules that do not read the streamed collection run once over the other collections
    rest = _read_inputs(program, [f"{c}={p}" for c, p in refs], None)
    ev = program.evaluate(rest, day, fallback_weekdays=fallback)
    sys.stdout.write(render(ev, "jsonl", show_pii))
    summary, rejected, warnings = evaluate_stream(
        bundle, coll, path, refs, day, sys.stdout, roots=tuple(roots or ()),
        jobs=jobs or None, fallback=fallback, show_pii=show_pii)
    for w in warnings:
        _err(f"warning: {w}")
    for r in rejected:
        _err(f"rejected: {r.reason}")
    _err(stream_summary_line(summary, coll, summary.findings + ev.summary.findings))
    return True


@app.command("check")
def check_cmd(
    bundle: str = typer.Argument(..., help="bundle name or folder"),
    as_json: bool = typer.Option(False, "--json", help="diagnostics as JSON"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="date for the calendar-coverage warning (default: today)"),
    show_compiled: bool = typer.Option(False, "--show-compiled", help="print the generated code"),
    roots: List[Path] = typer.Option(None, "--policy-root", help=ROOTS_HELP),
) -> None:
    """Load, check and compile a bundle and its parents; report every problem at once."""
    try:
        program = prepare(load_bundle(bundle, policy_roots(tuple(roots or ()))))
        cal = program.calendar()
    except PolicyError as e:
        _fail_policy(e, as_json)
    warnings = []
    w = cal.coverage_warning(_date(as_of))
    if w is not None:
        warnings.append(w)
    if as_json:
        typer.echo(render_json(warnings))
    elif warnings:
        _err(render_human(warnings))
    if show_compiled:
        for r in program.rules:
            typer.echo(f"# rule {r.rule.id}\n{r.source}")
    if not as_json:
        b = program.bundle
        chain = " → ".join(layer.name for layer in b.chain)
        typer.echo(f"ok: {b.name} {b.version} ({chain}): {len(program.rules)} rules, "
                   f"{len(b.params)} parameters, {len(b.levels)} levels, "
                   f"{len(b.entities)} collections, {len(b.disabled)} disabled"
                   + (f", {len(b.workflows)} workflows" if b.workflows else ""))


@app.command("test")
def test_cmd(
    bundle: str = typer.Argument(..., help="bundle name or folder"),
    only: Optional[str] = typer.Option(None, "-k", help="run only cases whose name contains this"),
    verbose: bool = typer.Option(False, "-v", help="list every case"),
    roots: List[Path] = typer.Option(None, "--policy-root", help=ROOTS_HELP),
) -> None:
    """Run the bundle's test cases (and, for a fork, its parents' cases)."""
    from ..engine.testing import run_tests

    program = _program(bundle, roots)
    try:
        results = run_tests(program, only)
    except PolicyError as e:
        _fail_policy(e)
    failed = [r for r in results if not r.passed]
    skipped = [r for r in results if r.skipped]
    for r in results:
        if not r.passed:
            typer.echo(f"FAIL {r.loc}: [{r.bundle}] {r.name}")
            for p in r.problems:
                typer.echo(f"    {p}")
        elif verbose:
            tag = f"SKIP ({r.skipped})" if r.skipped else "ok"
            typer.echo(f"{tag:>4} [{r.bundle}] {r.name}")
    passed = len(results) - len(failed) - len(skipped)
    typer.echo(f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped")
    if failed:
        raise typer.Exit(ExitCode.FINDINGS)


@app.command("schema")
def schema_cmd(
    out: Path = typer.Argument(Path("schemas"), help="folder to write the JSON Schemas into"),
) -> None:
    """Write the JSON Schemas of every bundle file kind and of the evaluation output."""
    from ..engine.findings import Evaluation
    from ..engine.schema import schema, schema_kinds

    out.mkdir(parents=True, exist_ok=True)
    for kind in schema_kinds():
        # the written file's own name as `$id`: editors (VS Code's YAML extension) resolve the
        # schema's `#/$defs/...` references against the file, not against an unfetchable URI
        sch = dict(schema(kind), **{"$id": f"{kind}.schema.json"})
        (out / f"{kind}.schema.json").write_text(
            json.dumps(sch, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "evaluation.schema.json").write_text(
        json.dumps(Evaluation.model_json_schema(), ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8")
    typer.echo(f"wrote {len(schema_kinds()) + 1} schemas to {out}")


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        raise SystemExit(130)
    except Exception as exc:  # an engine bug: say so plainly, keep the traceback out of the way
        _err(f"internal error: {type(exc).__name__}: {exc}\n"
             "this is a bug in govsup, not in your policy or data; please report it with the input")
        raise SystemExit(ExitCode.INTERNAL)


if __name__ == "__main__":
    main()
from .report_cmd import register as _register_report; _register_report(app)
from .authoring import register as _register_authoring; _register_authoring(app)
