"""The graph view: zoom, pan and find on a `GraphScene`; layout off the GUI thread (with Cancel); and big passes
shown folded (`gradviz.core.fold`): opened and closed module by module, each change laid out incrementally
so the picture stays put, stepped in the engine's numbering."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QObject,
    QPointF,
    QRectF,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QContextMenuEvent,
    QHideEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QWidget,
)

from gradviz.core.fold import FOLD_KEY, ROOT, FoldedGraph, FoldedView, ViewState, group_id
from gradviz.core.layered import solve_auto, solve_layered
from gradviz.core.layout import Layout, LayoutInput, prepare, solve
from gradviz.core.replay import Replay
from gradviz.core.trace import Pass
from gradviz.gui.minimap import Minimap
from gradviz.gui.scene import GraphScene
from gradviz.gui.theme import LIGHT, Theme

# Passes with more nodes than this are laid out in the background (dot takes a noticeable time).
BACKGROUND_NODES = 300
# Passes with more nodes than this open folded: grouped by module, identical blocks folded into one box.
FOLD_NODES = 1000
FIRST_VIEW_ITEMS = 60  # boxes the first folded view may show (modules opened level by level up to this)
# A change of a folded view with more boxes than this is laid out in the background; smaller ones at once.
RELAYOUT_SYNC_ITEMS = 150
BUSY_DELAY_MS = 300  # background layouts quicker than this never show the busy notice
# Zoomed out below OVERVIEW_ZOOM on a graph of over OVERVIEW_NODES nodes, nothing is readable: the scene
# draws one overview item instead of thousands of detailed ones.
OVERVIEW_NODES, OVERVIEW_ZOOM = 300, 0.2
MIN_ZOOM, MAX_ZOOM = 0.002, 8.0
READABLE_ZOOM = 0.8  # a folded view is never fitted smaller than this: its boxes are there to be read
LOCATOR_ROOM = 36  # pixels kept free above a folded view fitted from its top
FIND_ZOOM = 0.8
WHEEL_STEP = 1.0015  # zoom factor per wheel angle unit (1/8 degree): 120 units = one notch = ~20 %


class Cancelled(Exception):
    """A background layout stopped by Cancel."""


class IsolatedDot:
    """Graphviz `dot` in a child Python process that `cancel()` can kill. pygraphviz holds the GIL while
    `dot` runs, so a thread alone would freeze the GUI; a process does not, and can be stopped."""

    def __init__(self, timeout: float = 600.0) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._cancelled = False

    def __call__(self, spec: LayoutInput) -> Layout:
        with self._lock:
            if self._cancelled:
                raise Cancelled()
            self._proc = subprocess.Popen([sys.executable, "-m", "gradviz.core.layout"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env=_child_env())
        try:
            out, err = self._proc.communicate(json.dumps(spec.to_dict()), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            raise RuntimeError(f"dot took longer than {self.timeout:.0f} s") from None
        if self._cancelled:
            raise Cancelled()
        if self._proc.returncode != 0:
            raise RuntimeError(f"layout process failed ({self._proc.returncode}): {err.strip()[-2000:]}")
        return Layout.from_dict(json.loads(out))

    def cancel(self) -> None:
        """Stop the child process (if it runs) and make any later call raise `Cancelled`."""
        with self._lock:
            self._cancelled = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()


def _child_env() -> dict[str, str]:
    """This environment, with the directory holding the `gradviz` package importable."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class LayoutSignals(QObject):
    """What a `LayoutJob` reports, delivered on the thread that owns this object (the GUI thread)."""

    finished = Signal(int, object)  # job token, result
    failed = Signal(int, str)  # job token, message


class LayoutJob(QRunnable):
    """Runs `work()` (a layout, or folding a pass) in a thread-pool thread and reports its result. `cancel`
    stops what can be stopped (a `dot` child process); a pure-Python layout runs on and its result is dropped."""

    def __init__(self, work: Callable[[], object], token: int, cancel: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.work = work
        self.token = token
        self.cancel = cancel or (lambda: None)
        self.signals = LayoutSignals()
        self.setAutoDelete(False)  # the view keeps the job (and its signals) alive until it reports

    def run(self) -> None:
        try:
            result = self.work()
        except Cancelled:
            self.signals.failed.emit(self.token, "cancelled")
            return
        except Exception as e:  # reported to the view, which shows it instead of crashing the pool thread
            self.signals.failed.emit(self.token, f"{type(e).__name__}: {e}")
            return
        self.signals.finished.emit(self.token, result)


class BusyOverlay(QFrame):
    """A centred notice over the view while a background layout runs: what is being done, for how long,
    and a Cancel button."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("busyOverlay")
        self.setStyleSheet("QFrame#busyOverlay { background: rgba(30, 34, 42, 215); border-radius: 8px; }"
                           " QLabel { color: white; font-size: 14px; }")
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 10, 10, 10)
        row.setSpacing(12)
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)  # indeterminate: the layout reports no fraction, the label counts seconds
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(90, 10)
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.cancel_button.setObjectName("cancelLayoutButton")
        self.cancel_button.clicked.connect(self.cancel_requested)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self._text = ""
        self._started = 0.0
        self._clock = QTimer(self)
        self._clock.setInterval(500)
        self._clock.timeout.connect(self._tick)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def show_text(self, text: str) -> None:
        self._text = text
        self._started = time.monotonic()
        self.label.setText(text)
        self._clock.start()
        self.adjustSize()
        self.recentre()
        self.show()
        self.raise_()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt API)
        self._clock.stop()
        super().hideEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.LanguageChange:
            self.cancel_button.setText(self.tr("Cancel"))
        super().changeEvent(event)

    def _tick(self) -> None:
        seconds = time.monotonic() - self._started
        self.label.setText(f"{self._text}  {seconds:.0f} s")
        self.adjustSize()
        self.recentre()

    def recentre(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.move((parent.width() - self.width()) // 2, (parent.height() - self.height()) // 2)


class Locator(QLabel):
    """A line at the top of the view saying where the engine is when its current node is hidden inside a
    folded box: which op, in which module, which block of a folded run (elided to the view's width, whole
    in its tooltip). A child of the view, not of its viewport, so scrolling does not carry it away."""

    def __init__(self, view: QGraphicsView) -> None:
        super().__init__(view)
        self.view = view
        self.setObjectName("stepLocator")
        self.setStyleSheet("QLabel { background: rgba(30, 34, 42, 200); color: white; border-radius: 6px;"
                           " padding: 4px 10px; font-size: 13px; }")
        self.full = ""
        self.hide()

    def show_text(self, text: str) -> None:
        if not text:
            self.full = ""
            self.hide()
            return
        if text != self.full:
            self.full = text
            self.setToolTip(text)
            self.place()
        self.show()
        self.raise_()

    def place(self) -> None:
        """Elide to the viewport's width and sit in its top-left corner."""
        if not self.full:
            return
        port = self.view.viewport().geometry()
        room = max(80, port.width() - 16 - 22)  # 22: the label's padding
        self.setText(self.fontMetrics().elidedText(self.full, Qt.TextElideMode.ElideMiddle, room))
        self.adjustSize()
        self.move(port.left() + 8, port.top() + 8)


@dataclass
class _Pending:
    """A background job the view waits for: what to do with its result."""

    token: int
    kind: str  # "pass": a whole pass laid out; "fold": a pass folded; "first": the first folded view laid out;
    # "view": a changed folded view laid out
    pass_: Pass
    view: FoldedView | None = None
    keep: tuple[str, QPointF] | None = None  # (underlying node, viewport point its box should stay at)
    select: str | None = None  # node to select and centre once shown


class GraphView(QGraphicsView):
    """Shows a `GraphScene`: wheel / Ctrl +/- zoom, Ctrl+0 fit, drag to pan, `find(text)`, a minimap.
    `show_pass()` lays a pass out (in the background when big, with a busy notice and Cancel) and emits
    `layout_ready`. A pass of more than `fold_nodes` nodes is shown folded; `expand` / `collapse` /
    `unfold` / `fold_run` (double-click, context menu) change what is open and emit `view_changed`.
    Steps are the engine's steps of the pass shown (`set_step`), whatever is folded."""

    layout_ready = Signal(object)  # the Layout now shown
    layout_failed = Signal(str)
    busy_changed = Signal(bool)
    zoom_changed = Signal(float)
    view_changed = Signal(object)  # the FoldedView now shown, after an expand / collapse

    def __init__(self, scene: GraphScene | None = None, parent: QWidget | None = None,
                 theme: Theme = LIGHT) -> None:
        super().__init__(parent)
        self.graph = scene if scene is not None else GraphScene(theme, self)
        self.fit_whole_hook: Callable[[], None] | None = None  # set by the window: its Fit button's fit
        # the whole graph is fitted and the person has not zoomed, searched or clicked since: a resize (a
        # dock opening, the window resized) fits it again
        self.fitted = False
        self._refit_timer = QTimer(self)
        self._refit_timer.setSingleShot(True)
        self._refit_timer.setInterval(0)
        self._refit_timer.timeout.connect(self._refit)
        self.setScene(self.graph)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.fold_nodes = FOLD_NODES
        self.busy = BusyOverlay(self)  # children of the view: scrolling the viewport would carry them along
        self.busy.cancel_requested.connect(self.cancel_layout)
        self.locator = Locator(self)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)  # a cancelled pure-Python layout may still be finishing in the other
        self._tokens = itertools.count(1)
        self._pending: _Pending | None = None
        self._jobs: dict[int, LayoutJob] = {}  # running jobs, kept alive until they report
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.timeout.connect(self._show_busy_late)
        self._busy_text = ""
        self._found: tuple[str, list[str], int] = ("", [], -1)
        self._found_in: Pass | None = None
        self._find_base: ViewState | None = None  # the state a find opened groups from
        self.source: Pass | None = None  # the pass shown (or being laid out), before any folding
        self.folded: FoldedGraph | None = None
        self.folded_view: FoldedView | None = None
        self._replay: Replay | None = None
        self._direction = "TB"
        self._step = 0
        self.graph.node_double_clicked.connect(self._on_double_click)
        self.minimap = Minimap(self)

    # ------------------------------------------------------------------ passes and layout

    def show_pass(self, pass_: Pass | None, direction: str = "TB", background: bool | None = None) -> None:
        """Lay out `pass_` and show it at step 0. Big passes (over `BACKGROUND_NODES` nodes, or whenever
        `background` is True) are laid out off the GUI thread; passes over `fold_nodes` nodes are folded
        first (off the GUI thread too). `layout_ready` is emitted when shown."""
        self._drop_pending()
        self.source, self.folded, self._replay = pass_, None, None
        self._direction, self._step, self._find_base = direction, 0, None
        if pass_ is None or not pass_.nodes:
            self._set_busy(False)
            self.folded_view = None
            self.graph.set_pass(pass_, None)
            self._after_layout()
            self.layout_ready.emit(None)
            return
        if len(pass_.nodes) > self.fold_nodes:
            self._start(_Pending(next(self._tokens), "fold", pass_), lambda: _fold(pass_),
                        self.tr("Grouping {0:,} nodes by module…").format(len(pass_.nodes)))
            return
        spec = prepare(pass_, self.graph.measure(), direction)  # text metrics: GUI thread only
        if background is None:
            background = len(pass_.nodes) > BACKGROUND_NODES
        if not background:
            self._set_busy(False)
            self._show(pass_, solve(spec), None)
            return
        dot = IsolatedDot()
        self._start(_Pending(next(self._tokens), "pass", pass_), lambda: solve_auto(spec, dot=dot),
                    self.tr("Laying out {0:,} nodes…").format(len(pass_.nodes)), cancel=dot.cancel)

    def _start(self, pending: _Pending, work: Callable[[], object], text: str, delay: int = 0,
               cancel: Callable[[], None] | None = None) -> None:
        job = LayoutJob(work, pending.token, cancel)
        job.signals.finished.connect(self._on_job_finished)
        job.signals.failed.connect(self._on_job_failed)
        self._pending = pending
        self._jobs[pending.token] = job
        self._set_busy(True, text, delay)
        self.pool.start(job)

    def _show(self, pass_: Pass, layout: Layout, view: FoldedView | None) -> None:
        self.folded_view = view
        self.graph.set_pass(pass_, layout, view)
        self._after_layout()
        self.fit()
        self.layout_ready.emit(layout)

    def _on_job_finished(self, token: int, result: object) -> None:
        self._jobs.pop(token, None)
        pending = self._pending
        if pending is None or pending.token != token:
            return  # a newer request replaced this one while it ran
        self._pending = None
        if pending.kind == "fold":
            assert isinstance(result, tuple)
            self.folded, view, self._replay = result
            spec = prepare(view.pass_, self.graph.measure(), self._direction)
            # The layered layout from the first view on: every later change is laid out by it too, so the
            # first change does not move everything by the difference between its spacing and dot's.
            self._start(_Pending(next(self._tokens), "first", pending.pass_, view), lambda: solve_layered(spec),
                        self.tr("Laying out {0:,} boxes…").format(len(view.pass_.nodes)))
            return
        self._set_busy(False)
        assert isinstance(result, Layout)
        if pending.kind == "view" and pending.view is not None:
            self._show_view(pending.view, result, pending.keep, pending.select)
        else:
            self._show(pending.view.pass_ if pending.view is not None else pending.pass_, result, pending.view)

    def _on_job_failed(self, token: int, message: str) -> None:
        self._jobs.pop(token, None)
        pending = self._pending
        if pending is None or pending.token != token:
            return
        self._pending = None
        self._set_busy(False)
        if pending.kind != "view":  # a failed change of view keeps the picture shown
            self.layout_failed.emit(message)

    def cancel_layout(self) -> None:
        """Stop the background layout (Cancel): a change of a folded view keeps the picture shown; a new
        pass reports `layout_failed("cancelled")`."""
        pending = self._pending
        if pending is None:
            return
        self._drop_pending()
        self._set_busy(False)
        if pending.kind != "view":
            self.layout_failed.emit("cancelled")

    def _drop_pending(self) -> None:
        if self._pending is not None:
            job = self._jobs.get(self._pending.token)
            if job is not None:
                job.cancel()
        self._pending = None

    def _set_busy(self, busy: bool, text: str = "", delay: int = 0) -> None:
        was = self.busy.isVisible() or self._busy_timer.isActive()
        self._busy_timer.stop()
        if busy and delay > 0:
            self._busy_text = text
            self._busy_timer.start(delay)
        elif busy:
            self.busy.show_text(text)
            self.viewport().setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.busy.hide()
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        if was != busy:
            self.busy_changed.emit(busy)

    def _show_busy_late(self) -> None:
        if self._pending is not None:
            self.busy.show_text(self._busy_text)
            self.viewport().setCursor(Qt.CursorShape.BusyCursor)

    def is_busy(self) -> bool:
        """True while a background layout is running."""
        return self._pending is not None

    def _after_layout(self) -> None:
        """What every new picture needs: the step shown, the margins that let any box sit anywhere on
        screen (folded views), the minimap and the locator."""
        view = self.folded_view
        self.graph.set_step(view.view_step(self._step) if view is not None else self._step)
        self._fit_view_rect()
        self.minimap.set_graph_changed()
        self._update_locator()

    def _fit_view_rect(self) -> None:
        """A folded view scrolls a viewport's size past its edges, so the box a person clicked can stay under
        the mouse when the picture grows or shrinks around it; other passes scroll within the drawing."""
        rect = self.graph.sceneRect()
        if self.folded_view is None or rect.isEmpty():
            self.setSceneRect(QRectF())  # follow the scene
            return
        z = max(self.zoom(), MIN_ZOOM)
        mx, my = self.viewport().width() / z, self.viewport().height() / z
        self.setSceneRect(rect.adjusted(-mx, -my, mx, my))

    # ------------------------------------------------------------------ folded views

    def is_folded(self) -> bool:
        """True when the pass is shown folded (modules as boxes, identical blocks as one)."""
        return self.folded_view is not None and self.folded is not None

    def state(self) -> ViewState | None:
        """What the folded view shows open (None for a pass drawn node by node)."""
        return self.folded_view.state if self.folded_view is not None else None

    def set_state(self, state: ViewState, keep: str | None = None, select: str | None = None) -> bool:
        """Show the folded view `state`: laid out incrementally from the picture shown (boxes that stay keep
        their order and place; new ones start where the box they came out of was). `keep`: a visible item
        id whose place on screen stays put; `select`: a node to select and centre once shown. Small views are
        laid out at once, bigger ones in the background (`view_changed` says when). False if nothing changes."""
        fg, old = self.folded, self.folded_view
        if fg is None or old is None or self.graph.view is not old:
            return False
        if state == old.state:
            self._drop_pending()
            self._set_busy(False)
            if select is not None:
                self._select_and_centre(select)
            return False
        view = fg.view(state)
        spec = prepare(view.pass_, self.graph.measure(), self._direction)
        anchors = view.anchors(old)
        previous = self.graph.layout
        keep_at = None
        if keep is not None and keep in self.graph.nodes:
            first = self._first_node(old, keep)
            if first is not None:
                keep_at = (first, QPointF(self.mapFromScene(self.graph.nodes[keep].rect.center())))
        self._drop_pending()
        if len(view.pass_.nodes) <= RELAYOUT_SYNC_ITEMS:
            self._set_busy(False)
            self._show_view(view, solve_auto(spec, previous=previous, anchors=anchors), keep_at, select)
            return True
        pending = _Pending(next(self._tokens), "view", old.source, view, keep_at, select)
        self._start(pending, lambda: solve_auto(spec, previous=previous, anchors=anchors),
                    self.tr("Laying out {0:,} boxes…").format(len(view.pass_.nodes)), delay=BUSY_DELAY_MS)
        return True

    def _show_view(self, view: FoldedView, layout: Layout, keep: tuple[str, QPointF] | None,
                   select: str | None) -> None:
        """Put a changed folded view on screen at the same zoom, restoring highlight and selection."""
        old = self.folded_view
        lit = list(self.graph.highlight_ids)
        selected = self._first_node(old, self.graph.selected) if old is not None and self.graph.selected else None
        self.folded_view = view
        self.graph.set_pass(view.pass_, layout, view)
        self._after_layout()
        self.graph.highlight_nodes(lit)
        if keep is not None:
            box = layout.box(view.item_of(keep[0]))
            self._place(QPointF(box.x, box.y), keep[1])
        if select is not None:
            self._select_and_centre(select)
        elif selected is not None:
            self.graph.select_node(selected)
        self.minimap.update()
        self.view_changed.emit(view)

    def _place(self, scene_point: QPointF, viewport_point: QPointF) -> None:
        """Scroll (same zoom) so `scene_point` shows at `viewport_point`."""
        z = self.zoom()
        centre = QPointF(self.viewport().rect().center())
        self.centerOn(scene_point - (viewport_point - centre) / z)

    @staticmethod
    def _first_node(view: FoldedView, item_id: str) -> str | None:
        """The first underlying node (in pass order) a visible item holds."""
        if item_id in view.node_item:
            return item_id
        return next((nid for nid, it in view.node_item.items() if it == item_id), None)

    def expand(self, item_id: str, deep: bool = False) -> bool:
        """Open a collapsed module (`group:…`) or the first block of a folded run (`run:…`); `deep` opens
        everything inside it too. The box stays under the mouse."""
        if self.folded is None or self.folded_view is None:
            return False
        self._find_base = None
        return self.set_state(self.folded.expand(self.folded_view.state, item_id, deep), keep=item_id)

    def collapse(self, item_id: str) -> bool:
        """Close the innermost open module holding this box (for a collapsed module: its parent)."""
        if self.folded is None or self.folded_view is None:
            return False
        self._find_base = None
        return self.set_state(self._collapsed(item_id), keep=item_id)

    def _collapsed(self, item_id: str) -> ViewState:
        fg, state = self.folded, self.folded_view.state if self.folded_view is not None else ViewState()
        assert fg is not None
        node = self.graph.nodes.get(item_id)
        fold = node.node.attrs.get(FOLD_KEY) if node is not None else None
        if node is not None and fold is not None:  # a box of a closed module or run: the module it sits in
            parent = node.node.attrs.get("module") if fold == "run" else fg.modules[item_id[len("group:"):]].parent
            if parent in (None, ROOT):
                return state
            return fg.collapse(state, group_id(parent))
        return fg.collapse(state, item_id)

    def unfold(self, item_id: str) -> bool:
        """Show every block of a folded run as its own box."""
        if self.folded is None or self.folded_view is None:
            return False
        self._find_base = None
        return self.set_state(self.folded.unfold(self.folded_view.state, item_id), keep=item_id)

    def fold_run(self, item_id: str) -> bool:
        """Fold the unfolded run this box belongs to back into one box."""
        run = self._unfolded_run(item_id)
        if run is None or self.folded is None or self.folded_view is None:
            return False
        self._find_base = None
        return self.set_state(self.folded.fold(self.folded_view.state, run), keep=item_id)

    def _unfolded_run(self, item_id: str) -> str | None:
        """The unfolded run whose member holds this box, if any."""
        fg, view = self.folded, self.folded_view
        if fg is None or view is None:
            return None
        first = self._first_node(view, item_id)
        if first is None:
            return None
        for rid, _ in fg.locate(first):
            if rid in view.state.unfolded:
                return rid
        return None

    def fold_actions(self, item_id: str) -> list[tuple[str, Callable[[], bool]]]:
        """The context-menu entries for a box of a folded view: (text, action)."""
        node = self.graph.nodes.get(item_id)
        fg, view = self.folded, self.folded_view
        if node is None or fg is None or view is None:
            return []
        attrs = node.node.attrs
        fold = attrs.get(FOLD_KEY)
        out: list[tuple[str, Callable[[], bool]]] = []
        if fold == "group":
            out.append((self.tr("Open {0}").format(attrs["module"]), lambda: self.expand(item_id)))
            out.append((self.tr("Open everything inside"), lambda: self.expand(item_id, deep=True)))
        elif fold == "run":
            out.append((self.tr("Open the first block ({0})").format(attrs["first"]), lambda: self.expand(item_id)))
            out.append((self.tr("Show all {0} blocks").format(attrs["count"]), lambda: self.unfold(item_id)))
        closed = self._collapsed(item_id)
        if closed != view.state:
            gone = sorted(view.state.expanded - closed.expanded, key=len)
            out.append((self.tr("Close {0}").format(gone[0]) if gone else self.tr("Close module"),
                        lambda: self.collapse(item_id)))
        run = self._unfolded_run(item_id)
        if run is not None:
            out.append((self.tr("Fold the {0} blocks back into one").format(len(fg.runs[run].members)),
                        lambda: self.fold_run(item_id)))
        return out

    def _on_double_click(self, item_id: str) -> None:
        node = self.graph.nodes.get(item_id)
        if node is not None and node.fold is not None:
            self.expand(item_id)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 (Qt API)
        item = self.graph.item_at(self.mapToScene(event.pos()))
        actions = self.fold_actions(item) if item is not None else []
        if not actions:
            super().contextMenuEvent(event)
            return
        menu = QMenu(self)
        for text, action in actions:
            menu.addAction(text).triggered.connect(lambda _=False, a=action: a())
        menu.exec(event.globalPos())

    # ------------------------------------------------------------------ stepping

    def replay(self) -> Replay | None:
        """The replay of the pass shown, in the engine's numbering (the underlying pass when folded)."""
        if self.folded_view is None:
            return self.graph.replay
        if self._replay is None or self._replay.pass_ is not self.folded_view.source:
            self._replay = Replay(self.folded_view.source)
        return self._replay

    def shows(self, pass_: Pass | None) -> bool:
        """True when `pass_` is what is on screen (drawn node by node, or folded)."""
        if pass_ is None or self.graph.pass_ is None:
            return False
        return self.graph.pass_ is pass_ or (self.folded_view is not None and self.folded_view.source is pass_
                                             and self.graph.view is self.folded_view)

    def step(self) -> int:
        """The engine step shown."""
        return self._step

    def set_step(self, k: int) -> None:
        """Show the pass after `k` engine steps. On a folded view, a step inside a box lights that box (only
        the boxes whose state changes are restyled) and the locator says which op and block it is."""
        self._step = max(0, int(k))
        view = self.folded_view
        if view is not None and self.graph.view is view:
            self.graph.set_step(view.view_step(self._step))
            self._update_locator()
        else:
            self.graph.set_step(self._step)
        self.minimap.set_states_changed()

    def where(self, k: int | None = None) -> str:
        """Where the engine is at step `k` (default: the step shown) when its node is hidden in a folded box:
        its op, module, and for a folded run which block ("block 17 of 199"); "" when it is visible."""
        view, fg = self.folded_view, self.folded
        k = self._step if k is None else k
        if view is None or fg is None or not 0 < k <= len(view.source.steps):
            return ""
        node_id = view.source.steps[k - 1].node
        if view.node_item.get(node_id, node_id) == node_id:
            return ""
        replay = self.replay()
        node = replay.node(node_id) if replay is not None else None
        module = fg.module_of(node_id) or self.tr("top level")
        parts = [self.tr("step {0:,} / {1:,}").format(k, len(view.source.steps)), node.type if node else node_id,
                 module]
        for rid, index in fg.locate(node_id):
            run = fg.runs[rid]
            if run.members[index] not in view.state.expanded and rid not in view.state.unfolded:
                parts.append(self.tr("block {0} of {1} (folded)").format(index + 1, len(run.members)))
        return "  ·  ".join(parts)

    def inspected(self, selected: str | None, k: int) -> tuple[Replay | None, str | None, int]:
        """What the inspector shows at engine step `k`: (replay, node id, step in that replay's numbering) —
        the selected node, or the engine's current node; a selected folded box is inspected as the box of
        the folded view (its gradients in and out)."""
        view = self.folded_view
        if selected is not None and view is not None and selected not in view.node_item:
            return self.graph.replay, selected, view.view_step(k)
        replay = self.replay()
        return replay, selected or (replay.current(k) if replay is not None else None), k

    def source_lines(self, item_id: str | None) -> list[int]:
        """The program lines that created a node, or every node a folded box holds."""
        if item_id is None or self.graph.pass_ is None:
            return []
        view = self.folded_view
        if view is None or item_id in view.node_item:
            replay = self.replay()
            try:
                line = replay.node(item_id).line if replay is not None else None
            except KeyError:
                line = None
            return [line] if line is not None else []
        lines = {n.line for n in view.source.nodes if n.line is not None and view.node_item.get(n.id) == item_id}
        return sorted(lines)

    def _update_locator(self) -> None:
        self.locator.show_text(self.where() if self.folded_view is not None else "")

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
        if self.folded_view is not None:
            self._fit_view_rect()
        self.minimap.update_visibility()
        self.zoom_changed.emit(self.zoom())

    def zoom_in(self) -> None:
        self.fitted = False
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self.fitted = False
        self.set_zoom(self.zoom() / 1.25)

    def fit_whole(self) -> None:
        """Ctrl+0 here: the window's fit (which may magnify small graphs) when in a window, else `fit`."""
        (self.fit_whole_hook or self.fit)()

    def _refit(self) -> None:
        if self.fitted:
            self.fit_whole()

    def fit(self) -> None:
        """Show the whole graph (never magnified beyond 100 %, so small graphs stay crisp). A folded view
        too tall to be read whole is shown from its top (where backward starts) at `READABLE_ZOOM`; the
        minimap shows the rest."""
        rect = self.graph.sceneRect()
        if rect.isEmpty():
            return
        self.fitted = True
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.set_zoom(1.0)
        elif self.folded_view is not None and self.zoom() < READABLE_ZOOM:
            self.set_zoom(READABLE_ZOOM)
            half = (self.viewport().height() / 2 - LOCATOR_ROOM) / self.zoom()  # room for the locator line
            self.centerOn(rect.center().x(), rect.top() + half)
            return
        else:
            self._on_zoomed()
        self.centerOn(rect.center())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        self.fitted = False  # a drag may pan away from the fitted picture: a resize leaves it alone
        super().mousePressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        delta = event.angleDelta().y()
        if delta:
            self.fitted = False
            self.set_zoom(self.zoom() * WHEEL_STEP ** delta)
            event.accept()
        else:
            super().wheelEvent(event)

    def find(self, text: str) -> list[str]:  # type: ignore[override]  # (QWidget.find(WId) is unrelated)
        """Find nodes by variable name or op type; select and centre the first match (zooming in to a
        readable size if needed), and the next one on each repeated call with the same text. On a folded
        view a match hidden in a box is shown by opening its module, from the state before the first find
        (until the person opens or closes something), so going through matches does not leave every group
        open. Returns every matching node id."""
        self.fitted = False
        query, matches, index = self._found
        if text == query and matches and self.source is self._found_in:
            index = (index + 1) % len(matches)
        else:
            matches, index = self.graph.find(text), 0
        self._found, self._found_in = (text, matches, index), self.source
        if not matches:
            return []
        node_id = matches[index]
        fg, view = self.folded, self.folded_view
        if fg is not None and view is not None and node_id not in self.graph.nodes:
            base = self._find_base or view.state
            module = fg.module_of(node_id)
            state = fg.expand(base, group_id(module)) if module != ROOT else base
            self._find_base = base
            if self.set_state(state, keep=self.graph.item_id(node_id), select=node_id):
                return matches
        self._select_and_centre(node_id)
        return matches

    def _select_and_centre(self, node_id: str) -> None:
        self.graph.select_node(node_id)
        item_id = self.graph.item_id(node_id)
        item = self.graph.nodes.get(item_id) if item_id is not None else None
        if item is not None:
            if self.zoom() < FIND_ZOOM:
                self.set_zoom(FIND_ZOOM)  # a found node should be readable, not a dot in a big graph
            self.centerOn(item)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        """Ctrl + / Ctrl = zoom in, Ctrl - zoom out, Ctrl 0 fit; other keys as usual."""
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        key = event.key()
        if event.matches(QKeySequence.StandardKey.ZoomIn) or (ctrl and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal)):
            self.zoom_in()
        elif event.matches(QKeySequence.StandardKey.ZoomOut) or (ctrl and key == Qt.Key.Key_Minus):
            self.zoom_out()
        elif ctrl and key == Qt.Key.Key_0:
            self.fit_whole()  # as the window's Fit button does
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self.fitted and self.folded_view is None and event.size() != event.oldSize():
            self._refit_timer.start()  # once the resize is done (a timer of the view's own: it dies with it)
        self.busy.recentre()
        self.locator.place()
        if self.folded_view is not None:
            self._fit_view_rect()
        self.minimap.reposition()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 (Qt API)
        super().scrollContentsBy(dx, dy)
        self.minimap.update()

    def visible_scene_rect(self) -> QRectF:
        """The part of the scene the viewport shows."""
        return self.mapToScene(self.viewport().rect()).boundingRect()


def _fold(pass_: Pass) -> tuple[FoldedGraph, FoldedView, Replay]:
    """A big pass's module tree, its first view (runs folded, modules opened while they fit) and its replay
    in the engine's numbering (built here, off the GUI thread, rather than on the first step)."""
    fg = FoldedGraph(pass_)
    return fg, fg.view(fg.collapse_all(FIRST_VIEW_ITEMS)), Replay(pass_)
