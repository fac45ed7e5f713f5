"""Big graphs in the window: a big pass opens folded, double-click / context menu open and close modules in
place (every underlying node in exactly one box, boxes that stay keep their place), stepping a folded view
follows the engine, find reaches nodes hidden in groups, the minimap moves the view, Cancel stops a layout."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

import gradviz.gui.graphview as graphview
from gradviz.core.capture import run_program
from gradviz.core.fold import FoldedView, ViewState
from gradviz.core.replay import CURRENT, DONE, PENDING
from gradviz.core.trace import Edge, Node, Pass, Step, Trace
from gradviz.gui.graphview import GraphView
from gradviz.gui.mainwindow import MainWindow
from gradviz.gui.scene import NodeItem
from gradviz.gui.settings import Settings
from tests.test_replay import chain_pass

TRANSFORMER = """
import torch
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0)
net = torch.nn.TransformerEncoder(layer, num_layers=3, enable_nested_tensor=False)
x = torch.randn(4, 2, 8, requires_grad=True)
loss = net(x).pow(2).mean()
loss.backward()
"""
LAYOUT_MS = 60000


@pytest.fixture(scope="module")
def transformer() -> Pass:
    """The backward pass of a captured 3-layer nn.TransformerEncoder (d_model 8): ~160 nodes."""
    trace = run_program(TRANSFORMER, "model.py")
    assert trace.status == "ok", trace.error
    return trace.passes[-1]


def synthetic_pass(blocks: int = 100, chain: int = 14) -> Pass:
    """A residual network built by hand: `blocks` identical blocks `net.blocks.i` (add, relu, a chain of
    muls in `.scale`, a linear layer `.fc` with weight and bias leaves), `chain + 6` nodes each; steps in a
    topological order from the loss, as the engine runs them."""
    nodes: list[Node] = []
    edges: list[Edge] = []

    def node(type_: str, module: str | None = None, names: tuple[str, ...] = ()) -> str:
        nid = f"n{len(nodes)}"
        kind = "leaf" if type_ == "AccumulateGrad" else "function"
        nodes.append(Node(nid, type_, kind, names, 5, None, module))
        return nid

    x = node("AccumulateGrad", names=("x",))
    prev = x
    for i in range(blocks):
        b = f"net.blocks.{i}"
        add, relu = node("AddBackward0", b), node("ReluBackward0", f"{b}.act")
        muls = [node("MulBackward0", f"{b}.scale") for _ in range(chain)]
        addmm, t = node("AddmmBackward0", f"{b}.fc"), node("TBackward0", f"{b}.fc")
        w, bias = node("AccumulateGrad", names=(f"{b}.fc.weight",)), node("AccumulateGrad", names=(f"{b}.fc.bias",))
        edges += [Edge(add, relu, 0), Edge(add, prev, 1), Edge(relu, muls[0], 0)]
        edges += [Edge(a, c, 0) for a, c in zip(muls, muls[1:], strict=False)]
        edges += [Edge(muls[-1], addmm, 0), Edge(addmm, bias, 0), Edge(addmm, prev, 1), Edge(addmm, t, 2),
                  Edge(t, w, 0)]
        prev = add
    loss = node("MeanBackward0", names=("loss",))
    edges.append(Edge(loss, prev, 0))
    waiting = {n.id: 0 for n in nodes}
    for e in edges:
        waiting[e.dst] += 1
    order, ready = [], [loss]
    while ready:
        nid = ready.pop()
        order.append(nid)
        for e in edges:
            if e.src == nid:
                waiting[e.dst] -= 1
                if waiting[e.dst] == 0:
                    ready.append(e.dst)
    assert len(order) == len(nodes)
    return Pass("backward", 9, nodes=tuple(nodes), edges=tuple(edges), steps=tuple(Step(n) for n in order),
                roots=(loss,))


def shown(qtbot, p: Pass, fold_nodes: int = graphview.FOLD_NODES, size: tuple[int, int] = (900, 700),
          background: bool = True) -> GraphView:
    view = GraphView()
    qtbot.addWidget(view)
    view.fold_nodes = fold_nodes
    view.resize(*size)
    view.show()
    if background:
        with qtbot.waitSignal(view.layout_ready, timeout=LAYOUT_MS):
            view.show_pass(p)
    else:
        view.show_pass(p, background=False)
    return view


def assert_every_node_in_one_box(view: GraphView, p: Pass) -> None:
    folded = view.folded_view
    assert isinstance(folded, FoldedView)
    assert set(folded.node_item) == {n.id for n in p.nodes}  # every node is in a box (one: it is a map)
    assert set(folded.node_item.values()) == set(view.graph.nodes)  # every box drawn holds nodes


def run_item(view: GraphView) -> str:
    return next(i for i, item in view.graph.nodes.items() if item.fold == "run")


def double_click(view: GraphView, item_id: str) -> None:
    item = view.graph.nodes[item_id]
    view.centerOn(item)
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      view.mapFromScene(item.rect.center()))


# ------------------------------------------------------------------------------------------------ opening


def test_a_big_pass_opens_folded(qtbot) -> None:  # type: ignore[no-untyped-def]
    p = synthetic_pass()
    assert len(p.nodes) > graphview.FOLD_NODES
    view = shown(qtbot, p)
    assert view.is_folded() and len(view.graph.nodes) <= len(p.nodes) / 100
    assert_every_node_in_one_box(view, p)
    run = view.graph.nodes[run_item(view)]
    assert run.badge == "×100" and run.node.attrs["count"] == 100
    assert not view.busy.isVisible()


def test_a_small_pass_is_drawn_node_by_node(qtbot, transformer: Pass) -> None:  # type: ignore[no-untyped-def]
    view = shown(qtbot, transformer)
    assert not view.is_folded() and set(view.graph.nodes) == {n.id for n in transformer.nodes}


def test_double_click_opens_a_group_and_every_node_stays_in_one_box(qtbot, transformer: Pass) -> None:  # type: ignore[no-untyped-def]
    view = shown(qtbot, transformer, fold_nodes=50)
    before = set(view.graph.nodes)
    run = run_item(view)
    with qtbot.waitSignal(view.view_changed, timeout=LAYOUT_MS):
        double_click(view, run)
    assert "net.layers.0" in view.state().expanded  # the run's first block is open
    assert len(view.graph.nodes) > len(before) and run not in view.graph.nodes
    assert_every_node_in_one_box(view, transformer)
    group = next(i for i, item in view.graph.nodes.items() if item.fold == "group")
    with qtbot.waitSignal(view.view_changed, timeout=LAYOUT_MS):
        view.graph.node_double_clicked.emit(group)  # (a second QTest double-click would count as a triple)
    assert group not in view.graph.nodes
    assert_every_node_in_one_box(view, transformer)


def test_opening_keeps_boxes_in_place_and_the_clicked_box_under_the_mouse(qtbot, transformer: Pass) -> None:  # type: ignore[no-untyped-def]
    view = shown(qtbot, transformer, fold_nodes=50)
    view.set_zoom(1.0)
    run = run_item(view)
    view.centerOn(view.graph.nodes[run])
    old = {nid: (item.rect.center().x(), item.rect.center().y()) for nid, item in view.graph.nodes.items()}
    at = view.mapFromScene(view.graph.nodes[run].rect.center())
    first = next(nid for nid, item in view.folded_view.node_item.items() if item == run)
    assert view.expand(run)
    new = view.graph.nodes
    kept = old.keys() & new.keys()
    assert len(kept) >= len(old) - 1
    for nid in kept:  # across the flow: where it was; along it: ranks may be inserted below the opened box
        assert abs(new[nid].rect.center().x() - old[nid][0]) < 40, nid
    above = [nid for nid in kept if old[nid][1] < old[run][1]]
    assert above and all(abs(new[nid].rect.center().y() - old[nid][1]) < 1 for nid in above)
    holder = new[view.folded_view.item_of(first)]
    moved = view.mapFromScene(holder.rect.center()) - at
    assert abs(moved.x()) <= 2 and abs(moved.y()) <= 2  # the box the person clicked did not jump


def test_close_and_unfold_from_the_context_menu(qtbot, transformer: Pass) -> None:  # type: ignore[no-untyped-def]
    view = shown(qtbot, transformer, fold_nodes=50)
    first_state, first_items = view.state(), set(view.graph.nodes)
    run = run_item(view)
    actions = dict(view.fold_actions(run))
    assert actions["Show all 3 blocks"]()
    assert {f"group:net.layers.{i}" for i in range(3)} <= set(view.graph.nodes)
    assert_every_node_in_one_box(view, transformer)
    back = dict(view.fold_actions("group:net.layers.1"))
    assert back["Fold the 3 blocks back into one"]()
    assert run in view.graph.nodes
    view.expand(run)
    inside = next(nid for nid, item in view.graph.nodes.items() if item.node.module == "net.layers.0")
    close = next(action for text, action in view.fold_actions(inside) if text.startswith("Close net.layers"))
    assert close()
    assert view.state() == first_state and set(view.graph.nodes) == first_items
    assert_every_node_in_one_box(view, transformer)


# ------------------------------------------------------------------------------------------------ stepping


@pytest.mark.parametrize("opened", [False, True])
def test_stepping_a_folded_view_lights_the_box_of_each_engine_step(qtbot, transformer: Pass, opened: bool) -> None:  # type: ignore[no-untyped-def]
    view = shown(qtbot, transformer, fold_nodes=50)
    if opened:
        view.expand(run_item(view))
    folded = view.folded_view
    assert folded is not None
    lit: list[str] = []
    for k, step in enumerate(transformer.steps, start=1):
        view.set_step(k)
        current = [nid for nid, item in view.graph.nodes.items() if item.state == CURRENT]
        assert current == [folded.item_of(step.node)], k
        if not lit or lit[-1] != current[0]:
            lit.append(current[0])
        module = transformer.node(step.node).module or ""
        layer = int(module.split(".")[2]) if module.startswith("net.layers.") else None
        if layer is not None and (layer > 0 or not opened):  # inside the folded run: which block it is
            assert f"block {layer + 1} of 3" in view.where()
            assert view.locator.isVisible()
        elif step.node in view.graph.nodes:
            assert view.where() == "" and not view.locator.isVisible()
        assert view.graph.restyled <= 8  # only what changed
    engine = [folded.item_of(s.node) for s in transformer.steps]
    assert lit == [it for i, it in enumerate(engine) if i == 0 or engine[i - 1] != it]


def test_a_box_the_engine_comes_back_to_is_lit_again(qtbot) -> None:  # type: ignore[no-untyped-def]
    nodes = (Node("r", "MulBackward0", "function", module="a"), Node("m", "ExpBackward0", "function", module="b"),
             Node("s", "SinBackward0", "function", module="a"), Node("x", "AccumulateGrad", "leaf", ("x",)))
    edges = (Edge("r", "m", 0), Edge("m", "s", 0), Edge("s", "x", 0))
    p = Pass("backward", 1, nodes=nodes, edges=edges, steps=tuple(Step(n.id) for n in nodes), roots=("r",))
    view = shown(qtbot, p, fold_nodes=1)
    view.set_state(ViewState())  # modules a and b closed
    states = []
    for k in range(1, 5):
        view.set_step(k)
        states.append((view.graph.nodes["group:a"].state, view.graph.nodes["group:b"].state))
    assert states == [(CURRENT, PENDING), (DONE, CURRENT), (CURRENT, DONE), (DONE, DONE)]


def test_the_window_steps_a_folded_pass_in_the_engines_numbering(qtbot, tmp_path, transformer: Pass) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(settings=Settings(tmp_path / "s.ini"), autosave_dir=tmp_path / "a", warm=False,
                        offer_autosave=False)
    qtbot.addWidget(window)
    window.graph_view.fold_nodes = 50
    with qtbot.waitSignal(window.graph_view.layout_ready, timeout=LAYOUT_MS):
        window.stepper.set_trace(Trace(passes=(transformer,)))
    assert window.graph_view.is_folded() and window.stepper.step_count() == len(transformer.steps)
    k = next(k for k, s in enumerate(transformer.steps, start=1)
             if (transformer.node(s.node).module or "").startswith("net.layers.1."))
    window.stepper.set_step(k)
    box = window.graph_view.folded_view.item_of(transformer.steps[k - 1].node)
    assert window.scene.nodes[box].state == CURRENT
    assert window.inspector.node_id() == transformer.steps[k - 1].node  # the inspector shows the real node
    window.scene.select_node(box)  # a folded box selected: inspected as a box, its line lit
    assert window.inspector.node_id() == box
    folded = window.graph_view.folded_view
    lines = {n.line for n in transformer.nodes if folded.item_of(n.id) == box and n.line is not None}
    assert window.editor.highlighted_lines() == tuple(sorted(lines))


# ------------------------------------------------------------------------------------------------ find, minimap


def test_find_reaches_a_node_hidden_in_a_group(qtbot, transformer: Pass) -> None:  # type: ignore[no-untyped-def]
    view = shown(qtbot, transformer, fold_nodes=50)
    weight = next(n.id for n in transformer.nodes if "net.layers.1.linear1.weight" in n.names)
    assert weight not in view.graph.nodes
    view.graph.highlight_nodes([weight])  # a search hit inside a box lights the box
    assert view.graph.nodes[view.graph.item_id(weight)].highlighted
    assert view.find("layers.1.linear1.weight") == [weight]
    qtbot.waitUntil(lambda: view.graph.selected == weight, timeout=LAYOUT_MS)
    assert_every_node_in_one_box(view, transformer)
    centre = view.mapToScene(view.viewport().rect().center())
    assert view.graph.nodes[weight].rect.adjusted(-40, -40, 40, 40).contains(QPointF(centre))
    bias = next(n.id for n in transformer.nodes if "net.layers.2.linear2.bias" in n.names)
    opened = view.state().expanded
    view.find("layers.2.linear2.bias")
    qtbot.waitUntil(lambda: view.graph.selected == bias, timeout=LAYOUT_MS)
    assert "net.layers.1.linear1" in opened and "net.layers.1.linear1" not in view.state().expanded


def test_minimap_shows_the_view_and_a_click_moves_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = shown(qtbot, chain_pass(400), size=(600, 400), background=False)
    assert not view.minimap.isVisible() or view.zoom() < 1.0
    view.set_zoom(1.0)
    qtbot.waitUntil(view.minimap.isVisible, timeout=2000)
    frame = view.minimap.view_rect()
    assert frame.width() < view.minimap.width()  # the view shows part of the graph
    target = QPointF(view.minimap.width() / 2, view.minimap.height() * 0.8)
    QTest.mouseClick(view.minimap, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target.toPoint())
    want = view.minimap.scene_point(QPointF(target.toPoint()))
    got = view.mapToScene(view.viewport().rect().center())
    assert abs(got.y() - want.y()) < 5 and abs(got.x() - want.x()) < 5
    assert view.minimap.view_rect().contains(QPointF(target.toPoint()))


# ------------------------------------------------------------------------------------------------ cancel


def test_cancel_stops_a_background_layout(qtbot, monkeypatch, transformer: Pass) -> None:  # type: ignore[no-untyped-def]
    view = shown(qtbot, transformer, fold_nodes=50)
    monkeypatch.setattr(graphview, "RELAYOUT_SYNC_ITEMS", 0)
    monkeypatch.setattr(graphview, "BUSY_DELAY_MS", 0)
    before, layout = view.state(), view.graph.layout
    assert view.expand(run_item(view)) and view.is_busy() and view.busy.isVisible()
    qtbot.mouseClick(view.busy.cancel_button, Qt.MouseButton.LeftButton)
    assert not view.is_busy() and not view.busy.isVisible()
    qtbot.waitUntil(lambda: not view._jobs, timeout=LAYOUT_MS)  # the dropped job ends; its result is ignored
    assert view.state() == before and view.graph.layout is layout
    with qtbot.waitSignal(view.layout_failed, timeout=LAYOUT_MS) as failed:
        view.show_pass(chain_pass(400))  # a new pass laid out by dot in a child process: Cancel kills it
        qtbot.mouseClick(view.busy.cancel_button, Qt.MouseButton.LeftButton)
    assert failed.args == ["cancelled"] and not view.is_busy()
    qtbot.waitUntil(lambda: not view._jobs, timeout=LAYOUT_MS)


# ------------------------------------------------------------------------------------------------ drawing


def test_only_boxes_inside_the_viewport_are_painted(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = chain_pass(400)
    view = shown(qtbot, p, size=(600, 400), background=False)
    view.set_zoom(1.0)
    painted: list[str] = []
    original = NodeItem.paint

    def paint(self, painter, option, widget=None) -> None:  # type: ignore[no-untyped-def]
        painted.append(self.node.id)
        original(self, painter, option, widget)

    monkeypatch.setattr(NodeItem, "paint", paint)
    view.grab()  # paints the viewport as a screen would (offscreen windows are not always exposed)
    visible = view.visible_scene_rect()
    assert painted and len(painted) < len(p.nodes) / 10
    assert all(view.graph.nodes[nid].sceneBoundingRect().intersects(visible) for nid in painted)
