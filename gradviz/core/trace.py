"""The trace: plain, immutable, JSON-round-trippable data describing one run of a user's program.

Nothing here knows about torch or Qt. The capture code produces a `Trace`; the runner ships it between
processes as JSON; layout, replay, the CLI and the GUI only read it. The format is documented in
docs/trace-format.md and versioned by `SCHEMA`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

SCHEMA = "gradviz.trace/1"

RUN_STATUSES = ("ok", "error", "timeout", "cancelled")
PASS_CALLS = ("backward", "grad", "implicit")
NODE_KINDS = ("function", "leaf", "detached")
EDGE_KINDS = ("grad", "detached")


@dataclass(frozen=True)
class TensorSummary:
    """A tensor reduced to what a person reads: shape, dtype, small values, statistics."""

    shape: tuple[int, ...]
    dtype: str
    values: Any = None  # nested lists of numbers when numel <= 1024, else None
    stats: dict[str, Any] = field(default_factory=dict)  # min, max, mean, norm, nan, inf

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def to_dict(self) -> dict[str, Any]:
        finite = not (self.stats.get("nan") or self.stats.get("inf")) and "min" in self.stats
        return {"shape": list(self.shape), "dtype": self.dtype,
                "values": self.values if finite else _encode_floats(self.values),
                "stats": _encode_floats(self.stats)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorSummary:
        return cls(tuple(d["shape"]), d["dtype"], _decode_floats(d.get("values")),
                   _decode_floats(d.get("stats") or {}))


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised by the user's program (or by the runner on its behalf), pinned to a user line."""

    type: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "line": self.line}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ErrorInfo | None:
        return None if d is None else cls(d["type"], d["message"], d.get("line"))


@dataclass(frozen=True)
class Node:
    """One autograd node: a `grad_fn` (kind "function"), a leaf tensor's AccumulateGrad ("leaf"),
    or a node of a branch cut off by detach()/no_grad ("detached")."""

    id: str
    type: str
    kind: str
    names: tuple[str, ...] = ()
    line: int | None = None
    code: str | None = None
    module: str | None = None
    saved: dict[str, TensorSummary] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)  # non-tensor saved values (dim, alpha, sizes...)
    tensor: TensorSummary | None = None  # leaves: the leaf tensor itself

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "kind": self.kind, "names": list(self.names),
                "line": self.line, "code": self.code, "module": self.module,
                "saved": {k: v.to_dict() for k, v in self.saved.items()},
                "attrs": _encode_floats(self.attrs),
                "tensor": None if self.tensor is None else self.tensor.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Node:
        return cls(d["id"], d["type"], d["kind"], tuple(d.get("names") or ()), d.get("line"), d.get("code"),
                   d.get("module"), {k: TensorSummary.from_dict(v) for k, v in (d.get("saved") or {}).items()},
                   _decode_floats(d.get("attrs") or {}), _summary_or_none(d.get("tensor")))


@dataclass(frozen=True)
class Edge:
    """Gradient flows from `src` (closer to the output) to `dst` (closer to the leaves) via input `slot`."""

    src: str
    dst: str
    slot: int
    kind: str = "grad"
    cut: str | None = None  # how a detached edge was cut: "detach()", ".data", "no_grad", "inference_mode"
    cut_line: int | None = None  # the user's line where it was cut (`u = y.detach()`)

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.src, "to": self.dst, "slot": self.slot, "kind": self.kind, "cut": self.cut,
                "cut_line": self.cut_line}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Edge:
        return cls(d["from"], d["to"], d["slot"], d.get("kind", "grad"), d.get("cut"), d.get("cut_line"))


@dataclass(frozen=True)
class Step:
    """One node executed by the autograd engine, in engine order, with the gradients in and out."""

    node: str
    grad_outputs: tuple[TensorSummary | None, ...] = ()  # arriving at the node
    grad_inputs: tuple[TensorSummary | None, ...] = ()  # sent to next_functions, slot by slot

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "grad_outputs": [_summary_dict(t) for t in self.grad_outputs],
                "grad_inputs": [_summary_dict(t) for t in self.grad_inputs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        return cls(d["node"], tuple(_summary_or_none(t) for t in d.get("grad_outputs") or ()),
                   tuple(_summary_or_none(t) for t in d.get("grad_inputs") or ()))


@dataclass(frozen=True)
class LeafGrad:
    """A leaf's `.grad` just before and just after this pass accumulated into it."""

    node: str
    name: str | None
    before: TensorSummary | None
    after: TensorSummary | None

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "name": self.name, "before": _summary_dict(self.before),
                "after": _summary_dict(self.after)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LeafGrad:
        return cls(d["node"], d.get("name"), _summary_or_none(d.get("before")), _summary_or_none(d.get("after")))


@dataclass(frozen=True)
class Pass:
    """One backward call (`backward`, `autograd.grad`, or the implicit one gradviz adds): its graph as it
    stood when the call began, and what the engine did. `detail` is "summary" for passes whose graph and
    steps were dropped to keep long training loops small (line, status and leaf grads remain)."""

    call: str
    line: int | None
    status: str = "ok"
    error: ErrorInfo | None = None
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    steps: tuple[Step, ...] = ()
    leaf_grads: tuple[LeafGrad, ...] = ()
    roots: tuple[str, ...] = ()
    code: str | None = None
    note: str | None = None
    detail: str = "full"
    results: tuple[TensorSummary | None, ...] = ()  # what `autograd.grad` returned, input by input

    @cached_property
    def _by_id(self) -> dict[str, Node]:
        return {n.id: n for n in reversed(self.nodes)}  # reversed: the first node of an id wins, as before

    def node(self, node_id: str) -> Node:
        """The node with this id (a dict built on first use: stepping a 15,000-node pass looks nodes up
        several times per step)."""
        try:
            return self._by_id[node_id]
        except KeyError:
            raise KeyError(node_id) from None

    def to_dict(self) -> dict[str, Any]:
        return {"call": self.call, "line": self.line, "code": self.code, "status": self.status,
                "error": None if self.error is None else self.error.to_dict(), "note": self.note,
                "detail": self.detail, "roots": list(self.roots),
                "nodes": [n.to_dict() for n in self.nodes], "edges": [e.to_dict() for e in self.edges],
                "steps": [s.to_dict() for s in self.steps],
                "leaf_grads": [g.to_dict() for g in self.leaf_grads],
                "results": [_summary_dict(t) for t in self.results]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pass:
        return cls(call=d["call"], line=d.get("line"), status=d.get("status", "ok"),
                   error=ErrorInfo.from_dict(d.get("error")),
                   nodes=tuple(Node.from_dict(n) for n in d.get("nodes") or ()),
                   edges=tuple(Edge.from_dict(e) for e in d.get("edges") or ()),
                   steps=tuple(Step.from_dict(s) for s in d.get("steps") or ()),
                   leaf_grads=tuple(LeafGrad.from_dict(g) for g in d.get("leaf_grads") or ()),
                   roots=tuple(d.get("roots") or ()), code=d.get("code"), note=d.get("note"),
                   detail=d.get("detail", "full"),
                   results=tuple(_summary_or_none(t) for t in d.get("results") or ()))


@dataclass(frozen=True)
class Trace:
    """Everything one run of a program produced: its passes, its output, its error and final `.grad`s."""

    status: str = "ok"
    error: ErrorInfo | None = None
    stdout: str = ""
    stdout_bytes: int = 0  # total bytes printed, including what was dropped from the middle of `stdout`
    passes: tuple[Pass, ...] = ()
    final_grads: dict[str, TensorSummary] = field(default_factory=dict)
    filename: str | None = None
    duration: float | None = None  # seconds the program ran
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "status": self.status,
                "error": None if self.error is None else self.error.to_dict(),
                "filename": self.filename, "duration": self.duration,
                "stdout": self.stdout, "stdout_bytes": self.stdout_bytes,
                "passes": [p.to_dict() for p in self.passes],
                "final_grads": {k: v.to_dict() for k, v in self.final_grads.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        schema = d.get("schema")
        if schema != SCHEMA:
            raise ValueError(f"not a gradviz trace (schema {schema!r}, expected {SCHEMA!r})")
        return cls(status=d["status"], error=ErrorInfo.from_dict(d.get("error")), stdout=d.get("stdout", ""),
                   stdout_bytes=d.get("stdout_bytes", 0),
                   passes=tuple(Pass.from_dict(p) for p in d.get("passes") or ()),
                   final_grads={k: TensorSummary.from_dict(v) for k, v in (d.get("final_grads") or {}).items()},
                   filename=d.get("filename"), duration=d.get("duration"), schema=schema)

    def to_json(self, indent: int | None = None) -> str:
        """Strict JSON (no NaN/Infinity literals: non-finite floats are written as strings)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Trace:
        return cls.from_dict(json.loads(text))


_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode_floats(v: Any) -> Any:
    """Replace NaN/±Inf (anywhere in nested lists/dicts) with the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(v, float):
        if math.isfinite(v):
            return v
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, list | tuple):
        return [_encode_floats(x) for x in v]
    if isinstance(v, dict):
        return {k: _encode_floats(x) for k, x in v.items()}
    return v


_PLAIN = frozenset((float, int, bool, type(None)))  # what a number or flag decodes to: nothing to undo


def _decode_floats(v: Any) -> Any:
    """Undo `_encode_floats`. Plain numbers (almost all of a trace's statistics and values) are kept
    without a call each: a third less time than recursing into every one."""
    if isinstance(v, str):
        return _NONFINITE.get(v, v)
    if isinstance(v, list):
        return [x if x.__class__ in _PLAIN else _decode_floats(x) for x in v]
    if isinstance(v, dict):
        return {k: x if x.__class__ in _PLAIN else _decode_floats(x) for k, x in v.items()}
    return v


def _summary_dict(t: TensorSummary | None) -> dict[str, Any] | None:
    return None if t is None else t.to_dict()


def _summary_or_none(d: dict[str, Any] | None) -> TensorSummary | None:
    return None if d is None else TensorSummary.from_dict(d)
