"""The window in two languages: View > Language switches every panel's texts to the Chinese catalogue and back
at runtime, remembers the choice, and `gradviz shot --lang zh_CN` draws the window in Chinese. Expected texts
come from the .ts catalogue, never typed into the test."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from gradviz import cli
from gradviz.core.capture import run_program
from gradviz.gui import i18n
from gradviz.gui.mainwindow import WELCOME, MainWindow
from gradviz.gui.settings import Settings

DETACH = "resources/examples/04_detach.py"


@pytest.fixture(scope="module")
def zh() -> dict[tuple[str, str], str]:
    return {(m.context, m.source): m.translation for m in i18n.read_ts(i18n.ts_path("zh_CN"))}


@pytest.fixture(scope="module")
def detach_trace():
    """The detach example's trace, captured in this (test) process: the window only receives it."""
    with open(DETACH, encoding="utf-8") as f:
        return run_program(f.read(), DETACH)


@pytest.fixture()
def window(qapp, qtbot, tmp_path, detach_trace):
    """A window (no worker) showing the detach example's trace at step 2 with the leaf x selected."""
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    w = MainWindow(settings=Settings(tmp_path / "settings.ini"), autosave_dir=tmp_path / "autosave", warm=False,
                   offer_autosave=False)
    w.resize(1200, 800)
    w.show()
    w.controller.trace_ready.emit(detach_trace)
    qtbot.waitUntil(lambda: w.graph_view.replay() is not None, timeout=10000)
    w.stepper.set_step(2)
    leaf = next(n.id for n in detach_trace.passes[0].nodes if n.kind == "leaf")
    w.select_node(leaf)
    yield w
    i18n.install_language("en")
    w.close()
    w.controller.shutdown()


def menu_titles(window: MainWindow) -> list[str]:
    return [a.text() for a in window.menuBar().actions() if a.menu() is not None]


def visible_texts(window: MainWindow) -> dict[str, str]:
    """Texts a person sees, by where they are (once rebuilt panels have shown their new labels)."""
    QApplication.processEvents()
    stepper, inspector, lessons = window.stepper, window.inspector, window.lesson_dock
    headings = [label.text() for label in inspector.findChildren(QLabel) if label.isVisibleTo(inspector)]
    return {
        "menus": " | ".join(menu_titles(window)),
        "run": window.run_button.text(), "stop": window.stop_button.text(),
        "pass label": stepper.pass_label.text(), "play tip": stepper.play_button.toolTip(),
        "caption": stepper.caption.text(), "search": window.search_box.placeholderText(),
        "status": window.status_label.text(), "inspector": " | ".join(headings),
        "lessons": lessons.windowTitle(), "lessons toggle": lessons.toggle_action.text(),
        "lesson run": lessons.panel.run_button.text(), "export": window.exporter.menu.title(),
        "presentation": window.presenter.toggle_action.text(),
    }


def test_the_language_menu_switches_every_panel_to_chinese_and_back(window: MainWindow, zh) -> None:
    english = visible_texts(window)
    assert window.language_actions["en"].isChecked()
    assert english["menus"].startswith("&File | &Edit | &Run | &View")
    assert "DERIVATIVE RULE" in english["inspector"] and "x" in english["inspector"]

    window.language_actions["zh_CN"].trigger()
    chinese = visible_texts(window)
    assert i18n.current_language() == "zh_CN" and window.settings.language() == "zh_CN"
    assert window.language_actions["zh_CN"].isChecked()
    changed = [k for k in english if english[k] != chinese[k]]
    assert changed == list(english), f"not translated: {set(english) - set(changed)}"
    assert menu_titles(window)[:4] == [zh[("MainWindow", s)] for s in ("&File", "&Edit", "&Run", "&View")]
    assert chinese["run"] == zh[("MainWindow", "Run")] and chinese["stop"] == zh[("MainWindow", "Stop")]
    assert chinese["pass label"] == zh[("Stepper", "Pass")]
    assert chinese["play tip"] == zh[("Stepper", "Play / pause (Space)")]
    node = window.stepper.current_pass().node(window.stepper.current_pass().steps[1].node)
    assert chinese["caption"] == zh[("Stepper", "step {0} / {1} · {2}")].format(
        2, 3, f"{node.type} ({', '.join(node.names)})" if node.names else node.type)
    assert zh[("Inspector", "Derivative rule")] in chinese["inspector"]
    assert zh[("Inspector", "Saved for backward")] not in chinese["inspector"]  # a leaf saves nothing
    assert zh[("Inspector", ".grad  before → after")].upper() in chinese["inspector"]
    assert chinese["lessons"] == zh[("LessonDock", "Lessons")]
    assert chinese["lesson run"] == zh[("LessonPanel", "Run this lesson")]
    assert chinese["export"] == zh[("ExportActions", "E&xport")]
    assert chinese["presentation"] == zh[("Presenter", "&Presentation Mode")]
    assert chinese["status"].startswith(zh[("MainWindow", "Finished")])
    assert window.language_menu.title() == zh[("MainWindow", "&Language")]

    window.language_actions["en"].trigger()
    assert visible_texts(window) == english
    assert window.settings.language() == "en"


def test_languages_are_named_in_their_own_language(window: MainWindow) -> None:
    names = {code: a.text() for code, a in window.language_actions.items()}
    window.set_language("zh_CN")
    assert {code: a.text() for code, a in window.language_actions.items()} == names == i18n.LANGUAGES


def test_a_node_tooltip_and_the_output_banner_follow_the_language(window: MainWindow, zh) -> None:
    leaf = next(item for item in window.scene.nodes.values() if item.leaf)
    english_tip = leaf.toolTip()
    window.output.show_error(None, "timeout")
    english_banner = window.output.error_text()
    window.set_language("zh_CN")
    assert leaf.toolTip().startswith(zh[("GraphScene", "leaf tensor {0}")].format("x")) and leaf.toolTip() != english_tip
    assert zh[("OutputPanel", "Stopped: time limit")] in window.output.error_text() != english_banner


def test_qt_dialog_buttons_are_translated_too(window: MainWindow) -> None:
    window.set_language("zh_CN")
    box = QMessageBox(QMessageBox.Icon.Question, "t", "x", QMessageBox.StandardButton.Save
                      | QMessageBox.StandardButton.Cancel)
    assert box.button(QMessageBox.StandardButton.Cancel).text() not in ("Cancel", "&Cancel")


def test_a_window_opens_in_the_remembered_language(qapp, tmp_path, zh) -> None:
    settings = Settings(tmp_path / "settings.ini")
    settings.set_language("zh_CN")
    try:
        i18n.install_language(i18n.startup_language(settings.language()))  # what run_app does before the window
        w = MainWindow(settings=settings, autosave_dir=tmp_path / "autosave", warm=False, offer_autosave=False)
        assert menu_titles(w)[0] == zh[("MainWindow", "&File")]
        assert w.language_actions["zh_CN"].isChecked()
        assert w.graph_title.text() == zh[("MainWindow", "Run a program to see its autograd graph")]
        hint = next(text for (context, source), text in zh.items() if source.startswith("# Type a small PyTorch"))
        welcome = w.editor.toPlainText()
        assert welcome.startswith(hint + "\nimport torch") and welcome.endswith(WELCOME[WELCOME.index("import torch"):])
        w.close()
    finally:
        i18n.install_language("en")


def test_shot_draws_the_window_in_chinese(qapp, tmp_path, zh, capsys) -> None:
    out = tmp_path / "zh.png"
    assert cli.main(["shot", DETACH, "-o", str(out), "--step", "2", "--size", "900x600", "--lang", "zh_CN"]) == 0
    assert "pass 1, step 2 / 3, run ok" in capsys.readouterr().out
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 600)
    assert i18n.current_language() == "en"  # the shot put the caller's language back

    from gradviz.shot import take_shot

    result = take_shot(DETACH, tmp_path / "zh2.png", step=2, size=(900, 600), language="zh_CN")
    assert result.menus[:3] == tuple(zh[("MainWindow", s)] for s in ("&File", "&Edit", "&Run"))
    english = take_shot(DETACH, tmp_path / "en.png", step=2, size=(900, 600), language="en")
    assert english.menus[:3] == ("&File", "&Edit", "&Run")
    assert QImage(str(tmp_path / "zh2.png")) != QImage(str(tmp_path / "en.png"))
