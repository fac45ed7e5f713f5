"""Replay: per-step node states, edge gradients and leaf `.grad`s, checked against PyTorch itself."""

from __future__ import annotations

import itertools
import sys
import textwrap

import pytest
import torch

from gradviz.core.capture import run_program
from gradviz.core.replay import (
    CURRENT,
    DETACHED,
    DONE,
    EDGE_CARRIED,
    EDGE_DETACHED,
    EDGE_FRESH,
    EDGE_PENDING,
    PENDING,
    Replay,
    frame_at,
)
from gradviz.core.trace import Edge, Node, Pass, Step, TensorSummary

DETACH = textwrap.dedent("""\
    import torch
    x = torch.arange(4.0, requires_grad=True)
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
""")


def capture(source: str) -> list[Pass]:
    trace = run_program(source, "/tmp/prog.py")
    assert trace.status == "ok", trace.error
    return list(trace.passes)


@pytest.fixture(scope="module")
def detach_pass() -> Pass:
    return capture(DETACH)[-1]


def _values(t: TensorSummary | None) -> torch.Tensor:
    assert t is not None
    return torch.tensor(t.values)


def test_step_zero_is_before_anything_ran(detach_pass: Pass) -> None:
    f = frame_at(detach_pass, 0)
    assert f.step == 0 and f.current is None and f.total == len(detach_pass.steps)
    for n in detach_pass.nodes:
        assert f.node_states[n.id] == (DETACHED if n.kind == "detached" else PENDING)
    assert f.edge_grads == {}
    leaf = next(n for n in detach_pass.nodes if n.kind == "leaf")
    assert f.leaf_grads[leaf.id] is None  # x.grad is None before the first backward


def test_each_step_lights_the_engine_node_and_keeps_ghosts_dark(detach_pass: Pass) -> None:
    ghosts = {n.id for n in detach_pass.nodes if n.kind == "detached"}
    assert ghosts, "the detached branch of y must be in the pass"
    for k, step in enumerate(detach_pass.steps, start=1):
        f = frame_at(detach_pass, k)
        assert f.current == step.node and f.node_states[step.node] == CURRENT
        assert {s.node for s in detach_pass.steps[: k - 1]} == {i for i, s in f.node_states.items() if s == DONE}
        assert all(f.node_states[g] == DETACHED for g in ghosts)
        assert all(f.edge_states[i] == EDGE_DETACHED for i, e in enumerate(detach_pass.edges) if e.kind != "grad")


def test_last_step_matches_pytorch(detach_pass: Pass) -> None:
    x = torch.arange(4.0, requires_grad=True)
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    f = frame_at(detach_pass, len(detach_pass.steps))
    leaf = next(n for n in detach_pass.nodes if n.kind == "leaf")
    assert torch.equal(_values(f.leaf_grads[leaf.id]), x.grad)
    # The edge into x carries dz/dx = u; the edge out of sum carries ones.
    into_x = next(i for i, e in enumerate(detach_pass.edges) if e.dst == leaf.id and e.kind == "grad")
    assert torch.equal(_values(f.edge_grads[into_x]), u)
    from_sum = next(i for i, e in enumerate(detach_pass.edges) if e.src == detach_pass.roots[0])
    assert torch.equal(_values(f.edge_grads[from_sum]), torch.ones(4))
    assert all(detach_pass.edges[i].kind == "grad" for i in f.edge_grads)


def test_leaf_grad_before_and_after_when_gradients_accumulate() -> None:
    source = textwrap.dedent("""\
        import torch
        x = torch.arange(4.0, requires_grad=True)
        (2 * torch.dot(x, x)).backward()
        x.sum().backward()
    """)
    second = capture(source)[1]
    x = torch.arange(4.0, requires_grad=True)
    (2 * torch.dot(x, x)).backward()
    first_grad = x.grad.clone()
    x.sum().backward()
    r = Replay(second)
    leaf = next(n for n in second.nodes if n.kind == "leaf")
    ran = r.step_of(leaf.id)
    assert ran is not None
    assert torch.equal(_values(r.leaf_grad(leaf.id, ran - 1)), first_grad)
    assert torch.equal(_values(r.leaf_grad(leaf.id, ran)), x.grad)


def test_changed_is_exactly_what_differs_between_frames(detach_pass: Pass) -> None:
    r = Replay(detach_pass)
    frames = [r.frame(k) for k in range(r.total + 1)]
    for a, b in itertools.product(range(r.total + 1), repeat=2):
        nodes, edges = r.changed(a, b)
        fa, fb = frames[a], frames[b]
        differ_nodes = {n for n in fa.node_states if fa.node_states[n] != fb.node_states[n]}
        differ_nodes |= {n for n in fa.leaf_grads if fa.leaf_grads[n] != fb.leaf_grads[n]}
        differ_edges = {i for i in fa.edge_states if fa.edge_states[i] != fb.edge_states[i]}
        assert differ_nodes <= nodes and differ_edges <= edges, (a, b)
        # and nothing beyond the nodes run in between (plus the current ones)
        lo, hi = sorted((a, b))
        ran = {s.node for s in detach_pass.steps[max(lo - 1, 0):hi]}
        assert nodes == (ran if a != b else set())
        # transitions() names the same items, each with its state at the target step
        node_moves, edge_moves = r.transitions(a, b)
        assert {n for n, _ in node_moves} == nodes and {e for e, _ in edge_moves} == edges
        assert all(fb.node_states[n] == s for n, s in node_moves)
        assert all(fb.edge_states[e] == s for e, s in edge_moves)


def chain_pass(n: int) -> Pass:
    """A hand-built pass shaped like `x` through n elementwise ops (what a 2,000-op chain captures)."""
    one = TensorSummary((3,), "float32", [1.0, 1.0, 1.0], {"norm": 3 ** 0.5})
    nodes = [Node(f"n{i}", "MulBackward0", "function", (f"v{i}",), i + 2) for i in range(n)]
    nodes.append(Node("leaf", "AccumulateGrad", "leaf", ("x",), 1, tensor=one))
    edges = [Edge(f"n{i}", f"n{i + 1}", 0) for i in range(n - 1)] + [Edge(f"n{n - 1}", "leaf", 0)]
    steps = [Step(f"n{i}", (one,), (one,)) for i in range(n)] + [Step("leaf", (one,), ())]
    return Pass("backward", n + 2, nodes=tuple(nodes), edges=tuple(edges), steps=tuple(steps), roots=("n0",))


def test_long_chain_replays_without_recursion_and_steps_touch_few_items() -> None:
    p = chain_pass(2000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default: nothing may recurse per node
    try:
        r = Replay(p)
        last = r.frame(r.total)
    finally:
        sys.setrecursionlimit(limit)
    assert last.node_states["leaf"] == CURRENT
    assert sum(s == DONE for s in last.node_states.values()) == 2000
    nodes, edges = r.changed(1000, 1001)
    assert nodes == {"n999", "n1000"} and edges == {999, 1000}
    assert r.edge_state(1000, 1001) == EDGE_FRESH and r.edge_state(999, 1001) == EDGE_CARRIED
    assert r.edge_state(1001, 1001) == EDGE_PENDING
