"""Layout: the seed examples come out with the right nodes, edges, ghost branch and cut marker, boxes fit
their labels, and nothing recurses per node."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from gradviz.core.capture import run_program
from gradviz.core.layout import (
    SEED_PREFIX,
    Layout,
    LayoutInput,
    estimate_text,
    format_tensor,
    layout_pass,
    lines_size,
    node_lines,
    prepare,
    solve,
    solve_isolated,
)
from gradviz.core.replay import Replay
from gradviz.core.trace import Pass, TensorSummary

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"
SEED = ["01_scalar_gradient.py", "02_accumulate_zero.py", "03_vector_sum_backward.py", "04_detach.py",
        "05_control_flow.py"]


def passes_of(name: str) -> list[Pass]:
    path = EXAMPLES / name
    trace = run_program(path.read_text(encoding="utf-8"), str(path))
    assert trace.status == "ok", trace.error
    return [p for p in trace.passes if p.detail == "full"]


@pytest.fixture(scope="module")
def seed_passes() -> dict[str, list[Pass]]:
    return {name: passes_of(name) for name in SEED}


def _near(point: tuple[float, float], box, slack: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    x, y = point
    return (box.left - slack <= x <= box.left + box.width + slack
            and box.top - slack <= y <= box.top + box.height + slack)


def check_geometry(p: Pass, lay: Layout) -> None:
    """Every node and edge of the pass is laid out once, edges join their nodes, boxes do not overlap."""
    assert [b.id for b in lay.nodes] == [n.id for n in p.nodes]
    assert sorted(e.index for e in lay.edges if e.index >= 0) == list(range(len(p.edges)))
    for e in lay.edges:
        if e.index < 0:
            assert e.kind == "seed" and e.src == SEED_PREFIX + e.dst and e.dst in p.roots
            continue
        src, dst = lay.box(e.src), lay.box(e.dst)
        assert (e.src, e.dst, e.slot, e.kind) == (p.edges[e.index].src, p.edges[e.index].dst,
                                                  p.edges[e.index].slot, p.edges[e.index].kind)
        assert len(e.points) >= 4 and (len(e.points) - 1) % 3 == 0
        assert _near(e.points[0], src)
        assert e.arrow is not None and _near(e.arrow[1], dst)
    boxes = list(lay.nodes)
    for i, a in enumerate(boxes):
        assert 0 <= a.left and a.left + a.width <= lay.width + 0.5
        assert 0 <= a.top and a.top + a.height <= lay.height + 0.5
        for b in boxes[i + 1:]:
            apart = (a.left + a.width <= b.left or b.left + b.width <= a.left
                     or a.top + a.height <= b.top or b.top + b.height <= a.top)
            assert apart, (a, b)


@pytest.mark.parametrize("name", SEED)
def test_seed_examples_lay_out_every_node_and_edge(seed_passes: dict[str, list[Pass]], name: str) -> None:
    for p in seed_passes[name]:
        check_geometry(p, layout_pass(p))


def test_detach_example_has_its_ghost_branch_and_cut_marker(seed_passes: dict[str, list[Pass]]) -> None:
    p = seed_passes["04_detach.py"][0]
    lay = layout_pass(p)
    types = sorted((n.type, n.kind) for n in p.nodes)
    assert types == [("AccumulateGrad", "leaf"), ("MulBackward0", "detached"), ("MulBackward0", "function"),
                     ("SumBackward0", "function")]
    cut = [e for e in lay.edges if e.cut]
    assert len(cut) == 1 and cut[0].cut == "detach()" and cut[0].kind == "detached"
    ghost = next(n for n in p.nodes if n.kind == "detached")
    assert cut[0].dst == ghost.id and ghost.names == ("y",)
    assert cut[0].label is not None and cut[0].label_size[0] > 0  # room reserved for the marker
    # the ghost hangs below the live multiplication it was cut from (output on top, gradient flows down)
    assert lay.box(ghost.id).y > lay.box(cut[0].src).y
    # the second pass (y.sum().backward()) is y's own, intact graph: no ghost there
    assert all(n.kind != "detached" for n in seed_passes["04_detach.py"][1].nodes)


def test_edges_carrying_gradients_get_label_room_sized_to_the_values(seed_passes: dict[str, list[Pass]]) -> None:
    p = seed_passes["03_vector_sum_backward.py"][0]
    spec = prepare(p)
    replay = Replay(p)
    for index, _, _, _, _, w, h in spec.edges:
        if index < 0:
            continue
        grad = replay.edge_grad(index)
        text_w, text_h = estimate_text(format_tensor(grad), "mono") if grad is not None else (0, 0)
        assert (w >= text_w and h >= text_h) if grad is not None else w == 0


def test_boxes_fit_their_labels_with_the_measure_given() -> None:
    p = passes_of("04_detach.py")[0]

    def wide(text: str, role: str) -> tuple[float, float]:
        return 10.0 * len(text), 20.0

    lay = layout_pass(p, wide)
    replay = Replay(p)
    for n in p.nodes:
        for done in (False, True):
            w, h = lines_size(node_lines(n, replay.leaf_record(n.id), done), wide)
            assert lay.box(n.id).width >= w and lay.box(n.id).height >= h


def test_input_slots_are_ordered_left_to_right() -> None:
    source = textwrap.dedent("""\
        import torch
        a = torch.ones(2, requires_grad=True)
        b = torch.ones(2, requires_grad=True)
        c = a / b
        c.sum().backward()
    """)
    p = run_program(source, "/tmp/slots.py").passes[0]
    lay = layout_pass(p)
    div = next(n for n in p.nodes if n.type == "DivBackward0")
    outs = sorted((e.slot, lay.box(e.dst).x) for e in p.edges if e.src == div.id)
    assert [s for s, _ in outs] == [0, 1] and outs[0][1] < outs[1][1]
    names = {e.slot: p.node(e.dst).names for e in p.edges if e.src == div.id}
    assert names == {0: ("a",), 1: ("b",)}


def test_direction_left_to_right() -> None:
    p = passes_of("03_vector_sum_backward.py")[0]
    lay = layout_pass(p, direction="LR")
    root = lay.box(p.roots[0])
    leaf = lay.box(next(n.id for n in p.nodes if n.kind == "leaf"))
    assert root.x < leaf.x
    with pytest.raises(ValueError):
        layout_pass(p, direction="diagonal")


def test_format_tensor_values_when_small_else_shape_and_norm() -> None:
    small = torch.tensor([0.0, 1.5, 2.0])
    big = torch.linspace(-1, 1, 9)
    from gradviz.core.summary import summarize

    assert format_tensor(summarize(small)) == "[0., 1.5, 2.]"
    text = format_tensor(summarize(big))
    assert text.startswith("(9,)") and f"{torch.linalg.vector_norm(big).item():.4g}" in text
    assert format_tensor(None) == "None"
    assert format_tensor(TensorSummary((), "float32", 28.0, {})) == "28."


def test_two_thousand_op_chain_at_the_default_recursion_limit() -> None:
    source = textwrap.dedent("""\
        import torch
        x = torch.ones(3, requires_grad=True)
        y = x
        for _ in range(2000):
            y = y * 1.0001
        y.sum().backward()
    """)
    code = textwrap.dedent(f"""\
        import sys
        sys.setrecursionlimit(1000)
        from gradviz.core.capture import run_program
        from gradviz.core.layout import layout_pass
        trace = run_program({source!r}, "/tmp/chain.py")
        p = trace.passes[0]
        lay = layout_pass(p)
        print(len(p.nodes), len(lay.nodes), len(lay.edges))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    nodes, laid, edges = map(int, out.stdout.split())
    assert nodes == laid >= 2002 and edges == nodes  # n-1 edges + the seed edge


def test_layout_crosses_processes_as_json() -> None:
    p = passes_of("04_detach.py")[0]
    spec = prepare(p)
    assert LayoutInput.from_dict(spec.to_dict()) == spec
    here = solve(spec)
    assert Layout.from_dict(here.to_dict()) == here
    there = solve_isolated(spec)
    assert there == here
    assert math.isclose(there.width, here.width)


def test_any_node_id_and_several_roots_lay_out() -> None:
    """Ids are the trace's (and a folded view's module paths, which may hold quotes, backslashes, spaces or
    DOT keywords): none of them may change what Graphviz reads. Each root gets its own seed edge."""
    ids = ['group:enc.layers["a b"]', "back\\slash\\", "node", "->", "ünïcode 名", "n1"]
    nodes = tuple((nid, 40.0 + 10 * i, 20.0) for i, nid in enumerate(ids))
    edges = tuple((i, ids[i], ids[i + 1], 0, "grad", 30.0, 12.0) for i in range(len(ids) - 1))
    edges += ((-1, SEED_PREFIX + ids[0], ids[0], 0, "seed", 25.0, 12.0),
              (-1, SEED_PREFIX + ids[3], ids[3], 0, "seed", 0.0, 0.0))
    lay = solve(LayoutInput(nodes, edges))
    assert [(b.id, b.width, b.height) for b in lay.nodes] == list(nodes)
    assert [(e.index, e.src, e.dst) for e in lay.edges] == [(e[0], e[1], e[2]) for e in edges]
    ys = [lay.box(nid).y for nid in ids]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)  # a chain, output on top
    for e in lay.edges:
        assert e.arrow is not None and _near(e.arrow[1], lay.box(e.dst))
        assert (e.label is not None) == (e.label_size[0] > 0)
    seed = next(e for e in lay.edges if e.dst == ids[0] and e.index < 0)
    assert seed.points[0][1] < lay.box(ids[0]).top  # the seed gradient comes from above its root
