"""One context manager: no cyclic garbage collection inside. For work that allocates many objects and makes
no cycles (recording a pass, building a folded view, a layered layout, decoding and drawing a trace): each
collection would rescan the caller's whole heap, hundreds of thousands of objects for a big pass."""

from __future__ import annotations

import gc
from types import TracebackType


class gc_paused:  # noqa: N801 - used like the function it replaced: `with gc_paused():`
    """Cyclic GC off inside, back on after if it was on (nesting is fine). A class, not a generator: a
    training loop enters it once per backward call."""

    __slots__ = ("_enabled",)

    def __enter__(self) -> None:
        self._enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._enabled:
            gc.enable()
