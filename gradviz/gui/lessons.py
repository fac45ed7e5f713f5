"""The lesson gallery panel: walks the D2L autograd lesson (and its follow-ups) one lesson at a time — loads the
lesson's example, runs it, opens the pass and step that makes the point, and shows the program's own checks."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gradviz.core.layout import format_tensor
from gradviz.core.lessons import (
    FAIL,
    MISSING,
    PASS,
    SHOWN,
    CheckResult,
    Lesson,
    LessonError,
    check_results,
    find_leaf,
    leaf_gradient,
    load_lessons,
    resolve_target,
)
from gradviz.core.replay import Replay
from gradviz.core.trace import ErrorInfo, Trace
from gradviz.gui.captions import step_caption
from gradviz.gui.inspector import muted

if TYPE_CHECKING:
    from gradviz.gui.mainwindow import MainWindow

PASS_COLOUR, FAIL_COLOUR = "#1e8e3e", "#d93025"
MARKS = {PASS: ("✓", PASS_COLOUR), FAIL: ("✗", FAIL_COLOUR), SHOWN: ("•", None), MISSING: ("—", FAIL_COLOUR)}
PRINTED_MAX = 160  # characters of a printed result shown in the row (the tooltip has all of it)


class LessonPanel(QWidget):
    """One lesson at a time: its titles and explanation in Chinese and English, the checks the program prints
    (with their real results) and where the replay stops. Choosing a lesson (list, Previous / Next, Run this
    lesson) loads its example into the window's editor, runs it and opens its pass and step.

    Signals: `lesson_ready(index)` once the window shows the lesson's step and the checks are filled in;
    `lesson_failed(index, message)` if the run or the target failed."""

    lesson_ready = Signal(int)
    lesson_failed = Signal(int, str)

    def __init__(self, window: MainWindow, lessons: list[Lesson] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lessonPanel")
        self._window = window
        self._lessons = lessons if lessons is not None else load_lessons()
        self._index = 0
        self._pending = False  # a run started by this panel is on its way
        self._running_text: str | None = None
        self._traced_text: str | None = None  # the editor text the window's current trace was made from
        self._results: list[CheckResult] = []
        self._target: tuple[int, int] | None = None
        self._target_trace: Trace | None = None
        self._build()
        controller = window.controller
        controller.started.connect(self._on_run_started)
        controller.trace_ready.connect(self._on_trace)
        controller.run_failed.connect(self._on_run_failed)
        controller.running_changed.connect(self._sync_buttons)
        self.retranslate()
        self._show_lesson()

    # -- construction ---------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.lesson_box = QComboBox(self)
        self.lesson_box.setObjectName("lessonBox")
        self.lesson_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.lesson_box.setMinimumContentsLength(6)
        self.lesson_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        for i, lesson in enumerate(self._lessons):
            self.lesson_box.addItem(f"{i + 1}. {lesson.title_zh} · {lesson.title_en}", i)
        self.lesson_box.activated.connect(self.open_lesson)

        self.prev_button = QPushButton(self)
        self.prev_button.setObjectName("prevLessonButton")
        self.prev_button.clicked.connect(self.previous_lesson)
        self.next_button = QPushButton(self)
        self.next_button.setObjectName("nextLessonButton")
        self.next_button.clicked.connect(self.next_lesson)
        self.run_button = QPushButton(self)
        self.run_button.setObjectName("runLessonButton")
        self.run_button.clicked.connect(lambda: self.open_lesson(self._index))
        self.target_button = QPushButton(self)
        self.target_button.setObjectName("showStepButton")
        self.target_button.clicked.connect(self.show_target)

        self.part_label = self._text_label("lessonPart", muted_text=True)
        self.title_zh = self._text_label("lessonTitleZh", scale=1.35, bold=True)
        self.title_en = self._text_label("lessonTitleEn", scale=1.15, bold=True)
        self.text_zh = self._text_label("lessonTextZh")
        self.text_en = self._text_label("lessonTextEn")
        self.checks_heading = self._text_label("checksHeading", bold=True)
        self.checks_box = QWidget(self)
        self.checks_box.setObjectName("checksBox")
        self._checks_layout = QVBoxLayout(self.checks_box)
        self._checks_layout.setContentsMargins(0, 0, 0, 0)
        self._checks_layout.setSpacing(4)
        self.target_heading = self._text_label("targetHeading", bold=True)
        self.target_label = self._text_label("targetLabel")

        body = QWidget(self)
        col = QVBoxLayout(body)
        col.setContentsMargins(10, 8, 10, 8)
        col.setSpacing(8)
        for w in (self.part_label, self.title_zh, self.title_en, self.text_zh, _rule(body), self.text_en,
                  _rule(body), self.checks_heading, self.checks_box, self.target_heading, self.target_label):
            col.addWidget(w)
        col.addWidget(self.target_button, 0, Qt.AlignmentFlag.AlignLeft)
        col.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)

        nav = QHBoxLayout()
        nav.setContentsMargins(6, 6, 6, 0)
        nav.addWidget(self.prev_button)
        nav.addWidget(self.lesson_box, 1)
        nav.addWidget(self.next_button)
        run_row = QHBoxLayout()
        run_row.setContentsMargins(6, 0, 6, 0)
        run_row.addWidget(self.run_button)
        run_row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        outer.addLayout(nav)
        outer.addLayout(run_row)
        outer.addWidget(scroll, 1)

    def _text_label(self, name: str, scale: float = 1.0, bold: bool = False, muted_text: bool = False) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setProperty("fontScale", scale)
        label.setProperty("bold", bold)
        label.setProperty("muted", muted_text)
        self._style_label(label)
        return label

    def _style_label(self, label: QLabel) -> None:
        """Size relative to the panel's font, so presentation mode's larger window font scales lessons too."""
        font = QFont(self.font())
        font.setPointSizeF(self.font().pointSizeF() * float(label.property("fontScale") or 1.0))
        font.setBold(bool(label.property("bold")))
        label.setFont(font)
        if label.property("muted"):
            label.setStyleSheet(f"color: {muted(self.palette())};")

    # -- public API -----------------------------------------------------------------------------------------

    def lessons(self) -> list[Lesson]:
        return list(self._lessons)

    def current_index(self) -> int:
        return self._index

    def current_lesson(self) -> Lesson:
        return self._lessons[self._index]

    def results(self) -> list[CheckResult]:
        """The current lesson's checks against the last run of its program ([] before it ran)."""
        return list(self._results)

    def target(self) -> tuple[int, int] | None:
        """(pass index, step) the current lesson opens, once its run arrived."""
        return self._target

    def open_lesson(self, index: int) -> bool:
        """Show lesson `index`, load its example into the editor, run it, and open its step when the trace
        arrives (`lesson_ready`). If the editor already holds this example's last run, no new run is needed.
        False if it could not start (a run is going, or the person kept their unsaved text)."""
        if not 0 <= index < len(self._lessons) or self._window.controller.is_running():
            return False
        self._index = index
        self._show_lesson()
        lesson = self._lessons[index]
        source = lesson.source()
        window = self._window
        trace = window.trace()
        if (trace is not None and self._traced_text == source and window.editor.toPlainText() == source
                and not window.is_modified()):
            self._finish(trace)
            return True
        if not window.open_example(lesson.example):
            return False
        self._pending = True
        self._set_target_text(self.tr("Running the example…"))
        if not window.run_program():
            self._pending = False
            self._fail(self.tr("The example could not be run."))
            return False
        return True

    def next_lesson(self) -> bool:
        return self.open_lesson(self._index + 1)

    def previous_lesson(self) -> bool:
        return self.open_lesson(self._index - 1)

    def show_target(self) -> bool:
        """Put the replay back on the lesson's pass and step (after the teacher stepped elsewhere)."""
        if self._target is None:
            return False
        pass_index, step = self._target
        stepper = self._window.stepper
        stepper.set_pass(pass_index)
        stepper.set_step(step)
        return True

    # -- run events -----------------------------------------------------------------------------------------

    def _on_run_started(self) -> None:
        self._running_text = self._window.editor.toPlainText()

    def _on_trace(self, trace: Trace) -> None:
        self._traced_text = self._running_text
        if self._pending:
            self._pending = False
            self._finish(trace)
        elif self._window.display_name() == self.current_lesson().example and self._results:
            self._show_checks(trace)  # the learner edited and re-ran the lesson's program: re-check

    def _on_run_failed(self, error: ErrorInfo) -> None:
        if self._pending:  # no trace came at all (the worker failed)
            self._pending = False
            self._fail(f"{error.type}: {error.message}")

    def _finish(self, trace: Trace) -> None:
        lesson = self.current_lesson()
        self._show_checks(trace)
        try:
            pass_index, step = resolve_target(trace, lesson.target)
        except LessonError as e:
            self._target = None
            self._fail(str(e))
            return
        self._target = (pass_index, step)
        self._target_trace = trace  # described again in another language
        self._set_target_text(self._describe_target(trace, pass_index, step))
        self.show_target()
        self._sync_buttons()
        self.lesson_ready.emit(self._index)

    def _fail(self, message: str) -> None:
        self._set_target_text(self.tr("Could not open the lesson's step: {0}").format(message))
        self._sync_buttons()
        self.lesson_failed.emit(self._index, message)

    def _describe_target(self, trace: Trace, pass_index: int, step: int) -> str:
        """"Pass 1 of 2: step 3 of 3:  x.grad accumulated", then what the lesson's leaf holds at that step."""
        pass_ = trace.passes[pass_index]
        lines = [self.tr("Pass {0} of {1}: {2}").format(pass_index + 1, len(trace.passes),
                                                         step_caption(Replay(pass_), step))]
        rule = self.current_lesson().target.step
        if isinstance(rule, str) and rule.startswith("leaf:"):
            name = rule[len("leaf:"):]
            value = format_tensor(leaf_gradient(pass_, step, name))
            leaf = find_leaf(pass_, name)
            accumulated = any(s.node == leaf for s in pass_.steps)
            lines.append(f"{name}.grad = {value}" if accumulated
                         else self.tr("gradient reaching {0} = {1}").format(name, value))
        return "\n".join(lines)

    # -- display --------------------------------------------------------------------------------------------

    def _show_lesson(self) -> None:
        lesson = self.current_lesson()
        self._results, self._target = [], None
        self.lesson_box.setCurrentIndex(self._index)
        self.title_zh.setText(lesson.title_zh)
        self.title_en.setText(lesson.title_en)
        self.text_zh.setText(lesson.text_zh)
        self.text_en.setText(lesson.text_en)
        self._set_part_text()
        self._show_checks(None)
        self._set_target_text(self.tr("Press “Run this lesson” to load and run {0}.").format(lesson.example))
        self._sync_buttons()

    def _set_part_text(self) -> None:
        lesson = self.current_lesson()
        if lesson.part == "seed":
            cells = ", ".join(lesson.cells)
            part = self.tr("D2L autograd lesson (自动求导), cells {0}").format(cells)
        else:
            part = self.tr("Next steps")
        self.part_label.setText(self.tr("Lesson {0} of {1} · {2} · {3}").format(
            self._index + 1, len(self._lessons), part, lesson.example))

    def _set_target_text(self, text: str) -> None:
        self.target_label.setText(text)

    def _show_checks(self, trace: Trace | None) -> None:
        self._results = check_results(self.current_lesson().checks, trace.stdout) if trace is not None else []
        self._render_checks()

    def _render_checks(self) -> None:
        """One row per check: a pass / fail mark, the expression, and what the program actually printed."""
        lesson = self.current_lesson()
        while self._checks_layout.count():
            item = self._checks_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.setParent(None)  # out of findChildren now, not at the deferred delete
                widget.deleteLater()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(self.font().pointSizeF())
        family = html.escape(mono.family())
        for i, check in enumerate(lesson.checks):
            result = self._results[i] if self._results else None
            if result is None:
                mark, colour, printed = "…", None, self.tr("not run yet")
            else:
                mark, colour = MARKS.get(result.status, ("?", None))
                printed = result.printed if result.printed is not None else self.tr("not printed")
            short = printed if len(printed) <= PRINTED_MAX else printed[:PRINTED_MAX - 1] + "…"
            mark_html = f"<b style='color:{colour}'>{mark}</b>" if colour else f"<b>{mark}</b>"
            row = QLabel(self.checks_box)
            row.setObjectName(f"check:{i}")
            row.setProperty("status", result.status if result is not None else "pending")
            row.setWordWrap(True)
            row.setTextFormat(Qt.TextFormat.RichText)
            row.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            row.setText(f"{mark_html}&nbsp; <span style=\"font-family:'{family}'\">{html.escape(check.expression)}"
                        f"</span><br><span style=\"font-family:'{family}'; color:{muted(self.palette())}\">"
                        f"&nbsp;&nbsp;&nbsp;→ {html.escape(short)}</span>")
            row.setToolTip(printed)
            self._checks_layout.addWidget(row)
        if not lesson.checks:
            self._checks_layout.addWidget(QLabel(self.tr("This lesson prints nothing to check."), self.checks_box))

    def _sync_buttons(self, *_: object) -> None:
        running = self._window.controller.is_running()
        self.prev_button.setEnabled(not running and self._index > 0)
        self.next_button.setEnabled(not running and self._index < len(self._lessons) - 1)
        self.run_button.setEnabled(not running)
        self.lesson_box.setEnabled(not running)
        self.target_button.setEnabled(self._target is not None)

    def retranslate(self) -> None:
        """Reset every text this panel owns (called again when the language changes)."""
        self.prev_button.setText(self.tr("◀ Previous"))
        self.prev_button.setToolTip(self.tr("Previous lesson"))
        self.next_button.setText(self.tr("Next ▶"))
        self.next_button.setToolTip(self.tr("Next lesson"))
        self.run_button.setText(self.tr("Run this lesson"))
        self.run_button.setToolTip(self.tr("Load the lesson's example into the editor, run it and open its step"))
        self.target_button.setText(self.tr("Back to the lesson's step"))
        self.checks_heading.setText(self.tr("What the program printed"))
        self.target_heading.setText(self.tr("Where to look"))
        self._set_part_text()
        if self._target is None and not self._pending:
            self._set_target_text(self.tr("Press “Run this lesson” to load and run {0}.").format(
                self.current_lesson().example))
        elif self._target is not None and self._target_trace is not None:
            self._set_target_text(self._describe_target(self._target_trace, *self._target))
        self._render_checks()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        elif event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange) and hasattr(self, "checks_box"):
            for label in self.findChildren(QLabel):
                if label.property("fontScale") is not None:
                    self._style_label(label)
            self._render_checks()
        super().changeEvent(event)


def _rule(parent: QWidget) -> QFrame:
    line = QFrame(parent)
    line.setFrameShape(QFrame.Shape.HLine)
    line.setStyleSheet("color: palette(midlight);")
    return line


class LessonDock(QDockWidget):
    """The lesson panel in a dock (right side, hidden until opened with View > Lessons or Ctrl+L)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("lessonsDock")
        self.panel = LessonPanel(window, parent=self)
        self.setWidget(self.panel)
        self.setMinimumWidth(250)
        self.toggle_action = self.toggleViewAction()
        self.toggle_action.setObjectName("lessonsAction")
        self.toggle_action.setShortcut(QKeySequence("Ctrl+L"))
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Lessons"))
        self.toggle_action.setText(self.tr("&Lessons"))
        self.toggle_action.setToolTip(self.tr("The D2L autograd lesson, step by step (Ctrl+L)"))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
