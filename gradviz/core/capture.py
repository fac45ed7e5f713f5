"""Runs a user's PyTorch program in this process and records its autograd graph and backward steps.

How it watches, cheaply and without changing results:
- a `TorchFunctionMode` tags every new `grad_fn` with the user line (and `nn.Module`) that created it, and
  notes tensors cut off from the graph by `detach()`, `.data`, `no_grad` or `inference_mode`;
- `torch.autograd.backward` / `torch.autograd.grad` are wrapped: each call made from the user's file is one
  *pass*; the graph reachable from its roots is snapshotted before the engine runs, and the engine's own node
  pre hooks record every step in the order the engine executes them (the gradient a node sends along an edge
  is what the receiving node gets; a post hook only where an input sums several edges).
Node identity lives in each node's `metadata` dict (stored on the C++ node), so it is stable across passes
and never confused by Python reusing `id()`s. Leaves are identified by their tensor.
This module is the in-process half; `gradviz.core.runner` runs it in a worker process.
"""

from __future__ import annotations

import ast
import bisect
import io
import itertools
import os
import sys
import threading
import time
import types
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, cast

import torch
from torch.autograd.graph import get_gradient_edge
from torch.overrides import TorchFunctionMode

from gradviz.core.gc_pause import gc_paused
from gradviz.core.summary import PLAIN_TENSORS, SummaryMemo, summarize
from gradviz.core.trace import Edge, ErrorInfo, LeafGrad, Node, Pass, Step, TensorSummary, Trace

EventSink = Callable[[dict[str, Any]], None]

_META_KEY = "gradviz"  # node metadata: {"id", "line", "module", "final"}
_CUTS_KEY = "gradviz.cuts"  # node metadata: inputs that were cut off: [(slot, origin, how, line)]
_THIS_FILE = __file__
_TENSOR_BACKWARD_FILE = torch._tensor.__file__
_OVERRIDES_FILE = torch.overrides.__file__
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_ORIGINAL_BACKWARD = torch.autograd.backward
_ORIGINAL_GRAD = torch.autograd.grad
_DATA_GETTER = torch.Tensor.data.__get__  # type: ignore[attr-defined]  # the getset's getter, as the mode sees it
_DATA_SETTER = torch.Tensor.data.__set__  # type: ignore[attr-defined]
_REGISTER_HOOK = torch.Tensor.register_hook
_HOOKED_KEY = "gradviz.hooked"  # node metadata: the user hooked the tensor it makes (its gradient may change)
_INPLACE_DUNDERS = frozenset({"__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__",
                              "__ipow__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__",
                              "__imatmul__", "__setitem__"})
_ORIGINAL_APPLY = torch.autograd.Function.__dict__["apply"]
_next_seq = torch._C._autograd._get_sequence_nr  # the sequence number the next autograd node will get
_detach = torch.Tensor.detach
_NO_TORCH_FUNCTION = torch._C.DisableTorchFunction
_ARRIVES_AS_GRAD: tuple[Any, ...] = ("arrives as .grad",)  # a leaf step whose gradient is read after the engine
_NOTHING_SAVED: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
_SEQUENCES = (tuple, list)


@dataclass(frozen=True)
class CaptureOptions:
    """Knobs of one capture. `keep_first`: passes whose full graph and steps are kept, and the last pass too
    unless `keep_last` is off; the others keep line, status and leaf gradients. Every pass beyond
    `keep_first` is recorded tentatively in case it is the last (hooks and saved values; nodes and edges are
    made for the last one only); without `keep_last` they are not (no hooks: a long training loop runs about
    a quarter faster)."""

    keep_first: int = 10
    keep_last: bool = True
    values_limit: int = 1024
    stdout_limit: int = 64 * 1024
    ghost_limit: int = 200  # nodes shown per cut-off branch
    saved: bool = True  # record saved tensors (the inspector shows them; a picture does not)
    hold_bytes: int = 192 * 2**20  # tensors kept for summarising later; beyond this, passes are summarised now


def run_program(source: str, filename: str = "<program>", *, root: str | None = None,
                options: CaptureOptions | None = None, on_event: EventSink | None = None) -> Trace:
    """Run `source` as `__main__` in a fresh namespace and return its `Trace`. Exceptions of the program
    (including `SystemExit`) end up in the trace, never propagate."""
    return _Capture(source, filename, options or CaptureOptions(), on_event).run(root)


# --------------------------------------------------------------------------------------------- output


class BoundedOutput(io.TextIOBase):
    """A text stream that keeps the first and last `limit` bytes of what is written, counts the rest,
    and forwards each write to an event sink."""

    def __init__(self, limit: int, sink: EventSink | None) -> None:
        self._limit = limit
        self._sink = sink
        self._head: list[str] = []
        self._head_bytes = 0
        self._tail: list[bytes] = []
        self._tail_bytes = 0
        self.total_bytes = 0
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if not s:
            return 0
        data = s.encode("utf-8", "replace")
        with self._lock:
            self.total_bytes += len(data)
            if self._head_bytes < self._limit:
                part = data[: self._limit - self._head_bytes]
                self._head.append(part.decode("utf-8", "ignore"))
                self._head_bytes += len(part)
                data = data[len(part):]
            if data:
                self._tail.append(data)
                self._tail_bytes += len(data)
                while len(self._tail) > 1 and self._tail_bytes - len(self._tail[0]) >= self._limit:
                    self._tail_bytes -= len(self._tail.pop(0))
        if self._sink is not None:
            self._sink({"event": "stdout", "text": s})
        return len(s)

    def text(self) -> str:
        """What is kept: head, then (if anything was dropped) a marker, then tail trimmed to the limit."""
        head = "".join(self._head)
        tail = b"".join(self._tail)
        if self._head_bytes + len(tail) <= 2 * self._limit and self.total_bytes == self._head_bytes + len(tail):
            return head + tail.decode("utf-8", "replace")
        kept = tail[-self._limit:]
        dropped = self.total_bytes - self._head_bytes - len(kept)
        return f"{head}\n[... {dropped} bytes of output not kept ...]\n{kept.decode('utf-8', 'ignore')}"


# --------------------------------------------------------------------------------------------- recording


@dataclass
class _NodeRec:
    """A node as snapshotted for one pass, before its values are summarised."""

    id: str
    type: str
    kind: str
    line: int | None
    module: str | None
    saved: dict[str, Any]  # name -> tensor (summarised at the end of the pass) or TensorSummary
    attrs: dict[str, Any]
    tensor: Any = None  # leaf value (tensor or TensorSummary)
    hint: str | None = None
    outputs: int = 0  # gradients the node sends (its next_functions, including the None ones)
    hooked: bool = False  # a user's tensor hook may change what arrives before the node's pre hook sees it


@dataclass(slots=True)
class _StepRec:
    """One node run by the engine. `grad_inputs` (what it sent along each edge) is None until known: from a
    post hook where an edge's gradient is summed with others', else from the receiving nodes' pre hooks."""

    node: str
    grad_outputs: tuple[Any, ...]
    grad_inputs: tuple[Any, ...] | None = None


@dataclass(slots=True)
class _Bare:
    """A pass beyond `keep_first` as recorded while it runs: only what the engine is about to free or what
    the program may change next (saved values, leaves' hooks). Its nodes get ids, lines and edges only if it
    turns out to be the last pass (`_Capture._expand`); otherwise it is dropped when the next pass begins."""

    root_ids: tuple[str, ...]
    start: list[Any]  # the roots' nodes, where the walk starts
    fns: list[tuple[str, Any]]  # (label, node) in walk order: "#k" for a function, its id for a leaf
    saved: dict[str, tuple[dict[str, Any], dict[str, Any]]]  # label -> (saved tensors, other saved values)
    hooked_leaves: set[str]  # leaves whose tensor had a hook when the pass ran


@dataclass
class _PassRec:
    """Everything recorded for one pass while it runs; `build()` turns it into a `Pass`."""

    index: int
    call: str
    line: int | None
    code: str | None
    memo: SummaryMemo  # the capture's own: summaries of live tensors, shared by all its passes
    note: str | None = None
    status: str = "ok"
    error: ErrorInfo | None = None
    nodes: dict[str, _NodeRec] | None = None
    edges: list[tuple[Any, ...]] | None = None  # Edge fields, then the receiving node's input number
    roots: tuple[str, ...] = ()
    steps: list[_StepRec] = field(default_factory=list)
    leaf_before: dict[str, TensorSummary | None] = field(default_factory=dict)
    leaf_after: dict[str, TensorSummary | None] = field(default_factory=dict)
    names: dict[str, list[str]] | None = None
    results: tuple[Any, ...] = ()
    leaf_steps: list[_StepRec] = field(default_factory=list)
    leaf_vars: dict[str, Any] = field(default_factory=dict)  # leaf id -> its tensor, for `.grad` after the pass
    sent: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # node id -> grad_inputs from a post hook
    hooked: list[Any] = field(default_factory=list)  # [this record] while the pass runs: what hooks reach
    partial: bool = False  # grad() or backward(inputs=...): some leaves' nodes may not run
    cache: dict[int, tuple[Any, TensorSummary]] | None = None  # id -> (tensor kept alive, its summary)
    held_bytes: int = 0
    frozen: dict[int, tuple[Any, Any, Any]] = field(default_factory=dict)  # id -> (tensor, its values, dtype)
    watch_keys: list[int] = field(default_factory=list)
    bare: _Bare | None = None  # a tentative pass: nodes and edges not made yet

    def summ(self, t: Any, values_limit: int) -> TensorSummary | None:
        """Summarise once per tensor object within this pass (grads flow as the same tensor in and out)."""
        if t is None or isinstance(t, TensorSummary):
            return t
        if self.cache is None:
            self.cache = {}
        hit = self.cache.get(id(t))
        if hit is None:
            frozen = self.frozen.get(id(t))
            if frozen is not None and frozen[0] is t:
                hit = self.cache[id(t)] = (t, summarize(torch.tensor(frozen[1], dtype=frozen[2]), values_limit))
                return hit[1]
            hit = self.cache[id(t)] = (t, self.memo.summarize(t, values_limit))
        return hit[1]

    def freeze(self, t: Any, values_limit: int) -> None:
        """`t` is about to change in place: keep its value now, its numbers when it is tiny (a scalar parameter
        before an optimizer step: they cost a fraction of a summary, and a pass no longer last never needs
        one), else its summary."""
        if t.numel() > _FREEZE_NUMEL:
            self.summ(t, values_limit)
        elif self.cache is None or id(t) not in self.cache:
            # its numbers as Python values (a fifth of a tensor copy's cost), made a tensor again if needed
            self.frozen[id(t)] = (t, t.tolist(), t.dtype)

    def release(self) -> None:
        """Stop keeping the summarised tensors alive. The memo still knows their summaries while they live
        unchanged (a gradient sent by one node arrives at the next as the same tensor — unless the engine, no
        longer blocked by our reference, has added another contribution into it in place: it checks the
        version)."""
        self.cache = None


class _Capture:
    """One run of one program: installs the watchers, runs the code, removes them, builds the trace."""

    # Passes beyond keep_first record only what the engine frees (saved values) and their steps, and get
    # nodes and edges only if they are the last (`_expand`); off, they are snapshotted in full as they run.
    tentative = True

    def __init__(self, source: str, filename: str, options: CaptureOptions, on_event: EventSink | None) -> None:
        self.source = source
        self.filename = filename
        self.options = options
        self.on_event = on_event
        self.lines = source.splitlines()
        self.assign_targets = _assignment_targets(source)
        # A real module registered as __main__, so pickling (multiprocessing, torch.save) finds the program's
        # own functions and classes.
        self.module = types.ModuleType("__main__")
        self.namespace: dict[str, Any] = self.module.__dict__
        self._uids = itertools.count(1)  # next() is atomic: user threads take ids too
        self._leaf_ids: dict[int, tuple[weakref.ref[torch.Tensor], str]] = {}
        self._leaf_names: dict[str, str] = {}  # leaf id -> the first name it was seen under
        self._leaf_lines: dict[int, tuple[weakref.ref[torch.Tensor], int | None]] = {}
        # detached tensor -> (it, its origin: a node or a leaf's weakref, how it was cut, the line)
        self._cut: dict[int, tuple[weakref.ref[torch.Tensor], Any, str, int | None]] = {}
        self._module_stack: list[torch.nn.Module] = []
        self._module_names: dict[int, str] = {}
        self._last_tag: tuple[int, int | None, int, dict[str, Any]] | None = None  # frame id, line, lasti, meta
        self._main_thread = threading.get_ident()
        self._span_starts: list[int] = []
        self._spans: list[list[Any]] = []  # [first seq, end seq, line, module, final], in sequence order
        # the frame (its id), line and instruction of the op that made the last span: consecutive ops of one
        # statement share a span
        self._span_frame: int | None = None
        self._span_line: int | None = None
        self._span_lasti = -1
        # whether the last span was made inside a library call (an nn.Module's forward) that the user's
        # statement has not returned from yet: the next op of that call makes it not the value assigned
        self._span_inside = False
        self._unrecorded_calls = 0  # backward/grad calls torch made itself, or made outside the program
        self._local = threading.local()
        self._lock = threading.RLock()
        self._type_saved_attrs: dict[type, list[str]] = {}
        self._lines: dict[int, tuple[types.CodeType, dict[int, int | None]]] = {}  # id(code) -> (code, lasti -> line)
        # Passes in call order. Raw records keep references (and clones of what user code may change) and
        # are summarised lazily: statistics of every tensor cost more than the backward itself.
        self._records: list[_PassRec | Pass] = []
        self._held_bytes = 0
        # storage -> pass index -> (the pass, the tensors on that storage it holds by reference)
        self._watched: dict[int, dict[int, tuple[_PassRec, list[torch.Tensor]]]] = {}
        self._memo = SummaryMemo()
        self._summarize = self._memo.summarize

    # ---------------------------------------------------------------- the run

    def run(self, root: str | None) -> Trace:
        out = BoundedOutput(self.options.stdout_limit, self.on_event)
        status, error = "ok", None
        started = time.perf_counter()
        try:
            code = compile(self.source, self.filename, "exec")
        except SyntaxError as e:
            return Trace(status="error", error=ErrorInfo(type(e).__name__, e.msg or str(e), e.lineno),
                         filename=self.filename, duration=0.0)
        self.namespace.update({"__file__": self.filename, "__builtins__": __builtins__})
        old_out, old_err, old_main = sys.stdout, sys.stderr, sys.modules.get("__main__")
        sys.stdout = sys.stderr = out
        sys.modules["__main__"] = self.module
        try:
            with self._watching():
                try:
                    exec(code, self.namespace)
                except SystemExit as e:
                    if e.code not in (None, 0):
                        status, error = "error", ErrorInfo(
                            "SystemExit", f"the program called sys.exit({e.code!r})", self._error_line(e))
                except BaseException as e:  # noqa: BLE001 - the user's error is data here
                    status, error = "error", self._error_info(e)
                final_grads = self._final_grads()
                # no implicit pass after a backward the program made but that was not recorded (its graph
                # is freed: the pass would only fail); a program that raised gets one too: the graph it had
                # built when it failed is what its author wants to see
                quiet = not self._records and not self._unrecorded_calls
                if root is not None or quiet and (error is None or error.type != "SystemExit"):
                    self._implicit_pass(root)
        finally:
            sys.stdout, sys.stderr = old_out, old_err
            if old_main is not None:
                sys.modules["__main__"] = old_main
        duration = time.perf_counter() - started
        with gc_paused():  # the passes still held become records: many objects, no garbage
            passes = self._add_final_names(
                [r if isinstance(r, Pass) else self._build(r, full=True) for r in self._records])
        return Trace(status=status, error=error, stdout=out.text(), stdout_bytes=out.total_bytes,
                     passes=tuple(passes), final_grads=final_grads, filename=self.filename, duration=duration)

    def _error_line(self, e: BaseException) -> int | None:
        line = None
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        return line

    def _error_info(self, e: BaseException) -> ErrorInfo:
        message = str(e)
        kind = type(e).__name__
        if isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and (
                "can't allocate memory" in message or "DefaultCPUAllocator" in message)):
            kind, message = "MemoryError", f"out of memory: {message or 'allocation failed'}"
        return ErrorInfo(kind, message, self._error_line(e))

    # ---------------------------------------------------------------- watchers

    class _Mode(TorchFunctionMode):
        def __init__(self, capture: _Capture, main: bool = False) -> None:
            super().__init__()
            self.capture = capture
            self.main = main  # the mode stack is per thread: this one watches the program's main thread

        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
            kind = _FUNC_KINDS.get(func)
            if kind is None:
                kind = _classify(func)
            capture = self.capture
            if kind == _GETTER:  # `.grad`, `.shape`: no cut; `.T`, `.mT` make nodes
                seq = _next_seq()
                out = func(*args, **kwargs) if kwargs else func(*args)
                if _next_seq() != seq:
                    capture._on_op(kind, args, kwargs, out, seq)
                return out
            if kwargs:
                if capture._watched and (kind == _MUTATES or "out" in kwargs):
                    capture._before_mutation(args, kwargs)
                seq = _next_seq()
                out = func(*args, **kwargs)
            else:
                if kind == _MUTATES and capture._watched:
                    capture._before_mutation(args, kwargs)
                seq = _next_seq()
                out = func(*args)
            if out is None:
                return out
            if kind == _DATA and isinstance(out, torch.Tensor):
                capture._memo.distrust(out)  # what changes through it bumps no version the memo could check
            if self.main and not capture._cut:
                if _next_seq() != seq:
                    capture._add_span(seq)  # the common case: nodes, tagged lazily from this span
                    return out
                if not kwargs and type(out) in PLAIN_TENSORS and not out.requires_grad and _no_grad_inputs(args):
                    return out  # no node, no new leaf, and nothing it could have cut off (`lr * p.grad`)
            capture._on_op(kind, args, kwargs, out, seq)
            return out

    def _watching(self) -> _Watching:
        return _Watching(self)

    def _statement_frame(self, frame: Any) -> tuple[Any, bool]:
        """The user's frame whose statement an op outside the user's file belongs to, and whether the op ran
        inside a library call that statement made (an nn.Module's forward, not just gradviz's own wrappers)."""
        inside = False
        filename = self.filename
        if frame.f_code.co_filename == _OVERRIDES_FILE and frame.f_back is not None:
            # a torch function written in Python (F.multi_head_attention_forward) reached the mode whole
            # through handle_torch_function: one op of whoever called it
            frame = frame.f_back.f_back
        while frame is not None and frame.f_code.co_filename != filename:
            inside = inside or frame.f_code.co_filename != _THIS_FILE
            frame = frame.f_back
        return frame, inside

    def _user_frame(self, depth: int = 2) -> Any:
        """The innermost frame running the user's file, or None."""
        f: types.FrameType | None = sys._getframe(depth)
        filename = self.filename
        while f is not None and f.f_code.co_filename != filename:
            f = f.f_back
        return f

    def _line_at(self, code: types.CodeType, lasti: int) -> int | None:
        """The line of instruction `lasti` in `code`, remembered: `frame.f_lineno` scans the code's line table
        from its start each time (~6 us per op in a loop after 600 lines of top-level code)."""
        entry = self._lines.get(id(code))
        if entry is None or entry[0] is not code:
            entry = self._lines[id(code)] = (code, {})
        lines = entry[1]
        line = lines.get(lasti, -1)
        if line == -1:
            line = lines[lasti] = _line_of(code, lasti)
        return line

    def _code(self, line: int | None) -> str | None:
        if line is None or not (0 < line <= len(self.lines)):
            return None
        return self.lines[line - 1].strip()

    def _module_name(self) -> str | None:
        if not self._module_stack:
            return None
        mod = self._module_stack[-1]
        name = self._module_names.get(id(mod))
        if name is None:
            outer = self._module_stack[0]
            prefix = next((k for k, v in list(self.namespace.items()) if v is outer and not k.startswith("_")),
                          type(outer).__name__)
            for sub, m in outer.named_modules(prefix=prefix):
                self._module_names.setdefault(id(m), sub)
            name = self._module_names.get(id(mod), type(mod).__name__)
        return name

    def _on_op(self, kind: int, args: tuple[Any, ...], kwargs: dict[str, Any] | None, out: Any,
               seq: int) -> None:
        """After every torch function: note the line and module of the graph nodes it made (`seq` is the
        autograd sequence number before it ran); track cut tensors and new leaves."""
        main = threading.get_ident() == self._main_thread
        if main and _next_seq() != seq:
            self._add_span(seq)
        if kind == _TENSOR_HOOK:
            fn = getattr(args[0], "grad_fn", None) if args else None
            if fn is not None:  # the hook may change the gradient before the node's pre hook sees it
                fn.metadata[_HOOKED_KEY] = True
            return
        if isinstance(out, torch.Tensor):
            fn = out.grad_fn
            if fn is not None and not self._cut and main:
                return  # the common case: a node, tagged lazily from the span just added
            outs: Iterable[Any] = (out,)
        elif isinstance(out, tuple | list):
            outs = [o for o in out if isinstance(o, torch.Tensor)]
            if not outs:
                return
        else:
            return
        inputs = None
        for o in outs:
            fn = o.grad_fn
            if fn is not None:
                if not main:  # sequence numbers are per thread: tag nodes made in user threads directly
                    self._tag_new(fn)
                if self._cut:
                    inputs = inputs if inputs is not None else _tensor_args(args, kwargs)
                    self._note_consumer(fn, inputs)
            elif o.requires_grad:
                self._note_leaf(o)
            else:
                how = _cut_kind(kind)
                if how == "" or (how is None and not self._cut):
                    continue  # nothing was cut and no cut tensor can flow into this output
                inputs = inputs if inputs is not None else _tensor_args(args, kwargs)
                self._note_cut(how, o, inputs)

    def _add_span(self, seq: int, engine_line: int | None = None, engine: bool = False) -> None:
        """Nodes numbered from `seq` up to the next sequence number were made by the user's current line
        (inside the current module). Nodes are tagged from these spans only when a pass meets them, so an
        op costs two counter reads instead of a walk of the graph. Consecutive ops of one statement share a
        span: its last node is the value the statement assigns."""
        end = _next_seq()
        if engine:
            self._span_starts.append(seq)
            self._spans.append([seq, end, engine_line, None, False])
            self._span_frame = None
            return
        frame = sys._getframe(2)
        inside = False
        if frame.f_code.co_filename != self.filename:
            frame, inside = self._statement_frame(frame)
        module = self._module_name() if self._module_stack else None
        if frame is None:
            self._span_starts.append(seq)
            self._spans.append([seq, end, None, module, True])
            self._span_frame = None
            return
        lasti = frame.f_lasti
        line = self._line_at(frame.f_code, lasti)
        if self._span_frame == id(frame) and self._span_line == line and (
                self._span_lasti < lasti or inside and self._span_inside and self._span_lasti == lasti):
            prev = self._spans[-1]  # an earlier op of the same statement: not the value assigned
            self._span_lasti = lasti
            self._span_inside = inside
            if prev[1] == seq and prev[3] == module:
                prev[1] = end
                return
            prev[4] = False
        self._span_frame, self._span_line, self._span_lasti = id(frame), line, lasti
        self._span_inside = inside
        self._span_starts.append(seq)
        self._spans.append([seq, end, line, module, True])

    def _span_info(self, fn: Any) -> dict[str, Any]:
        """Line, module and whether it is the value its statement assigns, for a node made on this thread."""
        try:
            seq = fn._sequence_nr()
        except (AttributeError, RuntimeError):
            return {"line": None, "module": None, "final": False}
        i = bisect.bisect_right(self._span_starts, seq) - 1
        if i < 0 or seq >= self._spans[i][1]:
            return {"line": None, "module": None, "final": False}
        _, end, line, module, final = self._spans[i]
        return {"line": line, "module": module, "final": final and seq == end - 1}

    def _tag_new(self, fn: Any) -> None:
        """Give `fn` and every untagged node behind it an id, line and module (stops at known nodes)."""
        meta = fn.metadata
        if _META_KEY in meta:
            return
        frame = self._user_frame(4)
        line = self._line_at(frame.f_code, frame.f_lasti) if frame is not None else None
        module = self._module_name()
        info: dict[str, Any] = {"id": self._new_uid(), "line": line, "module": module, "final": True}
        meta[_META_KEY] = info
        if frame is not None:
            key = (id(frame), line, frame.f_lasti)
            last = self._last_tag
            if last is not None and last[0] == key[0] and last[1] == line and last[2] < key[2]:
                last[3]["final"] = False  # an earlier op of the same statement: not the value assigned
            self._last_tag = (*key, info)
        self._tag_behind([nf for nf, _ in fn.next_functions if nf is not None], line, module)

    def _tag_behind(self, stack: list[Any], line: int | None, module: str | None) -> None:
        """Tag `stack`'s nodes and every untagged node behind them (stops at tagged nodes and leaves)."""
        while stack:
            nf = stack.pop()
            if type(nf) is _ACCUMULATE_GRAD:
                continue
            m = nf.metadata
            if _META_KEY in m:
                continue
            m[_META_KEY] = {"id": self._new_uid(), "line": line, "module": module, "final": False}
            stack.extend(n for n, _ in nf.next_functions if n is not None)

    def _note_leaf(self, t: torch.Tensor) -> None:
        """Remember the user line where a leaf first required grad (`torch.randn(..., requires_grad=True)`,
        `x.requires_grad_()`)."""
        entry = self._leaf_lines.get(id(t))
        if entry is not None and entry[0]() is t:
            return
        frame = self._user_frame(3)
        key = id(t)
        self._leaf_lines[key] = (weakref.ref(t, _forget(self._leaf_lines, key)),
                                 self._line_at(frame.f_code, frame.f_lasti) if frame is not None else None)

    def _new_uid(self) -> str:
        return f"n{next(self._uids)}"

    def _leaf_uid(self, t: torch.Tensor) -> str:
        entry = self._leaf_ids.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        uid = self._new_uid()
        key = id(t)
        self._leaf_ids[key] = (weakref.ref(t, _forget(self._leaf_ids, key)), uid)
        return uid

    def _node_uid(self, fn: Any) -> str:
        if type(fn) is _ACCUMULATE_GRAD:
            return self._leaf_uid(fn.variable)
        return self._node_info(fn)["id"]

    def _node_info(self, fn: Any) -> dict[str, Any]:
        """A function node's id, line, module and whether it is its statement's value (made on first use)."""
        meta = fn.metadata
        info = meta.get(_META_KEY)
        if info is None:
            info = meta[_META_KEY] = self._span_info(fn)
            info["id"] = self._new_uid()
        return info

    def _note_cut(self, how: str | None, out: torch.Tensor, inputs: list[torch.Tensor]) -> None:
        """`out` has no graph: if it was made from a tensor that had one (or from a tensor already cut off),
        remember the origin and how it was cut."""
        if how == "":
            return
        origin = line = None
        for t in inputs:
            if how is not None and (t.grad_fn is not None or t.requires_grad):
                origin = t.grad_fn if t.grad_fn is not None else weakref.ref(t)
                frame = self._user_frame(3)
                line = self._line_at(frame.f_code, frame.f_lasti) if frame is not None else None
                break
            entry = self._cut.get(id(t))
            if entry is not None and entry[0]() is t:
                origin, how, line = entry[1], entry[2], entry[3]
                break
        if origin is None:
            return
        key = id(out)
        self._cut[key] = (weakref.ref(out, _forget(self._cut, key)), origin, how or "cut", line)

    def _note_consumer(self, fn: Any, inputs: list[torch.Tensor]) -> None:
        cuts = []
        for pos, t in enumerate(inputs):
            entry = self._cut.get(id(t))
            if entry is None or entry[0]() is not t or t.requires_grad:  # Function.apply joined it
                continue
            nexts = fn.next_functions
            slot = pos if pos < len(nexts) and nexts[pos][0] is None else next(
                (i for i, (nf, _) in enumerate(nexts) if nf is None), pos)
            cuts.append((slot, entry[1], entry[2], entry[3]))
        if cuts:
            fn.metadata.setdefault(_CUTS_KEY, []).extend(cuts)

    def _push_module(self, module: torch.nn.Module, *_: Any) -> None:
        self._module_stack.append(module)

    def _pop_module(self, module: torch.nn.Module, *_: Any) -> None:
        if self._module_stack and self._module_stack[-1] is module:
            self._module_stack.pop()
            if not self._module_stack:
                self._span_inside = False  # the call returned: its last node may be the value assigned

    # ---------------------------------------------------------------- passes

    def _caller(self) -> Any:
        """The user frame whose line made this backward/grad call: directly, through Tensor.backward or a
        Tensor subclass's __torch_function__, or through the user's own helper modules (any code outside
        torch). None for calls torch makes itself (gradcheck, autograd.functional): those are not the
        program's passes."""
        f: types.FrameType | None = sys._getframe(2)
        while f is not None:
            name = f.f_code.co_filename
            if name == self.filename and f.f_code.co_name != "__torch_function__":
                return f
            if name.startswith(_TORCH_DIR) and name not in (_OVERRIDES_FILE, _TENSOR_BACKWARD_FILE):
                self._unrecorded_calls += 1
                return None
            f = f.f_back
        self._unrecorded_calls += 1
        return None

    def _wrapped(self, call: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(self._local, "depth", 0):
                return original(*args, **kwargs)
            frame = self._caller()
            if frame is None:
                return original(*args, **kwargs)
            roots = args[0] if args else kwargs.get("tensors", kwargs.get("outputs"))
            return self._record_pass(call, frame, _as_tensors(roots), original, args, kwargs)
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        wrapper.__doc__ = original.__doc__
        return wrapper

    def _record_pass(self, call: str, frame: Any, roots: list[torch.Tensor], original: Callable[..., Any],
                     args: tuple[Any, ...], kwargs: dict[str, Any], note: str | None = None) -> Any:
        # No cyclic garbage collection while a pass is recorded: each full collection walks the whole heap (a
        # 200-layer model's snapshot alone adds ~100,000 objects): ~0.1 s each, 5 per backward.
        with gc_paused():
            return self._record_pass_now(call, frame, roots, original, args, kwargs, note)

    def _record_pass_now(self, call: str, frame: Any, roots: list[torch.Tensor], original: Callable[..., Any],
                         args: tuple[Any, ...], kwargs: dict[str, Any], note: str | None) -> Any:
        line = self._line_at(frame.f_code, frame.f_lasti) if frame is not None else None
        with _NO_TORCH_FUNCTION():  # gradviz's own tensor calls are not the program's ops
            with self._lock:
                self._demote_previous()
                index = len(self._records)
        if index >= self.options.keep_first and not self.options.keep_last and call != "implicit":
            return self._record_light_pass(call, frame, line, index, roots, original, args, kwargs, note)
        with _NO_TORCH_FUNCTION():
            rec = _PassRec(index, call, line, self._code(line), self._memo, note)
            rec.partial = call == "grad" or _backward_inputs(args, kwargs) is not None
            self._emit({"event": "pass_started", "index": index, "call": call, "line": line})
            # Beyond keep_first a pass is kept in full only if it is the last, whose names the end of the program
            # gives again: scan the globals only for the first passes (a training loop calls this thousands of
            # times).
            rec.names = self._names_in(frame, with_globals=index < self.options.keep_first)
            walked = None
            if self.tentative and index >= self.options.keep_first and not _creates_graph(call, args, kwargs):
                walked = self._bare_snapshot(roots, rec)
            if walked is None:
                rec.nodes, rec.edges, rec.roots, fns = self._snapshot(roots)
                senders = [(uid, fn.next_functions) for uid, fn in fns if type(fn) is not _ACCUMULATE_GRAD]
            else:
                fns, senders = walked
            handles = self._hook(fns, rec, _retains_graph(call, args, kwargs), _post_hooked(senders, rec.partial))
        try:
            result = self._run_engine(line, original, args, kwargs)
        except BaseException as e:
            rec.status, rec.error = "error", ErrorInfo(type(e).__name__, str(e), line)
            raise
        finally:
            rec.hooked.clear()
            for h in handles:
                h.remove()
            with _NO_TORCH_FUNCTION():
                limit = self.options.values_limit
                arrived = {}
                for s in rec.leaf_steps:
                    if s.grad_outputs is _ARRIVES_AS_GRAD:
                        # what arrived became .grad (were the pass to fail inside AccumulateGrad itself, the
                        # step shows the .grad it left: none)
                        grad = rec.leaf_vars[s.node].grad
                        s.grad_outputs = (None if grad is None else self._summarize(grad, limit),)
                    arrived[s.node] = s.grad_outputs
                rec.leaf_after = {uid: _after(var, rec.leaf_before.get(uid), arrived.get(uid), limit, self._summarize)
                                  for uid, var in rec.leaf_vars.items()}
                rec.leaf_vars = {}
                if call == "grad" and rec.status == "ok":
                    rec.results = tuple(_detach(t).clone() if isinstance(t, torch.Tensor) else None for t in result)
                self._store(rec)
        self._tag_results(call, result, line)
        return result

    def _run_engine(self, line: int | None, original: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        """The engine's run of a pass: backward/grad calls nested in it (hooks, `gradcheck`) are not passes,
        and nodes the engine makes (create_graph=True) belong to the line of the call."""
        self._local.depth = 1
        seq = _next_seq()
        try:
            return original(*args, **kwargs)
        finally:
            self._local.depth = 0
            if threading.get_ident() == self._main_thread and _next_seq() != seq:
                self._add_span(seq, line, engine=True)

    def _tag_results(self, call: str, result: Any, line: int | None) -> None:
        """The graphs grad(create_graph=True) returns were made by the engine: they belong to the call's line."""
        if call == "grad":
            for t in result:
                if isinstance(t, torch.Tensor) and t.grad_fn is not None:
                    self._tag_behind([t.grad_fn], line, None)

    def _record_light_pass(self, call: str, frame: Any, line: int | None, index: int, roots: list[torch.Tensor],
                           original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                           note: str | None) -> Any:
        """A pass beyond `keep_first` when the last one need not be kept in full (`keep_last=False`): no
        hook at all, only its leaves' `.grad` read before and after the engine runs."""
        limit = self.options.values_limit
        with _NO_TORCH_FUNCTION():
            self._emit({"event": "pass_started", "index": index, "call": call, "line": line})
            names = self._names_in(frame, with_globals=False)
            root_ids, leaves = self._leaves_of(roots)
            inputs = _backward_inputs(args, kwargs)
            if call == "grad":
                leaves = []  # grad() returns the gradients and leaves .grad alone
            elif inputs is not None:
                wanted = {id(t) for t in _as_tensors(inputs)}
                leaves = [(uid, var) for uid, var in leaves if id(var) in wanted]
            before = [None if var.grad is None else self._summarize(var.grad, limit) for _, var in leaves]
        status, error = "ok", None
        try:
            result = self._run_engine(line, original, args, kwargs)
        except BaseException as e:
            status, error = "error", ErrorInfo(type(e).__name__, str(e), line)
            raise
        finally:
            with _NO_TORCH_FUNCTION():
                leaf_grads = tuple(
                    LeafGrad(uid, self._leaf_name(names, uid), was,
                             None if var.grad is None else self._summarize(var.grad, limit))
                    for (uid, var), was in zip(leaves, before, strict=True))
                p = Pass(call, line, status, error, leaf_grads=leaf_grads, code=self._code(line), note=note,
                         detail="summary", roots=root_ids)
                with self._lock:
                    self._records.append(p)
                self._emit_finished(index, p)
        self._tag_results(call, result, line)
        return result

    def _walk_start(self, roots: list[torch.Tensor]
                    ) -> tuple[tuple[str, ...], list[Any], list[tuple[str, torch.Tensor]]]:
        """The roots' ids (once each), the nodes a walk of their graph starts from, and the roots that are
        leaves."""
        root_ids: list[str] = []
        stack: list[Any] = []
        leaves: list[tuple[str, torch.Tensor]] = []
        for t in roots:
            fn = t.grad_fn
            if fn is not None:
                stack.append(fn)
                root_ids.append(self._node_uid(fn))
            elif t.requires_grad:
                root_ids.append(self._leaf_uid(t))
                try:  # a leaf as the root (x.backward(v)): its AccumulateGrad is the pass's one node and step
                    stack.append(get_gradient_edge(t).node)
                except (RuntimeError, AttributeError):
                    leaves.append((root_ids[-1], t))
        return tuple(dict.fromkeys(root_ids)), stack, leaves

    def _leaves_of(self, roots: list[torch.Tensor]) -> tuple[tuple[str, ...], list[tuple[str, torch.Tensor]]]:
        """The roots' ids and the leaves (id, tensor) their graph reaches, in walk order."""
        root_ids, stack, leaf_roots = self._walk_start(roots)
        leaves = dict(leaf_roots)
        for fn, _ in _walk(stack):
            if type(fn) is _ACCUMULATE_GRAD:
                leaves[self._leaf_uid(fn.variable)] = fn.variable
        return root_ids, list(leaves.items())

    def _emit(self, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _snapshot(self, roots: list[torch.Tensor]
                  ) -> tuple[dict[str, _NodeRec], list[tuple[Any, ...]], tuple[str, ...], list[tuple[str, Any]]]:
        """The graph reachable from `roots` as it stands now, plus the detached branches feeding it."""
        root_ids, stack, leaf_roots = self._walk_start(roots)
        return self._snapshot_from(root_ids, stack, leaf_roots)

    def _snapshot_from(self, root_ids: tuple[str, ...], stack: list[Any], leaf_roots: list[tuple[str, torch.Tensor]],
                       saved: dict[int, tuple[dict[str, Any], dict[str, Any]]] | None = None
                       ) -> tuple[dict[str, _NodeRec], list[tuple[Any, ...]], tuple[str, ...], list[tuple[str, Any]]]:
        """`_snapshot` from where its walk starts; `saved`: id(node) -> what it saved, read earlier (before the
        engine freed it)."""
        nodes: dict[str, _NodeRec] = {}
        edges: list[tuple[Any, ...]] = []
        fns: list[tuple[str, Any]] = []
        for uid, t in leaf_roots:
            nodes[uid] = self._leaf_rec(uid, t, "leaf")
        cuts: list[tuple[str, int, Any, str, int | None]] = []
        node_uid, fn_rec = self._node_uid, self._fn_rec
        while stack:
            fn = stack.pop()
            uid = node_uid(fn)
            if uid in nodes:
                continue
            fns.append((uid, fn))
            nodes[uid] = rec = fn_rec(uid, fn, "function", None if saved is None else saved.get(id(fn)))
            if type(fn) is not _ACCUMULATE_GRAD:
                for slot, origin, how, line in fn.metadata.get(_CUTS_KEY, ()):
                    cuts.append((uid, slot, origin, how, line))
            nexts = getattr(fn, "next_functions", ())
            rec.outputs = len(nexts)
            for slot, (nf, nr) in enumerate(nexts):
                if nf is None:
                    continue
                nid = node_uid(nf)
                edges.append((uid, nid, slot, "grad", None, None, nr))
                if nid not in nodes:
                    stack.append(nf)
        for uid, slot, origin, how, line in cuts:
            self._add_ghost(nodes, edges, uid, slot, origin, how, line)
        return nodes, edges, root_ids, fns

    def _bare_snapshot(self, roots: list[torch.Tensor], rec: _PassRec
                       ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]] | None:
        """Walk the graph as a pass beyond `keep_first` needs it: the nodes to hook and what they saved (the
        engine frees it). Sets `rec.bare` and `rec.roots`; returns the nodes to hook and each function node's
        next functions, or None where the full snapshot must be taken now (a root that is a leaf, a branch cut
        off by detach/no_grad joining the graph: its nodes are read as they are now)."""
        root_ids, stack, leaf_roots = self._walk_start(roots)
        if leaf_roots:
            return None
        start = list(stack)
        fns: list[tuple[str, Any]] = []
        nexts_of: list[tuple[str, Any]] = []
        saved: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        hooked_leaves: set[str] = set()
        read = self._saved if self.options.saved else None
        for fn, nexts in _walk(stack):
            if type(fn) is _ACCUMULATE_GRAD:
                var = fn.variable
                uid = self._leaf_uid(var)
                fns.append((uid, fn))
                if var._backward_hooks:
                    hooked_leaves.add(uid)
                continue
            if _CUTS_KEY in fn.metadata:
                return None
            label = f"#{len(fns)}"
            fns.append((label, fn))
            if read is not None:
                saved[label] = read(fn)
            nexts_of.append((label, nexts))
        rec.roots = root_ids
        rec.bare = _Bare(root_ids, start, fns, saved, hooked_leaves)
        return fns, nexts_of

    def _expand(self, rec: _PassRec) -> None:
        """A tentative pass is the last one after all: give it the nodes and edges a full snapshot would have
        (the same walk; what each node saved as read while the pass ran), and its steps their node ids."""
        bare = rec.bare
        assert bare is not None
        rec.bare = None
        read = {id(fn): bare.saved[label] for label, fn in bare.fns if label in bare.saved}
        rec.nodes, rec.edges, _, _ = self._snapshot_from(bare.root_ids, list(bare.start), [], read)
        for uid, n in rec.nodes.items():
            if n.type == "AccumulateGrad":
                n.hooked = uid in bare.hooked_leaves  # as when the pass ran
        uids = {label: self._node_uid(fn) for label, fn in bare.fns if label.startswith("#")}
        for step in rec.steps:
            step.node = uids.get(step.node, step.node)
        rec.sent = {uids.get(k, k): v for k, v in rec.sent.items()}

    def _add_ghost(self, nodes: dict[str, _NodeRec], edges: list[tuple[Any, ...]], consumer: str, slot: int,
                   origin: Any, how: str, line: int | None) -> None:
        """Add the branch cut off at `consumer`'s input `slot`: an edge of kind detached, and the cut-off
        nodes (kind detached) up to `ghost_limit`, joined to live nodes where they meet them."""
        if isinstance(origin, weakref.ref):
            t = origin()
            if t is None:
                return
            oid = self._leaf_uid(t)
            if oid not in nodes:
                nodes[oid] = self._leaf_rec(oid, t, "detached")
            edges.append((consumer, oid, slot, "detached", how, line, -1))
            return
        oid = self._node_uid(origin)
        edges.append((consumer, oid, slot, "detached", how, line, -1))
        budget = self.options.ghost_limit
        stack = [origin] if oid not in nodes else []
        while stack and budget > 0:
            fn = stack.pop()
            uid = self._node_uid(fn)
            if uid in nodes:
                continue
            budget -= 1
            if type(fn) is _ACCUMULATE_GRAD:
                nodes[uid] = self._leaf_rec(uid, fn.variable, "detached")
                continue
            nodes[uid] = self._fn_rec(uid, fn, "detached")
            for s, (nf, _) in enumerate(fn.next_functions):
                if nf is None:
                    continue
                nid = self._node_uid(nf)
                edges.append((uid, nid, s, "detached", None, None, -1))
                if nid not in nodes:
                    stack.append(nf)

    def _fn_rec(self, uid: str, fn: Any, kind: str,
                read: tuple[dict[str, Any], dict[str, Any]] | None = None) -> _NodeRec:
        if type(fn) is _ACCUMULATE_GRAD:
            return self._leaf_rec(uid, fn.variable, kind if kind == "detached" else "leaf")
        info = self._node_info(fn)
        if read is not None:
            saved, attrs = read
        else:
            saved, attrs = self._saved(fn) if self.options.saved else ({}, {})
        line = info["line"]
        hint = self.assign_targets.get(line) if info["final"] else None
        return _NodeRec(uid, type(fn).__name__, kind, line, info["module"], saved, attrs, hint=hint,
                        hooked=_HOOKED_KEY in fn.metadata)

    def _leaf_rec(self, uid: str, t: torch.Tensor, kind: str) -> _NodeRec:
        entry = self._leaf_lines.get(id(t))
        line = entry[1] if entry is not None and entry[0]() is t else None
        # a hook on the leaf tensor (x.register_hook) may change what arrives: hooked, as for a function's
        return _NodeRec(uid, "AccumulateGrad", kind, line, None, {}, {}, t, hooked=bool(t._backward_hooks))

    def _saved(self, fn: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        names = self._type_saved_attrs.get(type(fn))
        if names is None:
            names = [a for a in dir(fn) if a.startswith("_saved_")]
            if "saved_tensors" in dir(fn):  # a custom autograd.Function's ctx.save_for_backward
                names.append("saved_tensors")
            self._type_saved_attrs[type(fn)] = names
        saved: dict[str, Any] = {}
        attrs: dict[str, Any] = {}
        for name in names:
            try:
                value = getattr(fn, name)
            except Exception:  # noqa: BLE001 - freed by an earlier backward, or not readable
                continue
            if isinstance(value, torch.Tensor):
                saved[name] = value
            elif isinstance(value, _SEQUENCES) and value and all(isinstance(v, torch.Tensor) for v in value):
                for i, v in enumerate(value):
                    saved[f"{name}[{i}]"] = v
            elif value is not None and name != "saved_tensors":  # None: not saved, not needed for this call
                attrs[name] = value  # made JSON-safe (`_plain`) only if the pass is kept in full
        return saved, attrs

    def _hook(self, fns: list[tuple[str, Any]], rec: _PassRec, retained: bool, posted: set[str]) -> list[Any]:
        """Register the engine's own hooks to record each step: a pre hook on every node (its incoming
        gradients, in the engine's order), and a post hook only on nodes whose outgoing gradient cannot be
        read at the receiving end (it is summed with others there, a user's tensor hook may change it on the
        way, or the receiver is a leaf that `grad()` or `inputs=` may not accumulate). Hooks keep references;
        values are summarised later — or at once, step by step, once the gradients held pass `hold_bytes`, so
        a huge model's gradients and saved tensors are freed as the engine goes, as they would be without
        gradviz. Returns the hooks to remove: those on leaves (their nodes outlive the pass) and all of them
        if the graph is retained. The others die with their graph: they reach the record only through
        `rec.hooked`, emptied when the pass ends (a saved output refers back to its node, so a direct
        reference would make a cycle)."""
        budget, limit = self.options.hold_bytes, self.options.values_limit
        summarize = self._summarize
        held = [0]
        handles = []
        # In a full backward every leaf whose hook runs is then accumulated: a leaf without .grad gets this
        # very gradient as its .grad, so that is summarised after the engine (grad() and inputs= may skip it).
        after_engine = not rec.partial
        ctx = rec.hooked
        ctx.append(rec)

        def settle(r: _PassRec, step: _StepRec) -> None:
            # At once, in the step's own hook: the gradients were just made, and the engine can reuse the
            # memory of what is released (summarising in batches of 256 steps made the 200-layer backward
            # 0.3-0.5 s slower).
            step.grad_outputs = tuple(r.summ(g, limit) for g in step.grad_outputs)
            if r.bare is not None:
                saved, attrs = r.bare.saved.get(step.node, _NOTHING_SAVED)
                if saved:
                    r.bare.saved[step.node] = ({k: r.summ(v, limit) for k, v in saved.items()}, attrs)
            else:
                node = (r.nodes or {}).get(step.node)
                if node is not None and node.saved:
                    node.saved = {k: r.summ(v, limit) for k, v in node.saved.items()}
            r.release()  # summaries stay in the records; the tensors may go

        def record_leaf(r: _PassRec, uid: str, var: torch.Tensor, grad_outputs: Any) -> None:
            grad = var.grad
            r.leaf_vars[uid] = var
            if grad is None and after_engine and not getattr(var, "_post_accumulate_grad_hooks", None):
                r.leaf_before[uid] = None
                step = _StepRec(uid, _ARRIVES_AS_GRAD, ())
            else:
                r.leaf_before[uid] = None if grad is None else summarize(grad, limit)
                # Summarised now, not held: AccumulateGrad adds it into .grad in place (held, a gradient that
                # would become the .grad is copied instead: a 200-layer model's parameters, 158 MB more).
                step = _StepRec(uid, tuple(None if g is None else summarize(g, limit) for g in grad_outputs), ())
            r.steps.append(step)
            r.leaf_steps.append(step)

        def record(r: _PassRec, uid: str, grad_outputs: Any) -> None:
            step = _StepRec(uid, tuple(grad_outputs))
            r.steps.append(step)
            if held[0] <= budget:
                for g in grad_outputs:
                    if g is not None:
                        try:
                            held[0] += g.nbytes
                        except (RuntimeError, NotImplementedError):  # sparse, nested: no nbytes
                            held[0] += _storage_bytes(g, set())
            else:
                settle(r, step)

        for uid, fn in fns:
            if type(fn) is _ACCUMULATE_GRAD:
                def pre_leaf(grad_outputs: Any, uid: str = uid, var: torch.Tensor = fn.variable) -> None:
                    if ctx:
                        with _NO_TORCH_FUNCTION():
                            record_leaf(ctx[0], uid, var, grad_outputs)

                handles.append(fn.register_prehook(pre_leaf))
                continue

            def pre(grad_outputs: Any, uid: str = uid) -> None:
                if ctx:
                    with _NO_TORCH_FUNCTION():
                        record(ctx[0], uid, grad_outputs)

            handle = fn.register_prehook(pre)
            if retained:
                handles.append(handle)
            if uid in posted:
                def post(grad_inputs: Any, grad_outputs: Any, uid: str = uid) -> None:
                    if ctx:
                        with _NO_TORCH_FUNCTION():
                            r = ctx[0]
                            r.sent[uid] = tuple(grad_inputs) if held[0] <= budget else tuple(
                                r.summ(g, limit) for g in grad_inputs)

                handle = fn.register_hook(post)
                if retained:
                    handles.append(handle)
        return handles

    def _store(self, rec: _PassRec) -> None:
        """End of a pass: keep its tensors by reference (leaves' gradients, which user code changes next, were
        summarised as the pass went), and summarise older passes if too much is held."""
        # Should the program change one of these tensors in place later (an optimizer step, `y += 1`),
        # `_before_mutation` summarises it first.
        for n in (rec.nodes or {}).values():
            self._keep_leaf_value(rec, n.tensor)
            for v in n.saved.values():
                self._watch(rec, v)
        if rec.bare is not None:
            for _, fn in rec.bare.fns:
                if type(fn) is _ACCUMULATE_GRAD:
                    self._keep_leaf_value(rec, fn.variable)
            for saved, _ in rec.bare.saved.values():
                for v in saved.values():
                    self._watch(rec, v)
        for step in rec.steps:
            if step.grad_inputs is None:  # a function's step (a leaf's holds summaries only)
                for g in step.grad_outputs:
                    self._watch(rec, g)
        for sent in rec.sent.values():
            for g in sent:
                self._watch(rec, g)
        # Passes beyond keep_first are summarised when the next one begins: only the kept ones count.
        rec.held_bytes = _held_bytes(rec) if rec.index < self.options.keep_first else 0
        with self._lock:
            self._records.append(rec)
            self._held_bytes += rec.held_bytes
            for i, r in enumerate(self._records):
                if self._held_bytes <= self.options.hold_bytes:
                    break
                if isinstance(r, _PassRec):
                    self._settle(i, full=i < self.options.keep_first or r is rec)
        self._emit_finished(rec.index, rec)

    def _emit_finished(self, index: int, p: _PassRec | Pass) -> None:
        if self.on_event is not None:
            self._emit({"event": "pass_finished", "index": index, "pass": {
                "call": p.call, "line": p.line, "code": p.code, "status": p.status, "note": p.note,
                "error": None if p.error is None else p.error.to_dict(), "detail": "summary"}})

    def _settle(self, i: int, full: bool) -> None:
        """Turn raw record i into a `Pass` now and release what it held."""
        rec = self._records[i]
        assert isinstance(rec, _PassRec)
        self._records[i] = self._build(rec, full)
        self._held_bytes -= rec.held_bytes
        self._unwatch(rec)

    def _keep_leaf_value(self, rec: _PassRec, t: Any) -> None:
        """A leaf's value, shown in the pass: a tiny one (a scalar parameter) is copied now — an optimizer
        changes it next, and a copy costs less than watching it and copying it then; others are watched."""
        if isinstance(t, torch.Tensor) and t.numel() <= _FREEZE_NUMEL and t.layout == torch.strided and t.is_cpu:
            rec.freeze(t, self.options.values_limit)
        else:
            self._watch(rec, t)

    def _watch(self, rec: _PassRec, t: Any) -> None:
        if not isinstance(t, torch.Tensor):
            return
        key = _storage_key(t)
        if key is None:
            return
        passes = self._watched.get(key)
        if passes is None:
            passes = self._watched[key] = {}
        entry = passes.get(rec.index)
        if entry is None:
            passes[rec.index] = (rec, [t])
            rec.watch_keys.append(key)
        else:
            entry[1].append(t)

    def _unwatch(self, rec: _PassRec) -> None:
        watched = self._watched
        for key in rec.watch_keys:
            passes = watched.get(key)
            if passes is not None:
                passes.pop(rec.index, None)
                if not passes:
                    del watched[key]
        rec.watch_keys.clear()

    def _before_mutation(self, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> None:
        """An in-place op is about to change tensors: summarise the ones a pass still holds by reference."""
        targets = list(_as_tensors(args[0])) if args else []
        if kwargs and "out" in kwargs:
            targets.extend(_as_tensors(kwargs["out"]))
        limit = self.options.values_limit
        for t in targets:
            key = _storage_key(t)
            for rec, held in (self._watched.pop(key, {}) if key is not None else {}).values():
                for h in held:
                    rec.freeze(h, limit)

    def _demote_previous(self) -> None:
        """A new pass begins: the previous one, if beyond `keep_first`, is no longer the last: keep its summary."""
        i = len(self._records) - 1
        if i >= self.options.keep_first and isinstance(self._records[i], _PassRec):
            self._settle(i, full=False)

    def _build(self, rec: _PassRec, full: bool) -> Pass:
        if full and rec.bare is not None:
            self._expand(rec)
        nodes = rec.nodes or {}
        names = rec.names or {}
        limit = self.options.values_limit

        def summ(t: Any) -> TensorSummary | None:
            return rec.summ(t, limit)

        leaf_grads = tuple(
            LeafGrad(uid, self._leaf_name(names, uid), summ(rec.leaf_before.get(uid)),
                     summ(rec.leaf_after.get(uid)))
            for uid in rec.leaf_before if uid in nodes or rec.bare is not None)
        if not full:
            return Pass(rec.call, rec.line, rec.status, rec.error, leaf_grads=leaf_grads, code=rec.code,
                        note=rec.note, detail="summary", roots=rec.roots)
        out_nodes = []
        for n in nodes.values():
            ns = list(names.get(n.id, ()))
            if n.hint and n.hint not in ns and not any(x.startswith(n.hint + "[") for x in ns):
                ns.append(n.hint)
            out_nodes.append(Node(n.id, n.type, n.kind, tuple(ns), n.line, self._code(n.line), n.module,
                                  {k: s for k, v in n.saved.items() if (s := summ(v)) is not None},
                                  {k: _plain(v) for k, v in n.attrs.items()},
                                  summ(n.tensor)))
        sent = _sent_gradients(rec)
        steps = tuple(Step(s.node, tuple(summ(g) for g in s.grad_outputs),
                           tuple(summ(g) for g in (s.grad_inputs if s.grad_inputs is not None else sent[s.node])))
                      for s in rec.steps)
        edges = tuple(Edge(*e[:6]) for e in rec.edges or ())
        p = Pass(rec.call, rec.line, rec.status, rec.error, tuple(out_nodes), edges, steps,
                 leaf_grads, rec.roots, rec.code, rec.note, "full", tuple(summ(t) for t in rec.results))
        rec.cache = None  # drop the tensors kept alive for the summaries
        return p

    # ---------------------------------------------------------------- names

    def _names_in(self, frame: Any, with_globals: bool = True) -> dict[str, list[str]]:
        """node id -> the user's names for it, from the calling frame's locals and the program's globals.
        Leaves' first names are remembered for passes that skip the globals."""
        names: dict[str, list[str]] = {}
        scopes = [self.namespace] if with_globals else []
        if frame is not None and frame.f_locals is not self.namespace:
            scopes.insert(0, frame.f_locals)
        for scope in scopes:
            for name, value in _named_tensors(scope):
                uid = self._tensor_uid(value)
                if uid is not None and name not in names.setdefault(uid, []):
                    names[uid].append(name)
                    if value.grad_fn is None:
                        self._leaf_names.setdefault(uid, name)
        return names

    def _leaf_name(self, names: dict[str, list[str]], uid: str) -> str | None:
        """A leaf's name at this pass, else the first name it was seen under."""
        found = names.get(uid)
        return found[0] if found else self._leaf_names.get(uid)

    def _tensor_uid(self, t: torch.Tensor) -> str | None:
        if t.grad_fn is not None:
            return self._node_uid(t.grad_fn)
        if t.requires_grad:
            return self._leaf_uid(t)
        return None

    def _add_final_names(self, passes: list[Pass]) -> list[Pass]:
        """Full passes' nodes get the names the program ends with too; leaf gradients still unnamed (passes
        met before any scan of the globals) get the leaf's first name."""
        final = self._names_in(None)
        out = []
        for p in passes:
            if p.detail != "full":
                if any(g.name is None and g.node in self._leaf_names for g in p.leaf_grads):
                    p = replace(p, leaf_grads=tuple(
                        replace(g, name=self._leaf_names.get(g.node)) if g.name is None else g
                        for g in p.leaf_grads))
                out.append(p)
                continue
            nodes = tuple(replace(n, names=tuple(dict.fromkeys((*n.names, *final.get(n.id, ())))))
                          if n.id in final else n for n in p.nodes)
            out.append(replace(p, nodes=nodes))
        return out

    def _final_grads(self) -> dict[str, TensorSummary]:
        grads: dict[str, TensorSummary] = {}
        for name, t in _named_tensors(self.namespace):
            if t.grad_fn is None and t.grad is not None and name not in grads:
                grads[name] = self._summarize(t.grad, self.options.values_limit)
        return grads

    # ---------------------------------------------------------------- implicit pass

    def _implicit_pass(self, root: str | None) -> None:
        """The program never called backward (or the caller named a root): run one from the last tensor."""
        candidates = [(k, v) for k, v in self.namespace.items()
                      if isinstance(v, torch.Tensor) and not k.startswith("_") and v.grad_fn is not None]
        if root is not None:
            value = self.namespace.get(root)
            if not isinstance(value, torch.Tensor) or not value.requires_grad:
                self._records.append(Pass("implicit", None, "error", ErrorInfo(
                    "ValueError", f"--root {root}: no top-level tensor named {root!r} that requires grad")))
                return
            name, t = root, value
        elif candidates:
            name, t = max(candidates, key=lambda kv: int(self._node_uid(kv[1].grad_fn)[1:]))
        else:
            return
        gradient = None if t.numel() == 1 and not t.is_complex() else torch.ones_like(t)
        note = (f"implicit: {name}.backward()" if gradient is None
                else f"implicit: {name}.backward(torch.ones_like({name}))" if t.numel() == 1
                else f"implicit: {name}.backward(torch.ones_like({name})), i.e. {name}.sum().backward()")
        try:
            self._record_pass("implicit", None, [t], _ORIGINAL_BACKWARD, (t, gradient), {"retain_graph": True},
                              note=note)
        except Exception:  # noqa: BLE001 - recorded in the pass itself
            pass


class _Watching:
    """Context manager installing (and always removing) every watcher of a `_Capture`."""

    def __init__(self, capture: _Capture) -> None:
        self.c = capture
        self._handles: list[Any] = []

    def __enter__(self) -> _Watching:
        c = self.c
        torch.autograd.backward = c._wrapped("backward", _ORIGINAL_BACKWARD)
        torch.autograd.grad = c._wrapped("grad", _ORIGINAL_GRAD)
        mods = torch.nn.modules.module
        self._handles = [mods.register_module_forward_pre_hook(c._push_module),
                         mods.register_module_forward_hook(c._pop_module, always_call=True)]
        # The mode stack is per thread: user threads get their own mode, started inside the thread.
        self._bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
        bootstrap = self._bootstrap

        def bootstrap_watched(thread: threading.Thread) -> None:
            with _Capture._Mode(c, main=threading.get_ident() == c._main_thread):
                bootstrap(thread)

        threading.Thread._bootstrap_inner = bootstrap_watched  # type: ignore[attr-defined]
        # Custom autograd.Function.apply does not go through __torch_function__: watch it directly.
        apply = _ORIGINAL_APPLY.__func__

        def apply_watched(cls: type, *args: Any, **kwargs: Any) -> Any:
            seq = _next_seq()
            out = apply(cls, *args, **kwargs)
            if out is not None:
                c._on_op(_PLAIN, args, kwargs, out, seq)
            return out

        torch.autograd.Function.apply = classmethod(apply_watched)  # type: ignore[method-assign,assignment]
        # A warning torch raises inside an op is attributed to the innermost Python frame: gradviz's mode.
        # Show it at the user's line instead, as it would be without gradviz.
        self._showwarning = warnings.showwarning
        shown = self._showwarning

        def showwarning_at_user_line(message: Any, category: type[Warning], filename: str, lineno: int,
                                     file: Any = None, line: str | None = None) -> None:
            if filename == _THIS_FILE:
                frame = c._user_frame(1)
                if frame is not None:
                    filename, lineno = c.filename, frame.f_lineno
                    line = c._code(lineno)  # the editor's text: the file on disk may be older
            shown(message, category, filename, lineno, file, line)

        warnings.showwarning = showwarning_at_user_line
        self._mode = _Capture._Mode(c, main=True)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._mode.__exit__(None, None, None)
        finally:
            for h in self._handles:
                h.remove()
            torch.autograd.backward = _ORIGINAL_BACKWARD
            torch.autograd.grad = _ORIGINAL_GRAD
            torch.autograd.Function.apply = _ORIGINAL_APPLY  # type: ignore[method-assign]
            threading.Thread._bootstrap_inner = self._bootstrap  # type: ignore[attr-defined]
            warnings.showwarning = self._showwarning


# --------------------------------------------------------------------------------------------- helpers


_PLAIN, _GETTER, _MUTATES, _DETACH, _DATA, _TENSOR_HOOK = range(6)  # what a torch function is, for the mode
_FUNC_KINDS: dict[Any, int] = {}
_ACCUMULATE_GRAD: Any = type(  # a leaf's node: its class is not importable from torch
    cast(Any, torch.zeros((), requires_grad=True).expand(1).grad_fn).next_functions[0][0])
_FREEZE_NUMEL = 64  # a held tensor about to change in place: kept as its numbers up to this size, else summarised


def _classify(func: Any) -> int:
    """What `func` is to the capture (cached per function: the mode sees every op)."""
    name = getattr(func, "__name__", "")
    if name in ("detach", "detach_"):
        kind = _DETACH
    elif func is _REGISTER_HOOK:
        kind = _TENSOR_HOOK
    elif func == _DATA_GETTER:
        kind = _DATA
    elif func == _DATA_SETTER:
        kind = _MUTATES  # `w.data = t`: w's values change without its version counter
    elif name == "__get__":
        kind = _GETTER
    elif (name.endswith("_") and not name.endswith("__")) or name in _INPLACE_DUNDERS:
        kind = _MUTATES  # `add_`, `+=`, `x[i] = v`, `_foreach_mul_`
    else:
        kind = _PLAIN
    try:
        _FUNC_KINDS[func] = kind
    except TypeError:  # an unhashable callable: classified on every call
        pass
    return kind


def _cut_kind(kind: int) -> str | None:
    """How an op that returns a tensor without a graph cut it off: "detach()", ".data", "no_grad",
    "inference_mode"; None if it did not cut (a cut tensor may still flow through it); "" for property reads
    such as `.grad`, which neither cut nor propagate."""
    if kind == _DETACH:
        return "detach()"
    if kind == _DATA:
        return ".data"
    if kind == _GETTER:
        return ""
    if torch.is_inference_mode_enabled():
        return "inference_mode"
    if not torch.is_grad_enabled():
        return "no_grad"
    return None


def _storage_key(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None


def _storage_bytes(t: torch.Tensor, seen: set[int]) -> int:
    """Bytes of memory `t` keeps alive, counting each storage once (views and expands share theirs)."""
    try:
        storage = t.untyped_storage()
        key = storage.data_ptr()
    except (RuntimeError, NotImplementedError):  # sparse, nested and other storage-less layouts
        try:
            return t.numel() * t.element_size()
        except (RuntimeError, NotImplementedError):
            return 0
    if key in seen:
        return 0
    seen.add(key)
    return storage.nbytes()


def _held_bytes(rec: _PassRec) -> int:
    seen: set[int] = set()
    total = 0

    def add(t: Any) -> None:
        nonlocal total
        if isinstance(t, torch.Tensor):
            total += _storage_bytes(t, seen)

    for n in (rec.nodes or {}).values():
        for v in n.saved.values():
            add(v)
    for step in rec.steps:
        for g in step.grad_outputs:
            add(g)
    for sent in rec.sent.values():
        for g in sent:
            add(g)
    return total  # leaves' gradients are summaries, not tensors: nothing held


def _after(var: torch.Tensor, before: Any, arrived: Any, limit: int,
           summarize: Callable[[torch.Tensor, int], TensorSummary]) -> TensorSummary | None:
    """A leaf's .grad after the pass, summarised. When it had none before, it is the gradient that arrived
    (already summarised), unless a post-accumulate hook may have changed it."""
    grad = var.grad
    if grad is None:
        return None
    if (before is None and arrived and len(arrived) == 1 and isinstance(arrived[0], TensorSummary)
            and not getattr(var, "_post_accumulate_grad_hooks", None) and arrived[0].shape == tuple(grad.shape)):
        return arrived[0]
    return summarize(grad, limit)


def _sent_gradients(rec: _PassRec) -> dict[str, tuple[Any, ...]]:
    """node id -> the gradient it sent along each of its edges: from its post hook where it had one, else what
    the receiving node got at that input (the same tensor: nothing else was added to it); None where the
    edge leads nowhere (an input that needs no gradient) or the receiver never ran."""
    received = {s.node: s.grad_outputs for s in rec.steps}
    nodes = rec.nodes or {}
    sent: dict[str, list[Any]] = {}
    for src, dst, slot, kind, _cut, _line, nr in rec.edges or ():
        if kind != "grad" or src in rec.sent:
            continue
        out = sent.get(src)
        if out is None:
            out = sent[src] = [None] * nodes[src].outputs
        got = received.get(dst)
        if got is not None and 0 <= nr < len(got):
            out[slot] = got[nr]
    result = {uid: tuple(v) for uid, v in sent.items()}
    result.update(rec.sent)
    for uid in received:
        result.setdefault(uid, (None,) * nodes[uid].outputs if uid in nodes else ())
    return result


def _backward_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The `inputs` of a backward call (backward(tensors, grad_tensors, retain_graph, create_graph,
    grad_variables, inputs)), or None."""
    return kwargs.get("inputs", args[5] if len(args) > 5 else None)


def _retains_graph(call: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether this backward/grad call keeps its graph (retain_graph, or create_graph that implies it)."""
    at = 2 if call == "backward" else 3  # backward(tensors, grad_tensors, retain_graph, create_graph)
    retain = args[at] if len(args) > at else kwargs.get("retain_graph")
    return bool(retain) or _creates_graph(call, args, kwargs)  # retain_graph=None means create_graph's value


def _walk(stack: list[Any]) -> Iterator[tuple[Any, tuple[tuple[Any, int], ...]]]:
    """Each node reachable from `stack` once, with its next functions (none for a leaf's AccumulateGrad),
    depth first as the snapshot walks: a node's unseen next functions are pushed after it is yielded."""
    seen: set[int] = set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if type(fn) is _ACCUMULATE_GRAD:
            yield fn, ()
            continue
        nexts = fn.next_functions
        yield fn, nexts
        stack.extend(nf for nf, _ in nexts if nf is not None and id(nf) not in seen)


def _post_hooked(senders: Iterable[tuple[str, tuple[tuple[Any, int], ...]]], partial: bool) -> set[str]:
    """Of the function nodes (label, next functions), those whose post hook must record what they send: into
    an input slot that also receives from another edge, into a node whose tensor the user hooked
    (`y.register_hook(f)` may change the gradient on its way), or into a leaf when the call may not run the
    leaf's node (grad(), inputs=). Elsewhere the receiving node's pre hook sees what was sent."""
    senders = list(senders)
    receivers: dict[tuple[int, int], int] = {}
    for _, nexts in senders:
        for nf, nr in nexts:
            if nf is not None:
                receivers[id(nf), nr] = receivers.get((id(nf), nr), 0) + 1

    def changes_on_the_way(nf: Any) -> bool:
        if type(nf) is _ACCUMULATE_GRAD:
            return partial or bool(nf.variable._backward_hooks)
        return _HOOKED_KEY in nf.metadata

    return {label for label, nexts in senders if any(
        nf is not None and (receivers[id(nf), nr] > 1 or changes_on_the_way(nf)) for nf, nr in nexts)}


def _creates_graph(call: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a backward/grad call builds a graph of its gradients (create_graph=True)."""
    at = 3 if call == "backward" else 4  # grad(outputs, inputs, grad_outputs, retain_graph, create_graph)
    return bool(args[at] if len(args) > at else kwargs.get("create_graph", False))


def _tensor_args(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> list[torch.Tensor]:
    out = []
    for a in (*args, *(kwargs or {}).values()):
        if isinstance(a, torch.Tensor):
            out.append(a)
        elif isinstance(a, list | tuple):
            out.extend(x for x in a if isinstance(x, torch.Tensor))
    return out


def _line_of(code: types.CodeType, lasti: int) -> int | None:
    """The source line of the instruction at byte offset `lasti` (what `frame.f_lineno` says there)."""
    for start, end, line in code.co_lines():
        if start <= lasti < end:
            return line
    return None


def _forget(d: dict[int, Any], key: int) -> Callable[[Any], None]:
    """A weakref callback: drop `key` from `d` once the object it stands for dies (ids are reused)."""
    return lambda _ref: d.pop(key, None)


def _no_grad_inputs(args: tuple[Any, ...]) -> bool:
    """No argument is a tensor that requires grad (or a container, which the slow path looks into)."""
    for a in args:
        if isinstance(a, torch.Tensor):
            if a.requires_grad:
                return False
        elif isinstance(a, list | tuple):
            return False
    return True


def _as_tensors(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, list | tuple):
        return [t for t in x if isinstance(t, torch.Tensor)]
    return []


def _named_tensors(scope: dict[str, Any]) -> Iterator[tuple[str, torch.Tensor]]:
    """Tensors a person can name in `scope`: variables, parameters of modules (`net.0.weight`), and items
    of lists, tuples and dicts (`params[0]`, `w['fc']`)."""
    for name, value in list(scope.items()):
        if name.startswith("__"):
            continue
        if isinstance(value, torch.Tensor):
            yield name, value
        elif isinstance(value, torch.nn.Module):
            yield from value.named_parameters(prefix=name)
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value[:4096]):
                if isinstance(v, torch.Tensor):
                    yield f"{name}[{i}]", v
        elif isinstance(value, dict):
            for k, v in list(value.items())[:4096]:
                if isinstance(v, torch.Tensor):
                    yield f"{name}[{k!r}]", v


def _plain(value: Any) -> Any:
    """A JSON-safe rendering of a non-tensor saved value (ints, sizes, dtypes, scalars...)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list | torch.Size):
        return [_plain(v) for v in value]
    return str(value)


_CONTAINERS = (ast.List, ast.ListComp, ast.Tuple, ast.Dict, ast.DictComp, ast.Set, ast.SetComp, ast.GeneratorExp)


def _assignment_targets(source: str) -> dict[int, str]:
    """line -> the single variable a statement on that line assigns (`y = ...`, `y += ...`)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    targets: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(getattr(node, "value", None), _CONTAINERS):
            continue  # `ys = [x * i for i in ...]`: the name is the list's, not any node's
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        elif isinstance(node, ast.AugAssign | ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        else:
            continue
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            targets.setdefault(line, name)
    return targets
