"""Reading a program's file as Python itself would: a UTF-8 BOM (Windows Notepad) or a `# -*- coding: ... -*-`
line is honoured, UTF-8 otherwise."""

from __future__ import annotations

import tokenize
from pathlib import Path


def read_program(path: str | Path) -> str:
    """The text of the Python file at `path`. Raises OSError, or UnicodeDecodeError / SyntaxError (a bad
    coding line) when the bytes are not text in the encoding the file declares."""
    with tokenize.open(path) as f:
        return f.read()
