"""The rule DSL: grammar, parser, AST, checker and compiler (imported as ``govsup.dsl``)."""
