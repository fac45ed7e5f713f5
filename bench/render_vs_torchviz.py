"""`gradviz render` vs the torchviz way (`make_dot(y).render(format="svg")` with Graphviz's `dot` binary),
end to end, side by side in one run; then the GUI cost of stepping a 2,000-node pass.

Needs, for the comparison only (never project dependencies): `apt-get install -y graphviz` (the `dot`
binary) and `pip install torchviz` in the venv. Run from the repository root:

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 .venv/bin/python bench/render_vs_torchviz.py [--repeat 3]

Both sides start a fresh Python, import torch, run the same model code and write an SVG; gradviz also runs
backward, records every engine step with its gradients, and draws with Qt. Runs alternate, so a busy machine
slows both alike; the table shows medians of wall time and of CPU time (of the whole process tree), and the
ratio of the fastest runs (the ones least disturbed by other work on a shared machine). `--case` picks cases
by a part of their name; `--skip-stepping` leaves out the GUI part.

gradviz's modules are compiled to bytecode first, as pip does when it installs a package (torch and torchviz
in site-packages are compiled): with PYTHONDONTWRITEBYTECODE set, each of gradviz's two processes would
otherwise compile its modules from source on every run. `--no-compile` measures without doing that.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "seed (detach)": """\
        import torch
        x = torch.arange(4.0, requires_grad=True)
        y = x * x
        u = y.detach()
        z = u * x
        out = z.sum()
    """,
    "MLP 784-256-256-10": """\
        import torch
        from torch import nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
        images = torch.randn(64, 784)
        labels = torch.randint(0, 10, (64,))
        out = nn.functional.cross_entropy(model(images), labels)
    """,
    "TransformerEncoder x6, d256": """\
        import torch
        from torch import nn
        torch.manual_seed(0)
        layer = nn.TransformerEncoderLayer(d_model=256, nhead=8, batch_first=True)
        model = nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
        tokens = torch.randn(2, 16, 256)
        out = model(tokens).pow(2).mean()
    """,
    "2,000-op chain": """\
        import torch
        x = torch.ones(3, requires_grad=True)
        y = x
        for _ in range(2000):
            y = y * 1.0001
        out = y.sum()
    """,
}

TORCHVIZ_TAIL = """
from torchviz import make_dot
params = {k: v for k, v in globals().items() if isinstance(v, torch.Tensor) and v.requires_grad and v.is_leaf}
if "model" in globals():
    params.update(dict(model.named_parameters()))
make_dot(out, params=params).render("{stem}", format="svg", cleanup=True)
"""


@dataclass
class Run:
    wall: float
    cpu: float
    ok: bool
    note: str


def _adopt_orphans() -> None:
    """Become the subreaper of what the commands start (Linux): `gradviz render` exits without waiting for
    its worker, which would otherwise take its CPU time elsewhere."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap_orphans() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """Wall and CPU time (children: the command and everything it starts) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t
    _reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    note = ""
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        note = "RecursionError" if "RecursionError" in proc.stderr else last[0][:80]
    return Run(wall, cpu, proc.returncode == 0, note or proc.stdout.strip()[:80])


def compare(repeat: int, picked: list[str] | None = None,
            compile_first: bool = True) -> list[tuple[str, list[Run], list[Run]]]:
    if compile_first:  # checked-hash: never stale, whoever edits the sources meanwhile
        subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash",
                        str(ROOT / "gradviz")], check=True)
    _adopt_orphans()
    work = Path(tempfile.mkdtemp(prefix="gradviz-bench-"))
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env.pop("QT_QPA_PLATFORM", None)  # `gradviz render` sets it itself
    results = []
    for i, (name, body) in enumerate(CASES.items()):
        if picked and not any(p.lower() in name.lower() for p in picked):
            continue
        body = textwrap.dedent(body)
        (work / f"g{i}.py").write_text(body + "out.backward()\n", encoding="utf-8")
        (work / f"t{i}.py").write_text(body + TORCHVIZ_TAIL.replace("{stem}", f"t{i}"), encoding="utf-8")
        g_runs, t_runs = [], []
        for _ in range(repeat):
            g_runs.append(timed([sys.executable, "-m", "gradviz.cli", "render", f"g{i}.py", "-o", f"g{i}.svg"],
                                work, env))
            t_runs.append(timed([sys.executable, f"t{i}.py"], work, env))
        results.append((name, g_runs, t_runs))
        print(f"  measured {name}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)
    return results


def stepping(n_ops: int = 2000, jumps: int = 60) -> dict[str, float]:
    """GUI work of going to a step of a big pass: `set_step` alone, and `set_step` + a synchronous repaint
    of a 1280x800 view showing the whole graph (fit) and a 100 % close-up."""
    import gradviz.gui  # noqa: F401 (PySide6 workaround first)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gradviz.core.capture import run_program
    from gradviz.core.layout import layout_pass
    from gradviz.gui.graphview import GraphView

    source = textwrap.dedent(CASES["2,000-op chain"]).replace("2000", str(n_ops)) + "out.backward()\n"
    p = run_program(source, "/tmp/chain.py").passes[-1]
    app = QApplication.instance() or QApplication([])
    view = GraphView()
    view.resize(1280, 800)
    view.show()
    t = time.perf_counter()
    lay = layout_pass(p, view.graph.measure())
    layout_s = time.perf_counter() - t
    view.graph.set_pass(p, lay)
    app.processEvents()
    total = len(p.steps)
    rng = random.Random(0)
    targets = [total, 0, total, 1, total // 2, total // 2 + 1, total // 2 - 1, total - 1]
    targets += [rng.randint(0, total) for _ in range(jumps)]
    step_only, with_paint = [], []
    for zoom in ("fit", "100%"):
        if zoom == "fit":
            view.fit()
        else:
            view.set_zoom(1.0)
            view.centerOn(view.graph.nodes[p.steps[total // 2].node])
        app.processEvents()
        for k in targets:
            t = time.perf_counter()
            view.graph.set_step(k)
            mid = time.perf_counter()
            view.viewport().repaint()
            end = time.perf_counter()
            step_only.append((mid - t) * 1000)
            with_paint.append((end - t) * 1000)
    view.close()
    return {"nodes": len(p.nodes), "steps": total, "layout_s": layout_s,
            "set_step_max_ms": max(step_only), "set_step_median_ms": statistics.median(step_only),
            "paint_max_ms": max(with_paint), "paint_median_ms": statistics.median(with_paint)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-compare", action="store_true", help="only measure stepping")
    ap.add_argument("--skip-stepping", action="store_true", help="only compare with torchviz")
    ap.add_argument("--case", action="append", help="only the cases whose name contains this (repeatable)")
    ap.add_argument("--no-compile", dest="compile", action="store_false",
                    help="do not compile gradviz's modules to bytecode first")
    args = ap.parse_args()
    if not args.skip_compare:
        if shutil.which("dot") is None:
            sys.exit("needs Graphviz's `dot` binary for torchviz: apt-get install -y graphviz")
        load = os.getloadavg()[0]
        print(f"end to end, median of {args.repeat} alternating runs (ratio > 1: gradviz is faster); "
              f"load average {load:.1f} on {os.cpu_count()} CPUs at the start\n")
        print(f"{'case':30} {'gradviz wall':>12} {'torchviz wall':>13} {'ratio':>6} {'fastest':>7}   "
              f"{'gradviz cpu':>11} {'torchviz cpu':>12} {'ratio':>6}  torchviz")
        for name, g, tv in compare(args.repeat, args.case, args.compile):
            gw, gc = statistics.median(r.wall for r in g), statistics.median(r.cpu for r in g)
            tw, tc = statistics.median(r.wall for r in tv), statistics.median(r.cpu for r in tv)
            tv_ok = all(r.ok for r in tv)
            status = "ok" if tv_ok else f"FAILED: {next(r for r in tv if not r.ok).note}"
            ratio_w = f"{tw / gw:6.2f}" if tv_ok else "   n/a"
            ratio_f = f"{min(r.wall for r in tv) / min(r.wall for r in g):7.2f}" if tv_ok else "    n/a"
            ratio_c = f"{tc / gc:6.2f}" if tv_ok else "   n/a"
            failed = [r for r in g if not r.ok]
            flag = f"  (gradviz FAILED {len(failed)}x: {failed[0].note})" if failed else ""
            print(f"{name:30} {gw:11.2f}s {tw:12.2f}s {ratio_w} {ratio_f}   {gc:10.2f}s {tc:11.2f}s {ratio_c}  "
                  f"{status}{flag}")
    if args.skip_stepping:
        return
    s = stepping()
    print(f"\nstepping a {s['nodes']}-node pass ({s['steps']} steps; laid out once in {s['layout_s']:.2f}s):")
    print(f"  set_step (restyle only):        median {s['set_step_median_ms']:.2f} ms, max {s['set_step_max_ms']:.2f} ms")
    print(f"  set_step + repaint of the view: median {s['paint_median_ms']:.2f} ms, max {s['paint_max_ms']:.2f} ms")


if __name__ == "__main__":
    main()
