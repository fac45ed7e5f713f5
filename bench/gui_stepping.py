"""Stepping in the window versus laying the pass out again, side by side: what one Right-arrow costs.

Runs a program in the real window (offscreen, real runner), then times, on the same pass:
- one replay step: `stepper.next()` (scene restyle + inspector rebuild) plus the repaint it causes;
- one full layout of that pass (`graph_view.show_pass`), which stepping must never do.
Prints milliseconds per step, per layout, and their ratio.

    OMP_NUM_THREADS=1 .venv/bin/python bench/gui_stepping.py [--depth 25] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROGRAM = """import torch
torch.manual_seed(0)
x = torch.randn(8, requires_grad=True)
w = torch.randn(8, requires_grad=True)
h = x
for i in range({depth}):
    h = torch.tanh(h * w + 0.1)
loss = h.sum()
loss.backward()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=25, help="loop iterations (about 3 nodes each)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop, QTimer

    from gradviz.gui.app import make_application
    from gradviz.gui.mainwindow import MainWindow
    from gradviz.gui.settings import Settings

    app = make_application()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=Settings(Path(tmp) / "s.ini"), autosave_dir=Path(tmp) / "a",
                            offer_autosave=False)
        window.resize(1600, 1000)
        window.show()
        window.controller.wait_ready(120)
        window.set_source(PROGRAM.format(depth=args.depth), None, "bench.py")
        loop = QEventLoop()
        window.controller.trace_ready.connect(lambda _t: loop.quit())
        QTimer.singleShot(120_000, loop.quit)
        window.run_program()
        loop.exec()
        while window.graph_view.is_busy():  # big passes are laid out in the background
            app.processEvents()
        pass_ = window.current_pass()
        if pass_ is None:
            print("the run produced no pass", file=sys.stderr)
            return 1
        steps = len(pass_.steps)
        step_ms, layout_ms = [], []
        for _ in range(args.rounds):
            window.stepper.first()
            app.processEvents()
            t0 = time.perf_counter()
            for _k in range(steps):
                window.stepper.next()
                app.processEvents()
            step_ms.append((time.perf_counter() - t0) * 1000 / steps)
            t0 = time.perf_counter()
            window.graph_view.show_pass(pass_, background=False)
            app.processEvents()
            layout_ms.append((time.perf_counter() - t0) * 1000)
        window.controller.shutdown()
        window.editor.document().setModified(False)
        window.close()
    step, layout = statistics.median(step_ms), statistics.median(layout_ms)
    print(f"pass: {len(pass_.nodes)} nodes, {steps} steps")
    print(f"one step (restyle + inspector + repaint): {step:.2f} ms (median of {args.rounds} sweeps)")
    print(f"one layout of the same pass:             {layout:.1f} ms")
    print(f"layout / step: {layout / step:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
