"""Source locations.

Input: nothing. Output: :class:`Loc`, a value naming ``file:line:col`` (1-based). Locations are
carried by every AST node and every YAML key, and are excluded from the equality of the nodes that
carry them (declare the field with ``field(compare=False)``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Loc:
    file: str
    line: int = 0
    col: int = 0
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file

    def sort_key(self) -> tuple[str, int, int]:
        return (self.file, self.line, self.col)


NOWHERE = Loc("<unknown>")
