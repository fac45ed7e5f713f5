"""The window on a 200-layer nn.TransformerEncoder backward pass (~14,400 nodes): time to the first painted
folded view, opening one encoder layer, stepping to random engine steps, memory.

The trace is captured once with `gradviz.core.capture.run_program` in a child process (OMP_NUM_THREADS=1;
d_model 128, nhead 8, dim_feedforward 512, seq 32, batch 4) and cached as JSON under /tmp, so this process
(the GUI) never imports torch. Then, in the offscreen window (real MainWindow, no worker):
- first paint: `stepper.set_trace(trace)` until the graph view has painted the folded view;
- open one layer: double-click the folded run (its first block opens), and open a layer fully (deep);
- stepping: `stepper.set_step(k)` for 20 random k, each followed by the repaint it causes (GUI work per step:
  scene restyle, locator, inspector, editor line, paint), the same with the loss node selected (the inspector
  keeps its node), and the graph view's `set_step(k)` alone, on the first view and on the opened ones; CPU
  time of this process (the machine may be shared) and wall time;
- memory: RSS after loading the trace, after the first paint, after opening, and the peak.
Optionally saves PNGs of the view (`--png DIR`).

    OMP_NUM_THREADS=1 .venv/bin/python bench/gui_big_graph.py [--layers 200] [--png /tmp] [--recapture]
    OMP_NUM_THREADS=1 .venv/bin/python bench/gui_big_graph.py --layers 3 --fold-nodes 50   # same, small model
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
CACHE = Path(tempfile.gettempdir()) / "gradviz-bench"
PROGRAM = """import torch
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=8, dim_feedforward=512)
net = torch.nn.TransformerEncoder(layer, num_layers={layers}, enable_nested_tensor=False)
x = torch.randn(32, 4, 128)
loss = net(x).pow(2).mean()
loss.backward()
"""


def capture(layers: int, out: Path) -> None:
    """In a child process: run the program under capture, write the trace JSON."""
    from gradviz.core.capture import run_program

    t = time.perf_counter()
    trace = run_program(PROGRAM.format(layers=layers), "transformer.py")
    if trace.status != "ok":
        raise SystemExit(f"capture failed: {trace.error}")
    out.write_text(trace.to_json(), encoding="utf-8")
    print(f"captured in {time.perf_counter() - t:.1f} s -> {out}", file=sys.stderr)


def trace_path(layers: int, recapture: bool) -> Path:
    path = CACHE / f"transformer{layers}.json"
    if recapture or not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, str(HERE), "--capture", str(layers), str(path)], check=True, env=env)
    return path


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--png", type=Path, default=None, help="save view grabs into this folder")
    parser.add_argument("--recapture", action="store_true")
    parser.add_argument("--fold-nodes", type=int, default=None,
                        help="fold passes over this many nodes (to compare with a small model folded alike)")
    parser.add_argument("--capture", nargs=2, metavar=("LAYERS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.capture:
        capture(int(args.capture[0]), Path(args.capture[1]))
        return 0

    path = trace_path(args.layers, args.recapture)
    from PySide6.QtCore import QEvent, QObject

    from gradviz.core.trace import Trace
    from gradviz.gui.app import make_application
    from gradviz.gui.mainwindow import MainWindow
    from gradviz.gui.settings import Settings

    app = make_application()
    assert "torch" not in sys.modules
    rows: list[tuple[str, str]] = []
    mem: list[tuple[str, float]] = [("start (Qt, no window)", rss_mb())]
    t = time.perf_counter()
    trace = Trace.from_json(path.read_text(encoding="utf-8"))
    rows.append(("load trace JSON (%.0f MB)" % (path.stat().st_size / 2**20), f"{time.perf_counter() - t:.2f} s"))
    pass_ = trace.passes[-1]
    mem.append(("trace loaded", rss_mb()))

    class Paints(QObject):
        """Counts paint events of the graph view's viewport."""

        count = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    def until(condition, limit: float = 120.0) -> None:  # noqa: ANN001
        end = time.monotonic() + limit
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the window did not get there in time")
            app.processEvents()

    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=Settings(Path(tmp) / "s.ini"), autosave_dir=Path(tmp) / "a", warm=False,
                            offer_autosave=False)
        window.resize(1600, 1000)
        window.show()
        until(lambda: window.isVisible())
        app.processEvents()
        view, scene = window.graph_view, window.scene
        if args.fold_nodes is not None:
            view.fold_nodes = args.fold_nodes
        paints = Paints()
        view.viewport().installEventFilter(paints)
        mem.append(("window shown", rss_mb()))

        # ---- first paint of the folded view
        ready: list[float] = []
        view.layout_ready.connect(lambda _l: ready.append(time.perf_counter()))
        t = time.perf_counter()
        window.stepper.set_trace(trace)
        until(lambda: bool(ready))
        before = paints.count
        until(lambda: paints.count > before)
        first_paint = time.perf_counter() - t
        rows.append((f"first picture: {len(pass_.nodes):,} nodes -> {len(scene.nodes)} boxes "
                     f"(fold + layout, off the GUI thread)", f"{(ready[0] - t) * 1000:.0f} ms"))
        rows.append(("first paint of the folded view (from set_trace)", f"{first_paint * 1000:.0f} ms"))
        mem.append(("folded view painted", rss_mb()))
        shot_step = len(pass_.steps) * 3 // 11  # a step inside the folded run: the run is lit, the locator says where

        def shot(name: str) -> None:
            if args.png:
                window.stepper.set_step(shot_step)
                app.processEvents()
                view.grab().save(str(args.png / name))
                window.stepper.set_step(0)
                app.processEvents()

        shot("big-graph-folded.png")

        def timed_steps(label: str) -> None:
            """Wall and CPU time (this process: the GUI thread; the layout pool is idle) per random step."""
            n = len(pass_.steps)
            picks = random.Random(7).sample(range(1, n + 1), min(args.steps, n))
            root = pass_.roots[0] if pass_.roots and pass_.roots[0] in scene.nodes else next(iter(scene.nodes))
            for what, step in (("window: stepper -> graph, locator, inspector, editor + repaint", window.stepper.set_step),
                               ("window, the loss node selected (the inspector keeps its node)", window.stepper.set_step),
                               ("window without the inspector's update", window.stepper.set_step),
                               ("graph view only: restyle, locator + repaint", view.set_step)):
                if what.startswith("window without"):
                    window._refresh_inspector = lambda: None  # type: ignore[method-assign]  # (measuring only)
                else:
                    window.__dict__.pop("_refresh_inspector", None)
                window.select_node(root if "selected" in what else None)
                app.processEvents()
                wall, cpu = [], []
                for k in picks:
                    t0, c0 = time.perf_counter(), time.process_time()
                    step(k)
                    app.processEvents()  # the repaint the step asked for (and the inspector's new widgets)
                    wall.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                rows.append((f"step to a random step, {label}, {what}",
                             f"CPU median {statistics.median(cpu):.1f} ms, max {max(cpu):.1f} ms; wall median "
                             f"{statistics.median(wall):.1f} ms"))
                window.stepper.set_step(0)
                view.set_step(0)
                app.processEvents()

        timed_steps(f"first view ({len(scene.nodes)} boxes)")

        # ---- open one encoder layer (double-click on the folded run: its first block opens)
        run = next(i for i, item in scene.nodes.items() if item.fold == "run")
        changed: list[float] = []
        view.view_changed.connect(lambda _v: changed.append(time.perf_counter()))
        t = time.perf_counter()
        view.expand(run)
        until(lambda: bool(changed))
        before = paints.count
        until(lambda: paints.count > before)
        rows.append((f"open one encoder layer (run's first block): {len(scene.nodes)} boxes, to paint",
                     f"{(time.perf_counter() - t) * 1000:.0f} ms"))
        shot("big-graph-layer.png")
        timed_steps(f"one layer open ({len(scene.nodes)} boxes)")

        deep = next(i for i, item in scene.nodes.items() if item.fold == "run")
        changed.clear()
        t = time.perf_counter()
        view.expand(deep, deep=True)
        until(lambda: bool(changed))
        before = paints.count
        until(lambda: paints.count > before)
        rows.append((f"open the next layer fully (deep): {len(scene.nodes)} boxes, to paint",
                     f"{(time.perf_counter() - t) * 1000:.0f} ms"))
        mem.append((f"two layers open ({len(scene.nodes)} boxes)", rss_mb()))
        shot("big-graph-layer-deep.png")
        timed_steps(f"a layer open fully ({len(scene.nodes)} boxes)")
        window.close()

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    width = max(len(r[0]) for r in rows)
    print(f"\n{args.layers}-layer TransformerEncoder: {len(pass_.nodes):,} nodes, {len(pass_.edges):,} edges, "
          f"{len(pass_.steps):,} steps")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print("  memory (RSS):")
    for name, value in mem:
        print(f"    {name:<{width - 2}}  {value:.0f} MB")
    print(f"    {'peak':<{width - 2}}  {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
