"""Capture overhead: forward and backward time with gradviz capture vs plain torch, side by side.

Each workload is a small program that builds its model, then times one forward and one backward and prints
them as JSON; it runs alternately under plain `exec` and under `gradviz.core.capture.run_program`, several
rounds, in one process (torch single-threaded, warmed up once plainly first). Reported: median times and
their ratios (capture / plain).

`--against REV` (repeatable) compares revisions side by side instead: every run, plain or captured with this
tree's package or REV's, is a child process of its own (warmed up plainly, then timed once), the variants
taking turns within each round. The machine is shared and noisy (±20 % between runs of the same code): a
change is measured only against its parent in one such run, never against a number from another day.

    OMP_NUM_THREADS=1 .venv/bin/python bench/capture_overhead.py [--rounds 5] [--only poly]
    OMP_NUM_THREADS=1 .venv/bin/python bench/capture_overhead.py --against HEAD~2 --only poly --rounds 10
    OMP_NUM_THREADS=1 .venv/bin/python bench/capture_overhead.py --only poly --no-keep-last --against HEAD
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from gradviz.core.capture import CaptureOptions, run_program

TIMED = '''
import json, time, torch
torch.manual_seed(0)
{setup}
t0 = time.perf_counter()
out = {forward}
t1 = time.perf_counter()
out.backward()
t2 = time.perf_counter()
print(json.dumps({{"forward": t1 - t0, "backward": t2 - t1}}))
'''

WORKLOADS = {
    "mlp 784-256-256-10": dict(
        setup="net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),"
              " torch.nn.ReLU(), torch.nn.Linear(256, 10))\nx = torch.randn(64, 784)",
        forward="torch.nn.functional.cross_entropy(net(x), torch.arange(64) % 10)"),
    "transformer 6 layers d256": dict(
        setup="layer = torch.nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, "
              "batch_first=True)\nnet = torch.nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)\n"
              "x = torch.randn(8, 32, 256)",
        forward="net(x).pow(2).mean()"),
}

POLY = '''
import math, time, torch
x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
a, b, c, d = (torch.randn((), requires_grad=True) for _ in range(4))
lr = 1e-6
t0 = time.perf_counter()
for t in range(2000):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    loss.backward()
    with torch.no_grad():
        a -= lr * a.grad; b -= lr * b.grad; c -= lr * c.grad; d -= lr * d.grad
        a.grad = None; b.grad = None; c.grad = None; d.grad = None
print('{"total": %f}' % (time.perf_counter() - t0))
'''


def _plain(source: str) -> dict[str, float]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(source, "<bench>", "exec"), {"__name__": "__main__"})
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def _captured(source: str) -> dict[str, float]:
    options = CaptureOptions(keep_last=os.environ.get("GRADVIZ_BENCH_KEEP_LAST", "1") == "1")
    trace = run_program(source, "<bench>", options=options)
    assert trace.status == "ok", trace.error
    return json.loads(trace.stdout.strip().splitlines()[-1])


def _programs(only: str | None) -> dict[str, str]:
    programs = {name: TIMED.format(**w) for name, w in WORKLOADS.items()}
    programs["poly fit, 2000 backward calls"] = POLY
    return {k: v for k, v in programs.items() if only is None or only in k}


def _child(mode: str, name: str) -> None:
    """In a child process: warm up plainly once, then time one plain or captured run; print its JSON."""
    torch.set_num_threads(1)
    gc.freeze()
    source = _programs(name)[name]
    _plain(source)
    print(json.dumps(_plain(source) if mode == "plain" else _captured(source)))


def _in_child(mode: str, name: str, tree: str) -> dict[str, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=tree)
    out = subprocess.run([sys.executable, __file__, "--child", mode, name], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def _row(name: str, phase: str, plain: list[float], cap: list[float]) -> str:
    p, c = statistics.median(plain), statistics.median(cap)
    return (f"{name:42} {phase:9} {p * 1e3:9.1f} {c * 1e3:11.1f} {c / p:6.2f} "
            f"{min(cap) / min(plain):10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="only the workloads whose name contains this")
    parser.add_argument("--against", action="append", default=[], metavar="REV",
                        help="also capture with the package as committed at REV, each run in a child process")
    parser.add_argument("--no-keep-last", action="store_true",
                        help="capture with keep_last=False (passes beyond keep_first as summaries only)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.no_keep_last:
        os.environ["GRADVIZ_BENCH_KEEP_LAST"] = "0"  # read by _captured, here and in the children
    if args.child:
        _child(*args.child)
        return
    torch.set_num_threads(1)
    # As in the worker: what the imports made is frozen out of the collector's full passes, which would
    # otherwise walk torch's million objects whenever the capture's allocations trigger one.
    gc.freeze()
    print(f"{'workload':42} {'phase':9} {'plain ms':>9} {'capture ms':>11} {'ratio':>6} {'min ratio':>10}")
    if args.against:
        from variants import variant_trees

        with tempfile.TemporaryDirectory() as folder:
            trees = variant_trees(folder, args.against)
            for name in _programs(args.only):
                plain: dict[str, list[float]] = {}
                cap: dict[str, dict[str, list[float]]] = {label: {} for label, _ in trees}
                for _ in range(args.rounds):
                    for k, v in _in_child("plain", name, str(Path(__file__).resolve().parents[1])).items():
                        plain.setdefault(k, []).append(v)
                    for label, tree in trees:
                        for k, v in _in_child("capture", name, tree).items():
                            cap[label].setdefault(k, []).append(v)
                for label, _ in trees:
                    for phase in plain:
                        shown = f"{name} [{label}]" if label else name
                        print(_row(shown, phase, plain[phase], cap[label][phase]))
        return
    for name, source in _programs(args.only).items():
        plain = {}
        captured: dict[str, list[float]] = {}
        _plain(source)  # warm-up: first-call costs of kernels and allocators are paid outside the rounds
        for _ in range(args.rounds):
            for k, v in _plain(source).items():
                plain.setdefault(k, []).append(v)
            for k, v in _captured(source).items():
                captured.setdefault(k, []).append(v)
        for phase in plain:
            print(_row(name, phase, plain[phase], captured[phase]))


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"(bench took {time.perf_counter() - t:.0f} s)")
