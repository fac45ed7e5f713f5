"""The main window: wires editor, run controller, graph, stepper, inspector and output panel together."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QEvent,
    QObject,
    QStandardPaths,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gradviz.core.layout import Layout
from gradviz.core.replay import Replay
from gradviz.core.source import read_program
from gradviz.core.trace import ErrorInfo, Pass, Trace
from gradviz.gui.classroom import install_classroom
from gradviz.gui.controller import RunController
from gradviz.gui.editor import CodeEditor
from gradviz.gui.elided import ElidedLabel
from gradviz.gui.examples import Example, list_examples
from gradviz.gui.graphview import GraphView
from gradviz.gui.i18n import LANGUAGES, QT_TRANSLATE_NOOP, TextKeeper, current_language, install_language
from gradviz.gui.inspector import Inspector
from gradviz.gui.outputpanel import OutputPanel
from gradviz.gui.scene import GraphScene
from gradviz.gui.settings import Settings
from gradviz.gui.stepper import Stepper, call_name
from gradviz.gui.theme import DARK, LIGHT, Theme

AUTOSAVE_DELAY_MS = 3000  # after the last edit
BACKGROUND_LAYOUT_NODES = 40
MAX_FIT_ZOOM = 1.6  # "fit" enlarges a small graph at most this much (the scene is vector: it stays sharp)
UNTITLED = "untitled.py"
WELCOME = """# Type a small PyTorch program here, or open one from the Examples menu,
# then press Ctrl+Enter to run it and watch backward() step by step.
import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
y = (w * x).sum()
y.backward()
print("x.grad =", x.grad)
"""


def theme_by_name(name: str) -> Theme:
    return DARK if name == "dark" else LIGHT


class _StepKeys(QObject):
    """Event filter giving the graph view and inspector the timeline keys (Left/Right, Space, Home/End)."""

    def __init__(self, stepper: Stepper) -> None:
        super().__init__(stepper)
        self._stepper = stepper

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress and self._stepper.handle_key(event):
            return True
        return super().eventFilter(watched, event)


class MainWindow(QMainWindow):
    """The gradviz window. Dialogs sit behind `ask_*` methods so tests can replace them.

    `settings`: where preferences live (tests pass a temporary one); `autosave_dir`: where typed text is
    kept safe (default: QStandardPaths AppDataLocation); `warm`: start the worker process right away."""

    def __init__(self, settings: Settings | None = None, autosave_dir: str | Path | None = None,
                 warm: bool = True, offer_autosave: bool = True) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings if settings is not None else Settings()
        self._autosave_dir = Path(autosave_dir) if autosave_dir is not None else _default_autosave_dir()
        self._path: Path | None = None
        self._display_name = UNTITLED
        self._trace: Trace | None = None
        self._replay: Replay | None = None
        self._run_started = 0.0
        self._run_seconds = 0.0
        self._kept_zoom: float | None = None
        self._loading = False  # set_source is replacing the text: not an edit to autosave
        self._texts = TextKeeper("MainWindow")  # fixed texts, set again on each language change

        theme = self.settings.theme()
        self.controller = RunController(timeout=self.settings.timeout(), warm=warm, parent=self,
                                        keep_last=self.settings.keep_last())
        self.editor = CodeEditor(theme=theme)
        self.scene = GraphScene(theme_by_name(theme), self)
        self.graph_view = GraphView(self.scene, theme=theme_by_name(theme))
        self.graph_view.fit_whole_hook = self.fit_graph
        self.graph_view.setObjectName("graphView")
        self.graph_view.setAccessibleName("graphView")
        self.stepper = Stepper()
        self.stepper.set_speed(self.settings.play_speed())
        self.inspector = Inspector()
        self.output = OutputPanel()
        self._build_search()
        self._build_layout()
        self._build_actions()
        self._build_status()
        self._connect()
        self._step_keys = _StepKeys(self.stepper)
        for w in (self.graph_view, self.graph_view.viewport(), self.inspector):
            w.installEventFilter(self._step_keys)
        self.setAcceptDrops(True)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self._autosave_timer.timeout.connect(self.write_autosave)
        self.apply_theme(theme)
        self._restore_window()
        self.editor.setPlainText(self.welcome_text())
        self.editor.document().setModified(False)
        self.editor.document().modificationChanged.connect(self._update_title)
        self.editor.textChanged.connect(self._on_text_edited)
        self._update_title()
        self._set_running(False)
        # Lessons dock, presentation mode (F5) and File > Export: after _connect, so their slots run after ours.
        self.exporter, self.presenter, self.lesson_dock = install_classroom(self)
        if offer_autosave:
            self.offer_autosave()
        if warm:
            QTimer.singleShot(0, self.controller.warm_up)

    # ================================================================== construction

    def _build_search(self) -> None:
        self.search_box = QLineEdit()
        self.search_box.setObjectName("searchBox")
        self.search_box.setAccessibleName("searchBox")
        self._texts.keep(self.search_box.setPlaceholderText,
                         QT_TRANSLATE_NOOP("MainWindow", "Find node: variable or op (Ctrl+F)"))
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMaximumWidth(280)
        self.search_box.setMinimumWidth(110)
        self.search_box.textChanged.connect(self.find_nodes)
        self.search_box.returnPressed.connect(self.next_search_hit)
        self.search_count = QLabel("")
        self.search_count.setObjectName("searchCount")

    def _build_layout(self) -> None:
        graph_area = QWidget()
        graph_col = QVBoxLayout(graph_area)
        graph_col.setContentsMargins(0, 0, 0, 0)
        graph_col.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 4)
        self.graph_title = ElidedLabel(self.tr("Run a program to see its autograd graph"), min_chars=8)
        self.graph_title.setObjectName("graphTitle")
        font = self.graph_title.font()
        font.setBold(True)
        self.graph_title.setFont(font)
        bar.addWidget(self.graph_title, 1)
        bar.addSpacing(8)
        bar.addWidget(self.search_count)
        bar.addWidget(self.search_box)
        for name, text, tip, slot in (
                ("zoomOutButton", "−", QT_TRANSLATE_NOOP("MainWindow", "Zoom out (Ctrl+-)"), self._zoom_out),
                ("zoomFitButton", QT_TRANSLATE_NOOP("MainWindow", "Fit"),
                 QT_TRANSLATE_NOOP("MainWindow", "Fit the graph (Ctrl+0)"), self.fit_graph),
                ("zoomInButton", "+", QT_TRANSLATE_NOOP("MainWindow", "Zoom in (Ctrl+=)"), self._zoom_in)):
            b = QToolButton()
            b.setObjectName(name)
            self._texts.keep(b.setText, text)
            self._texts.keep(b.setToolTip, tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            bar.addWidget(b)
        graph_col.addLayout(bar)
        graph_col.addWidget(self.graph_view, 1)

        self.left_split = QSplitter(Qt.Orientation.Vertical)
        self.left_split.setObjectName("leftSplit")
        self.left_split.addWidget(self.editor)
        self.left_split.addWidget(self.output)
        self.left_split.setStretchFactor(0, 4)
        self.left_split.setStretchFactor(1, 1)

        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.setObjectName("mainSplit")
        self.main_split.addWidget(self.left_split)
        self.main_split.addWidget(graph_area)
        self.main_split.addWidget(self.inspector)
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 5)
        self.main_split.setStretchFactor(2, 2)
        self.main_split.setSizes([520, 720, 360])  # code is what a class reads first: give it room

        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.main_split, 1)
        col.addWidget(self.stepper)
        self.setCentralWidget(central)
        self.resize(1440, 900)

    def _action(self, text: str, slot, shortcut=None, name: str | None = None) -> QAction:  # noqa: ANN001
        action = QAction(self)
        self._texts.keep(action.setText, text)  # callers wrap `text` in QT_TRANSLATE_NOOP
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if name:
            action.setObjectName(name)
        action.triggered.connect(slot)
        return action

    def _menu(self, parent, title: str) -> QMenu:  # noqa: ANN001 (QMenuBar or QMenu)
        """A menu whose title (wrapped in QT_TRANSLATE_NOOP) follows the language."""
        menu = parent.addMenu(title)
        self._texts.keep(menu.setTitle, title)
        return menu

    def _build_actions(self) -> None:
        # Texts go through QT_TRANSLATE_NOOP (found by pyside6-lupdate) and `self._texts` (set again on a
        # language change): see gradviz/gui/i18n.py.
        self.run_action = self._action(QT_TRANSLATE_NOOP("MainWindow", "Run"), self.run_program,
                                       ("Ctrl+Return", "Ctrl+Enter"), "runAction")
        self._texts.keep(self.run_action.setToolTip,
                         QT_TRANSLATE_NOOP("MainWindow", "Run the program (Ctrl+Enter)"))
        self.stop_action = self._action(QT_TRANSLATE_NOOP("MainWindow", "Stop"), self.stop_program,
                                        ("Ctrl+.", "Shift+F5"), "stopAction")
        self._texts.keep(self.stop_action.setToolTip,
                         QT_TRANSLATE_NOOP("MainWindow", "Stop the running program (Ctrl+.)"))
        for a in (self.run_action, self.stop_action):
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addActions([self.run_action, self.stop_action])

        menu = self.menuBar()
        file_menu = self._menu(menu, QT_TRANSLATE_NOOP("MainWindow", "&File"))
        keys = QKeySequence.StandardKey
        file_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&New"), self.new_file, keys.New))
        file_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&Open…"), self.open_dialog, keys.Open))
        self.recent_menu = self._menu(file_menu, QT_TRANSLATE_NOOP("MainWindow", "Open &Recent"))
        self.recent_menu.setObjectName("recentMenu")
        file_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&Save"), self.save, keys.Save))
        file_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "Save &As…"), self.save_as, keys.SaveAs))
        file_menu.addSeparator()
        file_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "Export Graph…"), self.export_graph, "Ctrl+E",
                                         "exportAction"))
        file_menu.addSeparator()
        file_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&Quit"), self.close, keys.Quit))

        edit_menu = self._menu(menu, QT_TRANSLATE_NOOP("MainWindow", "&Edit"))
        edit_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&Undo"), self.editor.undo, keys.Undo))
        edit_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&Redo"), self.editor.redo, keys.Redo))
        edit_menu.addSeparator()
        edit_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "Toggle &Comment\tCtrl+/"),
                                         self.editor.toggle_comment))  # the key itself is the editor's
        edit_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&Find Node"), self._focus_search,
                                         keys.Find))

        run_menu = self._menu(menu, QT_TRANSLATE_NOOP("MainWindow", "&Run"))
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.stop_action)
        run_menu.addSeparator()
        run_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "Time &Limit…"), self.choose_timeout))
        self.keep_last_action = QAction(self, checkable=True)
        self.keep_last_action.setObjectName("keepLastAction")
        self._texts.keep(self.keep_last_action.setText,
                         QT_TRANSLATE_NOOP("MainWindow", "Keep the Last Pass in &Full"))
        self._texts.keep(self.keep_last_action.setStatusTip, QT_TRANSLATE_NOOP(
            "MainWindow", "Off: backward passes after the first ten are only summarised, the last one too; "
                          "long training loops run faster"))
        self.keep_last_action.setChecked(self.settings.keep_last())
        self.keep_last_action.toggled.connect(self._set_keep_last)
        run_menu.addAction(self.keep_last_action)

        view_menu = self._menu(menu, QT_TRANSLATE_NOOP("MainWindow", "&View"))
        # The graph view owns these keys (Ctrl+= / Ctrl+- / Ctrl+0 while it has focus); the menu only names them,
        # since a second window-wide shortcut on the same keys would make Qt fire neither.
        view_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "Zoom &In\tCtrl+="), self._zoom_in,
                                         name="zoomInAction"))
        view_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "Zoom &Out\tCtrl+-"), self._zoom_out,
                                         name="zoomOutAction"))
        view_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&Fit Graph\tCtrl+0"), self.fit_graph,
                                         name="fitAction"))
        self.fit_on_pass_action = QAction(self, checkable=True)
        self._texts.keep(self.fit_on_pass_action.setText, QT_TRANSLATE_NOOP("MainWindow", "Fit Each New Pass"))
        self.fit_on_pass_action.setChecked(self.settings.zoom_mode() == "fit")
        self.fit_on_pass_action.toggled.connect(
            lambda on: self.settings.set_zoom_mode("fit" if on else "keep"))
        view_menu.addAction(self.fit_on_pass_action)
        view_menu.addSeparator()
        view_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "Bigger Code Text"),
                                         lambda: self.editor.zoomIn(1), "Ctrl+Shift+="))
        view_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "Smaller Code Text"),
                                         lambda: self.editor.zoomOut(1), "Ctrl+Shift+-"))
        view_menu.addSeparator()
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name, label in (("light", QT_TRANSLATE_NOOP("MainWindow", "&Light Theme")),
                            ("dark", QT_TRANSLATE_NOOP("MainWindow", "&Dark Theme"))):
            a = QAction(self, checkable=True)
            self._texts.keep(a.setText, label)
            a.setObjectName(f"theme_{name}")
            a.triggered.connect(lambda _=False, n=name: self.apply_theme(n))
            group.addAction(a)
            view_menu.addAction(a)
            self.theme_actions[name] = a
        self.language_menu = self._menu(view_menu, QT_TRANSLATE_NOOP("MainWindow", "&Language"))
        self.language_menu.setObjectName("languageMenu")
        languages = QActionGroup(self)
        self.language_actions: dict[str, QAction] = {}
        for code, native in LANGUAGES.items():  # each language named in itself, never translated
            a = QAction(native, self, checkable=True)
            a.setObjectName(f"language_{code}")
            a.setChecked(code == current_language())
            a.triggered.connect(lambda _=False, c=code: self.set_language(c))
            languages.addAction(a)
            self.language_menu.addAction(a)
            self.language_actions[code] = a

        self.examples_menu = self._menu(menu, QT_TRANSLATE_NOOP("MainWindow", "E&xamples"))
        self.examples_menu.setObjectName("examplesMenu")
        self._examples: list[Example] = list_examples()
        for ex in self._examples:
            a = QAction(ex.menu_text, self)
            a.setObjectName(f"example_{ex.name}")
            a.triggered.connect(lambda _=False, e=ex: self.open_example(e))
            self.examples_menu.addAction(a)
        if not self._examples:
            self.examples_menu.addAction(self.tr("(no examples installed)")).setEnabled(False)

        help_menu = self._menu(menu, QT_TRANSLATE_NOOP("MainWindow", "&Help"))
        help_menu.addAction(self._action(QT_TRANSLATE_NOOP("MainWindow", "&About gradviz"), self._about))

        toolbar = QToolBar()
        self._texts.keep(toolbar.setWindowTitle, QT_TRANSLATE_NOOP("MainWindow", "Run"))
        toolbar.setObjectName("runToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.run_action)
        toolbar.addAction(self.stop_action)
        self.run_button = toolbar.widgetForAction(self.run_action)
        self.run_button.setObjectName("runButton")
        self.run_button.setAccessibleName("runButton")
        self.stop_button = toolbar.widgetForAction(self.stop_action)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setAccessibleName("stopButton")
        style = self.style()
        self.run_action.setIcon(style.standardIcon(style.StandardPixmap.SP_MediaPlay))
        self.stop_action.setIcon(style.standardIcon(style.StandardPixmap.SP_MediaStop))
        self.busy = QProgressBar()
        self.busy.setObjectName("busyIndicator")
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setMaximumHeight(14)
        self.busy.setTextVisible(False)
        self.busy_label = QLabel("")
        self.busy_label.setObjectName("busyLabel")
        toolbar.addSeparator()
        self._busy_action = toolbar.addWidget(self.busy)  # a toolbar widget is shown/hidden through its action
        toolbar.addWidget(self.busy_label)
        self.addToolBar(toolbar)
        self._refresh_recent_menu()

    def _build_status(self) -> None:
        self.status_label = QLabel(self.tr("Ready"))
        self.status_label.setObjectName("statusLabel")
        self.statusBar().addWidget(self.status_label, 1)

    def _connect(self) -> None:
        c = self.controller
        c.output.connect(self.output.append_output)
        c.progress.connect(self._on_progress)
        c.trace_ready.connect(self._on_trace)
        c.running_changed.connect(self._set_running)
        c.run_failed.connect(self._on_run_failed)
        self.stepper.pass_changed.connect(self._on_pass_changed)
        self.stepper.step_changed.connect(self._on_step_changed)
        self.stepper.speed_changed.connect(self.settings.set_play_speed)
        self.scene.selection_changed.connect(self._on_selection_changed)
        self.graph_view.layout_ready.connect(self._on_layout_ready)
        self.graph_view.layout_failed.connect(self._on_layout_failed)
        self.editor.cursor_line_changed.connect(self._on_cursor_line)
        self.editor.file_dropped.connect(self.open_file)
        self.inspector.line_clicked.connect(lambda line: self.editor.go_to_line(line, focus=True))
        self.output.line_activated.connect(lambda line: self.editor.go_to_line(line, focus=True))

    # ================================================================== dialogs (tests replace these)

    def ask_open_path(self) -> str | None:
        """The file to open, or None if the person cancelled."""
        start = str(self._path.parent) if self._path else ""
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Open a Python program"), start,
                                              self.tr("Python (*.py);;All files (*)"))
        return path or None

    def ask_save_path(self) -> str | None:
        """Where to save, or None if cancelled."""
        start = str(self._path) if self._path else self._display_name
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Save the program"), start, self.tr("Python (*.py)"))
        return path or None

    def ask_unsaved_changes(self) -> str:
        """"save", "discard" or "cancel" for the unsaved edits in the editor."""
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Unsaved changes"),
                          self.tr("{0} has changes that are not saved.").format(self._display_name),
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")

    def ask_restore_autosave(self, name: str, saved_at: float) -> bool:
        """Whether to bring back text autosaved by a session that did not close normally."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(saved_at)) if saved_at else self.tr("earlier")
        answer = QMessageBox.question(
            self, self.tr("Recover unsaved text"),
            self.tr("gradviz kept a copy of {0} from {1} that was never saved.\nRestore it?").format(name, when),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def ask_timeout(self, current: float) -> float | None:
        value, ok = QInputDialog.getDouble(self, self.tr("Time limit"), self.tr("Stop a run after (seconds):"),
                                           current, 1, 3600, 0)
        return value if ok else None

    def ask_export_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export the graph"),
                                              str(Path(self._display_name).with_suffix(".png")),
                                              self.tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf);;"
                                                      "Graphviz DOT (*.dot)"))
        return path or None

    def show_message(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    # ================================================================== files

    def current_path(self) -> Path | None:
        return self._path

    def display_name(self) -> str:
        return self._display_name

    def is_modified(self) -> bool:
        return self.editor.document().isModified()

    def maybe_keep_changes(self) -> bool:
        """Before the text is replaced or the window closes: True to go on (saved or discarded), False to stop."""
        if not self.is_modified():
            return True
        answer = self.ask_unsaved_changes()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def set_source(self, text: str, path: Path | None, display_name: str, modified: bool = False) -> None:
        """Put a program in the editor (no prompt; callers ask first)."""
        self._path = path
        self._display_name = display_name
        self._loading = True
        self.editor.setPlainText(text)
        self._loading = False
        self.editor.document().setModified(modified)
        self.editor.mark_error_line(None)
        self.editor.highlight_lines([])
        self.editor.go_to_line(1)
        self._update_title()

    def new_file(self) -> bool:
        if not self.maybe_keep_changes():
            return False
        self.set_source("import torch\n\n", None, UNTITLED)
        self.clear_autosave()
        return True

    def open_dialog(self) -> bool:
        if not self.maybe_keep_changes():
            return False
        path = self.ask_open_path()
        return self.open_file(path, ask=False) if path else False

    def open_file(self, path: str | Path, ask: bool = True) -> bool:
        """Load a .py file into the editor (asking about unsaved edits first unless `ask` is False)."""
        if ask and not self.maybe_keep_changes():
            return False
        p = Path(path)
        try:
            text = read_program(p)
        except (OSError, UnicodeDecodeError, SyntaxError) as e:
            self.show_message(self.tr("Cannot open file"), f"{p}: {e}")
            return False
        self.set_source(text, p.resolve(), p.name)
        self.settings.add_recent_file(p)
        self._refresh_recent_menu()
        self.clear_autosave()
        self.status_label.setText(self.tr("Opened {0}").format(p))
        return True

    def open_example(self, example: Example | str) -> bool:
        """Load a bundled example as an unsaved copy (Save asks where, never overwrites the package)."""
        found = example if isinstance(example, Example) else next(
            (e for e in self._examples if e.name in (example, f"{example}.py")), None)
        if found is None or not self.maybe_keep_changes():
            return False
        self.set_source(found.source, None, found.name)
        self.clear_autosave()
        return True

    def save(self) -> bool:
        if self._path is None:
            return self.save_as()
        return self._write(self._path)

    def save_as(self) -> bool:
        path = self.ask_save_path()
        if not path:
            return False
        return self._write(Path(path))

    def _write(self, path: Path) -> bool:
        try:
            path.write_text(self.editor.toPlainText(), encoding="utf-8")
        except OSError as e:
            self.show_message(self.tr("Cannot save file"), f"{path}: {e}")
            return False
        self._path = path.resolve()
        self._display_name = path.name
        self.editor.document().setModified(False)
        self.settings.add_recent_file(path)
        self._refresh_recent_menu()
        self.clear_autosave()
        self._update_title()
        self.status_label.setText(self.tr("Saved {0}").format(path))
        return True

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for f in files:
            a = self.recent_menu.addAction(f)
            a.triggered.connect(lambda _=False, p=f: self.open_file(p))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction(self.tr("Clear Recent Files")).triggered.connect(self._clear_recent)
        self.recent_menu.setEnabled(bool(files))

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._refresh_recent_menu()

    def _update_title(self, *_: object) -> None:
        self.setWindowTitle(f"{self._display_name}[*] — gradviz")
        self.setWindowModified(self.is_modified())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(u.toLocalFile().endswith(".py") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.toLocalFile().endswith(".py")]
        if paths:
            event.acceptProposedAction()
            self.open_file(paths[0])

    # ================================================================== autosave

    def autosave_paths(self) -> tuple[Path, Path]:
        """(text file, metadata file) of the autosaved copy."""
        return self._autosave_dir / "autosave.py", self._autosave_dir / "autosave.json"

    def _on_text_edited(self) -> None:
        if self.is_modified() and not self._loading:
            self._autosave_timer.start()

    def write_autosave(self) -> None:
        """Keep the unsaved text somewhere safe so a crash never loses it."""
        if not self.is_modified():
            return
        text_path, meta_path = self.autosave_paths()
        try:
            self._autosave_dir.mkdir(parents=True, exist_ok=True)
            text_path.write_text(self.editor.toPlainText(), encoding="utf-8")
            meta = {"path": str(self._path) if self._path else None, "name": self._display_name, "time": time.time()}
            meta_path.write_text(json.dumps(meta), encoding="utf-8")
        except OSError as e:
            self.status_label.setText(self.tr("Could not autosave: {0}").format(e))

    def clear_autosave(self) -> None:
        self._autosave_timer.stop()
        for p in self.autosave_paths():
            p.unlink(missing_ok=True)

    def offer_autosave(self) -> bool:
        """At start: if a previous session left unsaved text, offer it back. True if it was restored."""
        text_path, meta_path = self.autosave_paths()
        if not text_path.is_file():
            return False
        try:
            text = text_path.read_text(encoding="utf-8")
            meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        except (OSError, ValueError):
            return False
        name = meta.get("name") or UNTITLED
        if self.ask_restore_autosave(name, float(meta.get("time") or 0)):
            path = Path(meta["path"]) if meta.get("path") else None
            self.set_source(text, path, name, modified=True)
            return True
        self.clear_autosave()
        return False

    # ================================================================== running

    def run_program(self) -> bool:
        """Send the editor's text to the runner (Ctrl+Enter)."""
        if self.controller.is_running():
            return False
        self.output.clear()
        self.editor.mark_error_line(None)
        filename = str(self._path) if self._path else self._display_name
        self._run_started = time.monotonic()
        self.busy_label.setText(self.tr("Running…"))
        return self.controller.run(self.editor.toPlainText(), filename)

    def stop_program(self) -> None:
        """Stop button: cancel the run; the window keeps whatever the program recorded so far."""
        if self.controller.is_running():
            self.busy_label.setText(self.tr("Stopping…"))
            self.controller.stop()

    def choose_timeout(self) -> None:
        value = self.ask_timeout(self.settings.timeout())
        if value:
            self.settings.set_timeout(value)
            self.controller.set_timeout(value)

    def _set_keep_last(self, on: bool) -> None:
        self.settings.set_keep_last(on)
        self.controller.set_keep_last(on)

    def _set_running(self, running: bool) -> None:
        self.run_action.setEnabled(not running)
        self.stop_action.setEnabled(running)
        self._busy_action.setVisible(running)
        if not running:
            self.busy_label.setText("")

    def _on_progress(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "line" and event.get("line"):
            self.busy_label.setText(self.tr("Running… line {0}").format(event["line"]))
        elif kind == "pass_started":
            self.busy_label.setText(self.tr("backward pass {0} (line {1})").format(int(event.get("index", 0)) + 1,
                                                                                  event.get("line")))

    def _on_trace(self, trace: Trace) -> None:
        """A run ended: show its passes, its output if none streamed, and its error on the editor."""
        self._trace = trace
        if not self.output.output_text() and trace.stdout:
            self.output.append_output(trace.stdout)
        previous = self.stepper.pass_index()
        keep = previous if 0 <= previous < len(trace.passes) and trace.passes[previous].detail == "full" else None
        self.stepper.set_trace(trace, keep)
        if trace.status != "ok":
            self.output.show_error(trace.error, trace.status)
            if trace.error is not None and trace.error.line is not None:
                self.editor.mark_error_line(trace.error.line)
        self._run_seconds = trace.duration if trace.duration is not None else time.monotonic() - self._run_started
        self.status_label.setText(self._run_summary())
        if not trace.passes and trace.status == "ok":
            self.output.append_status(self.tr("The program ran but called no backward(): nothing to draw. "
                                              "Add e.g. loss.backward()."))

    def _run_summary(self) -> str:
        """The status bar's line about the last run: how it ended, how long it took, how many passes."""
        trace = self._trace
        if trace is None:
            return self.tr("Ready")
        seconds, npasses = self._run_seconds, len(trace.passes)
        summary = {"ok": self.tr("Finished"), "error": self.tr("Failed"), "timeout": self.tr("Timed out"),
                   "cancelled": self.tr("Stopped")}.get(trace.status, trace.status)
        took = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
        passes = self.tr("1 backward pass") if npasses == 1 else self.tr("{0} backward passes").format(npasses)
        return self.tr("{0} in {1} · {2}").format(summary, took, passes)

    def _on_run_failed(self, error: ErrorInfo) -> None:
        if self.output.error() is None:  # not already shown from the trace
            self.output.show_error(error)
            if error.line is not None:
                self.editor.mark_error_line(error.line)

    # ================================================================== graph, stepping, selection

    def trace(self) -> Trace | None:
        return self._trace

    def current_pass(self) -> Pass | None:
        return self.stepper.current_pass()

    def _on_pass_changed(self, index: int) -> None:
        """A pass was chosen: lay it out (in the background when big); `_on_layout_ready` finishes the job."""
        pass_ = self.stepper.current_pass()
        self._replay = None
        self._kept_zoom = self.graph_view.zoom() if self.scene.pass_ is not None else None
        self._update_graph_title()
        shown = pass_ if pass_ is not None and pass_.nodes else None
        # dot's time grows steeply with shared inputs (a weight reused in a loop: 93 nodes 1.8 s, 183 nodes 78 s),
        # so all but small passes are laid out off the GUI thread, which stays responsive meanwhile.
        self.graph_view.show_pass(shown, background=shown is not None and len(shown.nodes) > BACKGROUND_LAYOUT_NODES)

    def _update_graph_title(self) -> None:
        pass_ = self.stepper.current_pass()
        if self._trace is None:
            self.graph_title.setText(self.tr("Run a program to see its autograd graph"))
        elif pass_ is None:
            self.graph_title.setText(self.tr("No graph to show"))
        elif not pass_.nodes:
            self.graph_title.setText(self.tr("{0} · graph not kept (summary pass)").format(_pass_heading(pass_)))
        else:
            self.graph_title.setText(_pass_heading(pass_))

    def _on_layout_ready(self, layout: Layout | None) -> None:
        self._replay = self.graph_view.replay()  # the engine's numbering, also when the view is folded
        if layout is not None and self.settings.zoom_mode() == "keep" and self._kept_zoom:
            self.graph_view.set_zoom(self._kept_zoom)
        elif layout is not None:
            self.fit_graph()
        self.graph_view.set_step(self.stepper.step())
        self._refresh_inspector()
        self._on_cursor_line(self.editor.current_line())
        self.find_nodes(self.search_box.text())

    def _on_layout_failed(self, message: str) -> None:
        self.graph_title.setText(self.tr("Could not lay out this pass: {0}").format(message))

    def _on_step_changed(self, k: int) -> None:
        if not self.graph_view.shows(self.stepper.current_pass()):
            return  # its layout is still being computed; `_on_layout_ready` applies the step
        self.graph_view.set_step(k)
        self._refresh_inspector()

    def _refresh_inspector(self) -> None:
        replay = self._replay
        if replay is None:
            self.inspector.show_node(None, None, 0)
            return
        k = self.stepper.step()
        shown, node_id, at = self.graph_view.inspected(self.scene.selected, k)  # a folded box: its own replay
        self.inspector.show_node(shown, node_id, at)
        if self.scene.selected is None:  # following the engine: its current node's line is lit in the editor
            line = replay.pass_.node(node_id).line if node_id is not None else None
            lines = (line,) if line is not None and 1 <= line <= self.editor.line_count() else ()
            if lines != self.editor.highlighted_lines():  # consecutive steps often share a line: no repaint
                self.editor.highlight_lines(lines)  # brought into view when it is off screen

    def _on_selection_changed(self, node_id: str | None) -> None:
        """A node was selected in the graph: inspect it and light its source line (None: follow the engine)."""
        self._refresh_inspector()
        pass_ = self.current_pass()
        if node_id is not None and pass_ is not None:
            self.editor.highlight_lines(self.graph_view.source_lines(node_id))  # a folded box: all its lines

    def _on_cursor_line(self, line: int) -> None:
        """Light up every node the cursor's line created (a loop line lights all its unrolled nodes)."""
        if self.search_box.text().strip():
            return  # search results own the highlight while a search is typed
        self.scene.highlight_nodes(self.nodes_on_line(line))

    def nodes_on_line(self, line: int) -> list[str]:
        pass_ = self.current_pass()
        if pass_ is None:
            return []
        return [n.id for n in pass_.nodes if n.line == line]

    def select_node(self, node_id: str | None) -> None:
        self.scene.select_node(node_id)

    # ================================================================== search and zoom

    def find_nodes(self, text: str) -> list[str]:
        """Highlight the nodes whose variable or op matches `text`; an empty search restores the line link."""
        if not text.strip():
            self.search_count.setText("")
            self.scene.highlight_nodes(self.nodes_on_line(self.editor.current_line()))
            return []
        hits = self.scene.find(text)
        self.scene.highlight_nodes(hits)
        self.search_count.setText(self.tr("{0} found").format(len(hits)) if hits else self.tr("none found"))
        return hits

    def next_search_hit(self) -> None:
        """Enter in the search box: select the next match and bring it into view."""
        self.graph_view.find(self.search_box.text())

    def _focus_search(self) -> None:
        self.search_box.setFocus()
        self.search_box.selectAll()

    def _zoom_in(self) -> None:
        self.graph_view.zoom_in()

    def _zoom_out(self) -> None:
        self.graph_view.zoom_out()

    def fit_graph(self) -> None:
        """Fit the whole graph, magnifying small graphs up to MAX_FIT_ZOOM so a projector shows them large."""
        view = self.graph_view
        view.fit()
        rect, port = self.scene.sceneRect(), view.viewport().rect()
        if rect.isEmpty() or port.isEmpty():
            return
        factor = 0.96 * min(port.width() / rect.width(), port.height() / rect.height())
        if factor > view.zoom():
            view.set_zoom(min(factor, MAX_FIT_ZOOM))
            view.centerOn(rect.center())

    def export_graph(self) -> None:
        if self.scene.pass_ is None:
            self.show_message(self.tr("Nothing to export"), self.tr("Run a program first: there is no graph yet."))
            return
        path = self.ask_export_path()
        if not path:
            return
        from gradviz.gui import export

        suffix = Path(path).suffix.lower()
        # the picture File ▸ Export draws: a clean copy with its caption (no search or selection outlines)
        scene = self.exporter.build_scene() or self.scene
        try:
            if suffix == ".svg":
                export.export_svg(scene, path)
            elif suffix == ".pdf":
                export.export_pdf(scene, path)
            elif suffix == ".dot":
                export.export_dot(scene, path)
            else:
                export.export_png(scene, path, scale=2.0)
        except OSError as e:
            self.show_message(self.tr("Cannot export"), f"{path}: {e}")
            return
        self.status_label.setText(self.tr("Exported {0}").format(path))

    # ================================================================== theme, settings, closing

    def apply_theme(self, name: str) -> None:
        """Light or dark for the whole window: Qt palette, editor colours and the graph."""
        name = name if name in ("light", "dark") else "light"
        self.settings.set_theme(name)
        self.theme_actions[name].setChecked(True)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            from gradviz.gui.app import apply_palette

            apply_palette(app, name)
        self.editor.set_theme(name)
        self.scene.set_theme(theme_by_name(name))
        self._theme_name = name
        self._refresh_inspector()  # its secondary text colours come from the palette

    def theme_name(self) -> str:
        return self._theme_name

    def welcome_text(self) -> str:
        """The program the editor starts with, its comments in the UI's language."""
        hint = self.tr("# Type a small PyTorch program here, or open one from the Examples menu,\n"
                       "# then press Ctrl+Enter to run it and watch backward() step by step.")
        return hint + WELCOME[WELCOME.index("\nimport torch"):]

    def set_language(self, code: str) -> str:
        """Show the whole window in `code` ("en", "zh_CN") now and remember the choice; returns the language
        shown (English if that catalogue is missing)."""
        shown = install_language(code)
        self.settings.set_language(shown)
        self.language_actions[shown].setChecked(True)
        return shown

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        """Set every text the window owns again in the current language (child widgets do their own)."""
        self._texts.retranslate()
        self.language_actions[current_language()].setChecked(True)
        self._update_graph_title()
        self.status_label.setText(self._run_summary())
        self._refresh_recent_menu()
        if self.search_box.text().strip():
            self.find_nodes(self.search_box.text())

    def _restore_window(self) -> None:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        for name, splitter in (("main", self.main_split), ("left", self.left_split)):
            saved = self.settings.splitter_state(name)
            if saved is not None:
                splitter.restoreState(saved)

    def save_window_settings(self) -> None:
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_window_state(self.saveState())
        self.settings.set_splitter_state("main", QByteArray(self.main_split.saveState()))
        self.settings.set_splitter_state("left", QByteArray(self.left_split.saveState()))
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.maybe_keep_changes():
            event.ignore()
            return
        self.stepper.pause()
        self.save_window_settings()
        self.clear_autosave()
        self.controller.shutdown()
        event.accept()

    def _about(self) -> None:
        from gradviz import __version__

        blurb = self.tr("See autograd: run a small PyTorch program, draw its grad_fn graph and replay backward() "
                        "step by step.")
        QMessageBox.about(self, self.tr("About gradviz"), f"<b>gradviz {__version__}</b><br>{blurb}")


def _pass_heading(pass_: Pass) -> str:
    where = " · " + QCoreApplication.translate("MainWindow", "line {0}").format(pass_.line) \
        if pass_.line is not None else ""
    code = f":  {pass_.code.strip()}" if pass_.code else ""
    return f"{call_name(pass_.call)}{where}{code}"


def _default_autosave_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".gradviz") / "autosave"
