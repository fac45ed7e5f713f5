"""The graph drawing: Qt scene items for a laid-out pass, styled by the replay step. This is the only code
that draws a graph — the window's view and every exported file (SVG, PNG, PDF, GIF) render this scene.

The look follows docs/visual-language.md; colours, fonts and pen widths come from `gradviz.gui.theme`.
Paint code runs thousands of times per frame, so pens, brushes and colours are built once per theme
(`Style`), and a far-out view of a big graph is drawn by one `OverviewItem` instead of thousands of items.
A folded view of a big pass (`gradviz.core.fold`) is drawn like any pass; its collapsed modules get an
expand badge and its runs of identical blocks a stack of cards with a "×N" badge.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QLineF,
    QObject,
    QPointF,
    QRectF,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from gradviz.core.fold import FOLD_KEY, FoldedView
from gradviz.core.layout import (
    BODY,
    CUT_GAP,
    LABEL_PAD_X,
    LINE_GAP,
    MONO,
    NODE_PAD_Y,
    ROLES,
    SMALL,
    TITLE,
    EdgePath,
    Layout,
    Measure,
    NodeBox,
    TextLine,
    cut_text,
    edge_label_lines,
    leaf_title,
    node_lines,
    seed_label_lines,
)
from gradviz.core.replay import (
    CURRENT,
    DETACHED,
    DONE,
    EDGE_CARRIED,
    EDGE_DETACHED,
    EDGE_FRESH,
    EDGE_PENDING,
    EDGE_STATES,
    NODE_STATES,
    PENDING,
    Replay,
)
from gradviz.core.trace import Edge, Node, Pass
from gradviz.gui.captions import step_caption
from gradviz.gui.i18n import QT_TRANSLATE_NOOP, with_cjk_fallback
from gradviz.gui.theme import LIGHT, Font, Theme

translate = QCoreApplication.translate  # pyside6-lupdate extracts translate("Context", "text") calls

SCENE_MARGIN = 24.0
TEXT_LOD = 4.5  # screen pixels of the smallest font below which text is unreadable: items skip it
SHAPE_LOD = 0.12  # scale below which items draw only their silhouette
BATCH_RESTYLE = 200  # more changed items than this: one scene-wide repaint instead of one per item


def qfont(font: Font) -> QFont:
    """A QFont in pixels for a theme `Font` (pixel sizes keep drawings identical on every screen DPI)."""
    f = with_cjk_fallback(QFont(font.family), mono="Mono" in font.family)  # Chinese variable names and captions
    f.setPixelSize(max(1, round(font.size)))
    f.setBold(font.bold)
    f.setKerning(False)  # measured width == drawn width, in every paint device
    return f


class Fonts:
    """QFonts and metrics of a theme's text roles."""

    def __init__(self, theme: Theme) -> None:
        self.fonts = {role: qfont(theme.fonts[role]) for role in ROLES}
        self.metrics = {role: QFontMetricsF(f) for role, f in self.fonts.items()}
        self.smallest = min(f.size for f in theme.fonts.values())
        self._cache: dict[tuple[str, str], tuple[float, float]] = {}

    def measure(self, text: str, role: str) -> tuple[float, float]:
        """Width and height of one line of text: what layout sizes boxes with."""
        key = (text, role)
        size = self._cache.get(key)
        if size is None:
            m = self.metrics[role]
            size = self._cache[key] = (math.ceil(m.horizontalAdvance(text)) + 1.0, math.ceil(m.height()))
        return size


class Style:
    """A theme turned into ready Qt objects: colours, fonts, and the pen and brush of every state."""

    def __init__(self, theme: Theme) -> None:
        self.theme = theme
        self.fonts = Fonts(theme)
        self.c = {f.name: QColor(getattr(theme, f.name)) for f in dataclasses.fields(theme)
                  if isinstance(getattr(theme, f.name), str) and getattr(theme, f.name).startswith("#")}
        c = self.c
        fills = {PENDING: c["pending_fill"], CURRENT: c["current_fill"], DONE: c["done_fill"],
                 DETACHED: c["ghost_fill"]}
        borders = {PENDING: (c["pending_border"], theme.pending_pen), CURRENT: (c["current_border"], theme.current_pen),
                   DONE: (c["done_border"], theme.done_pen), DETACHED: (c["ghost_border"], theme.ghost_pen)}
        self.node_brush = {s: QBrush(fills[s]) for s in NODE_STATES}
        self.node_pen = {s: QPen(borders[s][0], borders[s][1]) for s in NODE_STATES}
        self.node_pen[DETACHED].setStyle(Qt.PenStyle.DashLine)
        self.root_pen = {s: QPen(borders[s][0], max(1.0, borders[s][1] * 0.6)) for s in NODE_STATES}
        self.band = {s: (c["leaf_band"] if s == PENDING else fills[s].darker(112)) for s in NODE_STATES}
        self.text = {s: c["text"] for s in NODE_STATES} | {CURRENT: c["current_text"], DETACHED: c["ghost_text"]}
        self.muted = {s: c["muted_text"] for s in NODE_STATES} | {CURRENT: c["current_text"],
                                                                  DETACHED: c["ghost_text"]}
        edge = {EDGE_DETACHED: (c["edge_ghost"], theme.ghost_pen), EDGE_PENDING: (c["edge_pending"], theme.edge_pen),
                EDGE_CARRIED: (c["edge_carried"], theme.edge_carried_pen),
                EDGE_FRESH: (c["edge_fresh"], theme.edge_fresh_pen)}
        self.edge_color = {s: edge[s][0] for s in EDGE_STATES}
        self.edge_pen = {s: QPen(edge[s][0], edge[s][1]) for s in EDGE_STATES}
        for pen in self.edge_pen.values():
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        self.edge_pen[EDGE_DETACHED].setStyle(Qt.PenStyle.DashLine)
        self.head_pen = {s: QPen(edge[s][0], 1.0) for s in EDGE_STATES}
        self.head_brush = {s: QBrush(edge[s][0]) for s in EDGE_STATES}
        self.label_pen = {s: QPen(edge[s][0], 1.8 if s == EDGE_FRESH else 1.0) for s in EDGE_STATES}
        self.label_brush = QBrush(c["label_fill"])
        self.halo_pen = QPen(c["highlight"], theme.highlight_pen)
        self.selection_pen = QPen(c["selection"], 2.0, Qt.PenStyle.DashLine)
        self.cut_pen = QPen(c["cut"], 1.1)
        self.background = QBrush(c["background"])


def paint_check(painter: QPainter, style: Style, c: QPointF, r: float = 7.5) -> None:
    """A check-mark badge centred at `c`: "done", readable without colour."""
    painter.setPen(QPen(style.c["background"], 1.5))
    painter.setBrush(style.c["check"])
    painter.drawEllipse(c, r, r)
    f = r / 7.5
    tick = QPainterPath(QPointF(c.x() - 3.6 * f, c.y() + 0.2 * f))
    tick.lineTo(c.x() - 1.0 * f, c.y() + 3.0 * f)
    tick.lineTo(c.x() + 3.8 * f, c.y() - 2.8 * f)
    pen = QPen(QColor("#ffffff"), 2.0 * f)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(tick)


def _draw_lines(painter: QPainter, fonts: Fonts, lines: Iterable[tuple[TextLine, QColor]], rect: QRectF,
                align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignHCenter) -> None:
    """Stacked text lines, vertically centred in `rect`, each in the font of its role."""
    items = list(lines)
    heights = [fonts.measure(t.text, t.role)[1] for t, _ in items]
    total = sum(heights) + LINE_GAP * max(len(items) - 1, 0)
    y = rect.center().y() - total / 2
    for (line, color), h in zip(items, heights, strict=True):
        painter.setFont(fonts.fonts[line.role])
        painter.setPen(color)
        painter.drawText(QRectF(rect.left(), y, rect.width(), h), align | Qt.AlignmentFlag.AlignVCenter, line.text)
        y += h + LINE_GAP


class NodeItem(QGraphicsItem):
    """One node: a grad_fn (rounded box: op type, variable, line), a leaf tensor (square box with a header
    band: name, shape, `.grad` before → after), or a ghost of a cut-off branch (grey, dashed). Its state
    shows as fill, border weight and a check mark, not as colour alone; a root has a double border."""

    def __init__(self, graph: GraphScene, node: Node, box: NodeBox, is_root: bool) -> None:
        super().__init__()
        self.graph = graph
        self.node = node
        self.box = box
        self.is_root = is_root
        self.leaf = node.kind == "leaf"
        self.rect = QRectF(box.left, box.top, box.width, box.height)
        self.state = DETACHED if node.kind == "detached" else PENDING
        self.highlighted = False
        self.selected = False
        self.fold: str | None = node.attrs.get(FOLD_KEY)  # "group" / "run" for a folded view's boxes
        self.badge = _fold_badge(node)
        self.lines: tuple[TextLine, ...] = _fold_lines(node) if self.fold else node_lines(node)
        self.setZValue(2)
        self.setAcceptHoverEvents(True)
        self.setToolTip(_node_tooltip(node))
        radius = 2.0 if self.leaf else graph.theme.corner_radius
        self._radius = radius
        self._outline = QPainterPath()
        self._outline.addRoundedRect(self.rect, radius, radius)
        stack = STACK_STEP * STACK_CARDS if self.fold == "run" else 0.0
        self._bounds = self.rect.adjusted(-9, -9, 9 + stack, 9 + stack)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._outline

    def restyle(self, replay: Replay, step: int, repaint: bool = True) -> None:
        """Take the node's state (and, for a leaf, its `.grad` line) at `step`; repaint if it changed and
        `repaint` (the scene repaints all at once after a big jump)."""
        state = replay.node_state(self.node.id, step)
        lines = self.lines
        if self.leaf:
            lines = node_lines(self.node, replay.leaf_record(self.node.id), state in (DONE, CURRENT))
        if state != self.state or lines != self.lines:
            self.state, self.lines = state, lines
            if repaint:
                self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        style = self.graph.look
        state = self.state
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < SHAPE_LOD:
            painter.setPen(style.node_pen[state])
            painter.setBrush(style.node_brush[state])
            painter.drawRect(self.rect)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self.fold == "run":  # cards stacked behind: many identical blocks
            painter.setPen(style.node_pen[state])
            painter.setBrush(style.node_brush[state])
            for i in range(STACK_CARDS, 0, -1):
                d = STACK_STEP * i
                painter.drawRoundedRect(self.rect.translated(d, d), self._radius, self._radius)
        if self.highlighted:
            painter.setPen(style.halo_pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(self.rect.adjusted(-5, -5, 5, 5), self._radius + 3, self._radius + 3)
        if self.selected:
            painter.setPen(style.selection_pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(self.rect.adjusted(-7.5, -7.5, 7.5, 7.5), self._radius + 4, self._radius + 4)
        painter.setPen(style.node_pen[state])
        painter.setBrush(style.node_brush[state])
        painter.drawPath(self._outline)
        text = lod * style.fonts.smallest >= TEXT_LOD
        if self.leaf and state != DETACHED:
            title_h = style.fonts.measure(self.lines[0].text, TITLE)[1]
            painter.fillRect(QRectF(self.rect.left(), self.rect.top(), self.rect.width(), NODE_PAD_Y + title_h + 1),
                             style.band[state])
            painter.setPen(style.node_pen[state])
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self._outline)
        if self.is_root:
            painter.setPen(style.root_pen[state])
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(self.rect.adjusted(-4, -4, 4, 4), self._radius + 3, self._radius + 3)
        if state == DONE:
            paint_check(painter, style, QPointF(self.rect.right() - 1, self.rect.top() + 1))
        if text:
            self._paint_text(painter, style)
            if self.badge:
                paint_badge(painter, style, QPointF(self.rect.left() + 2, self.rect.top() + 1), self.badge)

    def _paint_text(self, painter: QPainter, style: Style) -> None:
        main, muted = style.text[self.state], style.muted[self.state]
        colored = [(line, main if line.role in (TITLE, MONO) else muted) for line in self.lines]
        inner = self.rect.adjusted(0, NODE_PAD_Y, 0, -NODE_PAD_Y)
        if self.leaf and self.state != DETACHED:
            title_h = style.fonts.measure(self.lines[0].text, TITLE)[1]
            _draw_lines(painter, style.fonts, colored[:1], QRectF(inner.left(), inner.top(), inner.width(), title_h))
            rest = QRectF(inner.left() + LABEL_PAD_X * 2, inner.top() + title_h + LINE_GAP,
                          inner.width() - LABEL_PAD_X * 4, inner.height() - title_h - LINE_GAP)
            _draw_lines(painter, style.fonts, colored[1:], rest, Qt.AlignmentFlag.AlignLeft)
        else:
            _draw_lines(painter, style.fonts, colored, inner)

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802 (Qt API)
        self.graph.node_hovered.emit(self.node.id)
        super().hoverEnterEvent(event)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self.graph.node_double_clicked.emit(self.node.id)
            event.accept()
        else:
            super().mouseDoubleClickEvent(event)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self.graph.select_node(self.node.id)
            self.graph.node_clicked.emit(self.node.id)
            event.accept()
        else:
            super().mousePressEvent(event)


STACK_CARDS, STACK_STEP = 2, 4.0  # cards drawn behind a folded run, and their offset
BADGE_H = 15.0


def _fold_badge(node: Node) -> str:
    """The badge of a folded view's box: "×199" on a run of identical blocks, "+" on a collapsed module."""
    fold = node.attrs.get(FOLD_KEY)
    if fold == "run":
        return f"×{node.attrs.get('count', '')}"
    return "+" if fold == "group" else ""


def _fold_lines(node: Node) -> tuple[TextLine, ...]:
    """A folded box's text: the module path (a run's without the "×N" its badge shows), then what it holds."""
    lines = node_lines(node)
    if node.attrs.get(FOLD_KEY) == "run":
        title = node.type.rsplit("  ×", 1)[0]
        lines = (TextLine(title, TITLE),) + lines[1:]
    return lines


def paint_badge(painter: QPainter, style: Style, at: QPointF, text: str) -> None:
    """A small dark pill with `text`, its left end centred on `at`: a folded box's "×N" or "+"."""
    font = style.fonts.fonts[SMALL]
    w = max(BADGE_H, style.fonts.measure(text, SMALL)[0] + 8)
    rect = QRectF(at.x() - BADGE_H / 2, at.y() - BADGE_H / 2, w, BADGE_H)
    painter.setPen(QPen(style.c["background"], 1.5))
    painter.setBrush(style.c["text"])
    painter.drawRoundedRect(rect, BADGE_H / 2, BADGE_H / 2)
    painter.setFont(font)
    painter.setPen(style.c["background"])
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


def _node_tooltip(node: Node) -> str:
    fold = node.attrs.get(FOLD_KEY)
    name = node.names[0] if node.names else ""
    if fold == "run":
        text = translate("GraphScene", "{0} identical blocks, {1} … {2}\n{3}\ndouble-click: open the first block · right-click: more")
        return text.format(node.attrs.get("count"), node.attrs.get("first"), node.attrs.get("last"), name)
    if fold == "group":
        return translate("GraphScene", "module {0}\n{1}\ndouble-click: open · right-click: more").format(node.type, name)
    head = node.type if node.kind != "leaf" else translate("GraphScene", "leaf tensor {0}").format(leaf_title(node))
    parts = [head]
    if node.code:
        parts.append(node.code if node.line is None else f"L{node.line}: {node.code}")
    elif node.line is not None:
        parts.append(translate("GraphScene", "line {0}").format(node.line))
    if node.module:
        parts.append(translate("GraphScene", "in {0}").format(node.module))
    if node.kind == "detached":
        parts.append(translate("GraphScene", "cut off from the graph: no gradient reaches it"))
    return "\n".join(parts)


class EdgeItem(QGraphicsItem):
    """One edge along the gradient flow (arrow towards the node that receives the gradient), with the
    gradient it carried once it has carried one; ghost edges are grey and dashed."""

    def __init__(self, graph: GraphScene, path: EdgePath, label: tuple[TextLine, ...]) -> None:
        super().__init__()
        self.graph = graph
        self.edge = path
        self.text = label[0].text if label else ""
        self.state = EDGE_DETACHED if path.kind == "detached" else EDGE_PENDING
        self.setZValue(0)
        self.path = QPainterPath()
        if path.points:
            self.path.moveTo(*path.points[0])
            pts = path.points[1:]
            cubic = self.path.cubicTo
            for i in range(0, len(pts) - 2, 3):
                (x1, y1), (x2, y2), (x3, y3) = pts[i], pts[i + 1], pts[i + 2]
                cubic(x1, y1, x2, y2, x3, y3)  # the numbers overload: no QPointF objects to make
        self.head = QPolygonF()
        if path.arrow is not None:
            (bx, by), (tx, ty) = path.arrow
            nx, ny = -(ty - by) * 0.42, (tx - bx) * 0.42
            self.head = QPolygonF([QPointF(tx, ty), QPointF(bx + nx, by + ny), QPointF(bx - nx, by - ny)])
        self.label_rect = QRectF()
        if path.label is not None and path.label_size[0] > 0 and path.kind != "detached":
            w, h = path.label_size
            self.label_rect = QRectF(path.label[0] - w / 2, path.label[1] - h / 2, w, h)
        self._bounds = self.path.boundingRect().united(self.head.boundingRect()).united(self.label_rect)
        self._bounds.adjust(-4, -4, 4, 4)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def restyle(self, state: str, repaint: bool = True) -> None:
        """Take a new state (pending / carried / fresh / detached); repaint if it changed and `repaint`."""
        if state != self.state:
            self.state = state
            if repaint:
                self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        style = self.graph.look
        state = self.state
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod > SHAPE_LOD)
        painter.setPen(style.edge_pen[state])
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path)
        if not self.head.isEmpty():
            painter.setPen(style.head_pen[state])
            painter.setBrush(style.head_brush[state])
            painter.drawPolygon(self.head)
        if self.text and state in (EDGE_CARRIED, EDGE_FRESH) and not self.label_rect.isNull():
            painter.setPen(style.label_pen[state])
            painter.setBrush(style.label_brush)
            painter.drawRoundedRect(self.label_rect, 4, 4)
            if lod * style.theme.fonts[MONO].size >= TEXT_LOD:
                painter.setFont(style.fonts.fonts[MONO])
                painter.setPen(style.c["label_text"])
                painter.drawText(self.label_rect, Qt.AlignmentFlag.AlignCenter, self.text)


class CutMarkerItem(QGraphicsItem):
    """Where a branch was cut off the graph: break bars across the ghost edge and a scissors label saying
    how it was cut (`detach()`, `no_grad`, ...). Its tooltip says what that means for the gradient."""

    def __init__(self, graph: GraphScene, path: EdgePath, edge_path: QPainterPath, tooltip: str) -> None:
        super().__init__()
        self.graph = graph
        self.edge = path
        self.text = cut_text(path.cut)
        self.setZValue(3)
        self.setToolTip(tooltip)
        self.at = edge_path.pointAtPercent(0.5)
        self.angle = edge_path.angleAtPercent(0.5)
        if path.label is not None and path.label_size[0] > 0:
            w, h = path.label_size
            rect = QRectF(path.label[0] - w / 2, path.label[1] - h / 2, w, h)
            # The box leaves CUT_GAP free on the side facing the edge, for the break bars.
            if self.at.x() <= rect.center().x():
                self.label_rect = rect.adjusted(CUT_GAP, 0, 0, 0)
            else:
                self.label_rect = rect.adjusted(0, 0, -CUT_GAP, 0)
        else:
            w, h = graph.look.fonts.measure(self.text, SMALL)
            self.label_rect = QRectF(self.at.x() + 10, self.at.y() - h / 2, w + 20, h + 4)
        self._bounds = self.label_rect.united(QRectF(self.at.x() - 12, self.at.y() - 12, 24, 24))
        self._bounds.adjust(-2, -2, 2, 2)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        style = self.graph.look
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        cut = style.c["cut"]
        painter.save()
        painter.translate(self.at)
        painter.rotate(-self.angle)
        painter.setPen(QPen(style.c["background"], 7.0))
        painter.drawLine(QPointF(-2.5, 0), QPointF(2.5, 0))
        bar = QPen(cut, 2.4)
        bar.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(bar)
        for dx in (-3.2, 3.2):  # two short bars across the edge: the gradient path is broken here
            painter.drawLine(QPointF(dx - 1.5, -7), QPointF(dx + 1.5, 7))
        painter.restore()
        if lod < SHAPE_LOD:
            return
        painter.setPen(style.cut_pen)
        painter.setBrush(style.background)
        painter.drawRoundedRect(self.label_rect, 4, 4)
        self._paint_scissors(painter, QPointF(self.label_rect.left() + LABEL_PAD_X + 7, self.label_rect.center().y()),
                             cut)
        if lod * style.theme.fonts[SMALL].size < TEXT_LOD:
            return
        painter.setFont(style.fonts.fonts[SMALL])
        painter.setPen(cut)
        text_rect = self.label_rect.adjusted(LABEL_PAD_X + 16, 0, -LABEL_PAD_X, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.text)

    @staticmethod
    def _paint_scissors(painter: QPainter, c: QPointF, color: QColor) -> None:
        """A small scissors glyph drawn as lines and rings, so it needs no font to have one."""
        pen = QPen(color, 1.4)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QPointF(c.x() - 4.2, c.y() - 3.2), 2.4, 2.4)
        painter.drawEllipse(QPointF(c.x() - 4.2, c.y() + 3.2), 2.4, 2.4)
        painter.drawLine(QPointF(c.x() - 2.2, c.y() - 1.9), QPointF(c.x() + 6.0, c.y() + 3.4))
        painter.drawLine(QPointF(c.x() - 2.2, c.y() + 1.9), QPointF(c.x() + 6.0, c.y() - 3.4))


def cut_tooltip(edge: Edge, nodes: dict[str, Node]) -> str:
    """Why no gradient flows along a cut edge, in the program's own words where the trace has them."""
    src, dst = nodes.get(edge.src), nodes.get(edge.dst)
    cut = edge.cut or translate("GraphScene", "a cut")
    cut_off = ", ".join(dst.names) if dst is not None and dst.names else translate("GraphScene", "this branch")
    if edge.cut_line is not None:
        lines = [translate("GraphScene", "{0} was cut off with {1} at L{2} — gradient stops here").format(cut_off, cut, edge.cut_line)]
    else:
        lines = [translate("GraphScene", "{0} was cut off with {1} — gradient stops here").format(cut_off, cut)]
    if src is not None:
        user = f"{src.code} (L{src.line})" if src.code and src.line is not None else src.code or src.type
        behind = f"{dst.code} (L{dst.line})" if dst is not None and dst.code and dst.line is not None else cut_off
        lines.append(translate("GraphScene", "{0} sends no gradient through its input {1}, so {2} and everything before it get nothing "
                         "from this backward pass.").format(user, edge.slot, behind))
    return "\n".join(lines)


class OverviewItem(QGraphicsItem):
    """The whole graph as plain boxes and straight lines, coloured by state, in a handful of draw calls:
    what a far-out view of a big graph shows instead of thousands of unreadable items."""

    def __init__(self, graph: GraphScene) -> None:
        super().__init__()
        self.graph = graph
        self.setZValue(1)
        layout = graph.layout
        self._bounds = QRectF(0, 0, layout.width, layout.height) if layout is not None else QRectF()
        self._lines = edge_segments(graph)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        paint_overview(painter, self.graph, self._lines)

    def lines(self) -> dict[int, QLineF]:
        """Each edge as the straight segment from its start to its end."""
        return self._lines


def paint_overview(painter: QPainter, graph: GraphScene, lines: dict[int, QLineF],
                   pens: bool = True) -> None:
    """The graph as straight lines and plain boxes coloured by state, one draw call per state: the overview
    item and the minimap. `pens=False` draws cosmetic one-pixel lines (for a tiny scale)."""
    style = graph.look
    segments_by: dict[str, list[QLineF]] = {s: [] for s in EDGE_STATES}
    for i, edge in graph.edges.items():
        segment = lines.get(i)
        if segment is not None:
            segments_by[edge.state].append(segment)
    def set_pen(pen: QPen) -> None:
        pen = QPen(pen)
        if not pens:
            pen.setWidth(0)
        painter.setPen(pen)

    for state, segments in segments_by.items():
        if segments:
            set_pen(style.edge_pen[state])
            painter.drawLines(segments)
    rects: dict[str, list[QRectF]] = {s: [] for s in NODE_STATES}
    for node in graph.nodes.values():
        rects[node.state].append(node.rect)
    for state, boxes in rects.items():
        if boxes:
            set_pen(style.node_pen[state])
            painter.setBrush(style.node_brush[state])
            painter.drawRects(boxes)


def edge_segments(graph: GraphScene) -> dict[int, QLineF]:
    """Each drawn edge of the scene as the straight segment from its start to its end."""
    return {i: QLineF(item.path.pointAtPercent(0), item.path.pointAtPercent(1)) for i, item in graph.edges.items()}


LEGEND = ((PENDING, QT_TRANSLATE_NOOP("GraphScene", "not run yet")),
          (CURRENT, QT_TRANSLATE_NOOP("GraphScene", "running now")),
          (DONE, QT_TRANSLATE_NOOP("GraphScene", "done")),
          (DETACHED, QT_TRANSLATE_NOOP("GraphScene", "cut off")))
CAPTION_GAP = 16.0
SWATCH_W, SWATCH_H, SWATCH_GAP = 28.0, 16.0, 18.0


class CaptionItem(QGraphicsItem):
    """A heading above the graph for files and slides: the pass, what the current step did, and a legend
    of the node states."""

    def __init__(self, graph: GraphScene, title: str) -> None:
        super().__init__()
        self.graph = graph
        self.title = title
        self.text = ""
        self.setZValue(4)
        fonts = graph.look.fonts
        self.title_h = fonts.measure(title, TITLE)[1]
        self.text_h = fonts.measure("Ag", BODY)[1]
        self.legend_h = max(SWATCH_H + 4, fonts.measure("Ag", SMALL)[1])
        self.height = self.title_h + self.text_h + self.legend_h + 2 * LINE_GAP + 4
        self.legend = [(state, translate("GraphScene", label)) for state, label in LEGEND]
        self.legend_w = sum(SWATCH_W + 6 + fonts.measure(label, SMALL)[0] + SWATCH_GAP for _, label in self.legend)
        self.width = self.legend_w

    def fit(self, texts: Iterable[str], min_width: float) -> None:
        """Widen to the title, every step text that will be shown, and at least `min_width`."""
        fonts = self.graph.look.fonts
        widths = [fonts.measure(self.title, TITLE)[0], self.legend_w, min_width]
        widths.extend(fonts.measure(t, BODY)[0] for t in texts)
        self.prepareGeometryChange()
        self.width = max(widths)
        self.setPos(0, -self.height - CAPTION_GAP)

    def set_text(self, text: str) -> None:
        if text != self.text:
            self.text = text
            self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(0, 0, self.width, self.height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        style = self.graph.look
        fonts = style.fonts
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.setFont(fonts.fonts[TITLE])
        painter.setPen(style.c["text"])
        painter.drawText(QRectF(0, 0, self.width, self.title_h), left, self.title)
        y = self.title_h + LINE_GAP
        painter.setFont(fonts.fonts[BODY])
        painter.setPen(style.c["muted_text"])
        painter.drawText(QRectF(0, y, self.width, self.text_h), left, self.text)
        y += self.text_h + LINE_GAP + 4
        x = 0.0
        painter.setFont(fonts.fonts[SMALL])
        for state, label in self.legend:
            swatch = QRectF(x + 2, y + 2, SWATCH_W - 4, SWATCH_H - 2)
            painter.setPen(style.node_pen[state])
            painter.setBrush(style.node_brush[state])
            painter.drawRoundedRect(swatch, 4, 4)
            if state == DONE:
                paint_check(painter, style, QPointF(swatch.right(), swatch.top()), 5.5)
            x += SWATCH_W + 6
            w = fonts.measure(label, SMALL)[0]
            painter.setPen(style.c["muted_text"])
            painter.drawText(QRectF(x, y, w, self.legend_h), left, label)
            x += w + SWATCH_GAP


class GraphScene(QGraphicsScene):
    """A laid-out pass as Qt items, restyled per replay step. Emits `node_clicked(id)`,
    `node_double_clicked(id)`, `node_hovered(id)` and `selection_changed(id or None)`; never opens dialogs.

    When the pass drawn is a folded view (`set_pass(view.pass_, layout, view)`), ids of the underlying pass
    are accepted wherever ids are taken (highlight, select) and mapped to the visible box holding them;
    `find` searches the underlying pass."""

    node_clicked = Signal(str)
    node_double_clicked = Signal(str)
    node_hovered = Signal(str)
    selection_changed = Signal(object)

    def __init__(self, theme: Theme = LIGHT, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.look = Style(theme)
        self.pass_: Pass | None = None
        self.layout: Layout | None = None
        self.replay: Replay | None = None
        self.step = 0
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[int, EdgeItem] = {}  # by index into Pass.edges
        self.seeds: dict[str, EdgeItem] = {}  # a root's seed edge, by root id
        self.cuts: list[CutMarkerItem] = []
        self.caption: CaptionItem | None = None
        self.overview: OverviewItem | None = None
        self.selected: str | None = None
        self.view: FoldedView | None = None  # the folded view drawn, if `pass_` is one
        self._highlighted: set[str] = set()
        self.highlight_ids: list[str] = []  # what the last `highlight_nodes` asked for (underlying ids)
        self._forced: str | None = None  # a revisited folded box shown current although it ran before
        # (id, its names, its type from each word on) in lower case, to search
        self._haystack: list[tuple[str, tuple[str, ...], tuple[str, ...]]] | None = None
        self._haystack_of: Pass | None = None
        self.restyled = 0  # items restyled by the last set_step (what a test checks to see the work done)
        self.setBackgroundBrush(self.look.background)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)

    @property
    def theme(self) -> Theme:
        return self.look.theme

    @property
    def fonts(self) -> Fonts:
        return self.look.fonts

    def measure(self) -> Measure:
        """The font-metrics callback layouts for this scene must be computed with."""
        return self.look.fonts.measure

    # ------------------------------------------------------------------ content

    def set_pass(self, pass_: Pass | None, layout: Layout | None, view: FoldedView | None = None) -> None:
        """Show `pass_` drawn with `layout` (computed with `self.measure()`), at step 0. `view`: the folded
        view `pass_` is (`view.pass_`), so underlying node ids map to the boxes holding them."""
        self.clear()
        self.nodes, self.edges, self.seeds, self.cuts = {}, {}, {}, []
        self.caption = self.overview = None
        self.selected, self._highlighted, self.highlight_ids = None, set(), []
        self._forced = None
        self.view = view if view is not None and view.pass_ is pass_ else None
        self.pass_, self.layout, self.step = pass_, layout, 0
        self.replay = Replay(pass_) if pass_ is not None else None
        if pass_ is None or layout is None or self.replay is None:
            self.setSceneRect(QRectF())
            return
        by_id = {n.id: n for n in pass_.nodes}
        roots = set(pass_.roots)
        for geo in layout.edges:
            if geo.index < 0:
                edge = EdgeItem(self, geo, seed_label_lines(self.replay, geo.dst))
                self.seeds[geo.dst] = edge
            else:
                edge = EdgeItem(self, geo, edge_label_lines(pass_, self.replay, geo.index))
                self.edges[geo.index] = edge
            self.addItem(edge)
            if geo.kind == "detached" and geo.cut:
                marker = CutMarkerItem(self, geo, edge.path, cut_tooltip(pass_.edges[geo.index], by_id))
                self.cuts.append(marker)
                self.addItem(marker)
        for box in layout.nodes:
            node = NodeItem(self, by_id[box.id], box, box.id in roots)
            self.nodes[box.id] = node
            self.addItem(node)
        self._fit_rect()
        self._restyle_all()

    def _fit_rect(self) -> None:
        layout = self.layout
        if layout is None:
            return
        rect = QRectF(0, 0, layout.width, layout.height)
        if self.caption is not None:
            rect = rect.united(self.caption.mapRectToScene(self.caption.boundingRect()))
        self.setSceneRect(rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN))

    def set_caption(self, title: str | None) -> None:
        """Show a heading above the graph (`title`, then what the current step did, then a legend of the
        node states) — for exported files and slides; None removes it."""
        if self.caption is not None:
            self.removeItem(self.caption)
            self.caption = None
        if title is not None and self.replay is not None and self.layout is not None:
            replay = self.replay
            self.caption = CaptionItem(self, title)
            self.caption.fit((step_caption(replay, k) for k in range(replay.total + 1)), self.layout.width)
            self.caption.set_text(step_caption(replay, self.step))
            self.addItem(self.caption)
        self._fit_rect()

    def set_step(self, k: int) -> None:
        """Show the pass after `k` engine steps; restyles only the items whose state differs (no layout)."""
        replay = self.replay
        if replay is None:
            return
        k = replay.clamp(k)
        node_changes, edge_changes = replay.transitions(self.step, k)
        self.step = k
        # Past a few hundred items, one repaint of what is visible beats queueing one per item.
        each = len(node_changes) + len(edge_changes) <= BATCH_RESTYLE and self.overview is None
        nodes, edges, seeds = self.nodes, self.edges, self.seeds
        count = 0
        if self._forced is not None and self._forced not in (nid for nid, _ in node_changes):
            node_changes.append((self._forced, replay.node_state(self._forced, k)))
        self._forced = None
        current = replay.current(k)
        if current is not None and replay.node_state(current, k) == DONE:
            # A folded box the engine comes back to (its nodes ran in two stretches) is current again.
            node_changes = [(nid, CURRENT if nid == current else s) for nid, s in node_changes]
            if current not in (nid for nid, _ in node_changes):
                node_changes.append((current, CURRENT))
            self._forced = current
        for nid, state in node_changes:
            item = nodes.get(nid)
            if item is not None:
                if item.leaf:
                    item.restyle(replay, k, each)
                elif item.state != state:
                    item.state = state
                    if each:
                        item.update()
                count += 1
                seed = seeds.get(nid)
                if seed is not None:
                    seed.restyle(EDGE_PENDING if state == PENDING else EDGE_CARRIED, each)
                    count += 1
        for i, state in edge_changes:
            edge = edges.get(i)
            if edge is not None and edge.state != state:
                edge.state = state
                if each:
                    edge.update()
            count += 1
        self.restyled = count
        if not each and count:
            self.update()
        if self.caption is not None:
            self.caption.set_text(step_caption(replay, k))

    def _restyle_all(self) -> None:
        replay, k = self.replay, self.step
        if replay is None:
            return
        for item in self.nodes.values():
            item.restyle(replay, k)
        for nid, seed in self.seeds.items():
            seed.restyle(EDGE_CARRIED if replay.node_state(nid, k) != PENDING else EDGE_PENDING)
        for i, edge in self.edges.items():
            edge.restyle(replay.edge_state(i, k))

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LanguageChange:  # sent on by the window that owns this scene
            self.retranslate()
        return super().event(event)

    def retranslate(self) -> None:
        """Tooltips of the boxes and cut markers in the current language."""
        pass_ = self.pass_
        by_id = {n.id: n for n in pass_.nodes} if pass_ is not None else {}
        for item in self.nodes.values():
            item.setToolTip(_node_tooltip(item.node))
        for marker in self.cuts:
            if pass_ is not None and 0 <= marker.edge.index < len(pass_.edges):
                marker.setToolTip(cut_tooltip(pass_.edges[marker.edge.index], by_id))

    def set_theme(self, theme: Theme) -> None:
        """Restyle everything with another theme (same fonts keep the layout valid)."""
        self.look = Style(theme)
        self.setBackgroundBrush(self.look.background)
        self.update()

    def set_overview(self, on: bool) -> None:
        """Draw the graph as one overview item (far-out zoom of a big graph) or as its detailed items."""
        if on == (self.overview is not None) or self.layout is None:
            return
        if on:
            self.overview = OverviewItem(self)
            self.addItem(self.overview)
        else:
            assert self.overview is not None
            self.removeItem(self.overview)
            self.overview = None
        for item in self.items():
            if item is not self.overview and item is not self.caption:
                item.setVisible(not on)

    @contextmanager
    def detailed(self) -> Iterator[None]:
        """Every item drawn in full for the duration (exports), whatever the view's zoom chose."""
        was = self.overview is not None
        self.set_overview(False)
        try:
            yield
        finally:
            self.set_overview(was)

    def item_id(self, node_id: str) -> str | None:
        """The drawn box showing `node_id`: itself, or in a folded view the box that holds it."""
        if node_id in self.nodes:
            return node_id
        return self.view.node_item.get(node_id) if self.view is not None else None

    def highlight_nodes(self, ids: Iterable[str]) -> None:
        """Outline these nodes (e.g. those created by the editor's current line); the rest lose it. In a
        folded view, a hidden node lights the box holding it."""
        ids = list(ids)
        self.highlight_ids = ids
        if self.view is None:
            new = set(ids) & self.nodes.keys()
        else:
            new = {item for item in map(self.item_id, ids) if item is not None}
        for nid in self._highlighted ^ new:
            item = self.nodes[nid]
            item.highlighted = nid in new
            item.update()
        self._highlighted = new

    def select_node(self, node_id: str | None) -> None:
        """Select one node (None clears; a hidden node of a folded view selects the box holding it);
        emits `selection_changed` when it changes."""
        if node_id is not None:
            node_id = self.item_id(node_id)
        if node_id == self.selected:
            return
        for nid in (self.selected, node_id):
            if nid is not None:
                self.nodes[nid].selected = nid == node_id
                self.nodes[nid].update()
        self.selected = node_id
        self.selection_changed.emit(node_id)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 (Qt API)
        if (event.button() == Qt.MouseButton.LeftButton
                and not isinstance(self.itemAt(event.scenePos(), QTransform()), NodeItem)):
            self.select_node(None)
        super().mousePressEvent(event)

    # ------------------------------------------------------------------ queries

    def find(self, text: str) -> list[str]:
        """Ids of the nodes `text` names (case-insensitive), in pass order: the variables of exactly that
        name if there are any (`u` finds u, not every name with a u in it), else variables whose name
        contains it and ops whose type has a word starting with it (`Mul` finds MulBackward0, not
        AccumulateGrad; `grad` finds AccumulateGrad). In a folded view, nodes of the underlying pass."""
        needle = text.strip().lower()
        searched = self.view.source if self.view is not None else self.pass_
        if not needle or searched is None:
            return []
        if self._haystack is None or self._haystack_of is not searched:
            self._haystack = [(n.id, tuple(name.lower() for name in n.names), _type_words(n.type))
                              for n in searched.nodes]
            self._haystack_of = searched
        exact = [nid for nid, names, _ in self._haystack if needle in names]
        if exact:
            return exact
        return [nid for nid, names, words in self._haystack
                if any(needle in name for name in names) or any(w.startswith(needle) for w in words)]

    def item_at(self, point: QPointF) -> str | None:
        """The id of the node box at a scene point, if any."""
        for item in self.items(point):
            if isinstance(item, NodeItem):
                return item.node.id
        return None

    def graph_rect(self) -> QRectF:
        """The drawing's rectangle with its margin: what exports render."""
        return self.sceneRect()


def _type_words(type_: str) -> tuple[str, ...]:
    """An op type from each of its words on, in lower case: "NativeLayerNormBackward0" -> "nativelayernorm
    backward0", "layernormbackward0", "normbackward0", "backward0"."""
    starts = [i for i, c in enumerate(type_) if i == 0 or c.isupper() and not type_[i - 1].isupper()]
    return tuple(type_[i:].lower() for i in starts)
