"""Qt-free core of gradviz: capture a program's autograd graph into a `Trace`, run it safely, lay it out."""

from gradviz.core.trace import SCHEMA, Edge, ErrorInfo, LeafGrad, Node, Pass, Step, TensorSummary, Trace

__all__ = ["SCHEMA", "Edge", "ErrorInfo", "LeafGrad", "Node", "Pass", "Step", "TensorSummary", "Trace"]
