"""The minimap: a small picture of the whole graph in a corner of the graph view, with the rectangle the view
shows; clicking or dragging on it moves the view there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QWidget

from gradviz.gui.scene import edge_segments, paint_overview

if TYPE_CHECKING:
    from gradviz.gui.graphview import GraphView

MAX_SIDE = 180  # pixels: the longer side of the minimap
MIN_SIDE = 40
MARGIN = 10  # from the view's corner
PAD = 4  # inside the minimap, around the picture
REDRAW_MS = 150  # state changes (stepping) redraw the picture at most this often


class Minimap(QWidget):
    """The whole drawing, cheaply: boxes and straight edges coloured by state (drawn once into a pixmap and
    redrawn when the layout changes, or at most every REDRAW_MS while stepping), plus the view's rectangle.
    Shown in the view's bottom-right corner whenever the graph does not fit the view."""

    def __init__(self, view: GraphView) -> None:
        super().__init__(view)
        self.setObjectName("minimap")
        self.setAccessibleName("minimap")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(self.tr("The whole graph: click or drag to move the view"))
        self.view = view
        self._pixmap: QPixmap | None = None
        self._segments: dict[int, QLineF] = {}
        self._segments_of: object = None
        self._look: object = None  # the scene's Style the picture was drawn with (a theme change redraws)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self.hide()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.LanguageChange:
            self.setToolTip(self.tr("The whole graph: click or drag to move the view"))
        super().changeEvent(event)

    # ------------------------------------------------------------------ upkeep

    def set_graph_changed(self) -> None:
        """A new layout: size, picture and visibility from scratch."""
        self._pixmap = None
        self._timer.stop()
        self.update_visibility()

    def set_states_changed(self) -> None:
        """Node states changed (a step): redraw the picture soon, coalescing quick steps."""
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def update_visibility(self) -> None:
        """Shown when the graph is bigger than the view (there is somewhere to move to), hidden otherwise."""
        rect = self.view.graph.sceneRect()
        if self.view.graph.layout is None or rect.isEmpty():
            self.hide()
            return
        z = self.view.zoom()
        port = self.view.viewport().size()
        needed = rect.width() * z > port.width() + 1 or rect.height() * z > port.height() + 1
        if needed and not self.isVisible():
            self._pixmap = None
            self.reposition()
            self.show()
            self.raise_()
        elif not needed:
            self.hide()
        else:
            self.update()

    def reposition(self) -> None:
        """Size to the graph's shape and sit in the view's bottom-right corner."""
        rect = self.view.graph.sceneRect()
        if rect.isEmpty():
            return
        scale = MAX_SIDE / max(rect.width(), rect.height())
        size = QSize(max(MIN_SIDE, round(rect.width() * scale)) + 2 * PAD,
                     max(MIN_SIDE, round(rect.height() * scale)) + 2 * PAD)
        if size != self.size():
            self.resize(size)
            self._pixmap = None
        port = self.view.viewport().geometry()
        self.move(port.right() - self.width() - MARGIN, port.bottom() - self.height() - MARGIN)

    def _transform(self) -> QTransform:
        """Scene coordinates -> minimap pixels (aspect kept, centred)."""
        rect = self.view.graph.sceneRect()
        inner = QRectF(self.rect()).adjusted(PAD, PAD, -PAD, -PAD)
        s = min(inner.width() / rect.width(), inner.height() / rect.height())
        dx = inner.left() + (inner.width() - rect.width() * s) / 2 - rect.left() * s
        dy = inner.top() + (inner.height() - rect.height() * s) / 2 - rect.top() * s
        return QTransform(s, 0, 0, s, dx, dy)

    def _redraw(self) -> None:
        self._pixmap = None
        self.update()

    def _render(self) -> QPixmap:
        graph = self.view.graph
        if self._segments_of is not graph.layout:
            self._segments, self._segments_of = edge_segments(graph), graph.layout
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(graph.look.c["background"])
        painter = QPainter(pixmap)
        painter.setTransform(self._transform())
        paint_overview(painter, graph, self._segments, pens=False)
        painter.end()
        return pixmap

    # ------------------------------------------------------------------ drawing and mouse

    def view_rect(self) -> QRectF:
        """The rectangle (minimap pixels) of what the main view shows."""
        return self._transform().mapRect(self.view.visible_scene_rect())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        if self.view.graph.sceneRect().isEmpty():
            return
        look = self.view.graph.look
        if (self._pixmap is None or self._pixmap.size() != self.size() * self.devicePixelRatioF()
                or self._look is not look):
            self._pixmap, self._look = self._render(), look
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        style = self.view.graph.look
        painter.setPen(QPen(style.c["muted_text"], 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        frame = self.view_rect().intersected(QRectF(self.rect()))
        fill = QColor(style.c["selection"])
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.setPen(QPen(style.c["selection"], 1.5))
        painter.drawRect(frame)
        painter.end()

    def scene_point(self, pos: QPointF) -> QPointF:
        """The scene point under a minimap pixel."""
        inverse, _ = self._transform().inverted()
        return inverse.map(pos)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self._move_view(event.position())
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._move_view(event.position())
            event.accept()

    def _move_view(self, pos: QPointF) -> None:
        self.view.centerOn(self.scene_point(pos))
        self.update()
