"""File > Export from the window: the current view (the graph at the current step, its gradients, a caption)
as PNG at 1x / 2x / 4x, SVG, PDF or on the clipboard, and the whole backward walk as an animated GIF or a
PDF with a page per step. Drawing is gradviz.gui.export's; this module only asks where and what."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu

from gradviz.gui import export
from gradviz.gui.captions import pass_title
from gradviz.gui.scene import GraphScene

if TYPE_CHECKING:
    from gradviz.gui.mainwindow import MainWindow

PNG_SCALES = (1, 2, 4)
CLIPBOARD_SCALE = 2.0
KINDS = ("png", "svg", "pdf", "gif", "walk-pdf")
SUFFIX = {"png": ".png", "svg": ".svg", "pdf": ".pdf", "gif": ".gif", "walk-pdf": ".pdf"}


class ExportActions(QObject):
    """The Export submenu of one window. The file dialog is `ask_path` (tests replace it); every export
    draws a scene of its own, so the window's view, zoom and step never move. Emits `exported(kind, path)`."""

    exported = Signal(str, str)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.menu = QMenu(window)
        self.menu.setObjectName("exportMenu")
        self.png_actions: dict[int, QAction] = {}
        for scale in PNG_SCALES:
            a = self._add(f"exportPng{scale}x", lambda _=False, s=scale: self.export_view("png", s))
            self.png_actions[scale] = a
        self.svg_action = self._add("exportSvg", lambda: self.export_view("svg"))
        self.pdf_action = self._add("exportPdf", lambda: self.export_view("pdf"))
        self.menu.addSeparator()
        self.gif_action = self._add("exportWalkGif", lambda: self.export_walk("gif"))
        self.walk_pdf_action = self._add("exportWalkPdf", lambda: self.export_walk("walk-pdf"))
        self.menu.addSeparator()
        self.copy_action = self._add("copyImage", self.copy_image)
        self.copy_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        window.addAction(self.copy_action)
        window.installEventFilter(self)  # for LanguageChange
        self.retranslate()

    def _add(self, name: str, slot) -> QAction:  # noqa: ANN001
        action = QAction(self)
        action.setObjectName(name)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    def install(self, file_menu: QMenu, after: QAction | None = None) -> None:
        """Put the Export submenu into the File menu, right after `after` (else at the end)."""
        actions = file_menu.actions()
        if after is not None and after in actions and actions.index(after) + 1 < len(actions):
            file_menu.insertMenu(actions[actions.index(after) + 1], self.menu)
        else:
            file_menu.addMenu(self.menu)

    def retranslate(self) -> None:
        self.menu.setTitle(self.tr("E&xport"))
        for scale, action in self.png_actions.items():
            action.setText(self.tr("Current View as PNG ({0}×)…").format(scale))
        self.svg_action.setText(self.tr("Current View as SVG…"))
        self.pdf_action.setText(self.tr("Current View as PDF…"))
        self.gif_action.setText(self.tr("Backward Walk as Animated GIF…"))
        self.walk_pdf_action.setText(self.tr("Backward Walk as PDF, a Page per Step…"))
        self.copy_action.setText(self.tr("&Copy Image"))
        self.copy_action.setToolTip(self.tr("Copy the graph at the current step as an image (Ctrl+Shift+C)"))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self._window and event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        return super().eventFilter(watched, event)

    # -- dialogs (tests replace these) ----------------------------------------------------------------------

    def ask_path(self, kind: str, suggested: str) -> str | None:
        """Where to write an export of `kind` (one of KINDS), or None if the person cancelled."""
        filters = {"png": self.tr("PNG image (*.png)"), "svg": self.tr("SVG drawing (*.svg)"),
                   "pdf": self.tr("PDF document (*.pdf)"), "gif": self.tr("Animated GIF (*.gif)"),
                   "walk-pdf": self.tr("PDF document (*.pdf)")}
        start = str(Path(self._export_dir()) / suggested)
        path, _ = QFileDialog.getSaveFileName(self._window, self.tr("Export"), start, filters[kind])
        return path or None

    # -- exports --------------------------------------------------------------------------------------------

    def build_scene(self) -> GraphScene | None:
        """A copy of the window's drawing at its current step, with a caption (the pass, what the step did,
        a legend): what every export renders. None if no graph is shown."""
        view = self._window.scene
        if view.pass_ is None or view.layout is None:
            return None
        scene = GraphScene(view.theme)
        scene.set_pass(view.pass_, view.layout)
        trace = self._window.trace()
        count = len(trace.passes) if trace is not None else None
        scene.set_caption(pass_title(view.pass_, self._window.stepper.pass_index() + 1, count))
        scene.set_step(view.step)
        return scene

    def export_view(self, kind: str, scale: float = 1.0) -> Path | None:
        """The current view as "png" (at `scale`), "svg" or "pdf"; returns the file written."""
        scene = self._scene_or_warn()
        if scene is None:
            return None
        suffix = f"@{scale:g}x" if kind == "png" and scale != 1 else ""
        path = self._ask(kind, f"{self._stem()}-step{scene.step}{suffix}")
        if path is None:
            return None
        try:
            if kind == "png":
                export.export_png(scene, path, scale)
            elif kind == "svg":
                export.export_svg(scene, path, pass_title(scene.pass_) if scene.pass_ else "gradviz")
            elif kind == "pdf":
                export.export_pdf(scene, path)
            else:
                raise ValueError(f"not a view export: {kind!r}")
        except OSError as e:
            self._failed(path, e)
            return None
        return self._done(kind, path)

    def export_walk(self, kind: str) -> Path | None:
        """Every step of the shown backward pass: "gif" (one frame per step) or "walk-pdf" (one page per
        step); returns the file written."""
        scene = self._scene_or_warn()
        if scene is None:
            return None
        steps = list(range(1, (scene.replay.total if scene.replay else 0) + 1))
        if not steps:
            self._window.show_message(self.tr("Nothing to animate"),
                                      self.tr("This pass recorded no backward steps."))
            return None
        path = self._ask(kind, f"{self._stem()}-backward")
        if path is None:
            return None
        try:
            if kind == "gif":
                export.export_gif(scene, path, steps)
            elif kind == "walk-pdf":
                export.export_pdf(scene, path, steps)
            else:
                raise ValueError(f"not a walk export: {kind!r}")
        except OSError as e:
            self._failed(path, e)
            return None
        return self._done(kind, path)

    def copy_image(self) -> bool:
        """The current view, as an image, on the clipboard (paste it into slides)."""
        scene = self._scene_or_warn()
        if scene is None:
            return False
        QGuiApplication.clipboard().setImage(export.render_image(scene, CLIPBOARD_SCALE))
        self._window.status_label.setText(self.tr("Copied the graph at step {0} to the clipboard").format(scene.step))
        return True

    # -- internals ------------------------------------------------------------------------------------------

    def _scene_or_warn(self) -> GraphScene | None:
        scene = self.build_scene()
        if scene is None:
            self._window.show_message(self.tr("Nothing to export"), self.tr("Run a program first: there is no graph yet."))
        return scene

    def _stem(self) -> str:
        name = Path(self._window.display_name()).stem or "gradviz"
        return f"{name}-pass{self._window.stepper.pass_index() + 1}"

    def _ask(self, kind: str, stem: str) -> Path | None:
        answer = self.ask_path(kind, stem + SUFFIX[kind])
        if not answer:
            return None
        path = Path(answer)
        if path.suffix.lower() != SUFFIX[kind]:
            path = path.with_name(path.name + SUFFIX[kind])
        self._window.settings.qsettings.setValue("export/dir", str(path.parent))
        return path

    def _export_dir(self) -> str:
        saved = str(self._window.settings.qsettings.value("export/dir", "") or "")
        if saved and Path(saved).is_dir():
            return saved
        return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or str(Path.home())

    def _done(self, kind: str, path: Path) -> Path:
        self._window.status_label.setText(self.tr("Exported {0}").format(path))
        self.exported.emit(kind, str(path))
        return path

    def _failed(self, path: Path, error: OSError) -> None:
        self._window.show_message(self.tr("Cannot export"), f"{path}: {error}")
