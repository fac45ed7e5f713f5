"""Qt-free core of gradviz: capture a program's autograd graph into a `Trace`, run it safely, lay it out."""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA", "Edge", "ErrorInfo", "LeafGrad", "Node", "Pass", "Step", "TensorSummary", "Trace"]


def __getattr__(name: str) -> Any:
    """The trace classes, imported on first use: `gradviz render` imports `gradviz.core.runner` to spawn its
    worker, and defining the trace dataclasses first would delay that by ~15 ms."""
    if name in __all__:
        from gradviz.core import trace

        return getattr(trace, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
