"""Time from run request to trace for the seed example: warm worker (torch already imported) vs cold start.

    .venv/bin/python bench/runner_latency.py [--runs N]

Both paths are measured side by side in one process; the parent never imports torch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gradviz.core.runner import Runner, RunRequest

SEED = """import torch
x = torch.arange(4.0, requires_grad=True)
y = 2 * torch.dot(x, x)
y.backward()
"""


def _timed_run(runner: Runner, request: RunRequest) -> float:
    started = time.perf_counter()
    trace = runner.run(request)
    elapsed = time.perf_counter() - started
    if trace.status != "ok" or "x" not in trace.final_grads:
        raise SystemExit(f"the seed example did not trace: {trace.status} {trace.error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per path (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.py"
        path.write_text(SEED, encoding="utf-8")
        request = RunRequest(SEED, str(path))
        warm, cold = [], []
        with Runner(warm=True) as warm_runner, Runner(warm=False) as cold_runner:
            for _ in range(args.runs):
                if not warm_runner.ready(120):
                    raise SystemExit("the warm worker did not become ready")
                warm.append(_timed_run(warm_runner, request))
                warm_runner.ready(120)  # its next worker warms up now, not during the cold run
                cold.append(_timed_run(cold_runner, request))
        assert "torch" not in sys.modules, "the runner's parent side must not import torch"
    w, c = statistics.median(warm), statistics.median(cold)
    print(f"seed example, request -> trace, {args.runs} runs each (median, min-max):")
    print(f"  warm worker: {w * 1000:7.1f} ms  ({min(warm) * 1000:.1f}-{max(warm) * 1000:.1f})")
    print(f"  cold start:  {c * 1000:7.1f} ms  ({min(cold) * 1000:.1f}-{max(cold) * 1000:.1f})")
    print(f"  cold / warm: {c / w:.1f}x")


if __name__ == "__main__":
    main()
