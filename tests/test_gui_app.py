"""The app around the window: settings, files, unsaved-changes prompt, autosave, no-display start, the CLI
entry points (`gradviz`, `gradviz FILE.py`, `gradviz shot`) and the no-torch-in-the-GUI rule."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QSettings, QStandardPaths, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from gradviz import cli
from gradviz.gui import app as gui_app
from gradviz.gui.app import NO_DISPLAY_MESSAGE, display_problem
from gradviz.gui.mainwindow import MainWindow
from gradviz.gui.settings import MAX_RECENT, Settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_qt_paths(tmp_path):
    """Nothing here may touch the real user's settings or app data."""
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


def make_window(qtbot, tmp_path: Path, **kwargs) -> MainWindow:
    kwargs.setdefault("offer_autosave", False)
    w = MainWindow(settings=Settings(tmp_path / "settings.ini"), autosave_dir=tmp_path / "autosave", warm=False,
                   **kwargs)
    qtbot.addWidget(w)
    # pytest-qt closes the window after the test, maybe after monkeypatch has been undone: never a real dialog.
    w.ask_unsaved_changes = lambda: "discard"
    return w


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), **extra)
    return env


# ---------------------------------------------------------------------------------------------- settings


def test_settings_round_trip_in_a_private_file(tmp_path):
    path = tmp_path / "s.ini"
    s = Settings(path)
    assert (s.theme(), s.zoom_mode(), s.timeout(), s.recent_files()) == ("light", "fit", 30.0, [])
    s.set_theme("dark")
    s.set_zoom_mode("keep")
    s.set_timeout(12.5)
    for i in range(MAX_RECENT + 3):
        s.add_recent_file(tmp_path / f"p{i}.py")
    s.add_recent_file(tmp_path / "p5.py")
    s.sync()
    again = Settings(path)
    assert (again.theme(), again.zoom_mode(), again.timeout()) == ("dark", "keep", 12.5)
    recent = again.recent_files()
    assert len(recent) == MAX_RECENT and recent[0] == str((tmp_path / "p5.py").resolve())
    assert len(set(recent)) == len(recent)
    with pytest.raises(ValueError):
        s.set_theme("neon")
    assert Path(again.file_name()) == path


def test_window_geometry_theme_and_recent_files_persist(qtbot, tmp_path):
    program = tmp_path / "prog.py"
    program.write_text("import torch\n", encoding="utf-8")
    w = make_window(qtbot, tmp_path)
    w.resize(640, 470)  # within the offscreen screen, which restoreGeometry clamps to
    w.apply_theme("dark")
    assert w.open_file(program)
    w.close()
    s = Settings(tmp_path / "settings.ini")
    assert s.theme() == "dark" and s.recent_files() == [str(program.resolve())]
    w2 = make_window(qtbot, tmp_path)
    assert w2.theme_name() == "dark" and w2.theme_actions["dark"].isChecked()
    assert (w2.width(), w2.height()) == (640, 470)
    assert [a.text() for a in w2.recent_menu.actions()][0] == str(program.resolve())
    w2.apply_theme("light")


# ---------------------------------------------------------------------------------------------- files


def test_open_save_as_and_title(qtbot, tmp_path, monkeypatch):
    w = make_window(qtbot, tmp_path)
    src = tmp_path / "a.py"
    src.write_text("x = 1\n", encoding="utf-8")
    monkeypatch.setattr(w, "ask_open_path", lambda: str(src))
    assert w.open_dialog()
    assert w.editor.toPlainText() == "x = 1\n" and w.current_path() == src.resolve()
    assert w.windowTitle().startswith("a.py") and not w.isWindowModified()
    w.editor.appendPlainText("y = 2")
    assert w.isWindowModified()
    target = tmp_path / "b.py"
    monkeypatch.setattr(w, "ask_save_path", lambda: str(target))
    assert w.save_as()
    assert target.read_text(encoding="utf-8") == "x = 1\n\ny = 2" and not w.isWindowModified()
    assert w.current_path() == target.resolve()


def test_examples_open_as_unsaved_copies(qtbot, tmp_path, monkeypatch):
    w = make_window(qtbot, tmp_path)
    assert w.open_example("04_detach")
    assert w.current_path() is None and w.display_name() == "04_detach.py"
    assert "u = y.detach()" in w.editor.toPlainText()
    saved: list[str] = []
    monkeypatch.setattr(w, "ask_save_path", lambda: saved.append("asked") or None)
    assert not w.save()  # no path yet: Save asks where (and the person cancelled)
    assert saved == ["asked"]


def test_dropping_a_python_file_on_the_editor_opens_it(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    w.editor.document().setModified(False)
    path = tmp_path / "dropped.py"
    path.write_text("z = 3\n", encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    w.editor.dropEvent(QDropEvent(QPoint(5, 5).toPointF(), Qt.DropAction.CopyAction, mime,
                                  Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert w.editor.toPlainText() == "z = 3\n" and w.display_name() == "dropped.py"


@pytest.mark.parametrize("answer, closes", [("cancel", False), ("discard", True), ("save", True)])
def test_unsaved_changes_prompt_on_close(qtbot, tmp_path, monkeypatch, answer, closes):
    w = make_window(qtbot, tmp_path)
    w.show()
    target = tmp_path / "kept.py"
    asked: list[str] = []
    monkeypatch.setattr(w, "ask_unsaved_changes", lambda: asked.append("asked") or answer)
    monkeypatch.setattr(w, "ask_save_path", lambda: str(target))
    w.editor.setPlainText("print('typed')\n")
    w.editor.document().setModified(True)
    w.close()
    assert asked == ["asked"]
    assert w.isVisible() is not closes
    assert target.exists() is (answer == "save")
    if not closes:
        w.editor.document().setModified(False)
        w.close()


def test_opening_another_file_asks_about_unsaved_edits(qtbot, tmp_path, monkeypatch):
    w = make_window(qtbot, tmp_path)
    w.editor.setPlainText("edited = True\n")
    w.editor.document().setModified(True)
    monkeypatch.setattr(w, "ask_unsaved_changes", lambda: "cancel")
    assert not w.open_example("01_scalar_gradient")
    assert w.editor.toPlainText() == "edited = True\n"


# ---------------------------------------------------------------------------------------------- autosave


def test_autosave_after_edits_and_offer_back_on_next_start(qtbot, tmp_path, monkeypatch):
    w = make_window(qtbot, tmp_path)
    w._autosave_timer.setInterval(30)
    text_path, _ = w.autosave_paths()
    w.editor.selectAll()
    w.editor.insertPlainText("w = 'never saved'\n")
    qtbot.waitUntil(text_path.exists, timeout=3000)
    assert text_path.read_text(encoding="utf-8") == "w = 'never saved'\n"
    w.editor.document().setModified(False)  # the session "crashes": nothing cleans up the autosave
    w.hide()
    offered: list[str] = []
    monkeypatch.setattr(MainWindow, "ask_restore_autosave", lambda self, name, when: offered.append(name) or True)
    w2 = make_window(qtbot, tmp_path, offer_autosave=True)
    assert offered == ["untitled.py"]
    assert w2.editor.toPlainText() == "w = 'never saved'\n" and w2.is_modified()
    monkeypatch.setattr(w2, "ask_unsaved_changes", lambda: "discard")
    w2.close()
    assert not text_path.exists()  # a clean close removes it


def test_declining_the_autosave_deletes_it(qtbot, tmp_path, monkeypatch):
    w = make_window(qtbot, tmp_path)
    w.editor.setPlainText("lost = 1\n")
    w.editor.document().setModified(True)
    w.write_autosave()
    text_path, meta_path = w.autosave_paths()
    assert text_path.exists() and meta_path.exists()
    monkeypatch.setattr(MainWindow, "ask_restore_autosave", lambda self, name, when: False)
    w2 = make_window(qtbot, tmp_path, offer_autosave=True)
    assert "lost" not in w2.editor.toPlainText() and not text_path.exists()


# ---------------------------------------------------------------------------------------------- starting


def test_display_problem_rules():
    def everything(_name):
        return "found"

    def no_cursor(name):
        return None if name == "xcb-cursor" else "found"

    assert display_problem({}, "linux") == NO_DISPLAY_MESSAGE
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") == NO_DISPLAY_MESSAGE
    assert display_problem({"DISPLAY": ":0"}, "linux", everything) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", no_cursor) is None
    x11 = display_problem({"DISPLAY": ":0"}, "linux", no_cursor)
    assert x11 is not None and "libxcb-cursor0" in x11 and "\n" not in x11
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "darwin") is None and display_problem({}, "win32") is None
    assert "\n" not in NO_DISPLAY_MESSAGE and "gradviz shot" in NO_DISPLAY_MESSAGE


def test_cli_without_a_display_says_so_in_one_line_and_exits_2():
    for args in ([], ["resources/examples/01_scalar_gradient.py"]):
        proc = subprocess.run([sys.executable, "-m", "gradviz.cli", *args], cwd=REPO, env=_subprocess_env(),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == NO_DISPLAY_MESSAGE
        assert proc.stdout == ""


def test_cli_dispatches_app_and_keeps_subcommands(monkeypatch, tmp_path, capsys):
    opened: list[str | None] = []
    monkeypatch.setattr(gui_app, "run_app", lambda file=None: opened.append(file) or 0)
    program = tmp_path / "p.py"
    program.write_text("x = 1\n", encoding="utf-8")
    assert cli.main([]) == 0
    assert cli.main([str(program)]) == 0
    assert cli.main(["missing.py"]) == 0  # still the app: it reports the missing file itself
    assert opened == [None, str(program), "missing.py"]
    assert cli.main([str(program), "extra"]) == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["trace", "--help"])
    assert e.value.code == 0
    assert "usage: gradviz trace" in capsys.readouterr().out
    assert cli.main(["shot", str(program), "-o", str(tmp_path / "x.png"), "--size", "big"]) == 2


def test_run_app_reports_a_missing_file_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert gui_app.run_app("no/such/program.py") == 2
    assert capsys.readouterr().err.strip() == "error: no such file: no/such/program.py"


def test_gui_process_never_imports_torch(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QEventLoop, QTimer
        from gradviz.gui.app import make_application
        from gradviz.gui.mainwindow import MainWindow
        from gradviz.gui.settings import Settings
        app = make_application()
        w = MainWindow(settings=Settings({str(tmp_path / 's.ini')!r}), autosave_dir={str(tmp_path / 'a')!r},
                       offer_autosave=False)
        w.show()
        w.open_example("01_scalar_gradient")
        loop = QEventLoop()
        got = []
        w.controller.trace_ready.connect(lambda t: (got.append(t), loop.quit()))
        QTimer.singleShot(60000, loop.quit)
        w.run_program()
        loop.exec()
        w.stepper.last()
        w.controller.shutdown()
        print(got[0].status if got else "no trace", len(got[0].passes) if got else 0, "torch" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=_subprocess_env(QT_QPA_PLATFORM="offscreen"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ok", "1", "False"]


def test_shot_writes_a_window_picture(tmp_path):
    out = tmp_path / "window.png"
    proc = subprocess.run([sys.executable, "-m", "gradviz.cli", "shot", "resources/examples/04_detach.py", "-o",
                           str(out), "--step", "2", "--size", "900x600", "--select", "x"], cwd=REPO,
                          env=_subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "pass 1, step 2 / 3, run ok" in proc.stdout
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 600)
    assert len({image.pixel(x, y) for x in range(0, 900, 30) for y in range(0, 600, 30)}) > 8  # not blank


def test_qt_bindings_count_references_to_none_and_bools(qapp):
    """PySide6 6.12.0 under Python 3.11 freed None/True/False after a few thousand calls (see pyproject.toml)."""
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QToolButton

    class Emitter(QObject):
        flag = Signal(bool)

    button, emitter = QToolButton(), Emitter()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(500):
        button.setEnabled(True)
        emitter.flag.emit(True)
    assert sys.getrefcount(None) - none_before > -50
    assert sys.getrefcount(True) - true_before > -50


def test_shot_waits_for_a_background_layout(qapp, tmp_path, monkeypatch):
    """Passes of more than a few dozen nodes are laid out off the GUI thread: the shot must show the graph,
    not the "Laying out…" notice."""
    from gradviz import shot
    from gradviz.gui.mainwindow import BACKGROUND_LAYOUT_NODES, MainWindow

    program = tmp_path / "chain.py"
    program.write_text("import torch\nx = torch.ones(3, requires_grad=True)\ny = x\n"
                       f"for _ in range({BACKGROUND_LAYOUT_NODES + 10}):\n    y = y * 1.01\n"
                       "y.sum().backward()\n", encoding="utf-8")
    seen: list[tuple[bool, int]] = []
    grab = MainWindow.grab

    def grab_and_look(self, *args):
        view = self.graph_view
        seen.append((view.is_busy(), len(view.graph.nodes)))
        return grab(self, *args)

    monkeypatch.setattr(MainWindow, "grab", grab_and_look)
    result = shot.take_shot(program, tmp_path / "chain.png", step=5, size=(900, 600))
    assert result.status == "ok" and result.steps > BACKGROUND_LAYOUT_NODES
    [(busy, drawn)] = seen
    assert not busy and drawn > BACKGROUND_LAYOUT_NODES
