"""The stepper: which backward pass is shown, and how far through the engine's steps the replay has gone."""

from __future__ import annotations

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QPointF,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QPainter, QPalette, QPixmap, QPolygonF, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)

from gradviz.core.trace import Pass, Trace
from gradviz.gui.elided import ElidedLabel
from gradviz.gui.i18n import QT_TRANSLATE_NOOP

translate = QCoreApplication.translate  # pyside6-lupdate extracts translate("Context", "text") calls

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
BASE_INTERVAL_MS = 800  # one engine step per 0.8 s at 1x: slow enough to follow on a projector
TICK_MIN_PX = 6  # slider ticks at least this far apart (a 14,401-step pass drew 14,401 ticks on every step)


def call_name(call: str) -> str:
    """How a pass's call is written: "backward()", "autograd.grad()", "implicit backward()"."""
    names = {"backward": "backward()", "grad": "autograd.grad()",
             "implicit": QT_TRANSLATE_NOOP("Stepper", "implicit backward()")}
    return translate("Stepper", names[call]) if call in names else call


def pass_title(index: int, pass_: Pass) -> str:
    """How a pass is listed: "2. backward() · line 14", plus its state when it is not a plain success."""
    text = f"{index + 1}. {call_name(pass_.call)}"
    if pass_.line is not None:
        text += " · " + translate("Stepper", "line {0}").format(pass_.line)
    if pass_.detail != "full":
        text += " · " + translate("Stepper", "summary")
    if pass_.status != "ok":
        text += f" · {status_name(pass_.status)}"
    return text


def status_name(status: str) -> str:
    """A pass's or run's status as a word: "error", "timeout", "cancelled"."""
    names = {"ok": QT_TRANSLATE_NOOP("Stepper", "ok"), "error": QT_TRANSLATE_NOOP("Stepper", "error"),
             "timeout": QT_TRANSLATE_NOOP("Stepper", "timeout"), "cancelled": QT_TRANSLATE_NOOP("Stepper", "cancelled")}
    return translate("Stepper", names[status]) if status in names else status


def step_caption(pass_: Pass, k: int) -> str:
    """What the replay shows at step k: "before backward", or which node the engine just ran."""
    n = len(pass_.steps)
    if n == 0:
        return translate("Stepper", "no steps recorded") if pass_.detail == "full" else translate("Stepper", "summary only: graph not kept")
    if k <= 0:
        return translate("Stepper", "step 0 / {0} · before backward").format(f"{n:,}")
    node_id = pass_.steps[k - 1].node
    try:
        node = pass_.node(node_id)
        label = node.type + (f" ({', '.join(node.names)})" if node.names else "")
    except KeyError:
        label = node_id
    return translate("Stepper", "step {0} / {1} · {2}").format(f"{k:,}", f"{n:,}", label)  # 14,401 as the map says


def tick_interval(steps: int, width: int) -> int:
    """Steps between two ticks of a `width`-pixel slider over `steps` steps: 1, 2, 5, 10, 20, 50... whichever
    first puts the ticks at least TICK_MIN_PX apart."""
    interval = 1
    while steps > 0 and width * interval < TICK_MIN_PX * steps:
        interval = interval * 5 // 2 if str(interval)[0] == "2" else interval * 2
    return interval


def transport_icon(glyph: str, palette: QPalette, size: int = 40) -> QIcon:
    """A media-transport icon ("first", "previous", "play", "pause", "next", "last") in the palette's colours,
    with a dimmed variant for the disabled state."""
    icon = QIcon()
    for mode, group in ((QIcon.Mode.Normal, QPalette.ColorGroup.Active),
                        (QIcon.Mode.Disabled, QPalette.ColorGroup.Disabled)):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(palette.color(group, QPalette.ColorRole.ButtonText))
        if mode == QIcon.Mode.Disabled:
            colour.setAlphaF(0.35)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        s = size
        right = QPolygonF([QPointF(s * 0.28, s * 0.2), QPointF(s * 0.78, s * 0.5), QPointF(s * 0.28, s * 0.8)])
        left = QPolygonF([QPointF(s * 0.72, s * 0.2), QPointF(s * 0.22, s * 0.5), QPointF(s * 0.72, s * 0.8)])
        if glyph == "play":
            painter.drawPolygon(right)
        elif glyph == "pause":
            painter.drawRect(QRectF(s * 0.26, s * 0.2, s * 0.16, s * 0.6))
            painter.drawRect(QRectF(s * 0.58, s * 0.2, s * 0.16, s * 0.6))
        elif glyph == "previous":
            painter.drawPolygon(left)
        elif glyph == "next":
            painter.drawPolygon(right)
        elif glyph == "first":
            painter.drawRect(QRectF(s * 0.18, s * 0.2, s * 0.1, s * 0.6))
            painter.drawPolygon(left.translated(s * 0.08, 0))
        elif glyph == "last":
            painter.drawPolygon(right.translated(-s * 0.08, 0))
            painter.drawRect(QRectF(s * 0.72, s * 0.2, s * 0.1, s * 0.6))
        painter.end()
        icon.addPixmap(pixmap, mode)
    return icon


class Stepper(QWidget):
    """Pass selector plus a timeline (first / previous / play / next / last, slider, speed).

    Emits `pass_changed(index)` and `step_changed(k)`, k in 0..len(steps): 0 is before the first engine step,
    k means steps[0..k-1] have run. Keys when focused: Left/Right, Space, Home/End."""

    pass_changed = Signal(int)
    step_changed = Signal(int)
    playing_changed = Signal(bool)
    speed_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepper")
        self.setAccessibleName("stepper")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._trace: Trace | None = None
        self._pass_index = -1
        self._step = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_tick)
        self._speed = 1.0
        self._icons: dict[tuple[str, int], QIcon] = {}
        self._play_icon: tuple[str, int] | None = None  # the play button's (glyph, palette) now

        self.pass_selector = QComboBox(self)
        self.pass_selector.setObjectName("passSelector")
        self.pass_selector.setAccessibleName("passSelector")
        # as wide as a pass's heading needs, down to a short one in a narrow window (the list shows them whole)
        self.pass_selector.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.pass_selector.setMinimumContentsLength(8)
        self.pass_selector.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.pass_selector.currentIndexChanged.connect(self._on_pass_selected)

        self.first_button = self._button("firstButton", "first", self.first)
        self.prev_button = self._button("prevButton", "previous", self.previous)
        self.play_button = self._button("playButton", "play", self.toggle_play)
        self.next_button = self._button("nextButton", "next", self.next)
        self.last_button = self._button("lastButton", "last", self.last)

        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("stepSlider")
        self.slider.setAccessibleName("stepSlider")
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.slider.setMinimumWidth(90)  # the caption gives up its width first
        self.slider.valueChanged.connect(self.set_step)

        self.speed_box = QComboBox(self)
        self.speed_box.setObjectName("speedBox")
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))

        self.caption = ElidedLabel(parent=self, min_chars=12, max_chars=48)
        self.caption.setObjectName("stepCaption")
        font = self.caption.font()
        font.setBold(True)
        self.caption.setFont(font)

        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        self.pass_label = QLabel(self)
        self.pass_label.setObjectName("passLabel")
        row.addWidget(self.pass_label)
        row.addWidget(self.pass_selector)
        row.addSpacing(8)
        for b in (self.first_button, self.prev_button, self.play_button, self.next_button, self.last_button):
            row.addWidget(b)
        row.addWidget(self.slider, 1)
        row.addWidget(self.speed_box)
        row.addWidget(self.caption)
        self._paint_icons()
        self.retranslate()

    def retranslate(self) -> None:
        """Set every text again in the current language (called on QEvent.LanguageChange)."""
        self.pass_label.setText(self.tr("Pass"))
        self.pass_selector.setToolTip(self.tr("Which backward()/autograd.grad() call to show"))
        self.speed_box.setToolTip(self.tr("Playback speed"))
        self.first_button.setToolTip(self.tr("First step (Home)"))
        self.prev_button.setToolTip(self.tr("Previous step (Left)"))
        self.play_button.setToolTip(self.tr("Play / pause (Space)"))
        self.next_button.setToolTip(self.tr("Next step (Right)"))
        self.last_button.setToolTip(self.tr("Last step (End)"))
        passes = self._trace.passes if self._trace is not None else ()
        for i, p in enumerate(passes[: self.pass_selector.count()]):
            self.pass_selector.setItemText(i, pass_title(i, p))
        self._sync_controls()

    def _button(self, name: str, glyph: str, slot) -> QToolButton:  # noqa: ANN001
        button = QToolButton(self)
        button.setObjectName(name)
        button.setAccessibleName(name)
        button.setProperty("glyph", glyph)
        button.setAutoRaise(True)
        button.setIconSize(QSize(20, 20))
        button.clicked.connect(slot)
        return button

    def _icon(self, glyph: str) -> QIcon:
        key = (glyph, self.palette().cacheKey())
        icon = self._icons.get(key)
        if icon is None:
            icon = self._icons[key] = transport_icon(glyph, self.palette())
        return icon

    def _paint_icons(self) -> None:
        """Transport icons drawn in the palette's text colour, so they read on light and dark themes alike."""
        for b in (self.first_button, self.prev_button, self.next_button, self.last_button):
            b.setIcon(self._icon(str(b.property("glyph"))))
        self._sync_play_button()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_icons()
        elif event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    # -- state ----------------------------------------------------------------------------------------------

    def trace(self) -> Trace | None:
        return self._trace

    def current_pass(self) -> Pass | None:
        if self._trace is None or not 0 <= self._pass_index < len(self._trace.passes):
            return None
        return self._trace.passes[self._pass_index]

    def pass_index(self) -> int:
        return self._pass_index

    def step(self) -> int:
        return self._step

    def step_count(self) -> int:
        p = self.current_pass()
        return len(p.steps) if p is not None else 0

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def speed(self) -> float:
        return self._speed

    def set_trace(self, trace: Trace | None, pass_index: int | None = None) -> None:
        """Show a new run: list its passes and select `pass_index` (default: the first pass with a full graph)."""
        self.pause()
        self._trace = trace
        self._pass_index = -1
        self.pass_selector.blockSignals(True)
        self.pass_selector.clear()
        passes = trace.passes if trace is not None else ()
        for i, p in enumerate(passes):
            self.pass_selector.addItem(pass_title(i, p), i)
        self.pass_selector.blockSignals(False)
        if not passes:
            self._step = 0
            self._sync_controls()
            self.pass_changed.emit(-1)
            return
        if pass_index is None:
            pass_index = next((i for i, p in enumerate(passes) if p.detail == "full" and p.nodes), 0)
        self.set_pass(pass_index)

    def set_pass(self, index: int) -> None:
        """Select pass `index`; the replay restarts before its first step."""
        if self._trace is None or not 0 <= index < len(self._trace.passes):
            return
        self.pause()
        if self.pass_selector.currentIndex() != index:
            self.pass_selector.blockSignals(True)
            self.pass_selector.setCurrentIndex(index)
            self.pass_selector.blockSignals(False)
        changed = index != self._pass_index
        self._pass_index = index
        self._step = 0
        self._sync_controls()
        if changed:
            self.pass_changed.emit(index)
        self.step_changed.emit(0)

    def set_step(self, k: int) -> None:
        """Replay to step k (clamped to 0..len(steps))."""
        k = min(max(int(k), 0), self.step_count())
        if k == self._step:
            self._sync_slider()
            return
        self._step = k
        self._sync_controls()
        self.step_changed.emit(k)

    def set_speed(self, speed: float) -> None:
        """Playback speed as a multiple of one step per BASE_INTERVAL_MS."""
        self._speed = max(0.05, float(speed))
        idx = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - self._speed))
        if self.speed_box.currentIndex() != idx:
            self.speed_box.blockSignals(True)
            self.speed_box.setCurrentIndex(idx)
            self.speed_box.blockSignals(False)
        self._timer.setInterval(self.interval_ms())
        self.speed_changed.emit(self._speed)

    def interval_ms(self) -> int:
        return max(20, round(BASE_INTERVAL_MS / self._speed))

    # -- navigation -----------------------------------------------------------------------------------------

    def first(self) -> None:
        self.set_step(0)

    def last(self) -> None:
        self.set_step(self.step_count())

    def next(self) -> None:
        self.set_step(self._step + 1)

    def previous(self) -> None:
        self.set_step(self._step - 1)

    def play(self) -> None:
        """Advance one step per tick until the end (from the start again if already at the end)."""
        if self.step_count() == 0 or self.is_playing():
            return
        if self._step >= self.step_count():
            self.set_step(0)
        self._timer.start(self.interval_ms())
        self._sync_play_button()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self._sync_play_button()
            self.playing_changed.emit(False)

    def toggle_play(self) -> None:
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def handle_key(self, event: QKeyEvent) -> bool:
        """Timeline keys, shared with the graph view: returns True if the key was used."""
        actions = {Qt.Key.Key_Left: self.previous, Qt.Key.Key_Right: self.next, Qt.Key.Key_Space: self.toggle_play,
                   Qt.Key.Key_Home: self.first, Qt.Key.Key_End: self.last}
        action = actions.get(Qt.Key(event.key()))
        if action is None or event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
            return False
        action()
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if not self.handle_key(event):
            super().keyPressEvent(event)

    def _on_tick(self) -> None:
        if self._step >= self.step_count():
            self.pause()
            return
        self.next()
        if self._step >= self.step_count():
            self.pause()

    def _on_pass_selected(self, combo_index: int) -> None:
        if combo_index >= 0:
            self.set_pass(combo_index)

    # -- widgets --------------------------------------------------------------------------------------------

    def _sync_slider(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, self.step_count())
        self.slider.setValue(self._step)
        self.slider.blockSignals(False)
        self._sync_ticks()

    def _sync_ticks(self) -> None:
        interval = tick_interval(self.step_count(), self.slider.width())
        if interval != self.slider.tickInterval():
            self.slider.setTickInterval(interval)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._sync_ticks()

    def _sync_play_button(self) -> None:
        """Play or pause glyph; set only when it changes (setIcon relayouts the whole window on every step)."""
        key = ("pause" if self.is_playing() else "play", self.palette().cacheKey())
        if key != self._play_icon:
            self._play_icon = key
            self.play_button.setIcon(self._icon(key[0]))

    def _sync_controls(self) -> None:
        p = self.current_pass()
        n = self.step_count()
        self._sync_slider()
        has_steps = n > 0
        for b in (self.first_button, self.prev_button):
            b.setEnabled(has_steps and self._step > 0)
        for b in (self.next_button, self.last_button):
            b.setEnabled(has_steps and self._step < n)
        self.play_button.setEnabled(has_steps)
        self.slider.setEnabled(has_steps)
        self.pass_selector.setEnabled(self._trace is not None and bool(self._trace.passes))
        caption = step_caption(p, self._step) if p is not None else self.tr("no backward pass yet")
        if caption != self.caption.text():
            self.caption.setText(caption)
        self._sync_play_button()
