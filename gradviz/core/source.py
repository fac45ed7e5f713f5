"""The files a run reads and writes: the program, read as Python itself reads it (a UTF-8 BOM from Windows
Notepad or a `# -*- coding: ... -*-` line honoured, UTF-8 otherwise), and the folder its output goes into."""

from __future__ import annotations

import tokenize
from pathlib import Path


def read_program(path: str | Path) -> str:
    """The text of the Python file at `path`. Raises OSError, or UnicodeDecodeError / SyntaxError (a bad
    coding line) when the bytes are not text in the encoding the file declares."""
    with tokenize.open(path) as f:
        return f.read()


def prepare_output(path: str | Path) -> str | None:
    """Make the folder `path` goes into, before the program runs (a long run's result is not lost to a
    missing folder): None when it is there, else the one-line reason it cannot be."""
    try:
        Path(path).resolve().parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"cannot write {path}: {e.strerror or e}"
    return None
