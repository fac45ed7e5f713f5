"""The inspector: everything about one autograd node at the current replay step, tensors shown by size."""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gradviz.core.layout import format_number, format_shape
from gradviz.core.replay import Replay
from gradviz.core.trace import Edge, Node, Pass, TensorSummary
from gradviz.gui.derivatives import translated_rule
from gradviz.gui.i18n import QT_TRANSLATE_NOOP, with_cjk_fallback

INLINE_MAX = 8  # up to this many elements (0-D/1-D) the values are written out in one line
TABLE_MAX_ROWS, TABLE_MAX_COLS = 12, 8  # up to this the values go in a table; beyond, stats and a heat map
HEATMAP_MAX_PX = 240

NONFINITE_COLOUR = "#d93025"


def fmt_number(v: Any) -> str:
    """A tensor element (or nested list of them) written the way the graph labels write numbers."""
    if isinstance(v, list):
        return "[" + ", ".join(fmt_number(x) for x in v) + "]"
    return format_number(v)


def muted(palette: QPalette) -> str:
    """Secondary text: the palette's text colour at 60 % over the window colour (readable in both themes)."""
    fg, bg = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    mix = [round(a * 0.6 + b * 0.4) for a, b in ((fg.red(), bg.red()), (fg.green(), bg.green()), (fg.blue(), bg.blue()))]
    return QColor(*mix).name()


def _mono(like: QFont) -> QFont:
    """The system's fixed-pitch font at the size of `like` (numbers line up, and stay as large as the text)."""
    font = with_cjk_fallback(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont), mono=True)
    font.setPointSizeF(like.pointSizeF())
    return font


def saved_name(key: str) -> str:
    """A saved value's name as derivative rules say it: "_saved_self" -> "self"."""
    return key[len("_saved_"):] if key.startswith("_saved_") else key


def _is_nonfinite(v: Any) -> bool:
    return isinstance(v, float) and not math.isfinite(v)


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, list):
        out: list[Any] = []
        for v in values:
            out.extend(_flatten(v))
        return out
    return [values]


def _as_matrix(summary: TensorSummary) -> list[list[Any]] | None:
    """Values as rows × columns: 0-D/1-D as one row, N-D folded into (prod(shape[:-1]), shape[-1])."""
    if summary.values is None:
        return None
    flat = _flatten(summary.values)
    shape = summary.shape
    cols = shape[-1] if len(shape) >= 1 and shape[-1] > 0 else max(1, len(flat))
    if not flat:
        return []
    return [flat[i:i + cols] for i in range(0, len(flat), cols)]


def tensor_mode(summary: TensorSummary) -> str:
    """How a tensor is shown: "inline" (a few numbers), "table" (a small grid) or "heatmap" (stats + picture)."""
    ndim = len(summary.shape)
    if summary.values is None:
        return "stats"
    if ndim <= 1 and summary.numel <= INLINE_MAX:
        return "inline"
    rows = math.prod(summary.shape[:-1]) if ndim >= 2 else 1
    cols = summary.shape[-1] if ndim >= 1 else 1
    if ndim <= 2 and rows <= TABLE_MAX_ROWS and cols <= TABLE_MAX_COLS:
        return "table"
    if ndim == 1 and summary.numel <= TABLE_MAX_ROWS * TABLE_MAX_COLS:
        return "table"
    return "heatmap"


def drawn_as(summary: TensorSummary) -> tuple[str, bool]:
    """Which widgets a tensor is drawn with: its `tensor_mode`, and whether a heat map picture goes with it."""
    mode = tensor_mode(summary)
    return mode, mode == "heatmap" and summary.numel > 0


def heatmap_image(matrix: list[list[Any]]) -> QImage:
    """One pixel per element: blue negative, white zero, red positive (symmetric scale); NaN/Inf magenta."""
    rows, cols = len(matrix), max((len(r) for r in matrix), default=0)
    image = QImage(max(cols, 1), max(rows, 1), QImage.Format.Format_RGB32)
    image.fill(QColor("#ffffff"))
    finite = [abs(float(v)) for r in matrix for v in r if isinstance(v, (int, float)) and math.isfinite(v)]
    scale = max(finite, default=0.0) or 1.0
    for y, row in enumerate(matrix):
        for x, v in enumerate(row):
            if not isinstance(v, (int, float)) or _is_nonfinite(v):
                colour = QColor("#e8008a")
            else:
                t = max(-1.0, min(1.0, float(v) / scale))
                if t >= 0:
                    colour = QColor(255, round(255 * (1 - t * 0.85)), round(255 * (1 - t * 0.85)))
                else:
                    colour = QColor(round(255 * (1 + t * 0.85)), round(255 * (1 + t * 0.55)), 255)
            image.setPixelColor(x, y, colour)
    return image


class WrappedLabel(QLabel):
    """A word-wrapped label that remembers its height at each width until its text, font or style changes:
    Qt asks a wrapped label for heightForWidth about ten times per layout pass, each a full text layout."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._heights: dict[int, int] = {}
        self.setWordWrap(True)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt API)
        self._heights.clear()
        super().setText(text)

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        height = self._heights.get(width)
        if height is None:
            height = self._heights[width] = super().heightForWidth(width)
        return height

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange, QEvent.Type.ContentsRectChange):
            self._heights.clear()
        super().changeEvent(event)


class TensorView(QWidget):
    """One tensor summary, drawn according to `tensor_mode`; NaN and Inf stand out in red. `show_summary` puts
    another tensor of the same shape and dtype into the same widgets (the inspector reuses them from step to step)."""

    def __init__(self, summary: TensorSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = summary
        self.mode = tensor_mode(summary)
        self._text = ""
        self._values: QLabel | None = None  # the inline values or the stats line
        self._grid: _FitTable | None = None
        self._picture: QLabel | None = None
        self._stats_style = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        mono = _mono(self.font())
        shape = self.tr("scalar") if not summary.shape else format_shape(summary.shape)
        meta = self._meta = QLabel(f"{shape} {summary.dtype.replace('torch.', '')}", self)
        meta.setObjectName("tensorMeta")
        meta.setStyleSheet(f"color: {muted(self.palette())};")
        layout.addWidget(meta)
        matrix = _as_matrix(summary)
        if self.mode == "table":
            self._grid = self._table(len(matrix or []), max((len(r) for r in matrix or []), default=0), mono)
            layout.addWidget(self._grid)
        else:
            label = self._values = WrappedLabel(self)
            label.setObjectName("tensorValues" if self.mode == "inline" else "tensorStats")
            label.setFont(mono)
            if self.mode == "inline":
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)
            if self.mode != "inline" and matrix:
                pic = self._picture = QLabel(self)
                pic.setObjectName("tensorHeatmap")
                pic.setToolTip(self.tr("blue < 0 < red, scaled to the largest |value|; magenta = NaN/Inf"))
                layout.addWidget(pic)
        self._fill(matrix)

    def show_summary(self, summary: TensorSummary) -> bool:
        """Show `summary` in these widgets; False (nothing changed) when it is drawn another way (mode, or a
        heat map where this one has none)."""
        if summary is self.summary or summary == self.summary:
            self.summary = summary
            return True
        if drawn_as(summary) != (self.mode, self._picture is not None):
            return False
        matrix = _as_matrix(summary)
        self.summary = summary
        shape = self.tr("scalar") if not summary.shape else format_shape(summary.shape)
        meta = f"{shape} {summary.dtype.replace('torch.', '')}"
        if self._meta.text() != meta:
            self._meta.setText(meta)
        if self._grid is not None:
            self._grid.setRowCount(len(matrix or []))
            self._grid.setColumnCount(max((len(r) for r in matrix or []), default=0))
        self._fill(matrix)
        return True

    def display_text(self) -> str:
        """The numbers as shown (inline values, table cells row by row, or the stats line)."""
        return self._text

    def has_nonfinite(self) -> bool:
        if self.summary.values is not None:
            return any(_is_nonfinite(v) for v in _flatten(self.summary.values))
        return bool(self.summary.stats.get("nan") or self.summary.stats.get("inf"))

    def _fill(self, matrix: list[list[Any]] | None) -> None:
        """Write `self.summary`'s numbers into the widgets made for its mode."""
        summary = self.summary
        if self._grid is not None:
            self._fill_table(self._grid, matrix or [])
            return
        assert self._values is not None
        if self.mode == "inline":
            self._text = fmt_number(summary.values)
            self._values.setText(self._colour_nonfinite(summary.values))
            return
        self._text = self._stats_text()
        self._values.setText(self._text)
        style = f"color: {NONFINITE_COLOUR}; font-weight: bold;" if summary.stats.get("nan") or summary.stats.get("inf") else ""
        if style != self._stats_style:
            self._stats_style = style
            self._values.setStyleSheet(style)
        if self._picture is not None and matrix:
            image = heatmap_image(matrix)
            factor = max(1, min(HEATMAP_MAX_PX // max(image.width(), 1), 120 // max(image.height(), 1), 24))
            self._picture.setPixmap(QPixmap.fromImage(image.scaled(image.width() * factor, image.height() * factor,
                                                                   Qt.AspectRatioMode.IgnoreAspectRatio,
                                                                   Qt.TransformationMode.FastTransformation)))

    def _colour_nonfinite(self, values: Any) -> str:
        def one(v: Any) -> str:
            if isinstance(v, list):
                return "[" + ", ".join(one(x) for x in v) + "]"
            text = html.escape(fmt_number(v))
            return f'<b style="color:{NONFINITE_COLOUR}">{text}</b>' if _is_nonfinite(v) else text

        return one(values)

    def _table(self, rows: int, cols: int, font: QFont) -> _FitTable:
        table = _FitTable(rows, cols, self)
        table.setObjectName("tensorTable")
        table.setFont(font)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setMinimumSectionSize(20)
        table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return table

    def _fill_table(self, table: _FitTable, matrix: list[list[Any]]) -> None:
        cells: list[str] = []
        for r, row in enumerate(matrix):
            for c, v in enumerate(row):
                text = fmt_number(v)
                cells.append(text)
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if _is_nonfinite(v):
                    item.setBackground(QColor("#fce8e6"))
                    item.setForeground(QColor(NONFINITE_COLOUR))
                table.setItem(r, c, item)
        self._text = " ".join(cells)
        table.resizeColumnsToContents()
        table.resizeRowsToContents()
        table.fit_height()

    def _stats_text(self) -> str:
        s = self.summary.stats
        parts = [f"{k} {fmt_number(s[k])}" for k in ("min", "max", "mean", "norm") if k in s]
        for k in ("nan", "inf"):
            if s.get(k):
                parts.append(f"{k}: {fmt_number(s[k])}")
        return "  ".join(parts) if parts else self.tr("(values not kept)")


def breakable(name: str) -> str:
    """A dotted module path or long name (`net.layers.150.self_attn.in_proj_weight`) that may wrap after its
    dots and underscores: one unbroken word set the whole inspector's width and cut every row off."""
    return name.replace(".", ".\u200b").replace("_", "_\u200b")


class _FitTable(QTableWidget):
    """A table of a tensor's values exactly as tall as its rows (up to `MAX_HEIGHT`), plus the horizontal
    scroll bar when the columns are wider than the panel: the bar never covers the only row of a vector."""

    MAX_HEIGHT = 320

    def fit_height(self) -> None:
        """Set the height the rows and, if needed now, the scroll bar take."""
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        height = self.horizontalHeader().height() + rows + 2 * self.frameWidth()
        columns = sum(self.columnWidth(c) for c in range(self.columnCount()))
        if columns + self.verticalHeader().width() + 2 * self.frameWidth() > self.width():
            height += self.horizontalScrollBar().sizeHint().height()
        height = min(height, self.MAX_HEIGHT)
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit_height()


class _Rows(QWidget):
    """A column of inspector rows (labels, tensor views) kept by key from one update to the next: between
    `begin()` and `end()` the rows are listed in order; an unchanged row is left alone, a changed one is
    updated in place, and only a row never drawn that way before is created. Rows not listed are hidden and
    kept, by key and look, for the next node that has them."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(6)
        self._rows: dict[str, QWidget] = {}  # the rows listed, by key (also their object names)
        self._looks: dict[str, object] = {}  # how each listed row is drawn
        self._spare: dict[tuple[str, object], QWidget] = {}  # hidden rows by (key, look)
        self._used: list[str] = []
        self._placed: list[QWidget] = []
        self.views: dict[str, TensorView] = {}

    def begin(self) -> None:
        self._used = []
        self.views = {}

    def end(self) -> None:
        used = set(self._used)
        for key in [k for k in self._rows if k not in used]:
            self._stash(key)
        order = [self._rows[k] for k in self._used]
        if order != self._placed:
            # Showing a widget lays out every visible ancestor at once, up to the window: show the rows while
            # this column is hidden, so the window is laid out once, not once per row.
            hidden = [w for w in order if w.isHidden()]
            shown = bool(hidden) and self.isVisible()
            if shown:
                self.hide()
            while self._column.count():
                self._column.takeAt(0)
            for widget in order:
                self._column.addWidget(widget)
            for widget in hidden:
                widget.show()
            if shown:
                self.show()
            self._placed = order

    def clear(self) -> None:
        """Delete every row, shown or spare (their look changed: language, font or palette)."""
        while self._column.count():
            self._column.takeAt(0)
        for widget in [*self._rows.values(), *self._spare.values()]:
            widget.hide()  # gone from screen now, even before the deferred delete runs
            widget.deleteLater()
        self._rows.clear()
        self._looks.clear()
        self._spare.clear()
        self._placed = []
        self.begin()

    def widgets(self) -> dict[str, QWidget]:
        """The rows on display by key (also their object names)."""
        return dict(self._rows)

    def set_text(self, key: str, text: str) -> None:
        """Change one listed label's text outside begin/end (a step that changes nothing else)."""
        label = self._rows.get(key)
        if isinstance(label, QLabel) and label.text() != text:
            label.setText(text)

    def label(self, key: str, text: str, *, rich: bool = False, style: str = "", font: QFont | None = None,
              flags: Qt.TextInteractionFlag | None = None, on_link: Any = None) -> QLabel:
        look = (rich, style, font.key() if font is not None else "", flags)
        label = self._take(key, WrappedLabel, look)
        if label is None:
            label = WrappedLabel(self)
            label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
            if style:
                label.setStyleSheet(style)
            if font is not None:
                label.setFont(font)
            if flags is not None:
                label.setTextInteractionFlags(flags)
            if on_link is not None:
                label.linkActivated.connect(on_link)
            self._add(key, label, look)
        if label.text() != text:
            label.setText(text)
        return label

    def tensor(self, key: str, summary: TensorSummary) -> TensorView:
        name = f"tensor:{key}"
        look = drawn_as(summary)
        view = self._take(name, TensorView, look)
        if view is None or not view.show_summary(summary):
            view = TensorView(summary, self)
            self._add(name, view, look)
        self.views[key] = view
        return view

    def separator(self, key: str) -> None:
        if self._take(key, QFrame, None) is None:
            line = QFrame(self)
            line.setFrameShape(QFrame.Shape.HLine)
            line.setStyleSheet("color: palette(midlight);")
            self._add(key, line, None)

    def _take(self, key: str, kind: type, look: object) -> Any:
        """The row `key` drawn with `look`: the listed one, else a spare one; None if it must be made."""
        self._used.append(key)
        widget = self._rows.get(key)
        if widget is not None and type(widget) is kind and self._looks[key] == look:
            return widget
        if widget is not None:
            self._stash(key)
        widget = self._spare.pop((key, look), None)
        if widget is not None:
            self._add(key, widget, look)
        return widget

    def _add(self, key: str, widget: QWidget, look: object) -> None:
        old = self._rows.get(key)
        if old is not None and old is not widget:
            old.hide()
            old.deleteLater()
        widget.setObjectName(key)
        self._rows[key] = widget
        self._looks[key] = look

    def _stash(self, key: str) -> None:
        widget, look = self._rows.pop(key), self._looks.pop(key)
        widget.hide()
        widget.setObjectName("")  # a spare row does not answer to its key's name
        old = self._spare.pop((key, look), None)
        if old is not None:
            old.deleteLater()
        self._spare[(key, look)] = widget


class Inspector(QScrollArea):
    """Shows the selected node: op, names, source line (a link: `line_clicked(line)`), its derivative rule,
    saved tensors, the gradients in and out at the current step and, for leaves, `.grad` before → after.

    Two columns of rows kept from update to update: the node's own facts, rebuilt only when the node (or the
    language, font or palette) changes, and the step's part, rebuilt only when the node's state changes; any
    other step only rewrites the "At step k / n" heading."""

    line_clicked = Signal(int)
    node_link_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self.setAccessibleName("inspector")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(260)
        self._replay: Replay | None = None
        self._node_id: str | None = None
        self._step = 0
        self._fields: dict[str, str] = {}
        self._generation = 0  # bumped by `retranslate`: every text is written again
        self._look: tuple[int, str, str] | None = None  # (generation, font, muted colour) the rows were made with
        self._shown: tuple[Replay | None, str | None] | None = None  # what the node's rows show
        self._state: str | None = None  # the state the step's rows show (None: to build)
        self._muted = ""
        self._mono = QFont()
        self._title_font = QFont()
        self._base_pt = 10.0
        self._body = QWidget()
        self._body.setObjectName("inspectorBody")
        font = self._body.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)  # a projector's back row reads this panel too
        self._body.setFont(font)
        self._layout = QVBoxLayout(self._body)
        self._layout.setContentsMargins(10, 10, 10, 10)
        self._layout.setSpacing(6)
        self._static = _Rows(self._body)
        self._static.setObjectName("inspectorNode")
        self._steps = _Rows(self._body)
        self._steps.setObjectName("inspectorStep")
        self._layout.addWidget(self._static)
        self._layout.addWidget(self._steps)
        self._layout.addStretch(1)
        self.setWidget(self._body)
        self.show_node(None, None, 0)

    # -- public API -----------------------------------------------------------------------------------------

    def node_id(self) -> str | None:
        return self._node_id

    def tensor_views(self) -> dict[str, TensorView]:
        """The tensors on display, keyed by role: "grad_out[i]" (arriving), "grad_in[i]" (sent to input i),
        "saved:<name>", "tensor" (a leaf's value), "grad_before", "grad_after"."""
        return {**self._static.views, **self._steps.views}

    def fields(self) -> dict[str, str]:
        """The plain facts on display: "type", "names", "line", "code", "rule", "state", "module"."""
        return dict(self._fields)

    def row_widgets(self) -> dict[str, QWidget]:
        """Every row on display by object name ("nodeType", "tensor:grad_in[0]", "heading:step"...): the same
        objects from step to step while they show the same kind of thing."""
        return {**self._static.widgets(), **self._steps.widgets()}

    def show_node(self, replay: Replay | None, node_id: str | None, step: int) -> None:
        """Show node `node_id` of the replayed pass at step `step` (None: an empty prompt). Rows that show the
        same thing as before are kept, so a step on the same node costs a heading's text."""
        node = None
        if replay is not None and node_id is not None:
            try:
                node = replay.pass_.node(node_id)
            except KeyError:
                node = None
        if node is None:
            node_id = None
        look = (self._generation, self._body.font().key(), muted(self.palette()))
        if look != self._look:
            self._look, self._muted = look, look[2]
            self._mono = _mono(self._body.font())
            self._title_font = QFont(self._body.font())
            self._title_font.setPointSize(self._title_font.pointSize() + 5)
            self._title_font.setBold(True)
            # headings and names follow the text size (presentation mode's 150 %, 200 %), not fixed points
            size = self._body.font().pointSizeF()
            self._base_pt = size if size > 0 else 10.0
            self._static.clear()
            self._steps.clear()
            self._shown = None
        self._step = step
        if self._shown is None or self._shown[0] is not replay or self._shown[1] != node_id:
            self._replay, self._node_id = replay, node_id
            self._build(replay, node)
            self._shown, self._state = (replay, node_id), None
        if node is None or replay is None:
            return
        state = replay.node_state(node.id, step)
        if state == "pending" and replay.step_of(node.id) is None:
            state = "unused"
        if state != self._state:
            self._build_step(replay, node, step, state)
            self._state = state
        else:
            self._steps.set_text("heading:step", self._step_heading(replay, step).upper())

    def set_step(self, step: int) -> None:
        """Same node, another step: only the step's part changes (and only if the node's state did)."""
        self.show_node(self._replay, self._node_id, step)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        """Rebuild the shown node's texts in the current language."""
        self._generation += 1
        self.show_node(self._replay, self._node_id, self._step)

    # -- building -------------------------------------------------------------------------------------------

    def _heading(self, rows: _Rows, key: str, text: str) -> None:
        rows.label(key, text.upper(), style=f"color: {self._muted}; font-size: {self._base_pt * 0.9:.1f}pt; "
                                            "font-weight: bold; "
                                            "letter-spacing: 1px; margin-top: 8px;")

    def _tensor(self, rows: _Rows, key: str, caption: str, summary: TensorSummary | None) -> None:
        rows.label(f"caption:{key}", caption, rich=True)
        if summary is None:
            rows.label(f"none:{key}", "None", style=f"color: {self._muted};")
            return
        rows.tensor(key, summary)

    def _name_of(self, pass_: Pass, node_id: str) -> str:
        try:
            n = pass_.node(node_id)
        except KeyError:
            return node_id
        return f"{', '.join(n.names)} · {n.type}" if n.names else n.type

    def _build(self, replay: Replay | None, node: Node | None) -> None:
        """The node's own rows: op, names, line, module, rule, attributes, value, saved tensors."""
        rows = self._static
        rows.begin()
        self._fields = {}
        if node is None or replay is None:
            rows.label("hint", self.tr("Click a node in the graph to inspect it.\n\nStep through backward() with the "
                                       "timeline below (← → Space)."), style=f"color: {self._muted};")
            rows.end()
            self._steps.clear()
            return
        rows.label("nodeType", node.type, font=self._title_font)
        self._fields["type"] = node.type
        kinds = {"leaf": QT_TRANSLATE_NOOP("Inspector", "leaf tensor (AccumulateGrad)"),
                 "detached": QT_TRANSLATE_NOOP("Inspector", "detached: no gradient flows here"),
                 "function": QT_TRANSLATE_NOOP("Inspector", "operation")}
        kind = self.tr(kinds[node.kind]) if node.kind in kinds else node.kind
        if node.names:
            self._fields["names"] = ", ".join(node.names)
            rows.label("nodeNames", f"<span style='font-size:{self._base_pt * 1.2:.1f}pt'><b>{html.escape(breakable(', '.join(node.names)))}</b></span>"
                       f" &nbsp;<span style='color:{self._muted}'>{html.escape(kind)}</span>", rich=True,
                       flags=Qt.TextInteractionFlag.TextSelectableByMouse)
        else:
            rows.label("nodeNames", kind, style=f"color: {self._muted};")
        if node.line is not None:
            self._fields["line"] = str(node.line)
            code = html.escape((node.code or "").strip())
            self._fields["code"] = (node.code or "").strip()
            line = html.escape(self.tr("line {0}").format(node.line))
            rows.label("nodeLine", f'<a href="line:{node.line}">{line}</a>' + (f"&nbsp; <code>{code}</code>" if code else ""),
                       rich=True, flags=Qt.TextInteractionFlag.TextBrowserInteraction, on_link=self._on_link)
        if node.module:
            self._fields["module"] = node.module
            rows.label("nodeModule", self.tr("in module {0}").format(breakable(node.module)),
                       style=f"color: {self._muted};")

        rule = translated_rule(node.type)
        if rule and node.kind != "detached":
            self._fields["rule"] = rule
            self._heading(rows, "heading:rule", self.tr("Derivative rule"))
            rows.label("nodeRule", rule, font=self._mono,
                       style="background: palette(alternate-base); padding: 4px; border-radius: 3px;")

        if node.attrs:
            self._heading(rows, "heading:attrs", self.tr("Attributes"))
            text = "\n".join(f"{saved_name(k)} = {fmt_number(v) if not isinstance(v, (list, tuple)) else list(v)}"
                             for k, v in node.attrs.items())
            rows.label("nodeAttrs", text, font=self._mono)

        if node.kind == "leaf" and node.tensor is not None:
            self._heading(rows, "heading:value", self.tr("Value"))
            self._tensor(rows, "tensor", self.tr("the leaf tensor"), node.tensor)

        if node.saved:
            self._heading(rows, "heading:saved", self.tr("Saved for backward"))
            for name, summary in node.saved.items():
                self._tensor(rows, f"saved:{name}", f"<code>{html.escape(saved_name(name))}</code>", summary)
        rows.end()

    def _step_heading(self, replay: Replay, step: int) -> str:
        return self.tr("At step {0} / {1}").format(f"{step:,}", f"{replay.total:,}")

    def _build_step(self, replay: Replay, node: Node, step: int, state: str) -> None:
        """The step's rows: the node's state, the gradients it received and sent, a leaf's .grad."""
        pass_ = replay.pass_
        rows = self._steps
        rows.begin()
        self._fields["state"] = state
        rows.separator("separator")
        self._heading(rows, "heading:step", self._step_heading(replay, step))
        word, explain = {
            "pending": (self.tr("pending"), self.tr("not reached yet: the engine has not run this node.")),
            "current": (self.tr("current"), self.tr("running now: gradient arrives and is sent on.")),
            "done": (self.tr("done"), self.tr("its gradients have been sent on.")),
            "detached": (self.tr("detached"), self.tr("cut off from the graph, so backward() never reaches it.")),
            "unused": (self.tr("unused"), self.tr("the engine did not run this node in this pass.")),
        }[state]
        colour = {"current": "#e37400", "done": "#188038", "detached": "#80868b"}.get(state, "#5f6368")
        rows.label("nodeState", f"<span style='color:{colour}'><b>{html.escape(word)}</b></span> — {html.escape(explain)}",
                   rich=True)
        ran = replay.step_of(node.id)
        if state in ("done", "current") and ran is not None:
            record = pass_.steps[ran - 1]
            for i, g in enumerate(record.grad_outputs):
                arriving = self.tr("gradient arriving (output {0})").format(i) if len(record.grad_outputs) > 1 \
                    else self.tr("gradient arriving")
                self._tensor(rows, f"grad_out[{i}]", arriving, g)
            by_slot: dict[int, Edge] = {pass_.edges[i].slot: pass_.edges[i] for i in replay.out_edges(node.id)}
            for i, g in enumerate(record.grad_inputs):
                edge = by_slot.get(i)
                if edge is not None and edge.kind == "detached":
                    target = f"<b>{html.escape(breakable(self._name_of(pass_, edge.dst)))}</b>"
                    text = (self.tr("input {0} → {1}: cut off by {2}, gets nothing").format(i, target, html.escape(edge.cut))
                            if edge.cut else self.tr("input {0} → {1}: cut off, gets nothing").format(i, target))
                    rows.label(f"cut:{i}", text, rich=True)
                    continue
                target = html.escape(breakable(self._name_of(pass_, edge.dst))) if edge else self.tr("nothing (needs no gradient)")
                self._tensor(rows, f"grad_in[{i}]", self.tr("sent to input {0} → {1}").format(i, f"<b>{target}</b>"), g)
        if node.kind == "leaf":
            leaf = replay.leaf_record(node.id)
            if leaf is not None:
                self._heading(rows, "heading:grad", self.tr(".grad  before → after"))
                self._tensor(rows, "grad_before", self.tr("before this pass"), leaf.before)
                if state in ("done", "current"):
                    self._tensor(rows, "grad_after", self.tr("after"), leaf.after)
                else:
                    rows.label("gradAfterPending", self.tr("after: (not accumulated yet)"), style=f"color: {self._muted};")
        rows.end()

    def _on_link(self, href: str) -> None:
        if href.startswith("line:"):
            self.line_clicked.emit(int(href.split(":", 1)[1]))
