"""Capture floors: what the mechanisms a trace needs cost on their own, as no-ops, next to gradviz's capture.

A trace needs a `TorchFunctionMode` that sees every op (lines, modules, cut branches, copy-on-write), one
engine pre hook per node (the engine's own order, and what arrives at each node), and each step's gradients
held until they are summarised (a pass beyond `keep_first` may be the last one, kept in full). Each row adds
one of them, doing nothing else, to the row above, then a bare record of each pass (the graph, saved values
and steps as tuples: no names, lines, summaries or checks), then the numbers a trace shows: each step's
gradients, each leaf's and each saved value summarised by gradviz's own summariser as the engine goes (and
that again with the summaries on a second thread, with their statistics cut to one BLAS pass and to none);
then gradviz itself, with and without `keep_last`. What
a row costs over the one above is what that piece alone costs: no design that keeps it can be cheaper.
Hooked passes run with the cyclic GC off, as gradviz records them.

All variants run in one process, taking turns each round (median of `--rounds`), torch single-threaded and
the imports frozen out of the GC as in the worker. The machine is shared and noisy: read the ratios of one
run against each other, never against another day's.

    OMP_NUM_THREADS=1 .venv/bin/python bench/capture_floors.py [--rounds 5] [--only poly] [--layers 200]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import io
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from capture_overhead import POLY, TIMED
from torch.overrides import TorchFunctionMode

from gradviz.core import summary
from gradviz.core.capture import CaptureOptions, run_program
from gradviz.core.summary import SummaryMemo


def _transformer(layers: int) -> str:
    return TIMED.format(
        setup="layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=8, dim_feedforward=512)\n"
              f"net = torch.nn.TransformerEncoder(layer, num_layers={layers}, enable_nested_tensor=False)\n"
              "x = torch.randn(32, 4, 128)",
        forward="net(x).pow(2).mean()")


class _NoOpMode(TorchFunctionMode):
    """Sees every torch function and does nothing but call it."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
        return func(*args, **kwargs) if kwargs else func(*args)


_SAVED_NAMES: dict[type, list[str]] = {}


def _saved_names(fn: Any) -> list[str]:
    names = _SAVED_NAMES.get(type(fn))
    if names is None:
        names = _SAVED_NAMES[type(fn)] = [a for a in dir(fn) if a.startswith("_saved_")]
    return names


@contextlib.contextmanager
def _hooked_backward(hold: bool, record: bool = False, summarise: str = "") -> Iterator[None]:
    """Every `torch.autograd.backward` (so every `Tensor.backward`) walks its graph, puts a pre hook on each
    node and takes them off after; with `hold`, the hooks keep what arrives at each function node until the
    next pass starts (not at leaves: a held gradient would make AccumulateGrad copy it; gradviz holds none).
    With `record`, the bare minimum a full record needs too: per node its type, sequence number, edges and
    saved values, per step the node's index and what arrived (no names, lines, summaries or checks). With
    `summarise="hook"`, each step's hook also summarises what arrived and what its node saved (gradviz's
    summaries and memo: the numbers a trace shows, leaves' gradients included) and lets the tensors go, as
    gradviz does past its hold budget; with "thread", the hook hands them to a second thread that summarises them while the engine
    goes on (the pass ends when it has caught up): the machine's second core, against the GIL."""
    original = torch.autograd.backward
    held: list[Any] = []
    memo = SummaryMemo()
    accumulate = torch._C._functions.AccumulateGrad

    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        held.clear()  # the previous pass was not the last one
        roots = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)
        stack = [t.grad_fn for t in roots if t.grad_fn is not None]
        seen: set[int] = set()
        handles = []
        while stack:
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            nexts = fn.next_functions
            keep = hold and type(fn) is not accumulate
            if record:
                index = len(held)
                saved = []
                for name in _saved_names(fn):
                    with contextlib.suppress(Exception):
                        saved.append(getattr(fn, name))
                held.append((fn, type(fn).__name__, fn._sequence_nr(), nexts, saved))
                if summarise and type(fn) is accumulate:
                    # a leaf's gradient is summarised at once (held, AccumulateGrad would copy it): the
                    # .grad it becomes is the same memory, which the memo knows
                    hook = _summarising_hook(held, index, saved, memo.summarize)
                elif summarise == "hook":
                    hook = _summarising_hook(held, index, saved, memo.summarize) if keep else (lambda grads: None)
                elif summarise == "thread":
                    hook = (lambda grads, i=index, s=saved: _QUEUE.append((i, grads, s))) if keep else (
                        lambda grads: None)
                else:
                    hook = (lambda grads, i=index: held.append((i, grads))) if keep else (lambda grads: None)
            else:
                hook = held.append if keep else (lambda grads: None)
            handles.append(fn.register_prehook(hook))
            stack.extend(nf for nf, _ in nexts if nf is not None and id(nf) not in seen)
        worker = _Summariser(held, memo.summarize) if summarise == "thread" else None
        gc_was_on = gc.isenabled()
        gc.disable()  # as gradviz records a pass: no full collections over the model's objects
        try:
            return original(tensors, *args, **kwargs)
        finally:
            if worker is not None:
                worker.finish()
            for h in handles:
                h.remove()
            if gc_was_on:
                gc.enable()

    torch.autograd.backward = backward
    try:
        yield
    finally:
        torch.autograd.backward = original


def _summarising_hook(held: list[Any], index: int, saved: list[Any], summ: Callable[[Any], Any]
                      ) -> Callable[[Any], None]:
    def hook(grads: Any) -> None:
        with torch._C.DisableTorchFunction():
            held.append((index, [None if g is None else summ(g) for g in grads],
                         [summ(v) if isinstance(v, torch.Tensor) else v for v in saved]))
        saved.clear()
    return hook


@contextlib.contextmanager
def _stats_as(kind: str) -> Iterator[None]:
    """The summaries' statistics replaced by one BLAS pass over the data (the least a compiled one-pass
    kernel could cost) or by none at all (what the calls, the summary objects and the memo cost alone)."""
    original = summary._numpy_stats

    def stats(a: Any, numel: int, safe: Any) -> dict[str, float | int]:
        v = float(np.dot(a.ravel(order="K"), a.ravel(order="K"))) if kind == "one pass" else 0.0
        return {"min": v, "max": v, "mean": v, "norm": v, "nan": 0, "inf": 0}

    summary._numpy_stats = stats
    try:
        yield
    finally:
        summary._numpy_stats = original


_QUEUE: collections.deque[Any] = collections.deque()


class _Summariser(threading.Thread):
    """Summarises what the hooks queue, on a thread of its own, until `finish` has let it catch up."""

    def __init__(self, held: list[Any], summ: Callable[[Any], Any]) -> None:
        super().__init__(daemon=True)
        self.held, self.summ, self.done = held, summ, False
        self.start()

    def run(self) -> None:
        queue, summ = _QUEUE, self.summ
        with torch._C.DisableTorchFunction():
            while True:
                if not queue:
                    if self.done:
                        return
                    time.sleep(0.0002)  # releases the GIL for the engine's hooks
                    continue
                index, grads, saved = queue.popleft()
                self.held.append((index, [None if g is None else summ(g) for g in grads],
                                  [summ(v) if isinstance(v, torch.Tensor) else v for v in saved]))
                saved.clear()

    def finish(self) -> None:
        self.done = True
        self.join()


def _run(source: str) -> dict[str, float]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(source, "<bench>", "exec"), {"__name__": "__main__"})
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def _with(*contexts: Callable[[], Any]) -> Callable[[str], dict[str, float]]:
    def run(source: str) -> dict[str, float]:
        with contextlib.ExitStack() as stack:
            for c in contexts:
                stack.enter_context(c())
            return _run(source)
    return run


def _gradviz(keep_last: bool) -> Callable[[str], dict[str, float]]:
    def run(source: str) -> dict[str, float]:
        trace = run_program(source, "<bench>", options=CaptureOptions(keep_last=keep_last))
        assert trace.status == "ok", trace.error
        return json.loads(trace.stdout.strip().splitlines()[-1])
    return run


VARIANTS: dict[str, Callable[[str], dict[str, float]]] = {
    "plain": _run,
    "no-op mode": _with(_NoOpMode),
    "+ no-op pre hook per node": _with(_NoOpMode, lambda: _hooked_backward(hold=False)),
    "+ holding what arrives": _with(_NoOpMode, lambda: _hooked_backward(hold=True)),
    "+ a bare record of each pass": _with(_NoOpMode, lambda: _hooked_backward(hold=True, record=True)),
    "+ summaries as it goes": _with(_NoOpMode, lambda: _hooked_backward(hold=True, record=True, summarise="hook")),
    "  (on a second thread)": _with(_NoOpMode, lambda: _hooked_backward(hold=True, record=True, summarise="thread")),
    "  (stats: one BLAS pass)": _with(_NoOpMode, lambda: _stats_as("one pass"),
                                      lambda: _hooked_backward(hold=True, record=True, summarise="hook")),
    "  (stats: no pass)": _with(_NoOpMode, lambda: _stats_as("none"),
                                lambda: _hooked_backward(hold=True, record=True, summarise="hook")),
    "gradviz, keep_last=False": _gradviz(keep_last=False),
    "gradviz (default)": _gradviz(keep_last=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="only the workloads whose name contains this")
    parser.add_argument("--layers", type=int, default=200, help="encoder layers of the transformer workload")
    args = parser.parse_args()
    torch.set_num_threads(1)
    gc.freeze()
    programs = {"poly fit, 2000 backward calls": POLY, f"transformer {args.layers}x d128": _transformer(args.layers)}
    for name, source in programs.items():
        if args.only and args.only not in name:
            continue
        _run(source)  # warm-up: first-call costs of kernels and allocators are paid outside the rounds
        times: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
        for _ in range(args.rounds):
            for label, run in VARIANTS.items():
                for phase, t in run(source).items():
                    times[label].setdefault(phase, []).append(t)
        print(f"\n{name}")
        phases = list(times["plain"])
        print(f"  {'variant':28}" + "".join(f"{p + ' ms':>14}{'x plain':>9}" for p in phases))
        for label, by_phase in times.items():
            row = f"  {label:28}"
            for p in phases:
                m = statistics.median(by_phase[p])
                row += f"{m * 1e3:14.1f}{m / statistics.median(times['plain'][p]):9.2f}"
            print(row)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(bench took {time.perf_counter() - t0:.0f} s)")
