"""The inspector while stepping: with a node selected, each step shows that node's gradients as PyTorch
computes them, updating its rows in place (the node's own rows are the same widgets at every step); following
the engine, rows are reused from node to node; a tensor view takes another tensor of its kind in place; the
step slider's ticks are thinned on long passes."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from gradviz.core.capture import run_program
from gradviz.core.replay import Replay
from gradviz.core.trace import Pass, TensorSummary, Trace
from gradviz.gui.inspector import TensorView, fmt_number
from gradviz.gui.mainwindow import MainWindow
from gradviz.gui.settings import Settings
from gradviz.gui.stepper import TICK_MIN_PX, tick_interval

torch = pytest.importorskip("torch")

PROGRAM = """import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
w = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], requires_grad=True)
z = w @ x
h = torch.tanh(z)
loss = (h * h).sum()
loss.backward()
"""
NODE_ROWS = ("nodeType", "nodeNames", "nodeLine", "heading:rule", "nodeRule")


@pytest.fixture(scope="module")
def captured() -> Pass:
    trace = run_program(PROGRAM, "steps.py")
    assert trace.status == "ok", trace.error
    return trace.passes[0]


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    """The same program in plain PyTorch: the gradient of the loss w.r.t. z and h, and w's .grad."""
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], requires_grad=True)
    z = w @ x
    h = torch.tanh(z)
    z.retain_grad()
    h.retain_grad()
    (h * h).sum().backward()
    return {"z": z.grad, "h": h.grad, "w": w.grad}


@pytest.fixture
def window(qtbot, tmp_path, captured: Pass):  # type: ignore[no-untyped-def]
    w = MainWindow(settings=Settings(tmp_path / "s.ini"), autosave_dir=tmp_path / "a", warm=False,
                   offer_autosave=False)
    qtbot.addWidget(w)
    w.set_source(PROGRAM, None, "steps.py")
    w.show()
    with qtbot.waitSignal(w.graph_view.layout_ready, timeout=60000):
        w.stepper.set_trace(Trace(passes=(captured,)))
    w.editor.document().setModified(False)
    return w


def _shown_text(view: TensorView) -> str:
    """The numbers the view's label shows (inline values)."""
    label = view.findChild(QLabel, "tensorValues")
    assert label is not None
    return label.text()


def _close(summary: TensorSummary, tensor: torch.Tensor) -> bool:
    return torch.allclose(torch.tensor(summary.values), tensor, atol=1e-6)


def test_a_selected_node_shows_pytorchs_gradients_at_every_step_with_the_same_widgets(
        window: MainWindow, captured: Pass, expected: dict[str, torch.Tensor]) -> None:
    tanh = next(n for n in captured.nodes if n.type == "TanhBackward0")
    replay = Replay(captured)
    ran = replay.step_of(tanh.id)
    assert ran is not None and 0 < ran < replay.total  # pending, then current, then done
    window.select_node(tanh.id)
    inspector = window.inspector
    assert inspector.node_id() == tanh.id
    node_rows = {key: inspector.row_widgets()[key] for key in NODE_ROWS}
    previous: dict[str, object] | None = None
    for k in range(replay.total + 1):
        window.stepper.set_step(k)
        rows = inspector.row_widgets()
        assert all(rows[key] is widget for key, widget in node_rows.items()), k  # never rebuilt
        state = inspector.fields()["state"]
        assert state == ("pending" if k < ran else "current" if k == ran else "done")
        heading = rows["heading:step"]
        assert isinstance(heading, QLabel) and heading.text() == f"AT STEP {k} / {replay.total}"
        views = inspector.tensor_views()
        if k < ran:
            assert "grad_out[0]" not in views and "grad_in[0]" not in views
            continue
        arriving, sent = views["grad_out[0]"], views["grad_in[0]"]
        record = captured.steps[ran - 1]
        assert arriving.summary == record.grad_outputs[0] and sent.summary == record.grad_inputs[0]
        assert _close(arriving.summary, expected["h"]) and _close(sent.summary, expected["z"])  # dL/dh, dL/dz
        assert _shown_text(arriving) == fmt_number(expected["h"].tolist())
        assert _shown_text(sent) == fmt_number(expected["z"].tolist())
        if previous is not None:  # current -> done, done -> done: the same widgets, updated in place
            assert all(rows[key] is widget for key, widget in previous.items() if key != "nodeState")
            assert set(rows) == set(previous)
        previous = dict(rows)


def test_a_selected_leaf_shows_its_grad_accumulating(window: MainWindow, captured: Pass,
                                                     expected: dict[str, torch.Tensor]) -> None:
    leaf = next(n for n in captured.nodes if n.kind == "leaf" and n.names == ("w",))
    replay = Replay(captured)
    ran = replay.step_of(leaf.id)
    assert ran is not None
    window.select_node(leaf.id)
    inspector = window.inspector
    value = inspector.tensor_views()["tensor"]
    for k in (0, ran - 1, ran, replay.total, ran - 1):
        window.stepper.set_step(k)
        views, rows = inspector.tensor_views(), inspector.row_widgets()
        assert views["tensor"] is value  # the leaf's value is drawn once
        assert "none:grad_before" in rows  # .grad was None before this pass
        if k < ran:
            assert "grad_after" not in views and "gradAfterPending" in rows
        else:
            assert "gradAfterPending" not in rows
            assert torch.allclose(torch.tensor(views["grad_after"].summary.values), expected["w"], atol=1e-6)


def test_following_the_engine_reuses_rows_from_node_to_node(window: MainWindow, captured: Pass) -> None:
    inspector = window.inspector
    window.stepper.set_step(1)
    title = inspector.row_widgets()["nodeType"]
    for k in range(1, len(captured.steps) + 1):
        window.stepper.set_step(k)
        node = captured.node(captured.steps[k - 1].node)
        assert inspector.node_id() == node.id and inspector.fields()["type"] == node.type
        assert inspector.fields()["state"] == "current"
        assert inspector.row_widgets()["nodeType"] is title and isinstance(title, QLabel)
        assert title.text() == node.type
        for i, g in enumerate(captured.steps[k - 1].grad_outputs):
            if g is not None:
                assert inspector.tensor_views()[f"grad_out[{i}]"].summary == g


def test_a_tensor_view_takes_another_tensor_of_its_kind_in_place(qtbot) -> None:  # type: ignore[no-untyped-def]
    def summary(shape: tuple[int, ...], values: list) -> TensorSummary:  # type: ignore[type-arg]
        flat = torch.tensor(values).flatten()
        return TensorSummary(shape, "float32", values, {"min": float(flat.min()), "max": float(flat.max()),
                                                        "mean": float(flat.mean()), "norm": float(flat.norm())})

    inline = TensorView(summary((2,), [1.0, 2.0]))
    qtbot.addWidget(inline)
    assert inline.show_summary(summary((3,), [4.0, 5.0, 6.0]))
    assert inline.display_text() == "[4., 5., 6.]" and _shown_text(inline) == "[4., 5., 6.]"
    table = TensorView(summary((2, 2), [[1.0, 2.0], [3.0, 4.0]]))
    qtbot.addWidget(table)
    assert table.show_summary(summary((3, 2), [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    assert table.display_text().split() == ["1.", "2.", "3.", "4.", "5.", "6."]
    big = [[float(i - j) for j in range(30)] for i in range(20)]
    heat = TensorView(summary((20, 30), big))
    qtbot.addWidget(heat)
    assert heat.show_summary(summary((20, 30), [[2 * v for v in row] for row in big]))
    assert "max 38." in heat.display_text()
    assert not heat.show_summary(summary((2,), [1.0, 2.0]))  # another mode: the caller makes a new view
    assert not inline.show_summary(summary((3, 4), [[0.0] * 4] * 3))


def test_slider_ticks_are_thinned_to_stay_apart(window: MainWindow) -> None:
    assert [tick_interval(n, 600) for n in (0, 5, 100)] == [1, 1, 1]  # few steps: a tick per step
    for steps in (101, 1000, 14401):
        interval = tick_interval(steps, 600)
        assert 600 * interval >= TICK_MIN_PX * steps  # far enough apart...
        smaller = [i for i in (1, 2, 5, 10, 20, 50, 100, 200, 500) if i < interval]
        assert all(600 * i < TICK_MIN_PX * steps for i in smaller)  # ...and no sparser than needed
    slider = window.stepper.slider
    assert slider.tickInterval() == tick_interval(window.stepper.step_count(), slider.width())
