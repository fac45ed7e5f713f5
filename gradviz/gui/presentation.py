"""Presentation mode (F5): the window full screen for a projector — larger text everywhere, a high-contrast
light or a dark graph theme, the code pane optional, and the replay driven by arrow keys or a clicker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QMenu, QPlainTextEdit, QSizePolicy, QWidget

from gradviz.gui.settings import Settings
from gradviz.gui.stepper import SPEEDS
from gradviz.gui.theme import DARK, LIGHT, Theme

if TYPE_CHECKING:
    from gradviz.gui.mainwindow import MainWindow

# Projectors wash out pale colours and thin lines: the graph gets darker greys, black text and heavier pens.
PROJECTOR_LIGHT = replace(
    LIGHT, name="projector-light", text="#000000", muted_text="#262b33", pending_border="#2f3540",
    current_border="#000000", done_fill="#8fb8e8", done_border="#123e6b", check="#0f5c2b", leaf_band="#dde5f0",
    ghost_border="#6f7682", ghost_text="#555c68", edge_pending="#7a8290", edge_carried="#123e6b",
    edge_fresh="#c2410c", edge_ghost="#7d838e", label_fill="#ffffff", label_text="#000000", cut="#b3261e",
    pending_pen=2.0, done_pen=2.4, current_pen=5.0, ghost_pen=2.0, edge_pen=2.0, edge_carried_pen=3.0,
    edge_fresh_pen=4.5, highlight_pen=4.0)
PROJECTOR_DARK = replace(
    DARK, name="projector-dark", background="#101216", text="#ffffff", muted_text="#d0d5de",
    pending_fill="#101216", pending_border="#aab3c4", done_fill="#2f5a88", done_border="#b9d8f7",
    check="#8ef0a0", ghost_border="#7b8394", ghost_text="#9aa2b1", edge_pending="#7b8394",
    edge_carried="#a9cdf2", edge_fresh="#ffab5e", edge_ghost="#6c7484", label_fill="#1d2129",
    label_text="#ffffff", pending_pen=2.0, done_pen=2.4, current_pen=5.0, ghost_pen=2.0, edge_pen=2.0,
    edge_carried_pen=3.0, edge_fresh_pen=4.5, highlight_pen=4.0)
PRESENTATION_THEMES: dict[str, Theme] = {"light": PROJECTOR_LIGHT, "dark": PROJECTOR_DARK}
FONT_SCALES = (1.25, 1.5, 1.75, 2.0)
DEFAULT_FONT_SCALE = 1.5
CODE_SHARE, LESSON_SHARE, INSPECTOR_SHARE = 0.37, 0.2, 0.19  # at most / of the screen width, presenting
GRAPH_SHARE = 0.4  # at least, while the code and the inspector can give up width (to a third of theirs)
BACKGROUND_LAYOUT_NODES = 40  # as the window: bigger passes are laid out off the GUI thread


class PresentationSettings:
    """The presentation choices, kept in the app's QSettings under "presentation/"."""

    def __init__(self, settings: Settings) -> None:
        self._qs = settings.qsettings

    def theme(self) -> str:
        value = str(self._qs.value("presentation/theme", "light"))
        return value if value in PRESENTATION_THEMES else "light"

    def set_theme(self, name: str) -> None:
        if name not in PRESENTATION_THEMES:
            raise ValueError(f"unknown presentation theme {name!r}; expected one of {tuple(PRESENTATION_THEMES)}")
        self._qs.setValue("presentation/theme", name)

    def show_code(self) -> bool:
        return str(self._qs.value("presentation/show_code", "true")).lower() in ("true", "1")

    def set_show_code(self, on: bool) -> None:
        self._qs.setValue("presentation/show_code", bool(on))

    def show_inspector(self) -> bool:
        """Off unless chosen: on a projector the graph needs the width, and its labels already carry the
        gradients; the inspector (in large type) is one toggle away."""
        return str(self._qs.value("presentation/show_inspector", "false")).lower() in ("true", "1")

    def set_show_inspector(self, on: bool) -> None:
        self._qs.setValue("presentation/show_inspector", bool(on))

    def font_scale(self) -> float:
        try:
            value = float(self._qs.value("presentation/font_scale", DEFAULT_FONT_SCALE))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return DEFAULT_FONT_SCALE
        return value if value in FONT_SCALES else DEFAULT_FONT_SCALE

    def set_font_scale(self, scale: float) -> None:
        if scale not in FONT_SCALES:
            raise ValueError(f"font scale must be one of {FONT_SCALES}")
        self._qs.setValue("presentation/font_scale", float(scale))


@dataclass
class _Saved:
    """What presentation mode changes, as it was before, to put back on leaving."""

    state: Qt.WindowState
    geometry: QByteArray
    docks: QByteArray  # the window's saveState(): dock and toolbar placement
    splitter: QByteArray
    theme: str
    window_font: QFont
    fonts: dict[QWidget, QFont]  # widgets that set their own font (editor, inspector, output)
    code_visible: bool
    inspector_visible: bool
    status_visible: bool
    search_visible: bool
    title_policy: QSizePolicy


class Presenter(QObject):
    """Presentation mode for one window: `toggle()` (F5), `enter()`, `leave()`; its options live in the View
    menu and in QSettings. While presenting, Page Down / Page Up (a clicker) always step the replay; Left /
    Right, Home / End, Space and P (play from the start) do too unless the person is typing in the editor or
    a text field; Escape leaves. Emits `toggled(bool)`."""

    toggled = Signal(bool)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.options = PresentationSettings(window.settings)
        self._saved: _Saved | None = None
        self._build_actions()
        # Layout changes settle in the event loop: the split and the graph's fit are applied just after.
        self._split_timer = QTimer(self, singleShot=True, interval=0)
        self._split_timer.timeout.connect(self._share_split)
        self._fit_timer = QTimer(self, singleShot=True, interval=0)
        self._fit_timer.timeout.connect(self._fit_graph)
        window.installEventFilter(self)  # for LanguageChange and Close
        window.graph_view.viewport().installEventFilter(self)  # resized while presenting: fit the graph again
        window.main_split.installEventFilter(self)  # resized while presenting: share it out again
        window.graph_view.layout_ready.connect(self._on_layout_ready)
        window.controller.trace_ready.connect(lambda _trace: self.fit_panes())  # a new program: its width
        for name, action in window.theme_actions.items():
            action.triggered.connect(lambda _=False, n=name: self._on_window_theme(n))
        self.retranslate()

    # -- menu -----------------------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        w = self._window
        self.toggle_action = QAction(self)
        self.toggle_action.setObjectName("presentationAction")
        self.toggle_action.setCheckable(True)
        self.toggle_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.toggle_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.toggle_action.triggered.connect(lambda on: self.enter() if on else self.leave())
        w.addAction(self.toggle_action)  # works with the menu bar hidden too

        self.menu = QMenu(w)
        self.menu.setObjectName("presentationMenu")
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in PRESENTATION_THEMES:
            a = QAction(self, checkable=True)
            a.setObjectName(f"presentationTheme_{name}")
            a.setChecked(name == self.options.theme())
            a.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            self.theme_group.addAction(a)
            self.menu.addAction(a)
            self.theme_actions[name] = a
        self.menu.addSeparator()
        self.code_action = QAction(self, checkable=True)
        self.code_action.setObjectName("presentationCodeAction")
        self.code_action.setChecked(self.options.show_code())
        self.code_action.toggled.connect(self.set_show_code)
        self.menu.addAction(self.code_action)
        self.inspector_action = QAction(self, checkable=True)
        self.inspector_action.setObjectName("presentationInspectorAction")
        self.inspector_action.setChecked(self.options.show_inspector())
        self.inspector_action.toggled.connect(self.set_show_inspector)
        self.menu.addAction(self.inspector_action)
        self.size_menu = self.menu.addMenu("")
        self.size_group = QActionGroup(self)
        self.size_actions: dict[float, QAction] = {}
        for scale in FONT_SCALES:
            a = QAction(f"{scale * 100:.0f} %", self, checkable=True)
            a.setChecked(scale == self.options.font_scale())
            a.triggered.connect(lambda _=False, s=scale: self.set_font_scale(s))
            self.size_group.addAction(a)
            self.size_menu.addAction(a)
            self.size_actions[scale] = a
        self.menu.addSeparator()
        self.play_action = QAction(self)
        self.play_action.setObjectName("playFromStartAction")
        self.play_action.triggered.connect(self.play_from_start)
        self.menu.addAction(self.play_action)
        self.speed_menu = self.menu.addMenu("")
        self.speed_group = QActionGroup(self)
        self.speed_actions: dict[float, QAction] = {}
        for speed in SPEEDS:
            a = QAction(f"{speed:g}×", self, checkable=True)
            a.triggered.connect(lambda _=False, s=speed: w.stepper.set_speed(s))
            self.speed_group.addAction(a)
            self.speed_menu.addAction(a)
            self.speed_actions[speed] = a
        w.stepper.speed_changed.connect(self._sync_speed)
        self._sync_speed(w.stepper.speed())

    def install(self, view_menu: QMenu) -> None:
        """Put the mode's toggle and its options submenu at the end of the window's View menu."""
        view_menu.addSeparator()
        view_menu.addAction(self.toggle_action)
        view_menu.addMenu(self.menu)

    def retranslate(self) -> None:
        self.toggle_action.setText(self.tr("&Presentation Mode"))
        self.toggle_action.setToolTip(self.tr("Full screen, large text, for a projector (F5; Esc leaves)"))
        self.menu.setTitle(self.tr("Presentation &Options"))
        self.theme_actions["light"].setText(self.tr("High-Contrast &Light Theme"))
        self.theme_actions["dark"].setText(self.tr("&Dark Theme"))
        self.code_action.setText(self.tr("Show the &Code"))
        self.inspector_action.setText(self.tr("Show the &Inspector"))
        self.size_menu.setTitle(self.tr("Text &Size"))
        self.play_action.setText(self.tr("&Play Backward from the Start\tP"))
        self.speed_menu.setTitle(self.tr("Auto-Play &Speed"))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self._window and event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        elif watched is self._window and event.type() == QEvent.Type.Close and self._saved is not None:
            self.leave()  # before the window saves its geometry: the next start opens as a normal window
        elif self._saved is not None and event.type() == QEvent.Type.Resize:
            if watched is self._window.graph_view.viewport():
                self._fit_timer.start()
            elif watched is self._window.main_split:
                self._split_timer.start()
        elif (self._saved is not None and event.type() == QEvent.Type.KeyPress and isinstance(watched, QWidget)
              and watched.window() is self._window and isinstance(event, QKeyEvent) and self.handle_key(event, watched)):
            return True
        return super().eventFilter(watched, event)

    # -- state ----------------------------------------------------------------------------------------------

    def is_presenting(self) -> bool:
        return self._saved is not None

    def font_scale(self) -> float:
        return self.options.font_scale()

    def theme(self) -> Theme:
        """The graph theme presentation mode draws with: the chosen projector theme, fonts scaled."""
        return PRESENTATION_THEMES[self.options.theme()].scaled_fonts(self.options.font_scale())

    def toggle(self) -> None:
        if self.is_presenting():
            self.leave()
        else:
            self.enter()

    def enter(self) -> None:
        """Full screen, larger text, the projector theme, the code pane as chosen; keys step the replay."""
        if self._saved is not None:
            return
        w = self._window
        self._saved = _Saved(w.windowState(), QByteArray(w.saveGeometry()), QByteArray(w.saveState()),
                             QByteArray(w.main_split.saveState()), w.theme_name(), QFont(w.font()),
                             {widget: QFont(widget.font()) for widget in _own_font_widgets(w)},
                             w.left_split.isVisible(), w.inspector.isVisible(), w.statusBar().isVisible(),
                             w.search_box.isVisible(),
                             QSizePolicy(w.graph_title.sizePolicy()))
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        w.showFullScreen()
        self._apply()
        self.toggle_action.setChecked(True)
        self.toggled.emit(True)

    def leave(self) -> None:
        """Everything back as it was before `enter()`."""
        saved = self._saved
        if saved is None:
            return
        self._saved = None
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        w = self._window
        lessons_open = w.lesson_dock.isVisible()  # opened (or kept) during the lesson: it stays
        w.setFont(saved.window_font)
        for widget, font in saved.fonts.items():
            _set_font(widget, font)
        w.left_split.setVisible(saved.code_visible)
        w.inspector.setVisible(saved.inspector_visible)
        w.statusBar().setVisible(saved.status_visible)
        w.search_box.setVisible(saved.search_visible)
        w.search_count.setVisible(saved.search_visible)
        w.graph_title.setSizePolicy(saved.title_policy)
        w.apply_theme(saved.theme)
        self._relayout()
        w.inspector.set_step(w.stepper.step())
        if saved.state & Qt.WindowState.WindowMaximized:
            w.showMaximized()
        else:
            w.showNormal()
            w.restoreGeometry(saved.geometry)
        w.restoreState(saved.docks)
        w.lesson_dock.setVisible(lessons_open)
        w.main_split.restoreState(saved.splitter)
        self.toggle_action.setChecked(False)
        self.toggled.emit(False)

    def set_theme(self, name: str) -> None:
        self.options.set_theme(name)
        self.theme_actions[name].setChecked(True)
        if self.is_presenting():
            self._apply_theme()
            self._relayout()

    def set_show_code(self, on: bool) -> None:
        self.options.set_show_code(on)
        if self.code_action.isChecked() != on:
            self.code_action.setChecked(on)
        if self.is_presenting():
            self._window.left_split.setVisible(on)
            self.fit_panes()

    def set_show_inspector(self, on: bool) -> None:
        self.options.set_show_inspector(on)
        if self.inspector_action.isChecked() != on:
            self.inspector_action.setChecked(on)
        if self.is_presenting():
            self._window.inspector.setVisible(on)
            self.fit_panes()

    def set_font_scale(self, scale: float) -> None:
        self.options.set_font_scale(scale)
        self.size_actions[scale].setChecked(True)
        if self.is_presenting():
            self._apply()

    def fit_panes(self) -> None:
        """Share the screen for a projector: the lesson dock LESSON_SHARE of it, the code pane as wide as the
        program's widest code line (at most CODE_SHARE), the inspector (if shown) INSPECTOR_SHARE, the graph
        the rest.
        The split is set once the dock's new width has reached the window's layout."""
        if not self.is_presenting():
            return
        w = self._window
        dock = getattr(w, "lesson_dock", None)
        if dock is not None and dock.isVisible() and not dock.isFloating():
            w.resizeDocks([dock], [round(self._screen_width() * LESSON_SHARE)], Qt.Orientation.Horizontal)
        self._split_timer.start()

    def _share_split(self) -> None:
        if not self.is_presenting():
            return
        w = self._window
        width = self._screen_width()
        total = w.main_split.width() - 2 * w.main_split.handleWidth()
        inspector = round(width * INSPECTOR_SHARE) if w.inspector.isVisible() else 0
        code = 0
        if w.left_split.isVisible():
            metrics = w.editor.fontMetrics()
            lines = [ln for ln in w.editor.toPlainText().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            widest = max((metrics.horizontalAdvance(ln) for ln in lines), default=0)
            code = min(widest + w.editor.line_number_width() + 3 * metrics.averageCharWidth() + 20,
                       round(width * CODE_SHARE))
        room = round(width * GRAPH_SHARE)
        if total - code - inspector < room and code + inspector:  # large type, a wide dock: the graph first
            squeeze = max(1 / 3, (total - room) / (code + inspector))
            code, inspector = round(code * squeeze), round(inspector * squeeze)
        w.main_split.setSizes([code, max(total - code - inspector, 1), inspector])

    def _screen_width(self) -> int:
        w = self._window
        screen = w.screen()
        return max(w.width(), screen.geometry().width() if screen is not None else 0)

    def play_from_start(self) -> None:
        """Replay the current backward pass from before its first step, at the stepper's speed."""
        stepper = self._window.stepper
        stepper.pause()
        stepper.set_step(0)
        stepper.play()

    def handle_key(self, event: QKeyEvent, receiver: QWidget | None = None) -> bool:
        """The presenter's keys, for a key press arriving at `receiver` (default: the focus widget); True if
        used."""
        if event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                | Qt.KeyboardModifier.MetaModifier):
            return False
        stepper = self._window.stepper
        key = event.key()
        clicker: dict[int, Callable[[], None]] = {Qt.Key.Key_PageDown.value: stepper.next,
                                                  Qt.Key.Key_PageUp.value: stepper.previous,
                                                  Qt.Key.Key_Escape.value: self.leave}
        action = clicker.get(key)
        if action is None and not _takes_text(receiver if receiver is not None else QApplication.focusWidget()):
            keys: dict[int, Callable[[], None]] = {
                Qt.Key.Key_Right.value: stepper.next, Qt.Key.Key_Left.value: stepper.previous,
                Qt.Key.Key_Space.value: stepper.toggle_play, Qt.Key.Key_Home.value: stepper.first,
                Qt.Key.Key_End.value: stepper.last, Qt.Key.Key_P.value: self.play_from_start}
            action = keys.get(key)
        if action is None:
            return False
        action()
        return True

    # -- internals ------------------------------------------------------------------------------------------

    def _apply(self) -> None:
        """Fonts, theme and panes of presentation mode from the saved originals and the current options."""
        saved = self._saved
        if saved is None:
            return
        w = self._window
        scale = self.options.font_scale()
        w.setFont(_scaled(saved.window_font, scale))
        for widget, font in saved.fonts.items():
            _set_font(widget, _scaled(font, scale))
        w.left_split.setVisible(self.options.show_code())
        w.inspector.setVisible(self.options.show_inspector())
        w.statusBar().setVisible(False)  # nothing a class reads; the graph gets its height
        w.search_box.setVisible(False)
        w.search_count.setVisible(False)
        # the pass heading (also in the pass list) may be cut, rather than hold the graph pane wide open
        w.graph_title.setSizePolicy(QSizePolicy.Policy.Ignored, w.graph_title.sizePolicy().verticalPolicy())
        self._apply_theme()
        self.fit_panes()
        self._relayout()
        w.inspector.set_step(w.stepper.step())

    def _apply_theme(self) -> None:
        w = self._window
        w.apply_theme(self.options.theme())  # palette and editor colours; the graph then gets the projector look
        w.scene.set_theme(self.theme())

    def _relayout(self) -> None:
        """Lay the shown pass out again: its boxes are measured with the scene's (new) fonts."""
        w = self._window
        pass_ = w.scene.pass_
        if pass_ is None:
            return
        w.graph_view.show_pass(pass_, background=len(pass_.nodes) > BACKGROUND_LAYOUT_NODES)

    def _on_layout_ready(self, layout: object) -> None:
        if self.is_presenting() and layout is not None:
            self._fit_timer.start()

    def _fit_graph(self) -> None:
        """A projector shows the whole graph, as large as it fits."""
        if self.is_presenting() and self._window.scene.pass_ is not None:
            self._window.fit_graph()

    def _on_window_theme(self, name: str) -> None:
        """View > Light / Dark while presenting chooses the presentation theme (the window's look is kept
        for when presentation mode ends)."""
        if self.is_presenting() and name in PRESENTATION_THEMES:
            self.set_theme(name)

    def _sync_speed(self, speed: float) -> None:
        nearest = min(SPEEDS, key=lambda s: abs(s - speed))
        self.speed_actions[nearest].setChecked(True)


def _takes_text(widget: QWidget | None) -> bool:
    """The widget writes text (editor, search box, an editable list): arrow keys and letters belong to it."""
    if isinstance(widget, QPlainTextEdit):
        return not widget.isReadOnly()
    return isinstance(widget, QLineEdit) or (isinstance(widget, QComboBox) and widget.isEditable())


def _scaled(font: QFont, scale: float) -> QFont:
    out = QFont(font)
    if font.pixelSize() > 0:
        out.setPixelSize(max(1, round(font.pixelSize() * scale)))
    else:
        out.setPointSizeF(font.pointSizeF() * scale)
    return out


def _own_font_widgets(window: MainWindow) -> list[QWidget]:
    """The window's widgets that set their own font, so do not follow the window's: the code editor, the
    inspector's body and the output log."""
    widgets: list[QWidget] = [window.editor]
    body = window.inspector.widget()
    if body is not None:
        widgets.append(body)
    log = window.output.findChild(QPlainTextEdit, "outputLog")
    if log is not None:
        widgets.append(log)
    return widgets


def _set_font(widget: QWidget, font: QFont) -> None:
    widget.setFont(font)
    if isinstance(widget, QPlainTextEdit) and not widget.isReadOnly():
        widget.setTabStopDistance(widget.fontMetrics().horizontalAdvance(" ") * 4)  # code: 4-space tabs
