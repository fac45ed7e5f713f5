"""One context manager: no cyclic garbage collection inside. For work that allocates many objects and makes
no cycles (recording a pass, building a folded view, a layered layout, decoding and drawing a trace): each
collection would rescan the caller's whole heap, hundreds of thousands of objects for a big pass."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic GC off inside, back on after if it was on (nesting is fine)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
