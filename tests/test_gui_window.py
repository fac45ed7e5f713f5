"""The real window, offscreen, with the real runner: seed examples, stepping, inspector vs PyTorch, the two-way
line link, Stop on an infinite loop, errors marked in the editor."""

from __future__ import annotations

import re

import pytest
from gui_helpers import private_window
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolButton

from gradviz.gui.examples import list_examples
from gradviz.gui.mainwindow import MainWindow

RUN_TIMEOUT_MS = 20000
SEEDS = ["01_scalar_gradient.py", "02_accumulate_zero.py", "03_vector_sum_backward.py", "04_detach.py",
         "05_control_flow.py"]


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """One window (and one warm worker) shared by this module's run tests; settings in a temporary folder."""
    tmp = tmp_path_factory.mktemp("gui-window")
    w = private_window(tmp)
    assert w.controller.wait_ready(120), "the worker process did not start"
    yield w
    w.editor.document().setModified(False)
    w.close()
    w.controller.shutdown()


def run(qtbot, window: MainWindow, source: str | None = None, example: str | None = None):
    """Load a program (text or bundled example), press Run, and return the trace."""
    if example is not None:
        window.editor.document().setModified(False)
        assert window.open_example(example)
    if source is not None:
        window.set_source(source, None, "test_program.py")
    with qtbot.waitSignal(window.controller.trace_ready, timeout=RUN_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def torch_reference(source: str, monkeypatch) -> list[dict]:
    """Run the program with plain PyTorch in this process; for every backward() note the size of the graph it
    walks (key "#nodes") and, after it, each named leaf's .grad."""
    torch = pytest.importorskip("torch")
    namespace: dict = {"__name__": "__main__"}
    snapshots: list[dict] = []
    original = torch.Tensor.backward

    def graph_size(root) -> int:
        seen, stack = set(), [root]
        while stack:
            fn = stack.pop()
            if fn is not None and fn not in seen:
                seen.add(fn)
                stack.extend(next_fn for next_fn, _ in fn.next_functions)
        return len(seen)

    def backward(self, *args, **kwargs):
        nodes = graph_size(self.grad_fn)
        original(self, *args, **kwargs)
        snapshot = {k: v.grad.detach().clone() for k, v in namespace.items()
                    if isinstance(v, torch.Tensor) and v.is_leaf and v.grad is not None}
        snapshots.append({**snapshot, "#nodes": nodes})

    monkeypatch.setattr(torch.Tensor, "backward", backward)
    monkeypatch.setattr("builtins.print", lambda *a, **k: None)
    exec(compile(source, "<reference>", "exec"), namespace)
    return snapshots


def test_examples_menu_lists_the_bundled_examples_in_lesson_order(window):
    actions = [a for a in window.examples_menu.actions() if a.objectName().startswith("example_")]
    names = [a.objectName() for a in actions]
    assert names == [f"example_{e.name}" for e in list_examples()]
    assert names[:5] == [f"example_{n}" for n in SEEDS]
    assert actions[3].text().startswith("04  ")


def test_object_names_are_stable(window):
    for name in ("editor", "graphView", "stepper", "passSelector", "inspector", "outputPanel", "runButton",
                 "stopButton"):
        widget = window.findChild(object, name)
        assert widget is not None, name
        assert widget.accessibleName() == name


@pytest.mark.parametrize("example", SEEDS)
def test_seed_example_runs_and_inspector_matches_pytorch(window, qtbot, monkeypatch, example):
    trace = run(qtbot, window, example=example)
    assert trace.status == "ok", trace.error
    source = window.editor.toPlainText()
    reference = torch_reference(source, monkeypatch)
    full = [i for i, p in enumerate(trace.passes) if p.detail == "full"]
    assert len(trace.passes) == len(reference) and full
    layouts: list[object] = []
    window.graph_view.layout_ready.connect(layouts.append)
    try:
        for index in full:
            pass_ = trace.passes[index]
            window.stepper.set_pass(index)
            assert set(window.scene.nodes) == {n.id for n in pass_.nodes}  # every node drawn
            assert len([n for n in pass_.nodes if n.kind != "detached"]) == reference[index]["#nodes"]
            leaves = [n for n in pass_.nodes if n.kind == "leaf"]
            assert leaves and all(n.names for n in leaves)
            assert any(n.names for n in pass_.nodes if n.kind != "leaf")  # results carry their variable names
            for n in pass_.nodes:
                assert all(re.search(rf"\b{re.escape(name)}\b", source) for name in n.names), n
            shown_before = len(layouts)
            window.stepper.last()
            assert len(layouts) == shown_before  # stepping restyles, never lays out again
            assert window.stepper.step() == len(pass_.steps) > 0
            for leaf in leaves:
                name = next(nm for nm in leaf.names if nm in reference[index])
                window.select_node(leaf.id)
                assert window.inspector.node_id() == leaf.id
                shown = window.inspector.tensor_views()["grad_after"].summary
                expected = reference[index][name]
                torch = pytest.importorskip("torch")
                assert torch.allclose(torch.tensor(shown.values, dtype=expected.dtype), expected, atol=1e-5), name
            window.select_node(None)
    finally:
        window.graph_view.layout_ready.disconnect(layouts.append)


def test_clicking_a_node_marks_its_source_line(window, qtbot):
    run(qtbot, window, example="04_detach.py")
    pass_ = window.current_pass()
    node = next(n for n in pass_.nodes if n.kind == "function" and "z" in n.names)
    item = window.scene.nodes[node.id]
    window.graph_view.centerOn(item)
    point = window.graph_view.mapFromScene(item.sceneBoundingRect().center())
    with qtbot.waitSignal(window.scene.node_clicked, timeout=2000) as blocker:
        QTest.mouseClick(window.graph_view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         point)
    assert blocker.args == [node.id]
    assert window.editor.highlighted_lines() == (node.line,)
    assert window.editor.line_text(node.line).strip().startswith("z = ")
    assert window.inspector.fields()["type"] == node.type
    window.inspector.line_clicked.emit(node.line)  # the inspector's "line N" link
    assert window.editor.current_line() == node.line


def test_stepping_brings_the_engine_line_into_view(window, qtbot):
    """Following the engine, the lit line is scrolled into the editor's view when it was off screen (a
    1024x640 window shows ~20 lines; example 11's backward runs on line ~29)."""
    size = window.size()
    try:
        window.resize(1024, 640)
        run(qtbot, window, example="11_training_loop.py")
        window.select_node(None)
        window.editor.setFocus()  # where the person typed and pressed Ctrl+Enter
        window.editor.verticalScrollBar().setValue(0)
        window.stepper.set_step(2)
        (line,) = window.editor.highlighted_lines()
        first = window.editor.firstVisibleBlock().blockNumber() + 1
        assert line > 20 and first <= line < first + 20
    finally:
        window.resize(size)


def test_cursor_on_a_loop_line_lights_every_unrolled_node(window, qtbot):
    trace = run(qtbot, window, example="05_control_flow.py")
    pass_ = trace.passes[0]
    counts: dict[int, int] = {}
    for n in pass_.nodes:
        if n.line is not None:
            counts[n.line] = counts.get(n.line, 0) + 1
    loop_line = max(counts, key=counts.get)
    assert counts[loop_line] > 1
    window.editor.go_to_line(1)
    window.editor.go_to_line(loop_line)
    lit = {nid for nid, item in window.scene.nodes.items() if item.highlighted}
    assert lit == {n.id for n in pass_.nodes if n.line == loop_line}
    window.editor.go_to_line(1)
    assert not any(item.highlighted for item in window.scene.nodes.values())


def test_search_box_highlights_nodes_by_name_or_op(window, qtbot):
    run(qtbot, window, example="04_detach.py")
    qtbot.keyClicks(window.search_box, "mulback")
    lit = {nid for nid, item in window.scene.nodes.items() if item.highlighted}
    assert lit == {n.id for n in window.current_pass().nodes if n.type == "MulBackward0"} and len(lit) == 2
    window.search_box.clear()
    assert window.search_count.text() == ""


def test_print_output_streams_to_the_output_panel(window, qtbot):
    trace = run(qtbot, window, source="import torch\nfor i in range(3):\n    print('tick', i)\n"
                                      "x = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\n")
    assert trace.status == "ok"
    assert window.output.output_text().splitlines()[:3] == ["tick 0", "tick 1", "tick 2"]
    assert window.editor.error_line() is None


def test_runtime_error_marks_the_line(window, qtbot):
    trace = run(qtbot, window, source="import torch\nx = torch.ones(2, requires_grad=True)\ny = x.sum()\n"
                                      "z = 1 / 0\ny.backward()\n")
    assert trace.status == "error" and trace.error.type == "ZeroDivisionError"
    assert window.editor.error_line() == 4
    assert "ZeroDivisionError" in window.output.error_text() and 'href="line:4"' in window.output.error_text()


def test_syntax_error_marks_the_line(window, qtbot):
    trace = run(qtbot, window, source="import torch\n\nx = (1,\ny = 2 +\n")
    assert trace.status == "error" and trace.error.type == "SyntaxError"
    assert trace.error.line is not None and window.editor.error_line() == trace.error.line
    assert "SyntaxError" in window.output.error_text()
    assert window.stepper.step_count() == 0


def test_stop_ends_an_infinite_loop_while_the_ui_keeps_running(window, qtbot):
    window.set_source("import torch\nx = torch.ones(2, requires_grad=True)\nprint('looping', flush=True)\n"
                      "while True:\n    x = x * 1\n", None, "loop.py")
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    with qtbot.waitSignal(window.controller.output, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    assert window.controller.is_running() and window.stop_button.isEnabled() and not window.run_button.isEnabled()
    running_ticks = len(ticks)
    qtbot.waitUntil(lambda: len(ticks) >= running_ticks + 5, timeout=5000)  # the event loop is alive
    qtbot.waitUntil(lambda: "line" in window.busy_label.text(), timeout=5000)  # live progress shows the line
    with qtbot.waitSignal(window.controller.trace_ready, timeout=RUN_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    timer.stop()
    assert blocker.args[0].status == "cancelled"
    assert window.editor.error_line() in (4, 5)  # where the loop was when it was stopped
    assert not window.controller.is_running() and window.run_button.isEnabled()
    assert "Stopped" in window.output.error_text()


def test_ctrl_enter_in_the_editor_runs_and_arrow_keys_on_the_graph_step(window, qtbot):
    window.open_example("03_vector_sum_backward.py")
    window.editor.setFocus()
    text = window.editor.toPlainText()
    with qtbot.waitSignal(window.controller.trace_ready, timeout=RUN_TIMEOUT_MS) as blocker:
        qtbot.keyClick(window.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0].status == "ok"
    assert window.editor.toPlainText() == text  # the key ran the program, it did not type a newline
    window.stepper.first()
    qtbot.keyClick(window.graph_view.viewport(), Qt.Key.Key_Right)
    qtbot.keyClick(window.graph_view.viewport(), Qt.Key.Key_Right)
    assert window.stepper.step() == 2
    qtbot.keyClick(window.graph_view.viewport(), Qt.Key.Key_End)
    assert window.stepper.step() == window.stepper.step_count()
    current = window.scene.replay.current(window.stepper.step())
    assert window.inspector.node_id() == current  # with nothing selected the inspector follows the engine


def test_controller_delivers_on_the_gui_thread_and_reports_failures(window, qtbot):
    from PySide6.QtCore import QThread

    threads: list[bool] = []
    failures: list[object] = []
    gui = QThread.currentThread()
    def on_output(_text: str) -> None:
        threads.append(QThread.currentThread() is gui)

    window.controller.output.connect(on_output)
    window.controller.run_failed.connect(failures.append)
    try:
        trace = run(qtbot, window, source="print('before')\nraise ValueError('bad value')\n")
    finally:
        window.controller.output.disconnect(on_output)
        window.controller.run_failed.disconnect(failures.append)
    assert threads and all(threads)
    assert trace.status == "error" and [f.type for f in failures] == ["ValueError"]
    assert window.editor.error_line() == 2


def test_time_limit_stops_a_long_run(window, qtbot):
    window.controller.set_timeout(1.0)
    try:
        trace = run(qtbot, window, source="import time\nwhile True:\n    time.sleep(0.01)\n")
    finally:
        window.controller.set_timeout(window.settings.timeout())
    assert trace.status == "timeout"
    assert "time limit" in window.output.error_text()
    assert window.editor.error_line() == trace.error.line and trace.error.line in (2, 3)


def test_export_graph_writes_the_chosen_format(window, qtbot, tmp_path, monkeypatch):
    run(qtbot, window, example="04_detach.py")
    for name in ("graph.png", "graph.svg"):
        target = tmp_path / name
        monkeypatch.setattr(window, "ask_export_path", lambda t=target: str(t))
        window.export_graph()
        assert target.stat().st_size > 500
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "graph.svg").read_text(encoding="utf-8")
    assert "MulBackward0" in svg
    assert "z.sum().backward()" in svg  # the caption File ▸ Export's pictures have: the same picture


def test_keep_last_pass_in_full_is_a_remembered_run_option(window, qtbot):
    """Run ▸ Keep the Last Pass in Full: off, a 12-pass loop's passes beyond the first ten are summaries,
    the last too; the choice is saved in the settings; on again, the last pass is full."""
    loop = ("import torch\nw = torch.ones(3, requires_grad=True)\nfor i in range(12):\n"
            "    (w * (i + 1)).sum().backward()\n")
    action = window.keep_last_action
    assert action.isChecked() and window.settings.keep_last()
    action.trigger()
    try:
        assert not window.settings.keep_last()
        assert not type(window.settings)(window.settings.file_name()).keep_last()  # on disk, read afresh
        trace = run(qtbot, window, source=loop)
        assert [p.detail for p in trace.passes] == ["full"] * 10 + ["summary"] * 2
        plain: dict = {}
        exec(loop, plain)
        assert trace.passes[-1].leaf_grads[0].after.values == plain["w"].grad.tolist()
    finally:
        action.trigger()
    assert window.settings.keep_last()
    trace = run(qtbot, window, source=loop)
    assert [p.detail for p in trace.passes] == ["full"] * 10 + ["summary", "full"]


def test_the_window_with_the_lessons_dock_fits_a_1024_pixel_screen(window, qtbot):
    """A classroom projector is often 1024 px wide: long step captions and pass headings give up their width
    (elided, whole in the tooltip) instead of pushing the window past the screen."""
    size, caption = window.size(), window.stepper.caption
    before = caption.text()
    try:
        window.resize(1024, 640)
        window.lesson_dock.show()
        qtbot.wait(50)
        assert window.minimumSizeHint().width() <= 1000
        long_text = "step 14401 / 14401 · AccumulateGrad (net.layers.0.self_attn.in_proj_weight)" * 2
        caption.setText(long_text)
        qtbot.wait(50)
        assert window.minimumSizeHint().width() <= 1000 and window.width() <= 1024
        assert caption.text() == caption.toolTip() == long_text and caption.elided()
        assert window.stepper.slider.width() >= 90
    finally:
        caption.setText(before)
        window.lesson_dock.hide()
        window.resize(size)


def test_ctrl_0_in_the_graph_fits_as_the_fit_button_does(window, qtbot):
    """A small graph is magnified by Fit (up to 160 %, for a projector): Ctrl+0 in the graph must agree."""
    run(qtbot, window, example="04_detach.py")
    window.findChild(QToolButton, "zoomFitButton").click()
    fitted = window.graph_view.zoom()
    window.graph_view.set_zoom(0.5)
    window.graph_view.setFocus()
    QTest.keyClick(window.graph_view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.graph_view.zoom() == pytest.approx(fitted) and fitted > 1.0


def test_a_fitted_graph_fits_again_when_the_lessons_dock_opens(window, qtbot):
    """Opening a dock narrows the graph pane: a graph the person left fitted is fitted again (it was cut at
    the pane's edge); one they zoomed is left as they set it."""
    run(qtbot, window, example="04_detach.py")
    window.lesson_dock.hide()
    window.fit_graph()
    qtbot.wait(50)
    wide = window.graph_view.zoom()
    try:
        window.lesson_dock.show()
        qtbot.waitUntil(lambda: window.graph_view.zoom() < wide - 1e-6, timeout=2000)
        port = window.graph_view.viewport().rect()
        shown = window.graph_view.mapFromScene(window.scene.sceneRect()).boundingRect()
        assert port.adjusted(-2, -2, 2, 2).contains(shown)
        window.graph_view.zoom_in()
        zoomed = window.graph_view.zoom()
        window.lesson_dock.hide()
        qtbot.wait(50)
        assert window.graph_view.zoom() == pytest.approx(zoomed)
    finally:
        window.lesson_dock.hide()
