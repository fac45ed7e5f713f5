"""The graph view: zoom, pan and find on a `GraphScene`, and laying out big passes off the GUI thread."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QPainter, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QGraphicsView, QLabel, QWidget

from gradviz.core.layout import Layout, LayoutInput, prepare, solve, solve_isolated
from gradviz.core.trace import Pass
from gradviz.gui.scene import GraphScene
from gradviz.gui.theme import LIGHT, Theme

# Passes with more nodes than this are laid out in the background (dot takes a noticeable time).
BACKGROUND_NODES = 300
# Zoomed out below OVERVIEW_ZOOM on a graph of over OVERVIEW_NODES nodes, nothing is readable: the scene
# draws one overview item instead of thousands of detailed ones.
OVERVIEW_NODES, OVERVIEW_ZOOM = 300, 0.2
MIN_ZOOM, MAX_ZOOM = 0.002, 8.0
FIND_ZOOM = 0.8
WHEEL_STEP = 1.0015  # zoom factor per wheel angle unit (1/8 degree): 120 units = one notch = ~20 %


class LayoutSignals(QObject):
    """What a `LayoutJob` reports, delivered on the thread that owns this object (the GUI thread)."""

    finished = Signal(int, object)  # job token, Layout
    failed = Signal(int, str)  # job token, message


class LayoutJob(QRunnable):
    """Runs `dot` on an already measured pass in a thread-pool thread. The solve itself happens in a child
    process because pygraphviz holds the GIL during layout; the thread only waits for it."""

    def __init__(self, spec: LayoutInput, token: int, isolated: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.token = token
        self.isolated = isolated
        self.signals = LayoutSignals()
        self.setAutoDelete(False)  # the view keeps the job (and its signals) alive until it reports

    def run(self) -> None:
        try:
            layout = solve_isolated(self.spec) if self.isolated else solve(self.spec)
        except Exception as e:  # reported to the view, which shows it instead of crashing the pool thread
            self.signals.failed.emit(self.token, f"{type(e).__name__}: {e}")
            return
        self.signals.finished.emit(self.token, layout)


class BusyOverlay(QLabel):
    """A centred "laying out..." notice over the view while a background layout runs."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("QLabel { background: rgba(30, 34, 42, 200); color: white; border-radius: 8px;"
                           " padding: 12px 18px; font-size: 14px; }")
        self.hide()

    def show_text(self, text: str) -> None:
        self.setText(text)
        self.adjustSize()
        self.recentre()
        self.show()
        self.raise_()

    def recentre(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.move((parent.width() - self.width()) // 2, (parent.height() - self.height()) // 2)


class GraphView(QGraphicsView):
    """Shows a `GraphScene`: wheel / Ctrl +/- zoom, Ctrl+0 fit, drag to pan, `find(text)`. `show_pass()`
    lays a pass out (in the background when big, with a busy notice) and emits `layout_ready`."""

    layout_ready = Signal(object)  # the Layout now shown
    layout_failed = Signal(str)
    busy_changed = Signal(bool)
    zoom_changed = Signal(float)

    def __init__(self, scene: GraphScene | None = None, parent: QWidget | None = None,
                 theme: Theme = LIGHT) -> None:
        super().__init__(parent)
        self.graph = scene if scene is not None else GraphScene(theme, self)
        self.setScene(self.graph)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.busy = BusyOverlay(self.viewport())
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._tokens = itertools.count(1)
        self._pending: tuple[int, Pass] | None = None
        self._jobs: dict[int, LayoutJob] = {}  # running jobs, kept alive until they report
        self._found: tuple[str, list[str], int] = ("", [], -1)
        self._found_in: Pass | None = None

    # ------------------------------------------------------------------ passes and layout

    def show_pass(self, pass_: Pass | None, direction: str = "TB", background: bool | None = None) -> None:
        """Lay out `pass_` and show it at step 0. Big passes (over `BACKGROUND_NODES` nodes, or whenever
        `background` is True) are laid out off the GUI thread; `layout_ready` is emitted when shown."""
        self._pending = None
        if pass_ is None or not pass_.nodes:
            self._set_busy(False)
            self.graph.set_pass(pass_, None)
            self.layout_ready.emit(None)
            return
        spec = prepare(pass_, self.graph.measure(), direction)  # text metrics: GUI thread only
        if background is None:
            background = len(pass_.nodes) > BACKGROUND_NODES
        if not background:
            self._set_busy(False)
            self._show(pass_, solve(spec))
            return
        token = next(self._tokens)
        job = LayoutJob(spec, token)
        job.signals.finished.connect(self._on_layout_finished)
        job.signals.failed.connect(self._on_layout_failed)
        self._pending = (token, pass_)
        self._jobs[token] = job
        self._set_busy(True, f"Laying out {len(pass_.nodes):,} nodes…")
        self.pool.start(job)

    def _show(self, pass_: Pass, layout: Layout) -> None:
        self.graph.set_pass(pass_, layout)
        self.fit()
        self.layout_ready.emit(layout)

    def _on_layout_finished(self, token: int, layout: Layout) -> None:
        self._jobs.pop(token, None)
        if self._pending is None or self._pending[0] != token:
            return  # a newer pass replaced this one while it was being laid out
        _, pass_ = self._pending
        self._pending = None
        self._set_busy(False)
        self._show(pass_, layout)

    def _on_layout_failed(self, token: int, message: str) -> None:
        self._jobs.pop(token, None)
        if self._pending is None or self._pending[0] != token:
            return
        self._pending = None
        self._set_busy(False)
        self.layout_failed.emit(message)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        was = self.busy.isVisible()
        if busy:
            self.busy.show_text(text)
            self.viewport().setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.busy.hide()
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        if was != busy:
            self.busy_changed.emit(busy)

    def is_busy(self) -> bool:
        """True while a background layout is running."""
        return self._pending is not None

    # ------------------------------------------------------------------ zoom, pan, find

    def zoom(self) -> float:
        """The current scale (1.0 = 100 %)."""
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        """Zoom to `factor`, within sane limits."""
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        current = self.zoom()
        if current > 0 and abs(factor - current) > 1e-9:
            self.scale(factor / current, factor / current)
            self._on_zoomed()

    def _on_zoomed(self) -> None:
        self.graph.set_overview(len(self.graph.nodes) > OVERVIEW_NODES and self.zoom() < OVERVIEW_ZOOM)
        self.zoom_changed.emit(self.zoom())

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / 1.25)

    def fit(self) -> None:
        """Show the whole graph (never magnified beyond 100 %, so small graphs stay crisp)."""
        rect = self.graph.sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.set_zoom(1.0)
        else:
            self._on_zoomed()
        self.centerOn(rect.center())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        delta = event.angleDelta().y()
        if delta:
            self.set_zoom(self.zoom() * WHEEL_STEP ** delta)
            event.accept()
        else:
            super().wheelEvent(event)

    def find(self, text: str) -> list[str]:  # type: ignore[override]  # (QWidget.find(WId) is unrelated)
        """Find nodes by variable name or op type; select and centre the first match (zooming in to a
        readable size if needed), and the next one on each repeated call with the same text. Returns every
        matching node id."""
        query, matches, index = self._found
        if text == query and matches and self.graph.pass_ is self._found_in:
            index = (index + 1) % len(matches)
        else:
            matches, index = self.graph.find(text), 0
        self._found, self._found_in = (text, matches, index), self.graph.pass_
        if not matches:
            return []
        node_id = matches[index]
        self.graph.select_node(node_id)
        item = self.graph.nodes.get(node_id)
        if item is not None:
            if self.zoom() < FIND_ZOOM:
                self.set_zoom(FIND_ZOOM)  # a found node should be readable, not a dot in a big graph
            self.centerOn(item)
        return matches

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        """Ctrl + / Ctrl = zoom in, Ctrl - zoom out, Ctrl 0 fit; other keys as usual."""
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        key = event.key()
        if event.matches(QKeySequence.StandardKey.ZoomIn) or (ctrl and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal)):
            self.zoom_in()
        elif event.matches(QKeySequence.StandardKey.ZoomOut) or (ctrl and key == Qt.Key.Key_Minus):
            self.zoom_out()
        elif ctrl and key == Qt.Key.Key_0:
            self.fit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self.busy.recentre()
