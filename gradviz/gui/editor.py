"""The code editor: Python text with line numbers, colouring, indentation keys, comment toggle and line marks."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QFontDatabase,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from gradviz.gui.highlighter import PygmentsHighlighter
from gradviz.gui.i18n import with_cjk_fallback

INDENT = " " * 4

# Line-mark colours per theme: current line, linked (selected node's line), error.
_MARKS = {
    "light": {"current": "#f2f4f8", "linked": "#fff1b8", "error": "#ffd7d5", "gutter": "#f7f7f7",
              "gutter_text": "#9aa0a6", "gutter_current": "#3c4043", "error_dot": "#d93025"},
    "dark": {"current": "#2c313a", "linked": "#4b4420", "error": "#5c2b2b", "gutter": "#21252b",
             "gutter_text": "#636d83", "gutter_current": "#d7dae0", "error_dot": "#ff6b6b"},
}


def _python_drop_paths(mime) -> list[str]:  # noqa: ANN001 (QMimeData)
    """The local .py files among dragged URLs."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile().endswith(".py")]


class _LineNumberArea(QWidget):
    """The gutter: paints line numbers and the error dot for its editor."""

    def __init__(self, editor: CodeEditor) -> None:
        super().__init__(editor)
        self._editor = editor

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self._editor.line_number_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        self._editor.paint_line_numbers(event)

    def mousePressEvent(self, event) -> None:  # noqa: ANN001, N802
        """Clicking a number puts the cursor on that line (and so lights up its nodes)."""
        cursor = self._editor.cursorForPosition(event.position().toPoint())
        self._editor.go_to_line(cursor.blockNumber() + 1)


class CodeEditor(QPlainTextEdit):
    """A Python editor. Emits `cursor_line_changed(line)` (1-based) when the cursor moves to another line and
    `file_dropped(path)` when a .py file is dropped on it."""

    cursor_line_changed = Signal(int)
    file_dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None, theme: str = "light") -> None:
        super().__init__(parent)
        self.setObjectName("editor")
        self.setAccessibleName("editor")
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSize(max(font.pointSize(), 12))
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(with_cjk_fallback(font, mono=True))  # Chinese comments and strings, as in the D2L lesson
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 4)
        self._theme = theme
        self._error_line: int | None = None
        self._linked_lines: tuple[int, ...] = ()
        self._last_line = 1
        self._gutter = _LineNumberArea(self)
        self.highlighter = PygmentsHighlighter(self.document(), theme)
        self.blockCountChanged.connect(self._update_gutter_width)
        self.updateRequest.connect(self._update_gutter)
        self.cursorPositionChanged.connect(self._on_cursor_moved)
        self._update_gutter_width()
        self.set_theme(theme)

    # -- public API -----------------------------------------------------------------------------------------

    def set_theme(self, theme: str) -> None:
        """Colours for text (Pygments style), background and line marks."""
        self._theme = theme if theme in _MARKS else "light"
        self.highlighter.set_theme(self._theme)
        bg, fg = self.highlighter.style_background(), self.highlighter.style_foreground()
        palette = self.palette()
        if bg is not None:
            palette.setColor(palette.ColorRole.Base, bg)
        palette.setColor(palette.ColorRole.Text, fg if fg is not None else QColor("#000000" if theme == "light" else "#dddddd"))
        self.setPalette(palette)
        self._refresh_marks()
        self._gutter.update()

    def setPlainText(self, text: str) -> None:  # noqa: N802 (Qt API)
        """Replace the text; the cursor lands on line 1 and listeners hear about it even if it was there."""
        super().setPlainText(text)
        self._last_line = self.current_line()
        self._refresh_marks()
        self.cursor_line_changed.emit(self._last_line)

    def current_line(self) -> int:
        """The 1-based line the cursor is on."""
        return self.textCursor().blockNumber() + 1

    def line_count(self) -> int:
        return self.document().blockCount()

    def line_text(self, line: int) -> str:
        block = self.document().findBlockByNumber(line - 1)
        return block.text() if block.isValid() else ""

    def go_to_line(self, line: int, focus: bool = False) -> None:
        """Move the cursor to the start of `line` (1-based, clamped) and scroll it into view."""
        block = self.document().findBlockByNumber(min(max(line, 1), self.line_count()) - 1)
        cursor = QTextCursor(block)
        self.setTextCursor(cursor)
        self.centerCursor()
        if focus:
            self.setFocus()

    def mark_error_line(self, line: int | None) -> None:
        """Paint `line` as the place an error happened (None clears it)."""
        self._error_line = line if line is not None and 1 <= line <= self.line_count() else None
        self._refresh_marks()
        self._gutter.update()
        if self._error_line is not None:
            self._ensure_line_visible(self._error_line)

    def error_line(self) -> int | None:
        return self._error_line

    def highlight_lines(self, lines: Iterable[int], scroll: bool = True) -> None:
        """Tint the lines a selected node came from (without moving the cursor) and scroll the first into view."""
        self._linked_lines = tuple(sorted({ln for ln in lines if ln is not None and 1 <= ln <= self.line_count()}))
        self._refresh_marks()
        if scroll and self._linked_lines:
            self._ensure_line_visible(self._linked_lines[0])

    def highlighted_lines(self) -> tuple[int, ...]:
        return self._linked_lines

    def toggle_comment(self) -> None:
        """Comment out the selected lines with "# ", or uncomment them if every non-blank one is a comment."""
        cursor = self.textCursor()
        first, last = self._selected_block_range(cursor)
        doc = self.document()
        blocks = [doc.findBlockByNumber(n) for n in range(first, last + 1)]
        code = [b for b in blocks if b.text().strip()]
        if not code:
            return
        uncomment = all(b.text().lstrip().startswith("#") for b in code)
        column = min(len(b.text()) - len(b.text().lstrip()) for b in code)
        cursor.beginEditBlock()
        for block in code:
            text = block.text()
            edit = QTextCursor(block)
            if uncomment:
                at = text.index("#")
                width = 2 if text[at + 1:at + 2] == " " else 1
                edit.setPosition(block.position() + at)
                edit.setPosition(block.position() + at + width, QTextCursor.MoveMode.KeepAnchor)
                edit.removeSelectedText()
            else:
                edit.setPosition(block.position() + column)
                edit.insertText("# ")
        cursor.endEditBlock()

    def indent_selection(self) -> None:
        """Indent every selected line by four spaces."""
        cursor = self.textCursor()
        first, last = self._selected_block_range(cursor)
        cursor.beginEditBlock()
        for n in range(first, last + 1):
            QTextCursor(self.document().findBlockByNumber(n)).insertText(INDENT)
        cursor.endEditBlock()

    def dedent_selection(self) -> None:
        """Remove up to four leading spaces from every selected line (the current one without a selection)."""
        cursor = self.textCursor()
        first, last = self._selected_block_range(cursor)
        cursor.beginEditBlock()
        for n in range(first, last + 1):
            block = self.document().findBlockByNumber(n)
            text = block.text()
            width = len(text) - len(text.lstrip(" "))
            remove = min(width, 4) if width % 4 == 0 else width % 4
            if remove:
                edit = QTextCursor(block)
                edit.setPosition(block.position() + remove, QTextCursor.MoveMode.KeepAnchor)
                edit.removeSelectedText()
        cursor.endEditBlock()

    # -- keys -----------------------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if key == Qt.Key.Key_Backtab or (key == Qt.Key.Key_Tab and mods & Qt.KeyboardModifier.ShiftModifier):
            self.dedent_selection()
            return
        if key == Qt.Key.Key_Tab and not ctrl:
            if self.textCursor().hasSelection() and self._spans_lines(self.textCursor()):
                self.indent_selection()
            else:
                column = self.textCursor().positionInBlock()
                self.insertPlainText(" " * (4 - column % 4))
            return
        if ctrl and key == Qt.Key.Key_Slash:
            self.toggle_comment()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not ctrl and not (mods & Qt.KeyboardModifier.AltModifier):
            self._newline_with_indent()
            return
        if key == Qt.Key.Key_Backspace and not self.textCursor().hasSelection():
            cursor = self.textCursor()
            before = cursor.block().text()[:cursor.positionInBlock()]
            if before and not before.strip(" ") and len(before) % 4 == 0:
                cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, 4)
                cursor.removeSelectedText()
                return
        super().keyPressEvent(event)

    def _newline_with_indent(self) -> None:
        """Enter keeps the line's indentation, adding a level after a line ending in ':'."""
        cursor = self.textCursor()
        text = cursor.block().text()[:cursor.positionInBlock()]
        indent = text[:len(text) - len(text.lstrip(" "))]
        if text.rstrip().endswith(":"):
            indent += INDENT
        cursor.insertText("\n" + indent)
        self.ensureCursorVisible()

    # -- drag and drop --------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if _python_drop_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: ANN001, N802
        if _python_drop_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = _python_drop_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.file_dropped.emit(paths[0])
        else:
            super().dropEvent(event)

    # -- gutter ---------------------------------------------------------------------------------------------

    def line_number_width(self) -> int:
        digits = max(3, len(str(self.document().blockCount())))
        return 14 + self.fontMetrics().horizontalAdvance("9") * digits + 10

    def _update_gutter_width(self, *_: object) -> None:
        self.setViewportMargins(self.line_number_width(), 0, 0, 0)

    def _update_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())
        if rect.contains(self.viewport().rect()):
            self._update_gutter_width()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        cr = self.contentsRect()
        self._gutter.setGeometry(QRect(cr.left(), cr.top(), self.line_number_width(), cr.height()))

    def paint_line_numbers(self, event: QPaintEvent) -> None:
        """Paint the visible line numbers, the current one bold, and a red dot on the error line."""
        marks = _MARKS[self._theme]
        painter = QPainter(self._gutter)
        painter.fillRect(event.rect(), QColor(marks["gutter"]))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        current = self.textCursor().blockNumber()
        height = self.fontMetrics().height()
        font = painter.font()
        font.setFamily(self.font().family())
        font.setPointSize(self.font().pointSize())
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                if number + 1 == self._error_line:
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(QColor(marks["error_dot"]))
                    d = max(6, height // 2)
                    painter.drawEllipse(4, top + (height - d) // 2, d, d)
                font.setBold(number == current)
                painter.setFont(font)
                painter.setPen(QColor(marks["gutter_current" if number == current else "gutter_text"]))
                painter.drawText(0, top, self._gutter.width() - 8, height, Qt.AlignmentFlag.AlignRight, str(number + 1))
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1
        painter.end()

    # -- marks ----------------------------------------------------------------------------------------------

    def _on_cursor_moved(self) -> None:
        self._refresh_marks()
        line = self.current_line()
        if line != self._last_line:
            self._last_line = line
            self.cursor_line_changed.emit(line)

    def _line_selection(self, line: int, colour: str) -> QTextEdit.ExtraSelection:
        sel = QTextEdit.ExtraSelection()
        sel.format.setBackground(QColor(colour))
        sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        cursor = QTextCursor(self.document().findBlockByNumber(line - 1))
        sel.cursor = cursor
        return sel

    def _refresh_marks(self) -> None:
        marks = _MARKS[self._theme]
        selections = [self._line_selection(self.current_line(), marks["current"])]
        selections += [self._line_selection(ln, marks["linked"]) for ln in self._linked_lines]
        if self._error_line is not None:
            selections.append(self._line_selection(self._error_line, marks["error"]))
        self.setExtraSelections(selections)

    def _ensure_line_visible(self, line: int) -> None:
        block = self.document().findBlockByNumber(line - 1)
        if not block.isValid():
            return
        first = self.firstVisibleBlock().blockNumber()
        visible = max(1, self.viewport().height() // max(1, self.fontMetrics().height()))
        if not first <= line - 1 < first + visible - 1:
            self.verticalScrollBar().setValue(max(0, line - 1 - visible // 3))

    def _selected_block_range(self, cursor: QTextCursor) -> tuple[int, int]:
        doc = self.document()
        start = doc.findBlock(cursor.selectionStart()).blockNumber()
        end_pos = cursor.selectionEnd()
        end_block = doc.findBlock(end_pos)
        end = end_block.blockNumber()
        if cursor.hasSelection() and end > start and end_pos == end_block.position():
            end -= 1  # a selection ending at the start of a line does not include that line
        return start, end

    @staticmethod
    def _spans_lines(cursor: QTextCursor) -> bool:
        return "\u2029" in cursor.selectedText()

