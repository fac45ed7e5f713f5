"""Capture overhead: forward and backward time with gradviz capture vs plain torch, side by side.

Each workload is a small program that builds its model, then times one forward and one backward and prints
them as JSON; it runs alternately under plain `exec` and under `gradviz.core.capture.run_program`, several
rounds, in one process (torch single-threaded, warmed up once plainly first). Reported: median times and their ratios (capture / plain).

    OMP_NUM_THREADS=1 .venv/bin/python bench/capture_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import statistics
import time

import torch

from gradviz.core.capture import run_program

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
    trace = run_program(source, "<bench>")
    assert trace.status == "ok", trace.error
    return json.loads(trace.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # As in the worker: what the imports made is frozen out of the collector's full passes, which would
    # otherwise walk torch's million objects whenever the capture's allocations trigger one.
    gc.freeze()
    programs = {name: TIMED.format(**w) for name, w in WORKLOADS.items()}
    programs["poly fit, 2000 backward calls"] = POLY
    print(f"{'workload':34} {'phase':9} {'plain ms':>9} {'capture ms':>11} {'ratio':>6}")
    for name, source in programs.items():
        plain: dict[str, list[float]] = {}
        cap: dict[str, list[float]] = {}
        _plain(source)  # warm-up: first-call costs of kernels and allocators are paid outside the rounds
        for _ in range(args.rounds):
            for k, v in _plain(source).items():
                plain.setdefault(k, []).append(v)
            for k, v in _captured(source).items():
                cap.setdefault(k, []).append(v)
        for phase in plain:
            p, c = statistics.median(plain[phase]), statistics.median(cap[phase])
            print(f"{name:34} {phase:9} {p * 1e3:9.1f} {c * 1e3:11.1f} {c / p:6.2f}")


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"(bench took {time.perf_counter() - t:.0f} s)")
