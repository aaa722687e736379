"""govsup — a declarative policy-as-data engine for government-service supervision.

Pipeline (each stage is a module callable on its own):

    grammar (dsl/grammar.lark) → parse (dsl.parser) → AST (dsl.ast, frozen dataclasses)
    → resolve (engine.bundle: manifests, forks, dated parameters)
    → check (dsl.checker: names, types) → compile (dsl.compiler: closures)
    → evaluate (engine.evaluate: facts → findings) → render (engine.render)

The small public API is re-exported here.
"""

__version__ = "0.1.0"

from govsup.engine.bundle import Bundle, load_bundle, policy_roots  # noqa: E402
from govsup.engine.diagnostics import Diagnostic, PolicyError  # noqa: E402
from govsup.engine.evaluate import Program, load_program, prepare  # noqa: E402
from govsup.engine.findings import Evaluation, Finding  # noqa: E402

__all__ = ["Bundle", "Diagnostic", "Evaluation", "Finding", "PolicyError", "Program",
           "load_bundle", "load_program", "policy_roots", "prepare"]
