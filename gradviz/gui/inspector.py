"""The inspector: everything about one autograd node at the current replay step, tensors shown by size."""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QPalette, QPixmap
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


class TensorView(QWidget):
    """One tensor summary, drawn according to `tensor_mode`; NaN and Inf stand out in red."""

    def __init__(self, summary: TensorSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = summary
        self.mode = tensor_mode(summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        mono = _mono(self.font())
        shape = self.tr("scalar") if not summary.shape else format_shape(summary.shape)
        meta = QLabel(f"{shape} {summary.dtype.replace('torch.', '')}", self)
        meta.setObjectName("tensorMeta")
        meta.setStyleSheet(f"color: {muted(self.palette())};")
        layout.addWidget(meta)
        self._text = ""
        if self.mode == "inline":
            self._text = fmt_number(summary.values)
            label = QLabel(self._colour_nonfinite(summary.values), self)
            label.setObjectName("tensorValues")
            label.setFont(mono)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)
        elif self.mode == "table":
            layout.addWidget(self._table(_as_matrix(summary) or [], mono))
        else:
            stats = self._stats_text()
            self._text = stats
            label = QLabel(stats, self)
            label.setObjectName("tensorStats")
            label.setFont(mono)
            label.setWordWrap(True)
            if summary.stats.get("nan") or summary.stats.get("inf"):
                label.setStyleSheet(f"color: {NONFINITE_COLOUR}; font-weight: bold;")
            layout.addWidget(label)
            matrix = _as_matrix(summary)
            if matrix:
                image = heatmap_image(matrix)
                factor = max(1, min(HEATMAP_MAX_PX // max(image.width(), 1), 120 // max(image.height(), 1), 24))
                pic = QLabel(self)
                pic.setObjectName("tensorHeatmap")
                pic.setPixmap(QPixmap.fromImage(image.scaled(image.width() * factor, image.height() * factor,
                                                             Qt.AspectRatioMode.IgnoreAspectRatio,
                                                             Qt.TransformationMode.FastTransformation)))
                pic.setToolTip(self.tr("blue < 0 < red, scaled to the largest |value|; magenta = NaN/Inf"))
                layout.addWidget(pic)

    def display_text(self) -> str:
        """The numbers as shown (inline values, table cells row by row, or the stats line)."""
        return self._text

    def has_nonfinite(self) -> bool:
        if self.summary.values is not None:
            return any(_is_nonfinite(v) for v in _flatten(self.summary.values))
        return bool(self.summary.stats.get("nan") or self.summary.stats.get("inf"))

    def _colour_nonfinite(self, values: Any) -> str:
        def one(v: Any) -> str:
            if isinstance(v, list):
                return "[" + ", ".join(one(x) for x in v) + "]"
            text = html.escape(fmt_number(v))
            return f'<b style="color:{NONFINITE_COLOUR}">{text}</b>' if _is_nonfinite(v) else text

        return one(values)

    def _table(self, matrix: list[list[Any]], font: QFont) -> QTableWidget:
        rows, cols = len(matrix), max((len(r) for r in matrix), default=0)
        table = QTableWidget(rows, cols, self)
        table.setObjectName("tensorTable")
        table.setFont(font)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setMinimumSectionSize(20)
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
        height = table.horizontalHeader().height() + sum(table.rowHeight(r) for r in range(rows)) + 4
        table.setFixedHeight(min(height, 320))
        table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return table

    def _stats_text(self) -> str:
        s = self.summary.stats
        parts = [f"{k} {fmt_number(s[k])}" for k in ("min", "max", "mean", "norm") if k in s]
        for k in ("nan", "inf"):
            if s.get(k):
                parts.append(f"{k}: {fmt_number(s[k])}")
        return "  ".join(parts) if parts else self.tr("(values not kept)")


class Inspector(QScrollArea):
    """Shows the selected node: op, names, source line (a link: `line_clicked(line)`), its derivative rule,
    saved tensors, the gradients in and out at the current step and, for leaves, `.grad` before → after."""

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
        self._views: dict[str, TensorView] = {}
        self._fields: dict[str, str] = {}
        self._body = QWidget()
        self._body.setObjectName("inspectorBody")
        font = self._body.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)  # a projector's back row reads this panel too
        self._body.setFont(font)
        self._layout = QVBoxLayout(self._body)
        self._layout.setContentsMargins(10, 10, 10, 10)
        self._layout.setSpacing(6)
        self.setWidget(self._body)
        self.show_node(None, None, 0)

    # -- public API -----------------------------------------------------------------------------------------

    def node_id(self) -> str | None:
        return self._node_id

    def tensor_views(self) -> dict[str, TensorView]:
        """The tensors on display, keyed by role: "grad_out[i]" (arriving), "grad_in[i]" (sent to input i),
        "saved:<name>", "tensor" (a leaf's value), "grad_before", "grad_after"."""
        return dict(self._views)

    def fields(self) -> dict[str, str]:
        """The plain facts on display: "type", "names", "line", "code", "rule", "state", "module"."""
        return dict(self._fields)

    def show_node(self, replay: Replay | None, node_id: str | None, step: int) -> None:
        """Rebuild for node `node_id` of the replayed pass at step `step` (None: an empty prompt)."""
        self._replay, self._node_id, self._step = replay, node_id, step
        self._clear()
        node = None
        if replay is not None and node_id is not None:
            try:
                node = replay.pass_.node(node_id)
            except KeyError:
                node = None
        if node is None or replay is None:
            self._node_id = None
            hint = QLabel(self.tr("Click a node in the graph to inspect it.\n\nStep through backward() with the "
                                  "timeline below (← → Space)."), self._body)
            hint.setWordWrap(True)
            hint.setStyleSheet(f"color: {muted(self.palette())};")
            self._layout.addWidget(hint)
            self._layout.addStretch(1)
            return
        self._build(replay, node, step)

    def set_step(self, step: int) -> None:
        """Same node, another step: only the gradient sections change."""
        self.show_node(self._replay, self._node_id, step)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        """Rebuild the shown node's texts in the current language."""
        self.show_node(self._replay, self._node_id, self._step)

    # -- building -------------------------------------------------------------------------------------------

    def _clear(self) -> None:
        self._views.clear()
        self._fields.clear()
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # gone from screen now, even before the deferred delete runs
                widget.deleteLater()

    def _label(self, text: str, name: str | None = None, rich: bool = False) -> QLabel:
        label = QLabel(self._body)
        label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        label.setText(text)
        label.setWordWrap(True)
        if name:
            label.setObjectName(name)
        self._layout.addWidget(label)
        return label

    def _heading(self, text: str) -> None:
        label = self._label(text.upper())
        label.setStyleSheet(f"color: {muted(self.palette())}; font-size: 9pt; font-weight: bold; letter-spacing: 1px;"
                            " margin-top: 8px;")

    def _separator(self) -> None:
        line = QFrame(self._body)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: palette(midlight);")
        self._layout.addWidget(line)

    def _tensor(self, key: str, caption: str, summary: TensorSummary | None) -> None:
        cap = self._label(caption, rich=True)
        cap.setObjectName(f"caption:{key}")
        if summary is None:
            self._label("None", name=f"none:{key}").setStyleSheet(f"color: {muted(self.palette())};")
            return
        view = TensorView(summary, self._body)
        view.setObjectName(f"tensor:{key}")
        self._views[key] = view
        self._layout.addWidget(view)

    def _name_of(self, pass_: Pass, node_id: str) -> str:
        try:
            n = pass_.node(node_id)
        except KeyError:
            return node_id
        return f"{', '.join(n.names)} · {n.type}" if n.names else n.type

    def _build(self, replay: Replay, node: Node, step: int) -> None:
        title = self._label(node.type, name="nodeType")
        font = title.font()
        font.setPointSize(font.pointSize() + 5)
        font.setBold(True)
        title.setFont(font)
        self._fields["type"] = node.type
        kinds = {"leaf": QT_TRANSLATE_NOOP("Inspector", "leaf tensor (AccumulateGrad)"),
                 "detached": QT_TRANSLATE_NOOP("Inspector", "detached: no gradient flows here"),
                 "function": QT_TRANSLATE_NOOP("Inspector", "operation")}
        kind = self.tr(kinds[node.kind]) if node.kind in kinds else node.kind
        if node.names:
            self._fields["names"] = ", ".join(node.names)
            names = self._label(f"<span style='font-size:12pt'><b>{html.escape(', '.join(node.names))}</b></span>"
                                f" &nbsp;<span style='color:{muted(self.palette())}'>{html.escape(kind)}</span>", name="nodeNames",
                                rich=True)
            names.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        else:
            self._label(kind, name="nodeNames").setStyleSheet(f"color: {muted(self.palette())};")
        if node.line is not None:
            self._fields["line"] = str(node.line)
            code = html.escape((node.code or "").strip())
            self._fields["code"] = (node.code or "").strip()
            line = html.escape(self.tr("line {0}").format(node.line))
            link = self._label(f'<a href="line:{node.line}">{line}</a>'
                               + (f"&nbsp; <code>{code}</code>" if code else ""), name="nodeLine", rich=True)
            link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            link.linkActivated.connect(self._on_link)
        if node.module:
            self._fields["module"] = node.module
            self._label(self.tr("in module {0}").format(node.module), name="nodeModule").setStyleSheet(f"color: {muted(self.palette())};")

        rule = translated_rule(node.type)
        if rule and node.kind != "detached":
            self._fields["rule"] = rule
            self._heading(self.tr("Derivative rule"))
            r = self._label(rule, name="nodeRule")
            r.setFont(_mono(self._body.font()))
            r.setStyleSheet("background: palette(alternate-base); padding: 4px; border-radius: 3px;")

        if node.attrs:
            self._heading(self.tr("Attributes"))
            text = "\n".join(f"{saved_name(k)} = {fmt_number(v) if not isinstance(v, (list, tuple)) else list(v)}"
                             for k, v in node.attrs.items())
            self._label(text, name="nodeAttrs").setFont(_mono(self._body.font()))

        if node.kind == "leaf" and node.tensor is not None:
            self._heading(self.tr("Value"))
            self._tensor("tensor", self.tr("the leaf tensor"), node.tensor)

        if node.saved:
            self._heading(self.tr("Saved for backward"))
            for name, summary in node.saved.items():
                self._tensor(f"saved:{name}", f"<code>{html.escape(saved_name(name))}</code>", summary)

        self._build_step(replay, node, step)
        self._layout.addStretch(1)

    def _build_step(self, replay: Replay, node: Node, step: int) -> None:
        pass_ = replay.pass_
        state = replay.node_state(node.id, step)
        if state == "pending" and replay.step_of(node.id) is None:
            state = "unused"
        self._fields["state"] = state
        n = replay.total
        self._separator()
        self._heading(self.tr("At step {0} / {1}").format(step, n))
        word, explain = {
            "pending": (self.tr("pending"), self.tr("not reached yet: the engine has not run this node.")),
            "current": (self.tr("current"), self.tr("running now: gradient arrives and is sent on.")),
            "done": (self.tr("done"), self.tr("done: its gradients have been sent on.")),
            "detached": (self.tr("detached"), self.tr("cut off from the graph, so backward() never reaches it.")),
            "unused": (self.tr("unused"), self.tr("the engine did not run this node in this pass.")),
        }[state]
        colour = {"current": "#e37400", "done": "#188038", "detached": "#80868b"}.get(state, "#5f6368")
        self._label(f"<span style='color:{colour}'><b>{html.escape(word)}</b></span> — {html.escape(explain)}", name="nodeState",
                    rich=True)
        ran = replay.step_of(node.id)
        if state in ("done", "current") and ran is not None:
            record = pass_.steps[ran - 1]
            for i, g in enumerate(record.grad_outputs):
                arriving = self.tr("gradient arriving (output {0})").format(i) if len(record.grad_outputs) > 1 \
                    else self.tr("gradient arriving")
                self._tensor(f"grad_out[{i}]", arriving, g)
            by_slot: dict[int, Edge] = {pass_.edges[i].slot: pass_.edges[i] for i in replay.out_edges(node.id)}
            for i, g in enumerate(record.grad_inputs):
                edge = by_slot.get(i)
                if edge is not None and edge.kind == "detached":
                    target = f"<b>{html.escape(self._name_of(pass_, edge.dst))}</b>"
                    text = (self.tr("input {0} → {1}: cut off by {2}, gets nothing").format(i, target, html.escape(edge.cut))
                            if edge.cut else self.tr("input {0} → {1}: cut off, gets nothing").format(i, target))
                    self._label(text, name=f"cut:{i}", rich=True)
                    continue
                target = html.escape(self._name_of(pass_, edge.dst)) if edge else self.tr("nothing (needs no gradient)")
                self._tensor(f"grad_in[{i}]", self.tr("sent to input {0} → {1}").format(i, f"<b>{target}</b>"), g)
        if node.kind == "leaf":
            leaf = replay.leaf_record(node.id)
            if leaf is not None:
                self._heading(self.tr(".grad  before → after"))
                self._tensor("grad_before", self.tr("before this pass"), leaf.before)
                if state in ("done", "current"):
                    self._tensor("grad_after", self.tr("after"), leaf.after)
                else:
                    self._label(self.tr("after: (not accumulated yet)"), name="gradAfterPending").setStyleSheet(f"color: {muted(self.palette())};")

    def _on_link(self, href: str) -> None:
        if href.startswith("line:"):
            self.line_clicked.emit(int(href.split(":", 1)[1]))

