"""Classroom features hooked into a finished main window: the lesson gallery dock, presentation mode and the
Export submenu. Each lives in its own module; this one only finds the window's menus and adds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from gradviz.gui.export_actions import ExportActions
from gradviz.gui.lessons import LessonDock
from gradviz.gui.presentation import Presenter

if TYPE_CHECKING:
    from gradviz.gui.mainwindow import MainWindow


def menu_holding(window: MainWindow, action_name: str) -> tuple[QMenu | None, QAction | None]:
    """The menu-bar menu that holds the action called `action_name`, and that action (found by object
    name, so it keeps working whatever language the menus are in)."""
    action = window.findChild(QAction, action_name)
    if action is None:
        return None, None
    menu = next((o for o in action.associatedObjects() if isinstance(o, QMenu)), None)
    return menu, action


def install_classroom(window: MainWindow) -> tuple[ExportActions, Presenter, LessonDock]:
    """Add the Export submenu (File), presentation mode (View, F5) and the Lessons dock (View, Ctrl+L) to
    `window`. Call once the window is built: the dock's slots must run after the window's own."""
    exporter = ExportActions(window)
    file_menu, export_action = menu_holding(window, "exportAction")
    if file_menu is not None:
        exporter.install(file_menu, export_action)

    dock = LessonDock(window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.addAction(dock.toggle_action)  # Ctrl+L works with the menus closed
    dock.hide()
    window.restoreDockWidget(dock)  # shown again if it was open when the window last closed
    view_menu, _ = menu_holding(window, "fitAction")
    if view_menu is not None:
        view_menu.addSeparator()
        view_menu.addAction(dock.toggle_action)

    presenter = Presenter(window)
    if view_menu is not None:
        presenter.install(view_menu)
    return exporter, presenter, dock
