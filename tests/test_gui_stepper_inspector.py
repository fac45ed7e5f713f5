"""Stepper (hand-made pass) and inspector (a real captured pass, checked against plain PyTorch)."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from gradviz.core.replay import Replay
from gradviz.core.trace import Edge, LeafGrad, Node, Pass, Step, TensorSummary, Trace
from gradviz.gui.derivatives import known_ops, rule_for
from gradviz.gui.inspector import Inspector, TensorView, tensor_mode
from gradviz.gui.stepper import Stepper, pass_title, step_caption


def _scalar(v: float) -> TensorSummary:
    return TensorSummary((), "float32", v, {"min": v, "max": v, "mean": v, "norm": abs(v), "nan": 0, "inf": 0})


def _hand_pass(line: int = 5) -> Pass:
    """y = a * b; y.backward(): MulBackward0 then two AccumulateGrads."""
    nodes = (Node("m", "MulBackward0", "function", ("y",), line, "y = a * b"),
             Node("la", "AccumulateGrad", "leaf", ("a",), 2, tensor=_scalar(2.0)),
             Node("lb", "AccumulateGrad", "leaf", ("b",), 3, tensor=_scalar(3.0)))
    edges = (Edge("m", "la", 0), Edge("m", "lb", 1))
    steps = (Step("m", (_scalar(1.0),), (_scalar(3.0), _scalar(2.0))),
             Step("la", (_scalar(3.0),), ()), Step("lb", (_scalar(2.0),), ()))
    leaf = (LeafGrad("la", "a", None, _scalar(3.0)), LeafGrad("lb", "b", None, _scalar(2.0)))
    return Pass("backward", line + 1, nodes=nodes, edges=edges, steps=steps, leaf_grads=leaf, roots=("m",))


@pytest.fixture
def stepper(qtbot):
    s = Stepper()
    qtbot.addWidget(s)
    s.show()
    return s


def test_stepper_lists_passes_and_steps_through(stepper, qtbot):
    trace = Trace(passes=(_hand_pass(5), _hand_pass(9)))
    passes: list[int] = []
    steps: list[int] = []
    stepper.pass_changed.connect(passes.append)
    stepper.step_changed.connect(steps.append)
    stepper.set_trace(trace)
    assert stepper.pass_selector.count() == 2
    assert stepper.pass_selector.itemText(1) == "2. backward() · line 10"
    assert passes == [0] and stepper.step() == 0 and stepper.step_count() == 3
    stepper.next()
    stepper.next()
    assert stepper.step() == 2 and stepper.slider.value() == 2
    assert "AccumulateGrad (a)" in stepper.caption.text()
    stepper.last()
    stepper.next()  # clamped at the end
    assert stepper.step() == 3 and not stepper.next_button.isEnabled()
    stepper.first()
    assert stepper.step() == 0 and not stepper.prev_button.isEnabled()
    stepper.slider.setValue(1)
    assert stepper.step() == 1
    stepper.pass_selector.setCurrentIndex(1)
    assert passes == [0, 1] and stepper.step() == 0
    assert steps == [0, 1, 2, 3, 0, 1, 0]


def test_stepper_keys(stepper, qtbot):
    stepper.set_trace(Trace(passes=(_hand_pass(),)))
    stepper.setFocus()
    qtbot.keyClick(stepper, Qt.Key.Key_End)
    assert stepper.step() == 3
    qtbot.keyClick(stepper, Qt.Key.Key_Left)
    assert stepper.step() == 2
    qtbot.keyClick(stepper, Qt.Key.Key_Home)
    assert stepper.step() == 0
    qtbot.keyClick(stepper, Qt.Key.Key_Right)
    assert stepper.step() == 1
    qtbot.keyClick(stepper, Qt.Key.Key_Space)
    assert stepper.is_playing()
    qtbot.keyClick(stepper, Qt.Key.Key_Space)
    assert not stepper.is_playing()


def test_stepper_plays_to_the_end_and_stops(stepper, qtbot):
    stepper.set_trace(Trace(passes=(_hand_pass(),)))
    stepper.set_speed(8.0)
    assert stepper.interval_ms() == 100
    with qtbot.waitSignal(stepper.playing_changed, timeout=5000) as blocker:
        stepper.play()
    assert blocker.args == [True]
    with qtbot.waitSignal(stepper.playing_changed, timeout=5000) as blocker:
        pass
    assert blocker.args == [False] and stepper.step() == 3


def test_stepper_without_passes_is_disabled(stepper):
    stepper.set_trace(Trace())
    assert stepper.step_count() == 0 and not stepper.play_button.isEnabled()
    assert stepper.caption.text() == "no backward pass yet"


def test_pass_title_and_caption_for_summary_passes():
    summary = Pass("backward", 12, detail="summary")
    assert pass_title(3, summary) == "4. backward() · line 12 · summary"
    assert step_caption(summary, 0) == "summary only: graph not kept"


def test_tensor_modes_and_nonfinite_highlight(qtbot):
    small = TensorSummary((3,), "float32", [1.0, math.nan, 2.5], {"nan": 1, "inf": 0})
    table = TensorSummary((3, 4), "float32", [[float(i * 4 + j) for j in range(4)] for i in range(3)], {})
    big = TensorSummary((20, 30), "float32", [[float(i - j) for j in range(30)] for i in range(20)],
                        {"min": -29.0, "max": 19.0, "mean": -5.0, "norm": 200.0, "nan": 0, "inf": 2})
    unkept = TensorSummary((100, 100), "float32", None, {"min": 0.0, "max": 1.0, "mean": 0.5, "norm": 3.0})
    assert [tensor_mode(t) for t in (small, table, big, unkept)] == ["inline", "table", "heatmap", "stats"]
    views = [TensorView(t) for t in (small, table, big, unkept)]
    for v in views:
        qtbot.addWidget(v)
    assert views[0].display_text() == "[1., nan, 2.5]" and views[0].has_nonfinite()
    assert views[1].display_text().split() == [f"{float(i)}".rstrip("0") for i in range(12)]
    assert "min -29." in views[2].display_text() and "inf: 2" in views[2].display_text()
    assert views[2].findChild(QLabel, "tensorHeatmap").pixmap().width() > 30
    assert views[3].display_text().startswith("min 0")


def test_a_wide_one_row_table_keeps_its_row_above_the_scroll_bar(qtbot):
    """A (21,) vector in a narrow inspector: the horizontal scroll bar gets room of its own under the row."""
    from PySide6.QtWidgets import QTableWidget

    view = TensorView(TensorSummary((21,), "float32", [i / 21 for i in range(21)], {}))
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    qtbot.wait(20)
    table = view.findChild(QTableWidget, "tensorTable")
    assert table is not None and table.horizontalScrollBar().isVisible()
    row_bottom = table.horizontalHeader().height() + table.rowHeight(0)
    assert table.viewport().height() >= table.rowHeight(0) and table.height() >= row_bottom + (
        table.horizontalScrollBar().height())


def test_inspector_headings_and_names_follow_the_text_size(qtbot):
    """Presentation mode's larger text reaches the section headings and the variable's name too."""
    replay = Replay(_hand_pass())
    inspector = Inspector()
    qtbot.addWidget(inspector)

    def sizes() -> set[str]:
        inspector.show_node(replay, "m", 1)
        return {m for label in inspector.findChildren(QLabel) if not label.isHidden()
                for m in re.findall(r"font-size: ?([0-9.]+)pt", label.styleSheet() + label.text())}

    body = inspector.widget()  # the widget presentation mode gives its larger font
    small = sizes()
    font = body.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    body.setFont(font)
    large = sizes()
    assert small and large and min(map(float, large)) >= 1.8 * min(map(float, small))


def test_long_dotted_names_wrap_instead_of_widening_the_inspector(qtbot):
    """A 200-layer model's module paths and parameter names are single long words: the inspector must not
    grow wider than its panel for them."""
    long_module = "net.layers.150.self_attn.out_proj"
    long_leaf = "net.layers.150.self_attn.in_proj_weight"
    p = _hand_pass()
    nodes = (dataclasses.replace(p.nodes[0], module=long_module, names=("hidden_states_after_attention",)),
             dataclasses.replace(p.nodes[1], names=(long_leaf,)), p.nodes[2])
    p = dataclasses.replace(p, nodes=nodes, leaf_grads=(LeafGrad("la", long_leaf, None, _scalar(3.0)),
                                                         p.leaf_grads[1]))
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.resize(260, 600)
    inspector.show()
    inspector.show_node(Replay(p), "m", 1)
    assert inspector.fields()["module"] == long_module
    qtbot.wait(20)
    assert inspector.widget().minimumSizeHint().width() <= 240


def test_big_step_numbers_read_as_the_big_graph_locator_writes_them():
    """14,401 steps: the stepper writes "step 3,600 / 14,401", as the folded view's locator line does."""
    p = _hand_pass()
    big = dataclasses.replace(p, steps=p.steps * 4801)
    assert step_caption(big, 3600).startswith("step 3,600 / 14,403 · ")
    assert step_caption(big, 0).startswith("step 0 / 14,403")


def test_inspector_on_hand_pass_follows_the_step(qtbot):
    pass_ = _hand_pass()
    replay = Replay(pass_)
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.show_node(replay, "la", 0)
    assert inspector.fields()["state"] == "pending"
    assert set(inspector.tensor_views()) == {"tensor"}  # .grad before this pass is None: written, not drawn
    inspector.set_step(2)
    assert inspector.fields()["state"] == "current"
    assert inspector.tensor_views()["grad_after"].summary.values == 3.0
    inspector.show_node(replay, "m", 1)
    fields = inspector.fields()
    assert fields["type"] == "MulBackward0" and fields["names"] == "y" and fields["line"] == "5"
    assert fields["rule"] == rule_for("MulBackward0")
    views = inspector.tensor_views()
    assert views["grad_out[0]"].summary.values == 1.0
    assert (views["grad_in[0]"].summary.values, views["grad_in[1]"].summary.values) == (3.0, 2.0)
    with qtbot.waitSignal(inspector.line_clicked) as blocker:
        inspector._on_link("line:5")
    assert blocker.args == [5]
    inspector.show_node(None, None, 0)
    assert inspector.node_id() is None and inspector.tensor_views() == {}


PROGRAM = """import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
w = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], requires_grad=True)
h = torch.tanh(w @ x)
loss = (h * h).sum()
loss.backward()
"""


def test_inspector_shows_the_gradients_pytorch_computes(qtbot):
    torch = pytest.importorskip("torch")
    from gradviz.core.capture import run_program

    trace = run_program(PROGRAM, "<test>")
    assert trace.status == "ok", trace.error
    pass_ = trace.passes[0]
    replay = Replay(pass_)
    inspector = Inspector()
    qtbot.addWidget(inspector)

    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], requires_grad=True)
    h = torch.tanh(w @ x)
    h.retain_grad()
    (h * h).sum().backward()

    expected = {"x": x.grad, "w": w.grad}
    for node in pass_.nodes:
        if node.kind != "leaf":
            continue
        name = node.names[0]
        inspector.show_node(replay, node.id, replay.total)
        shown = inspector.tensor_views()["grad_after"].summary
        assert torch.allclose(torch.tensor(shown.values), expected[name], atol=1e-6), name
    tanh = next(n for n in pass_.nodes if n.type == "TanhBackward0")
    inspector.show_node(replay, tanh.id, replay.total)
    arriving = inspector.tensor_views()["grad_out[0]"].summary
    assert torch.allclose(torch.tensor(arriving.values), h.grad, atol=1e-6)
    assert inspector.fields()["line"] == "4"


def test_every_required_op_has_a_rule():
    torch = pytest.importorskip("torch")
    a = torch.rand(2, 3, requires_grad=True)
    b = torch.rand(2, 3, requires_grad=True)
    v = torch.rand(3, requires_grad=True)
    m = torch.rand(3, 2, requires_grad=True)
    produced = [a + b, a - b, a * b, a / b, a ** 2, a ** b, v.dot(v), a.sum(), a.mean(), a @ m, a.mm(m),
                torch.addmm(v[:2], a, m), a.exp(), a.log(), a.tanh(), a.sigmoid(), a.relu(), a.t(), a.view(6),
                v.expand(2, 3), -a, a.sum(dim=0), a.mean(dim=1)]
    for t in produced:
        name = type(t.grad_fn).__name__
        assert rule_for(name), name
    leaf_acc = (a * 2).grad_fn.next_functions[0][0]
    assert rule_for(type(leaf_acc).__name__)
    assert rule_for("MulBackward0") == "grad_self = grad · other,  grad_other = grad · self"
    assert rule_for("NoSuchBackward0") is None
    assert "AccumulateGrad" in known_ops()
