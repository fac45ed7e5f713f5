"""`gradviz shot`: a screenshot of the whole window on a program at a chosen replay step, drawn offscreen."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SIZE = (1600, 1000)


class ShotError(Exception):
    """The screenshot could not be made (program missing, run never finished, image not written)."""


@dataclass(frozen=True)
class ShotResult:
    """What was drawn: the file, the run's status, which pass and step, the pass's step count, and the
    window's title and menu titles as drawn (in the language asked for)."""

    path: Path
    status: str
    pass_index: int
    step: int
    steps: int
    title: str = ""
    menus: tuple[str, ...] = ()


def parse_size(text: str) -> tuple[int, int]:
    """"1600x1000" -> (1600, 1000)."""
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError as e:
        raise ValueError(f"size must look like 1600x1000, not {text!r}") from e
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise ValueError(f"size {w}x{h} is out of range (200..8000 per side)")
    return w, h


def take_shot(file: str | Path, output: str | Path, *, step: int | None = None, pass_index: int | None = None,
              size: tuple[int, int] = DEFAULT_SIZE, theme: str = "light", select: str | None = None,
              timeout: float = 60.0, language: str | None = None) -> ShotResult:
    """Open the window offscreen on `file`, run it, show pass `pass_index` (default: the window's choice) at
    `step` (default: the last; negative counts from the end), optionally select the node named `select`,
    and save the window as a PNG. `language` ("en", "zh_CN") defaults to the system's, as the app's does.
    Settings and autosave go to a temporary folder, never the user's."""
    source_path = Path(file)
    if not source_path.is_file():
        raise ShotError(f"no such file: {file}")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QEventLoop, QTimer

    from gradviz.gui.app import make_application
    from gradviz.gui.i18n import current_language, install_language, normalise, startup_language
    from gradviz.gui.mainwindow import MainWindow
    from gradviz.gui.settings import Settings

    if language is not None and normalise(language) is None:
        raise ShotError(f"unknown language {language!r} (use en or zh_CN)")
    app = make_application()
    previous = current_language()
    install_language(startup_language(language))
    with tempfile.TemporaryDirectory(prefix="gradviz-shot-") as tmp:
        settings = Settings(Path(tmp) / "settings.ini")
        settings.set_theme(theme)
        settings.set_zoom_mode("fit")
        window = MainWindow(settings=settings, autosave_dir=Path(tmp) / "autosave", warm=False, offer_autosave=False)
        try:
            if not window.open_file(source_path, ask=False):
                raise ShotError(f"cannot read {file}")
            window.resize(*size)
            window.show()
            app.processEvents()

            loop = QEventLoop()
            failures: list[object] = []
            window.controller.running_changed.connect(lambda running: None if running else loop.quit())
            window.controller.run_failed.connect(failures.append)
            deadline = time.monotonic() + timeout
            QTimer.singleShot(int(timeout * 1000), loop.quit)
            started = window.run_program()
            if started:
                loop.exec()
            trace = window.trace()
            if trace is None:
                if started:
                    window.stop_program()
                reason = f": {failures[0]}" if failures else f" within {timeout:g} s"
                raise ShotError(f"the program did not finish{reason}")
            if pass_index is not None:
                count = len(trace.passes)
                if not 0 <= pass_index < count:
                    raise ShotError(f"--pass {pass_index + 1} does not exist: the run made {count} pass(es)")
                window.stepper.set_pass(pass_index)
            _wait_for_layout(window, deadline)
            total = window.stepper.step_count()
            k = total if step is None else (total + 1 + step if step < 0 else step)
            window.stepper.set_step(k)
            if select:
                shown = window.current_pass()
                hits = [n.id for n in (shown.nodes if shown is not None else ())
                        if select in n.names or n.type == select or n.id == select]
                if not hits:
                    raise ShotError(f"no node named {select!r} in this pass")
                window.select_node(hits[0])
            _settle(app)
            window.fit_graph()
            _settle(app)
            out = Path(output)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(out), "PNG"):
                raise ShotError(f"could not write {out}")
            menus = tuple(a.text() for a in window.menuBar().actions() if a.menu() is not None)
            return ShotResult(out, trace.status, window.stepper.pass_index(), window.stepper.step(), total,
                              window.windowTitle(), menus)
        finally:
            window.close()
            window.controller.shutdown()
            window.deleteLater()
            app.processEvents()
            install_language(previous)


def _wait_for_layout(window, deadline: float) -> None:  # noqa: ANN001 (MainWindow)
    """Wait for the graph's background layout (passes of more than a few dozen nodes) to be shown, so the
    picture is the graph and not the "Laying out…" notice; a layout still running at `deadline` is an error."""
    from PySide6.QtCore import QEventLoop, QTimer

    view = window.graph_view
    while view.is_busy():
        left = deadline - time.monotonic()
        if left <= 0:
            view.cancel_layout()
            raise ShotError("the graph's layout did not finish within the timeout")
        loop = QEventLoop()
        view.busy_changed.connect(loop.quit)
        QTimer.singleShot(int(min(left, 0.25) * 1000) + 1, loop.quit)
        loop.exec()
        view.busy_changed.disconnect(loop.quit)


def _settle(app) -> None:  # noqa: ANN001 (QApplication)
    """Let layouts, deferred fits and repaints happen before grabbing."""
    for _ in range(3):
        app.processEvents()
