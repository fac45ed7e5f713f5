"""The code editor and output panel, driven through their methods and real key events."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QTextCursor

from gradviz.core.trace import ErrorInfo
from gradviz.gui.editor import CodeEditor
from gradviz.gui.outputpanel import OutputPanel, describe_error


@pytest.fixture
def editor(qtbot):
    ed = CodeEditor()
    qtbot.addWidget(ed)
    ed.resize(600, 400)
    ed.show()
    return ed


def _select_lines(ed: CodeEditor, first: int, last: int) -> None:
    doc = ed.document()
    cursor = QTextCursor(doc.findBlockByNumber(first - 1))
    end = doc.findBlockByNumber(last - 1)
    cursor.setPosition(end.position() + len(end.text()), QTextCursor.MoveMode.KeepAnchor)
    ed.setTextCursor(cursor)


def test_tab_inserts_four_spaces_and_shift_tab_removes_them(editor, qtbot):
    editor.setPlainText("x = 1")
    editor.go_to_line(1)
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == "    x = 1"
    qtbot.keyClick(editor, Qt.Key.Key_Backtab)
    assert editor.toPlainText() == "x = 1"


def test_tab_and_shift_tab_indent_a_selection_of_lines(editor, qtbot):
    editor.setPlainText("a = 1\nb = 2\nc = 3")
    _select_lines(editor, 1, 2)
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == "    a = 1\n    b = 2\nc = 3"
    _select_lines(editor, 1, 2)
    qtbot.keyClick(editor, Qt.Key.Key_Backtab)
    assert editor.toPlainText() == "a = 1\nb = 2\nc = 3"


def test_enter_keeps_indentation_and_indents_after_colon(editor, qtbot):
    editor.setPlainText("for i in range(3):")
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.keyClicks(editor, "y = i")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert editor.toPlainText() == "for i in range(3):\n    y = i\n    "


def test_ctrl_slash_toggles_comments_and_undo_restores(editor, qtbot):
    editor.setPlainText("x = 1\n    y = 2\n")
    _select_lines(editor, 1, 2)
    qtbot.keyClick(editor, Qt.Key.Key_Slash, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == "# x = 1\n#     y = 2\n"
    _select_lines(editor, 1, 2)
    qtbot.keyClick(editor, Qt.Key.Key_Slash, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == "x = 1\n    y = 2\n"
    editor.undo()
    assert editor.toPlainText() == "# x = 1\n#     y = 2\n"
    editor.redo()
    assert editor.toPlainText() == "x = 1\n    y = 2\n"


def test_cursor_line_signal_fires_once_per_line_change(editor, qtbot):
    editor.setPlainText("a = 1\nb = 2\nc = 3\n")
    lines: list[int] = []
    editor.cursor_line_changed.connect(lines.append)
    editor.go_to_line(3)
    editor.go_to_line(3)
    editor.go_to_line(2)
    assert lines == [3, 2]
    assert editor.current_line() == 2


def test_error_line_and_linked_lines_are_marked(editor):
    editor.setPlainText("\n".join(f"v{i} = {i}" for i in range(1, 11)))
    editor.mark_error_line(7)
    assert editor.error_line() == 7
    colours = {sel.cursor.blockNumber() + 1 for sel in editor.extraSelections()}
    assert 7 in colours
    editor.highlight_lines([3, 5, 99, None])
    assert editor.highlighted_lines() == (3, 5)
    marked = {sel.cursor.blockNumber() + 1 for sel in editor.extraSelections()}
    assert {3, 5, 7} <= marked
    editor.mark_error_line(None)
    assert editor.error_line() is None


def test_syntax_highlighting_comes_from_pygments(editor, qtbot):
    editor.setPlainText('import torch\ns = """a\nstill string"""\nx = 1  # note\n')
    qtbot.waitUntil(lambda: bool(editor.document().findBlockByNumber(0).layout().formats()))

    def colour_at(line: int, column: int):
        block = editor.document().findBlockByNumber(line - 1)
        for fr in block.layout().formats():
            if fr.start <= column < fr.start + fr.length:
                return fr.format.foreground().color().name()
        return None

    keyword = colour_at(1, 0)
    string_line2 = colour_at(2, 5)
    string_line3 = colour_at(3, 2)
    comment = colour_at(4, 8)
    assert keyword is not None and comment is not None
    assert string_line2 == string_line3  # the triple-quoted string keeps its colour on its second line
    assert len({keyword, string_line2, comment}) == 3


def test_dropping_a_python_file_emits_its_path(editor, qtbot, tmp_path):
    path = tmp_path / "prog.py"
    path.write_text("x = 1\n", encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPoint(10, 10).toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(editor.file_dropped) as blocker:
        editor.dropEvent(event)
    assert blocker.args == [str(path)]
    assert editor.toPlainText() == ""


def test_output_panel_streams_text_and_shows_error_with_line_link(qtbot):
    panel = OutputPanel()
    qtbot.addWidget(panel)
    panel.append_output("hello ")
    panel.append_output("world\n")
    error = ErrorInfo("ZeroDivisionError", "division by zero", 7)
    panel.show_error(error)
    assert panel.output_text().startswith("hello world\n")
    assert "ZeroDivisionError: division by zero (line 7)" in panel.output_text()
    assert 'href="line:7"' in panel.error_text()
    with qtbot.waitSignal(panel.line_activated) as blocker:
        panel._on_link("line:7")
    assert blocker.args == [7]
    panel.clear()
    assert panel.output_text() == "" and panel.error() is None


def test_a_long_error_keeps_its_line_link_in_a_short_banner(qtbot):
    """A torch shape error runs to several lines: the banner shows the link first and about two lines of
    the message (whole in its tooltip and in the log), so a short output pane still shows the link."""
    panel = OutputPanel()
    qtbot.addWidget(panel)
    message = ("inconsistent tensor size, expected tensor [2] and src [3] to have the same number of elements, "
               "but got 2 and 3 elements respectively; " * 3).strip()
    panel.show_error(ErrorInfo("RuntimeError", message, 5))
    text = panel.error_text()
    assert text.index('href="line:5"') < text.index("RuntimeError") and len(text) < 400 and "…" in text
    assert message in panel._banner.toolTip() and message in panel.output_text()


def test_describe_error_without_line():
    assert describe_error(ErrorInfo("TimeoutError", "ran longer than 2 s")) == "TimeoutError: ran longer than 2 s"
    assert describe_error(None, "cancelled") == "Stopped"
