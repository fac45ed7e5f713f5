"""A one-line label that gives up width before its neighbours do: it shows what fits, ending in "…"."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """A QLabel for one line of text (a step caption, a pass heading) that may be much longer than the room
    a narrow window or a projector's large type leaves it: it asks for its whole text, accepts as little as
    `min_chars` characters, draws the rest as "…", and shows the whole text as its tooltip. `text()` stays
    the whole text."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, min_chars: int = 10,
                 max_chars: int = 0, mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight) -> None:
        super().__init__(parent)
        self._min_chars, self._max_chars, self._mode = min_chars, max_chars, mode
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self.setToolTip(text)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        if self._max_chars:
            hint.setWidth(min(hint.width(), self.fontMetrics().averageCharWidth() * self._max_chars))
        return hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        margins = self.contentsMargins()
        width = self.fontMetrics().averageCharWidth() * self._min_chars + margins.left() + margins.right()
        return QSize(min(width, super().sizeHint().width()), super().minimumSizeHint().height())

    def elided(self) -> bool:
        """Whether the text is cut short at the label's present width."""
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), self._mode, rect.width())
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), shown)
