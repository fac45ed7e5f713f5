"""The output panel: the program's printed output as it streams in, and run errors pinned to their line."""

from __future__ import annotations

import html

from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from gradviz.core.trace import ErrorInfo
from gradviz.gui.i18n import QT_TRANSLATE_NOOP, with_cjk_fallback

MAX_LINES = 5000  # the panel keeps the last lines of a chatty program; the trace keeps its own bounded copy

_STATUS_TITLES = {
    "error": QT_TRANSLATE_NOOP("OutputPanel", "Error"),
    "timeout": QT_TRANSLATE_NOOP("OutputPanel", "Stopped: time limit"),
    "cancelled": QT_TRANSLATE_NOOP("OutputPanel", "Stopped"),
}


def status_title(status: str) -> str:
    """The banner's heading for a run's status, in the UI's language."""
    return QCoreApplication.translate("OutputPanel", _STATUS_TITLES.get(status, _STATUS_TITLES["error"]))


def describe_error(error: ErrorInfo | None, status: str = "error") -> str:
    """One line a person reads: what went wrong and where, e.g. "ZeroDivisionError: division by zero (line 7)"."""
    if error is None:
        return status_title(status) if status in _STATUS_TITLES else status
    text = f"{error.type}: {error.message}" if error.message else error.type
    if error.line is not None:
        text += " " + QCoreApplication.translate("OutputPanel", "(line {0})").format(error.line)
    return text


BANNER_CHARS = 140  # about two lines of the banner in a narrow window


def _shortened(text: str) -> str:
    """The first line of `text`, cut at a word to about BANNER_CHARS characters."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if len(first) <= BANNER_CHARS:
        return first
    cut = first[:BANNER_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + " …"


class OutputPanel(QWidget):
    """Streams program output; shows the run's error as a banner whose "line N" link emits `line_activated`."""

    line_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("outputPanel")
        self.setAccessibleName("outputPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self._banner = QLabel(self)
        self._banner.setObjectName("errorBanner")
        self._banner.setWordWrap(True)
        self._banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self._banner.linkActivated.connect(self._on_link)
        self._banner.setStyleSheet("QLabel#errorBanner { background: #fce8e6; color: #a50e0e; padding: 6px 8px;"
                                   " border-bottom: 1px solid #f4b4ae; }")
        self._banner.hide()
        self._log = QPlainTextEdit(self)
        self._log.setObjectName("outputLog")
        self._log.setReadOnly(True)
        self._log.setMaximumBlockCount(MAX_LINES)
        self._log.setFont(with_cjk_fallback(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont), mono=True))
        layout.addWidget(self._banner)
        layout.addWidget(self._log)
        self._error: ErrorInfo | None = None
        self._status = "error"
        self.retranslate()

    def retranslate(self) -> None:
        """Set the texts again in the current language (the banner of a shown error too)."""
        self._log.setPlaceholderText(self.tr("Output of print() appears here. Run with Ctrl+Enter."))
        if self._banner.isVisibleTo(self):
            self._set_banner(self._error, self._status)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def clear(self) -> None:
        """Forget the previous run's output and error."""
        self._log.clear()
        self._banner.hide()
        self._banner.clear()
        self._error = None

    def append_output(self, text: str) -> None:
        """Add printed text exactly as the program wrote it (newlines included)."""
        self._insert(text, None)

    def append_status(self, text: str) -> None:
        """A line from gradviz itself (run finished, stopped...), shown dimmed."""
        self._insert_line(text, QColor("#80868b"))

    def show_error(self, error: ErrorInfo | None, status: str = "error") -> None:
        """Show what stopped the run: a banner on top (with a link to the line) and the same line in the log."""
        self._error = error
        self._status = status
        self._set_banner(error, status)
        self._banner.show()
        self._insert_line(describe_error(error, status), QColor("#d93025"))

    def _set_banner(self, error: ErrorInfo | None, status: str) -> None:
        """Heading, the line's link, then the message cut to a couple of lines (whole in the tooltip and in
        the log below): in a short output pane a long message pushed the link out of sight."""
        whole = describe_error(error, status)
        if error is not None and error.line is not None:
            whole = describe_error(ErrorInfo(error.type, error.message), status)
        body = html.escape(_shortened(whole))
        if error is not None and error.line is not None:
            link = self.tr("line {0}").format(error.line)
            body = f'<a href="line:{error.line}">{html.escape(link)}</a> — {body}'
        self._banner.setText(f"<b>{html.escape(status_title(status))}</b>&nbsp; {body}")
        self._banner.setToolTip(whole)

    def error(self) -> ErrorInfo | None:
        return self._error

    def error_text(self) -> str:
        """The banner's text as plain words ('' when there is no error)."""
        return self._banner.text() if self._banner.isVisible() or self._error else ""

    def output_text(self) -> str:
        return self._log.toPlainText()

    def _on_link(self, href: str) -> None:
        if href.startswith("line:"):
            self.line_activated.emit(int(href.split(":", 1)[1]))

    def _insert(self, text: str, colour: QColor | None) -> None:
        cursor = self._log.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = QTextCharFormat()
        if colour is not None:
            fmt.setForeground(colour)
        cursor.insertText(text, fmt)
        self._log.setTextCursor(cursor)
        self._log.ensureCursorVisible()

    def _insert_line(self, text: str, colour: QColor) -> None:
        existing = self._log.toPlainText()
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        self._insert(prefix + text + "\n", colour)
