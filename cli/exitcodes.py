"""Exit codes of the ``policy`` command (documented in docs/cli.md)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success; no finding at or above --fail-on; all tests passed; no difference
    FINDINGS = 1  # --fail-on reached, a bundle test failed, or `diff`/`fmt --check` found changes
    DATA_ERROR = 2  # bad input data or command-line usage (a malformed record does NOT cause it)
    POLICY_ERROR = 3  # the bundle does not load or check (file:line:col diagnostics printed)
    INTERNAL = 4  # a bug in the engine: please report it with the input
