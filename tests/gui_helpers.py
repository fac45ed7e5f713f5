"""Shared set-up for the window tests: a main window whose settings, autosave and Qt paths are private."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QStandardPaths

from gradviz.gui.mainwindow import MainWindow
from gradviz.gui.settings import Settings


def private_window(tmp: Path, size: tuple[int, int] = (1400, 900), **kwargs: Any) -> MainWindow:
    """A shown main window that never touches the real user's settings or app data (all under `tmp`)."""
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "qsettings"))
    kwargs.setdefault("offer_autosave", False)
    window = MainWindow(settings=Settings(tmp / "settings.ini"), autosave_dir=tmp / "autosave", **kwargs)
    window.resize(*size)
    window.show()
    return window
