"""The layered layout: the same `Layout` as dot's (boxes, edges, arrows, labels, bounds), no overlapping
boxes or labels, every edge going from rank to rank along the flow, cycles and loops survive, expanding a
folded group keeps the order of what was drawn, and nothing recurses per node."""

from __future__ import annotations

import inspect
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gradviz.core.capture import run_program
from gradviz.core.fold import FoldedGraph, group_id
from gradviz.core.layered import solve_auto, solve_layered
from gradviz.core.layout import SEED_PREFIX, Layout, LayoutInput, NodeBox, prepare, solve
from gradviz.core.trace import Edge, Node, Pass

MODEL = """
import torch
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0)
net = torch.nn.TransformerEncoder(layer, num_layers=3, enable_nested_tensor=False)
x = torch.randn(4, 2, 8, requires_grad=True)
net(x).pow(2).mean().backward()
"""
DETACHED = """
import torch
x = torch.arange(4.0, requires_grad=True)
y = x * x
u = y.detach()
z = u * x
z.sum().backward()
"""
EPS = 1e-6


def captured(source: str) -> Pass:
    trace = run_program(source, "model.py")
    assert trace.status == "ok", trace.error
    return trace.passes[-1]


@pytest.fixture(scope="module")
def model() -> Pass:
    return captured(MODEL)


def rect(b: NodeBox) -> tuple[float, float, float, float]:
    return b.left, b.top, b.left + b.width, b.top + b.height


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] - EPS and b[0] < a[2] - EPS and a[1] < b[3] - EPS and b[1] < a[3] - EPS


def on_side(p: tuple[float, float], b: NodeBox, side: str) -> bool:
    """Whether point p lies on one side of box b ("top", "bottom", "left", "right")."""
    left, top, right, bottom = rect(b)
    if side in ("top", "bottom"):
        y = top if side == "top" else bottom
        return abs(p[1] - y) < 1e-3 and left - EPS <= p[0] <= right + EPS
    x = left if side == "left" else right
    return abs(p[0] - x) < 1e-3 and top - EPS <= p[1] <= bottom + EPS


def check_layout(spec: LayoutInput, lay: Layout, acyclic: bool = True) -> None:
    """The invariants every layered layout keeps."""
    assert [(b.id, b.width, b.height) for b in lay.nodes] == [(n, w, h) for n, w, h in spec.nodes]
    assert lay.direction == spec.direction
    boxes = [rect(b) for b in lay.nodes]
    for i, a in enumerate(boxes):
        assert a[0] >= -EPS and a[1] >= -EPS and a[2] <= lay.width + EPS and a[3] <= lay.height + EPS
        for b in boxes[i + 1:]:
            assert not overlaps(a, b)
    assert sorted(e.index for e in lay.edges) == sorted(e[0] for e in spec.edges)
    sizes = {e[0] if e[0] >= 0 else (SEED_PREFIX + e[2]): (e[5], e[6]) for e in spec.edges}
    labels = []
    flow = {"TB": (1, "bottom", "top"), "BT": (1, "top", "bottom"), "LR": (0, "right", "left"),
            "RL": (0, "left", "right")}[spec.direction]
    axis, out_side, in_side = flow
    sign = -1 if spec.direction in ("BT", "RL") else 1
    for e in lay.edges:
        key = e.index if e.index >= 0 else SEED_PREFIX + e.dst
        assert e.label_size == sizes[key]
        assert len(e.points) >= 4 and (len(e.points) - 1) % 3 == 0
        assert e.arrow is not None and e.arrow[0] == e.points[-1]
        if e.label_size[0] > 0:
            assert e.label is not None
            w, h = e.label_size
            labels.append((e.label[0] - w / 2, e.label[1] - h / 2, e.label[0] + w / 2, e.label[1] + h / 2))
        else:
            assert e.label is None
        if e.src == e.dst or e.index < 0:
            continue
        src, dst = lay.box(e.src), lay.box(e.dst)
        if not acyclic:
            assert on_side(e.arrow[1], dst, in_side) or on_side(e.arrow[1], dst, out_side)
            continue
        # from rank to rank along the flow: leaves the source on its far side, enters the destination's near
        # side, and never turns back
        assert sign * ((dst.x, dst.y)[axis] - (src.x, src.y)[axis]) > 0
        assert on_side(e.points[0], src, out_side)
        assert on_side(e.arrow[1], dst, in_side)
        along = [sign * p[axis] for p in e.points] + [sign * e.arrow[1][axis]]
        assert all(b >= a - EPS for a, b in zip(along, along[1:], strict=False))
    for i, a in enumerate(labels):
        assert a[0] >= -EPS and a[2] <= lay.width + EPS and a[3] <= lay.height + EPS
        for b in labels[i + 1:]:
            assert not overlaps(a, b)
        for b in boxes:
            assert not overlaps(a, b)


def random_dag(n: int, seed: int) -> LayoutInput:
    rng = random.Random(seed)
    nodes = tuple((f"v{i}", float(rng.randint(40, 220)), float(rng.randint(24, 70))) for i in range(n))
    edges = []
    for j in range(1, n):
        for i in rng.sample(range(max(0, j - 30), j), k=min(j, rng.choice((1, 1, 1, 2, 3)))):
            label = rng.random() < 0.6
            edges.append((len(edges), f"v{i}", f"v{j}", len(edges) % 3, "grad" if rng.random() < 0.9 else "detached",
                          float(rng.randint(30, 160)) if label else 0.0, 19.0 if label else 0.0))
    edges.append((-1, SEED_PREFIX + "v0", "v0", 0, "seed", 40.0, 19.0))
    return LayoutInput(nodes, tuple(edges))


# ------------------------------------------------------------------------------------------- shape


@pytest.mark.parametrize("direction", ["TB", "LR", "BT", "RL"])
def test_captured_transformer_lays_out_cleanly(model: Pass, direction: str) -> None:
    spec = prepare(model, direction=direction)
    check_layout(spec, solve_layered(spec))


def test_random_graphs_lay_out_cleanly() -> None:
    for seed in range(3):
        spec = random_dag(150, seed)
        check_layout(spec, solve_layered(spec))


def test_cut_branches_keep_their_cut_markers() -> None:
    p = captured(DETACHED)
    spec = prepare(p)
    lay = solve_layered(spec)
    check_layout(spec, lay)
    cut = [e for e in lay.edges if e.kind == "detached"]
    assert cut and all(e.cut == p.edges[e.index].cut for e in cut)


def test_seed_edge_comes_from_above_the_root(model: Pass) -> None:
    lay = solve_layered(prepare(model))
    (seed,) = [e for e in lay.edges if e.index < 0]
    root = lay.box(model.roots[0])
    assert seed.dst == root.id and seed.points[0][1] < root.top and on_side(seed.arrow[1], root, "top")


def test_cycles_and_self_loops_do_not_break_it() -> None:
    nodes = tuple((f"c{i}", 80.0, 30.0) for i in range(4))
    edges = ((0, "c0", "c1", 0, "grad", 50.0, 19.0), (1, "c1", "c2", 0, "grad", 0.0, 0.0),
             (2, "c2", "c0", 0, "grad", 50.0, 19.0), (3, "c2", "c3", 1, "grad", 0.0, 0.0),
             (4, "c3", "c3", 0, "grad", 30.0, 19.0))
    spec = LayoutInput(nodes, edges)
    lay = solve_layered(spec)
    check_layout(spec, lay, acyclic=False)
    loop = next(e for e in lay.edges if e.index == 4)
    assert on_side(loop.arrow[1], lay.box("c3"), "right")


def test_same_result_type_as_dot_and_auto_choice(model: Pass) -> None:
    spec = prepare(model)
    dot = solve(spec)
    assert solve_auto(spec, dot_limit=len(spec.nodes)) == dot
    layered = solve_auto(spec, dot_limit=len(spec.nodes) - 1)
    assert layered == solve_layered(spec)
    assert Layout.from_dict(layered.to_dict()) == layered  # JSON-able like dot's
    assert solve_auto(spec, dot_limit=10_000, previous=dot) == solve_layered(spec, previous=dot)


def test_the_scene_draws_it(qapp: object, model: Pass) -> None:
    from gradviz.gui.scene import GraphScene

    scene = GraphScene()
    lay = solve_layered(prepare(model, scene.measure()))
    scene.set_pass(model, lay)
    assert len(scene.nodes) == len(model.nodes) and len(scene.edges) == len(model.edges)
    scene.set_step(len(model.steps))


# ------------------------------------------------------------------------------------- incremental


def same_rank_order_kept(before: Layout, after: Layout) -> int:
    """Checks that any two nodes drawn before and sharing a rank now are in their old left-to-right order;
    returns how many such pairs there were."""
    old = {b.id: b for b in before.nodes}
    kept = [b for b in after.nodes if b.id in old]
    by_rank: dict[float, list[NodeBox]] = {}
    for b in kept:
        by_rank.setdefault(round(b.y, 3), []).append(b)
    pairs = 0
    for row in by_rank.values():
        row.sort(key=lambda b: b.x)
        xs = [old[b.id].x for b in row]
        assert xs == sorted(xs)
        pairs += len(row) - 1
    return pairs


def test_expanding_a_group_keeps_the_order_of_what_was_drawn(model: Pass) -> None:
    fg = FoldedGraph(model, min_run=99)  # no runs: more groups side by side
    state = fg.collapse_all(max_items=20)
    view = fg.view(state)
    before = solve_layered(prepare(view.pass_))
    total = 0
    for path in ("net.layers.1", "net.layers.1.self_attn", "net.layers.2.linear1"):
        state = fg.expand(state, group_id(path))
        new = fg.view(state)
        spec = prepare(new.pass_)
        after = solve_auto(spec, previous=before, anchors=new.anchors(view))
        check_layout(spec, after)
        total += same_rank_order_kept(before, after)
        view, before = new, after
    assert total > 0


def test_nodes_drawn_before_keep_their_order_even_against_crossings() -> None:
    nodes = tuple((n, 60.0, 30.0) for n in "abcdef")
    edges = ((0, "a", "b", 0, "grad", 0.0, 0.0), (1, "a", "c", 1, "grad", 0.0, 0.0),
             (2, "b", "d", 0, "grad", 0.0, 0.0), (3, "c", "e", 0, "grad", 0.0, 0.0),
             (4, "d", "f", 0, "grad", 0.0, 0.0))
    spec = LayoutInput(nodes, edges)
    fresh = solve_layered(spec)
    assert fresh.box("d").x < fresh.box("e").x  # left to right, no crossing
    # A previous drawing with d and e the other way round: the new layout keeps that order.
    swapped = Layout(tuple(NodeBox(b.id, fresh.box({"d": "e", "e": "d"}.get(b.id, b.id)).x, b.y, b.width,
                                   b.height) for b in fresh.nodes), (), fresh.width, fresh.height)
    again = solve_layered(spec, previous=swapped)
    assert again.box("d").x > again.box("e").x
    check_layout(spec, again)


# ---------------------------------------------------------------------------------------- no recursion


@contextmanager
def shallow_stack(frames: int = 120) -> Iterator[None]:
    """Run with the recursion limit just above the current depth: recursing per node would fail."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_long_chain_of_folded_blocks_without_recursion() -> None:
    blocks, size = 400, 8
    nodes = [Node(f"n{i}", "MulBackward0" if i % size else "AddBackward0", "function",
                  module=f"net.blocks.{i // size}") for i in range(blocks * size)]
    nodes.append(Node(f"n{len(nodes)}", "AccumulateGrad", "leaf", ("x",)))  # the input, outside every block
    edges = [Edge(f"n{i}", f"n{i + 1}", 0) for i in range(len(nodes) - 1)]
    p = Pass("backward", 1, nodes=tuple(nodes), edges=tuple(edges), roots=("n0",))
    with shallow_stack():
        fg = FoldedGraph(p)
        assert list(fg.runs) == [f"run:net.blocks[0-{blocks - 1}]"]
        full = fg.view(fg.expand_all())
        spec = prepare(full.pass_)
        lay = solve_layered(spec)
    assert len(lay.nodes) == len(nodes)
    ys = [lay.box(f"n{i}").y for i in range(len(nodes))]
    assert ys == sorted(ys)
