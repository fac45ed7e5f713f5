"""The lesson gallery in the real window with the real runner: every lesson loads its example, runs it, lands
on its pass and step with the gradient plain PyTorch computes, and shows the program's own checks."""

from __future__ import annotations

import pytest
import torch
from gui_helpers import private_window
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QLabel

from gradviz.core.lessons import FAIL, PASS, SHOWN, find_leaf, load_lessons, resolve_target
from gradviz.gui.lessons import LessonPanel
from gradviz.gui.mainwindow import MainWindow
from tests.test_lessons import reference, summary_tensor, target_leaf

RUN_TIMEOUT_MS = 30000
LESSONS = load_lessons()


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """One window (and one warm worker) for the module, settings in a temporary folder, Lessons dock open."""
    tmp = tmp_path_factory.mktemp("gui-lessons")
    w = private_window(tmp, (1440, 900))
    w.lesson_dock.show()
    assert w.controller.wait_ready(120), "the worker process did not start"
    yield w
    w.editor.document().setModified(False)
    w.close()
    w.controller.shutdown()


def open_lesson(qtbot, panel: LessonPanel, index: int) -> None:
    with qtbot.waitSignal(panel.lesson_ready, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda i: i == index) as blocker:
        blocker.connect(panel.lesson_failed)
        assert panel.open_lesson(index)
    assert blocker.signal_triggered and blocker.args == [index], blocker.args


def test_the_dock_is_reachable_from_the_menus(window: MainWindow) -> None:
    action = window.lesson_dock.toggle_action
    view_menu = next(a.menu() for a in window.menuBar().actions()
                     if a.menu() and window.findChild(type(action), "fitAction") in a.menu().actions())
    assert action in view_menu.actions()
    assert action.shortcut().toString() == "Ctrl+L"
    assert window.lesson_dock.objectName() == "lessonsDock"  # saved and restored with the window state


@pytest.mark.parametrize("index", range(len(LESSONS)), ids=[x.id for x in LESSONS])
def test_every_lesson_runs_and_lands_on_its_step_with_the_pytorch_gradient(window: MainWindow, qtbot,
                                                                            index: int) -> None:
    panel = window.lesson_dock.panel
    lesson = LESSONS[index]
    open_lesson(qtbot, panel, index)
    trace = window.trace()
    assert trace is not None and trace.status == "ok", trace
    assert window.editor.toPlainText() == lesson.source()
    assert window.display_name() == lesson.example
    pass_index, step = resolve_target(trace, lesson.target)
    assert (window.stepper.pass_index(), window.stepper.step()) == (pass_index, step) == panel.target()
    pass_ = trace.passes[pass_index]
    assert window.scene.pass_ is pass_ and window.scene.step == step
    name = target_leaf(lesson)
    if name is None:  # before backward: every node still pending, the leaf's .grad still None
        assert step == 0 and {item.state for item in window.scene.nodes.values()} <= {"pending", "detached"}
    else:
        expected = reference(lesson.example)[pass_index][name].to(torch.float32)
        current = pass_.steps[step - 1].node
        assert window.inspector.node_id() == current  # the inspector follows the engine to this step
        views = window.inspector.tensor_views()
        if current == find_leaf(pass_, name):  # backward(): the leaf's AccumulateGrad, .grad before -> after
            shown = views["grad_after"].summary
        else:  # autograd.grad: the node that sends the gradient into the leaf
            slot = next(e.slot for e in pass_.edges if e.src == current and e.dst == find_leaf(pass_, name))
            shown = views[f"grad_in[{slot}]"].summary
        assert torch.allclose(summary_tensor(shown), expected, rtol=1e-5, atol=1e-6), (shown, expected)
    results = panel.results()
    assert [r.check for r in results] == list(lesson.checks)
    for i, r in enumerate(results):
        assert r.status == (PASS if r.check.kind == "assert" else SHOWN), r
        assert r.printed and r.printed.split()[0] in trace.stdout
        row = panel.findChild(QLabel, f"check:{i}")
        assert row is not None and row.property("status") == r.status
        assert r.check.expression in row.text()


def test_lessons_on_the_same_example_reuse_its_run(window: MainWindow, qtbot) -> None:
    panel = window.lesson_dock.panel
    first = next(i for i, x in enumerate(LESSONS) if x.id == "detach")
    assert LESSONS[first + 1].example == LESSONS[first].example
    open_lesson(qtbot, panel, first)
    starts: list[object] = []
    window.controller.started.connect(lambda: starts.append(1))
    with qtbot.waitSignal(panel.lesson_ready, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert starts == [] and panel.current_index() == first + 1
    assert window.stepper.pass_index() == 1  # y.sum().backward(): y's own graph
    with qtbot.waitSignal(panel.lesson_ready, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(panel.prev_button, Qt.MouseButton.LeftButton)
    assert panel.current_index() == first and window.stepper.pass_index() == 0


def test_back_to_the_lessons_step_after_stepping_away(window: MainWindow, qtbot) -> None:
    panel = window.lesson_dock.panel
    index = next(i for i, x in enumerate(LESSONS) if x.id == "detach")
    open_lesson(qtbot, panel, index)
    target = panel.target()
    window.stepper.first()
    assert window.stepper.step() == 0
    qtbot.mouseClick(panel.target_button, Qt.MouseButton.LeftButton)
    assert (window.stepper.pass_index(), window.stepper.step()) == target


def test_an_edited_program_is_checked_again_and_can_fail(window: MainWindow, qtbot) -> None:
    """Without detach() the gradient is 3x², not u: the program prints False and the panel shows a fail."""
    panel = window.lesson_dock.panel
    index = next(i for i, x in enumerate(LESSONS) if x.id == "detach")
    open_lesson(qtbot, panel, index)
    edited = LESSONS[index].source().replace("u = y.detach()", "u = y")
    assert edited != LESSONS[index].source()
    window.editor.setPlainText(edited)
    with qtbot.waitSignal(window.controller.trace_ready, timeout=RUN_TIMEOUT_MS):
        assert window.run_program()
    x = torch.arange(4.0, requires_grad=True)
    y = x * x
    (y * x).sum().backward()
    expected_ok = bool((x.grad == y).all())
    status = {r.check.expression: r.status for r in panel.results()}
    assert status["x.grad == u"] == (PASS if expected_ok else FAIL) == FAIL
    window.editor.document().setModified(False)


def test_a_language_change_resets_the_texts(window: MainWindow) -> None:
    panel, dock = window.lesson_dock.panel, window.lesson_dock
    panel.next_button.setText("")
    dock.setWindowTitle("")
    for widget in (panel, dock):
        QCoreApplication.sendEvent(widget, QEvent(QEvent.Type.LanguageChange))
    assert panel.next_button.text() and panel.run_button.text() and panel.checks_heading.text()
    assert dock.windowTitle()


def test_a_language_change_describes_the_lessons_step_again(window: MainWindow, qtbot) -> None:
    """"Where to look" of a lesson that ran follows the language too (it kept the old language's text)."""
    panel = window.lesson_dock.panel
    open_lesson(qtbot, panel, 0)
    described = panel.target_label.text()
    assert described and "Run this lesson" not in described
    panel.target_label.setText("")
    QCoreApplication.sendEvent(panel, QEvent(QEvent.Type.LanguageChange))
    assert panel.target_label.text() == described
