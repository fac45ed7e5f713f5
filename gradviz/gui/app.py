"""Starting the desktop app: the no-display check, the QApplication with its palette, the main window."""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2

# Qt platforms that draw without a window system, so need no DISPLAY / WAYLAND_DISPLAY.
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs", "vkkhrdisplay")

NO_DISPLAY_MESSAGE = ("gradviz: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset); "
                      "to draw without one use `gradviz render FILE.py -o graph.png` or "
                      "`gradviz shot FILE.py -o window.png`.")


# System libraries Qt's X11 plugin loads (Qt >= 6.5), with the Debian/Ubuntu packages that provide them.
XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1",
                 "xkbcommon-x11": "libxkbcommon-x11-0"}


def display_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                    find_library: Callable[[str], str | None] | None = None) -> str | None:
    """Why the window cannot open here (one line), or None. Only Linux-like systems need DISPLAY/WAYLAND_DISPLAY;
    a Qt platform that draws without a window system (QT_QPA_PLATFORM=offscreen, vnc, ...) needs neither. On X11,
    the libraries Qt's xcb plugin needs must be installed (Qt would otherwise abort with a long message)."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip().lower()
    if qpa in HEADLESS_PLATFORMS:
        return None
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return NO_DISPLAY_MESSAGE
    if qpa == "xcb" or (not qpa and not env.get("WAYLAND_DISPLAY")):
        find = find_library or ctypes.util.find_library
        missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if find(lib) is None]
        if missing:
            return (f"gradviz: Qt cannot open a window on this X11 display without the system libraries of "
                    f"{', '.join(missing)} (install them, e.g. `sudo apt install {' '.join(missing)}`); "
                    "to draw without a window use `gradviz render` or `gradviz shot`.")
    return None


def make_application(argv: list[str] | None = None):  # noqa: ANN201 (QApplication, imported lazily)
    """The QApplication (created once), named so QSettings and QStandardPaths find gradviz's folders."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QApplication.setOrganizationName("gradviz")
        QApplication.setApplicationName("gradviz")
        app = QApplication(argv if argv is not None else [sys.argv[0]])
        app.setStyle("Fusion")
        font = app.font()
        if 0 < font.pointSizeF() < 10:  # readable from the back of a classroom
            font.setPointSizeF(10)
            app.setFont(font)
        from gradviz.gui.i18n import apply_app_font

        apply_app_font(app)  # Chinese (menus, lessons, variable names) in a Simplified Chinese font when installed
    return app


def apply_palette(app, theme: str) -> None:  # noqa: ANN001 (QApplication)
    """Fusion's own palette for "light"; a dark palette for "dark" (so every widget follows the graph's theme)."""
    from PySide6.QtGui import QColor, QPalette

    if theme != "dark":
        app.setPalette(app.style().standardPalette())
        return
    p = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#23262d", QPalette.ColorRole.WindowText: "#e8ebf1",
        QPalette.ColorRole.Base: "#1b1e24", QPalette.ColorRole.AlternateBase: "#2a2e36",
        QPalette.ColorRole.ToolTipBase: "#2a2e36", QPalette.ColorRole.ToolTipText: "#e8ebf1",
        QPalette.ColorRole.Text: "#e8ebf1", QPalette.ColorRole.Button: "#2d313a",
        QPalette.ColorRole.ButtonText: "#e8ebf1", QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#3d6fa8", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#8fbbe6", QPalette.ColorRole.Mid: "#8b93a3", QPalette.ColorRole.Midlight: "#3a3f4a",
        QPalette.ColorRole.PlaceholderText: "#7d8596",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    app.setPalette(p)


def run_app(file: str | None = None) -> int:
    """Open the window (on `file` if given) and run the event loop; exit code 2 with one line if it cannot."""
    problem = display_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    if file is not None and not Path(file).is_file():
        print(f"error: no such file: {file}", file=sys.stderr)
        return EXIT_USAGE
    app = make_application()
    from PySide6.QtCore import QTimer

    from gradviz.gui.i18n import install_language, startup_language
    from gradviz.gui.mainwindow import MainWindow
    from gradviz.gui.settings import Settings

    settings = Settings()
    install_language(startup_language(settings.language()))  # the chosen language, else the system's
    window = MainWindow(settings=settings)
    if file is not None and window.open_file(file):  # asks first only if recovered autosaved text is there
        # Opened from the command line (`gradviz lesson.py`, `make run`): show its graph at once.
        QTimer.singleShot(0, window.run_program)
    window.show()
    return int(app.exec())
