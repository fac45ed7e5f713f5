"""Capture: passes, nodes, edges, steps, names, lines, saved tensors and errors of a program, every gradient
checked against PyTorch itself (the same program run plainly, or the same computation done here)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import sys
import textwrap
import warnings
from collections import Counter
from typing import Any

import pytest
import torch

from gradviz.core.capture import CaptureOptions, _Capture, run_program
from gradviz.core.trace import LeafGrad, Node, Pass, Step, TensorSummary, Trace

# ------------------------------------------------------------------------------------------------ helpers


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def capture(tmp_path: Any, source: str, **kwargs: Any) -> Trace:
    """Capture `source` as the file tmp_path/prog.py (default options: keep_first=10)."""
    return run_program(source, str(tmp_path / "prog.py"), **kwargs)


def plain(source: str, upto: int | None = None, filename: str = "<plain>") -> dict[str, Any]:
    """Run `source` (or its first `upto` lines) plainly, with no gradviz watcher; return its namespace."""
    if upto is not None:
        source = "\n".join(source.splitlines()[:upto]) + "\n"
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), ns)
    return ns


def line_of(source: str, text: str, nth: int = 0) -> int:
    """1-based number of the `nth` line whose stripped text is `text`."""
    hits = [i + 1 for i, s in enumerate(source.splitlines()) if s.strip() == text]
    assert len(hits) > nth, f"{text!r} not found {nth + 1} times"
    return hits[nth]


def values(s: TensorSummary | None) -> torch.Tensor:
    assert s is not None and s.values is not None
    return torch.tensor(s.values, dtype=getattr(torch, s.dtype))


def assert_same(s: TensorSummary | None, expected: torch.Tensor) -> None:
    """The summary holds the tensor torch computed: same shape, dtype and values."""
    assert s is not None, f"expected a tensor like {expected}, got None"
    expected = expected.detach()
    assert s.shape == tuple(expected.shape)
    assert s.dtype == str(expected.dtype).removeprefix("torch.")
    assert torch.allclose(values(s), expected, equal_nan=True), (s.values, expected)


def leaf_grad(p: Pass, name: str) -> LeafGrad:
    hits = [g for g in p.leaf_grads if g.name == name]
    assert len(hits) == 1, f"leaf grad {name!r} not in {[g.name for g in p.leaf_grads]}"
    return hits[0]


def nodes_of(p: Pass, type_: str, kind: str | None = None) -> list[Node]:
    return [n for n in p.nodes if n.type == type_ and (kind is None or n.kind == kind)]


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def node_named(p: Pass, name: str) -> Node:
    return only([n for n in p.nodes if name in n.names])


def step_of(p: Pass, node_id: str) -> Step:
    return only([s for s in p.steps if s.node == node_id])


def assert_ok(trace: Trace) -> None:
    assert trace.status == "ok", trace.error
    for p in trace.passes:
        assert p.status == "ok", (p.line, p.error)


def assert_no_step_on_ghosts(trace: Trace) -> None:
    for p in trace.passes:
        ghosts = {n.id for n in p.nodes if n.kind == "detached"}
        assert not ghosts & {s.node for s in p.steps}, f"pass at line {p.line} ran a detached node"


def assert_edges_join_nodes(trace: Trace) -> None:
    for p in trace.passes:
        if p.detail != "full":
            continue
        ids = {n.id for n in p.nodes}
        assert len(ids) == len(p.nodes), "duplicate node ids in one pass"
        for e in p.edges:
            assert e.src in ids and e.dst in ids, e
        assert set(p.roots) <= ids
        assert {s.node for s in p.steps} <= ids


# ------------------------------------------------------------------------------------------------ 1. seed lesson

LESSON = src("""
    import torch

    x = torch.arange(4.0)
    x
    x2 = torch.arange(4.0, requires_grad=True)
    x2
    x.requires_grad_(True)
    x.grad
    y = 2 * torch.dot(x, x)
    y
    y.backward()
    x.grad
    x.grad == 4 * x
    x.sum()
    x.grad.zero_()
    y = x.sum()
    y.backward()
    x.grad
    x.grad.zero_()
    y = x * x
    y.sum().backward()
    x.grad
    x.grad.zero_()
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    x.grad == u
    x.grad.zero_()
    y.sum().backward()
    x.grad == 2 * x


    def f(a):
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        if b.sum() > 0:
            c = b
        else:
            c = 100 * b
        return c


    torch.manual_seed(0)
    a = torch.randn(size=(), requires_grad=True)
    d = f(a)
    d.backward()
    a.grad == d / a
""")

BACKWARD_LINES = [line_of(LESSON, "y.backward()"), line_of(LESSON, "y.backward()", 1),
                  line_of(LESSON, "y.sum().backward()"), line_of(LESSON, "z.sum().backward()"),
                  line_of(LESSON, "y.sum().backward()", 1), line_of(LESSON, "d.backward()")]


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> Trace:
    return capture(tmp_path_factory.mktemp("lesson"), LESSON)


def test_lesson_runs_with_one_pass_per_backward_call(lesson: Trace) -> None:
    assert_ok(lesson)
    assert [p.line for p in lesson.passes] == BACKWARD_LINES
    assert [p.call for p in lesson.passes] == ["backward"] * 6
    assert all(p.detail == "full" for p in lesson.passes)
    assert lesson.passes[3].code == "z.sum().backward()"
    assert_edges_join_nodes(lesson)
    assert_no_step_on_ghosts(lesson)


@pytest.mark.parametrize("index", range(5))
def test_lesson_leaf_grads_equal_torch(lesson: Trace, index: int) -> None:
    """x.grad after each pass (4x, ones, 2x, u, 2x) is what plain torch holds right after that call; x.grad
    before is what it held before (None first, then the zeros left by x.grad.zero_())."""
    line = BACKWARD_LINES[index]
    after = plain(LESSON, upto=line)["x"].grad
    before = plain(LESSON, upto=line - 1)["x"].grad
    g = leaf_grad(lesson.passes[index], "x")
    assert_same(g.after, after)
    if before is None:
        assert g.before is None
    else:
        assert_same(g.before, before)


def test_lesson_known_gradients(lesson: Trace) -> None:
    """The lesson's own claims, checked with torch on the captured values."""
    x = plain(LESSON, upto=BACKWARD_LINES[0])["x"].detach()
    assert torch.equal(values(leaf_grad(lesson.passes[0], "x").after), 4 * x)
    assert torch.equal(values(leaf_grad(lesson.passes[1], "x").after), torch.ones_like(x))
    assert torch.equal(values(leaf_grad(lesson.passes[2], "x").after), 2 * x)
    u = plain(LESSON, upto=BACKWARD_LINES[3])["u"]
    assert torch.equal(values(leaf_grad(lesson.passes[3], "x").after), u)
    assert torch.equal(values(leaf_grad(lesson.passes[4], "x").after), 2 * x)


def test_lesson_scalar_pass_graph(lesson: Trace) -> None:
    """y = 2 * dot(x, x): root MulBackward0 named y -> DotBackward0 -> x twice (slots 0 and 1); the steps
    carry torch's gradients."""
    p = lesson.passes[0]
    y = only(nodes_of(p, "MulBackward0"))
    assert p.roots == (y.id,) and "y" in y.names
    dot = only(nodes_of(p, "DotBackward0"))
    x = only(nodes_of(p, "AccumulateGrad"))
    assert "x" in x.names and x.kind == "leaf"
    assert sorted((e.src, e.dst, e.slot) for e in p.edges if e.src == dot.id) == [(dot.id, x.id, 0), (dot.id, x.id, 1)]
    xt = plain(LESSON, upto=BACKWARD_LINES[0])["x"].detach()
    assert_same(step_of(p, y.id).grad_outputs[0], torch.tensor(1.0))
    assert_same(step_of(p, dot.id).grad_outputs[0], torch.tensor(2.0))
    for g in step_of(p, dot.id).grad_inputs:
        assert_same(g, 2 * xt)


def test_lesson_detach_pass_has_the_ghost(lesson: Trace) -> None:
    p = lesson.passes[3]
    y_line, z_line = line_of(LESSON, "y = x * x", 1), line_of(LESSON, "z = u * x")
    ghost = only([n for n in p.nodes if n.type == "MulBackward0" and n.line == y_line])
    assert ghost.kind == "detached" and ghost.code == "y = x * x"
    z = only([n for n in p.nodes if n.type == "MulBackward0" and n.line == z_line])
    assert z.kind == "function" and z.code == "z = u * x"
    cut = only([e for e in p.edges if e.src == z.id and e.dst == ghost.id])
    assert cut.kind == "detached" and cut.cut == "detach()"
    assert all(e.kind == "detached" for e in p.edges if ghost.id in (e.src, e.dst))
    assert ghost.id not in {s.node for s in p.steps}
    # z = u * x: the gradient reaching x is u (torch's value), and nothing is sent toward the cut side
    u = plain(LESSON, upto=BACKWARD_LINES[3])["u"]
    z_step = step_of(p, z.id)
    assert z_step.grad_inputs[cut.slot] is None
    live = only([e for e in p.edges if e.src == z.id and e.kind == "grad"])
    assert_same(z_step.grad_inputs[live.slot], u)


def test_lesson_node_identity_is_stable_across_passes(lesson: Trace) -> None:
    """The y = x * x node is a ghost in pass 3 and the live graph of pass 4: one id in both; x is one leaf."""
    y_line = line_of(LESSON, "y = x * x", 1)
    ghost = only([n for n in lesson.passes[3].nodes if n.type == "MulBackward0" and n.line == y_line])
    live = only([n for n in lesson.passes[4].nodes if n.type == "MulBackward0"])
    assert live.kind == "function" and live.line == y_line
    assert live.id == ghost.id
    assert ghost.id in {s.node for s in lesson.passes[4].steps}
    leaf_ids = {n.id for p in lesson.passes[:5] for n in p.nodes if n.type == "AccumulateGrad"}
    assert len(leaf_ids) == 1
    # and ids are never reused for different nodes within the trace
    seen: dict[str, tuple[str, int | None]] = {}
    for p in lesson.passes:
        for n in p.nodes:
            assert seen.setdefault(n.id, (n.type, n.line)) == (n.type, n.line), n


def test_lesson_control_flow_unrolls_the_loop(lesson: Trace) -> None:
    p = lesson.passes[5]
    loop_line = line_of(LESSON, "b = b * 2")
    ns = plain(LESSON, upto=BACKWARD_LINES[5])
    iterations = 0
    b = ns["a"].detach() * 2
    while b.norm() < 1000:
        b = b * 2
        iterations += 1
    assert iterations > 1
    looped = [n for n in p.nodes if n.line == loop_line]
    assert len(looped) == iterations
    assert all(n.type == "MulBackward0" and n.code == "b = b * 2" and n.kind == "function" for n in looped)
    assert len([s for s in p.steps if s.node in {n.id for n in looped}]) == iterations
    a_leaf = node_named(p, "a")
    assert a_leaf.type == "AccumulateGrad"
    assert_same(a_leaf.tensor, ns["a"])
    g = leaf_grad(p, "a")
    assert_same(g.after, ns["a"].grad)
    assert torch.allclose(values(g.after), (ns["d"] / ns["a"]).detach())


# ------------------------------------------------------------------------------------------------ 2. engine order


def _engine_record(root: torch.Tensor, run: Any = None, into: list[list[Any]] | None = None
                   ) -> list[tuple[str, tuple[Any, ...], tuple[Any, ...]]]:
    """Run root.backward() (or `run()`) with our own pre/post hooks on every node; return (type, grads in,
    grads out) per executed node, in the engine's order. `into` receives them as they run (for a backward
    that raises)."""
    order: list[list[Any]] = [] if into is None else into
    seen: set[Any] = set()
    stack = [root.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)

        def pre(grad_outputs: Any, fn: Any = fn) -> None:
            order.append([type(fn).__name__, tuple(grad_outputs), ()])

        def post(grad_inputs: Any, grad_outputs: Any, fn: Any = fn) -> None:
            rec = next(r for r in reversed(order) if r[0] == type(fn).__name__)
            rec[2] = tuple(grad_inputs)

        fn.register_prehook(pre)
        if type(fn).__name__ != "AccumulateGrad":
            fn.register_hook(post)
        stack.extend(nf for nf, _ in fn.next_functions)
    root.backward() if run is None else run()
    return [(t, tuple(o), tuple(i)) for t, o, i in order]


BRANCHING = src("""
    import torch
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = torch.tensor([1.5, 0.25, -0.75], requires_grad=True)
    y = x * w + torch.sin(x) * w
    h = torch.tanh(y) * x.exp()
    loss = (h + y.pow(2)).sum()
    loss.backward()
""")


def _assert_steps_equal_the_engine(p: Any, engine: list[tuple[str, tuple[Any, ...], tuple[Any, ...]]]) -> None:
    types = {n.id: n.type for n in p.nodes}
    assert [types[s.node] for s in p.steps] == [t for t, _, _ in engine]
    for step, (kind, grad_outputs, grad_inputs) in zip(p.steps, engine, strict=True):
        assert len(step.grad_outputs) == len(grad_outputs)
        for s, g in zip(step.grad_outputs, grad_outputs, strict=True):
            assert_same(s, g)
        if kind != "AccumulateGrad":
            assert len(step.grad_inputs) == len(grad_inputs)
            for s, g in zip(step.grad_inputs, grad_inputs, strict=True):
                if g is None:
                    assert s is None
                else:
                    assert_same(s, g)


def test_step_order_and_gradients_equal_the_engine(tmp_path: Any) -> None:
    trace = capture(tmp_path, BRANCHING)
    assert_ok(trace)
    p = only(list(trace.passes))
    ns = plain(BRANCHING, upto=line_of(BRANCHING, "loss.backward()") - 1)
    _assert_steps_equal_the_engine(p, _engine_record(ns["loss"]))
    assert_same(leaf_grad(p, "x").after, ns["x"].grad)
    assert_same(leaf_grad(p, "w").after, ns["w"].grad)


HOOKED = src("""
    import torch
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2
    seen = []
    h = y.register_hook(lambda g: seen.append(g.clone()) or g * 10)
    z = y * 3
    z.sum().backward()
""")


def test_a_tensor_hook_that_changes_a_gradient_shows_what_was_sent_and_what_arrived(tmp_path: Any) -> None:
    """The user's hook on y scales its gradient: the edge into y's node carries what z's node sent (the
    hook's argument), y's step receives the hook's result, and x's gradient is torch's."""
    trace = capture(tmp_path, HOOKED)
    assert_ok(trace)
    p = only(list(trace.passes))
    ns = plain(HOOKED)
    sent = ns["seen"][0]
    z_node, y_node = node_named(p, "z"), node_named(p, "y")
    assert only([e for e in p.edges if e.src == z_node.id]).dst == y_node.id
    assert_same(step_of(p, z_node.id).grad_inputs[0], sent)
    assert_same(step_of(p, y_node.id).grad_outputs[0], sent * 10)
    assert_same(leaf_grad(p, "x").after, ns["x"].grad)


PARTIAL = src("""
    import torch
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = torch.tensor([1.5, 0.25, -0.75], requires_grad=True)
    loss = (x * w).sum() + (w * w).sum()
    gx, = torch.autograd.grad(loss, [x], retain_graph=True)
    loss.backward(inputs=[w])
    cube = (x ** 3).sum()
    dx, = torch.autograd.grad(cube, [x], create_graph=True)
""")


def test_grad_and_backward_inputs_passes_carry_the_gradients_sent_to_leaves(tmp_path: Any) -> None:
    """grad() does not accumulate its inputs (with create_graph=True it does not even run their nodes), yet
    the gradient sent towards x is on its edge; w * w sums three edges into one leaf, which
    backward(inputs=[w]) accumulates: steps as the engine ran them."""
    trace = capture(tmp_path, PARTIAL)
    assert_ok(trace)
    by_grad, by_inputs, with_graph = trace.passes
    ns = plain(PARTIAL, upto=line_of(PARTIAL, "gx, = torch.autograd.grad(loss, [x], retain_graph=True)") - 1)
    _assert_steps_equal_the_engine(by_grad, _engine_record(ns["loss"], lambda: torch.autograd.grad(
        ns["loss"], [ns["x"]], retain_graph=True)))
    ns = plain(PARTIAL, upto=line_of(PARTIAL, "gx, = torch.autograd.grad(loss, [x], retain_graph=True)") - 1)
    _assert_steps_equal_the_engine(by_inputs, _engine_record(ns["loss"], lambda: ns["loss"].backward(
        inputs=[ns["w"]])))
    done = plain(PARTIAL)
    for p, expected in ((by_grad, done["gx"]), (with_graph, done["dx"])):
        x_id = only([n.id for n in p.nodes if n.type == "AccumulateGrad" and "x" in n.names])
        into_x = only([e for e in p.edges if e.dst == x_id])
        assert_same(step_of(p, into_x.src).grad_inputs[into_x.slot], expected)
    ns = plain(PARTIAL, upto=line_of(PARTIAL, "dx, = torch.autograd.grad(cube, [x], create_graph=True)") - 1)
    _assert_steps_equal_the_engine(with_graph, _engine_record(ns["cube"], lambda: torch.autograd.grad(
        ns["cube"], [ns["x"]], create_graph=True)))
    assert_same(leaf_grad(by_inputs, "w").after, plain(PARTIAL)["w"].grad)


def test_every_live_node_runs_once_and_edges_carry_slots(tmp_path: Any) -> None:
    trace = capture(tmp_path, BRANCHING)
    p = trace.passes[0]
    assert_edges_join_nodes(trace)
    live = {n.id for n in p.nodes if n.kind != "detached"}
    assert Counter(s.node for s in p.steps) == Counter(live)
    for n in p.nodes:
        if n.kind == "function":
            slots = sorted(e.slot for e in p.edges if e.src == n.id)
            assert slots == list(range(len(slots)))
            assert len(step_of(p, n.id).grad_inputs) >= len(slots)


# ------------------------------------------------------------------------------------------------ 3. names

NAMES = src("""
    import torch
    from torch import nn

    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = y.sin()
    z.sum().backward()
    alias = y


    def step(a):
        h = a * 3
        keep = h
        out = keep.sum()
        out.backward()
        return out


    step(x)
""")


def test_names_at_the_call_and_at_the_end(tmp_path: Any) -> None:
    trace = capture(tmp_path, NAMES)
    assert_ok(trace)
    p = trace.passes[0]
    assert "x" in node_named(p, "x").names and node_named(p, "x").kind == "leaf"
    y = node_named(p, "y")
    assert y.type == "MulBackward0" and "alias" in y.names  # bound after the call, when the program ended
    assert node_named(p, "z").type == "SinBackward0"
    assert only(nodes_of(p, "SumBackward0")).names == ()


def test_function_local_names_at_a_call_inside_a_function(tmp_path: Any) -> None:
    trace = capture(tmp_path, NAMES)
    p = trace.passes[1]
    assert p.line == line_of(NAMES, "out.backward()")
    h = node_named(p, "h")
    assert h.type == "MulBackward0" and "keep" in h.names and h.line == line_of(NAMES, "h = a * 3")
    assert node_named(p, "out").type == "SumBackward0"
    leaf = only(nodes_of(p, "AccumulateGrad"))
    assert {"a", "x"} <= set(leaf.names)
    ns = plain(NAMES)
    assert_same(leaf_grad(p, leaf.names[0]).after, ns["x"].grad)


MODULES = src("""
    import torch
    from torch import nn


    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, h):
            return self.fc(h).squeeze(1)


    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    head = Head()
    inp = torch.randn(4, 3)
    w1 = torch.randn(3, requires_grad=True)
    w2 = torch.randn(3, requires_grad=True)
    params = [w1, w2]
    w = {"fc": torch.randn(3, requires_grad=True)}
    extra = (inp * w1 + inp * params[1] * w["fc"]).sum()
    loss = head(net(inp)).pow(2).mean() + extra
    loss.backward()
""")


def test_module_parameter_names_and_node_modules(tmp_path: Any) -> None:
    trace = capture(tmp_path, MODULES)
    assert_ok(trace)
    p = trace.passes[0]
    ns = plain(MODULES)
    for name, t in [("net.0.weight", ns["net"][0].weight), ("net.0.bias", ns["net"][0].bias),
                    ("head.fc.weight", ns["head"].fc.weight), ("head.fc.bias", ns["head"].fc.bias)]:
        leaf = node_named(p, name)
        assert leaf.type == "AccumulateGrad" and leaf.kind == "leaf"
        assert_same(leaf.tensor, t)
        assert_same(leaf_grad(p, name).after, t.grad)
    addmms = nodes_of(p, "AddmmBackward0")
    assert sorted(n.module for n in addmms) == ["head.fc", "net.0"]
    assert only(nodes_of(p, "TanhBackward0")).module == "net.1"
    assert only(nodes_of(p, "SqueezeBackward1")).module == "head"
    assert only(nodes_of(p, "PowBackward0")).module is None
    extra_line = line_of(MODULES, 'extra = (inp * w1 + inp * params[1] * w["fc"]).sum()')
    assert all(n.module is None for n in p.nodes if n.line == extra_line)


LIBRARY_CALLS = src("""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0)
    lin = torch.nn.Linear(8, 8)
    x = torch.randn(3, 2, 8)
    w = torch.randn(8, 8, requires_grad=True)
    enc = layer(x)
    h = enc
    made = []
    for _ in range(2):
        h = lin(h)
        made.append(h.grad_fn.name())
    for _ in range(2):
        h = F.linear(h, w)
        made.append(h.grad_fn.name())
    loss = layer(h).pow(2).mean()
    loss.backward()
""")


def test_a_statement_names_only_the_value_a_library_call_returns(tmp_path: Any) -> None:
    """Ops inside torch's own modules run on the user's line; only the module's result is the value the
    statement assigns (the layer's additions, ReLU and norms are not `loss`)."""
    trace = capture(tmp_path, LIBRARY_CALLS)
    assert_ok(trace)
    p = trace.passes[0]
    named = {name: [n for n in p.nodes if name in n.names and n.kind != "leaf"] for name in ("enc", "h", "loss")}
    assert [n.type for n in named["loss"]] == ["MeanBackward0"]
    [enc] = named["enc"]
    assert enc.type == "NativeLayerNormBackward0" and enc.module == "layer.norm2"
    ns = plain(LIBRARY_CALLS)
    assert enc.id in {n.id for n in p.nodes if n.type == ns["enc"].grad_fn.name()}
    # every iteration's result is `h`, the module's (lin) and the function's (F.linear), and nothing else
    assert sorted(n.type for n in named["h"]) == sorted(ns["made"])
    assert {n.line for n in named["h"]} == {line_of(LIBRARY_CALLS, "h = lin(h)"), line_of(LIBRARY_CALLS, "h = F.linear(h, w)")}


def test_final_grads_keys_for_params_lists_and_dicts(tmp_path: Any) -> None:
    trace = capture(tmp_path, MODULES)
    ns = plain(MODULES)
    expected = {"net.0.weight": ns["net"][0].weight.grad, "net.0.bias": ns["net"][0].bias.grad,
                "head.fc.weight": ns["head"].fc.weight.grad, "head.fc.bias": ns["head"].fc.bias.grad,
                "w1": ns["w1"].grad, "w2": ns["w2"].grad, "params[0]": ns["w1"].grad,
                "params[1]": ns["w2"].grad, "w['fc']": ns["w"]["fc"].grad}
    assert set(trace.final_grads) == set(expected)
    for name, g in expected.items():
        assert_same(trace.final_grads[name], g)
    p = trace.passes[0]
    assert {"w2", "params[1]"} <= set(node_named(p, "params[1]").names)
    assert "w['fc']" in node_named(p, "w['fc']").names


# ------------------------------------------------------------------------------------------------ 4. lines

LINES = src("""
    import torch
    import torch.nn.functional as F


    def act(v):
        h = torch.tanh(v)
        return h * 2 + F.relu(v)


    def normalise(v):
        return v / v.norm()


    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    w = torch.tensor([[0.3, 0.1], [-0.2, 0.4]], requires_grad=True)
    h = x @ w
    a = act(h)
    n = normalise(a.reshape(-1))
    loss = (n ** 2).sum() + a.mean() * torch.exp(w).sum()
    loss.backward()
""")


def _anomaly_lines(root: torch.Tensor, filename: str) -> Counter[tuple[str, int]]:
    """(type, line) of every function node, the line read from the forward traceback torch's anomaly mode
    stores in each node (its innermost frame in `filename`)."""
    found: Counter[tuple[str, int]] = Counter()
    seen: set[Any] = set()
    stack = [root.grad_fn]
    pattern = re.compile(r'File "(.*)", line (\d+)')
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen or type(fn).__name__ == "AccumulateGrad":
            continue
        seen.add(fn)
        frames = [(m.group(1), int(m.group(2))) for t in fn.metadata["traceback_"] for m in pattern.finditer(t)]
        found[(type(fn).__name__, [ln for f, ln in frames if f == filename][-1])] += 1
        stack.extend(nf for nf, _ in fn.next_functions)
    return found


INPLACE_AND_VIEWS = src("""
    import torch
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    y.add_(1)
    v = y[0]
    v.mul_(3)
    t = y.t()
    parts = [t[i] * (i + 1) for i in range(2)]
    loss = (torch.stack(parts) @ x).sum()
    loss.backward()
""")

CUSTOM_FUNCTION = src("""
    import torch


    class MyExp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, i):
            r = i.exp()
            ctx.save_for_backward(r)
            return r

        @staticmethod
        def backward(ctx, g):
            (r,) = ctx.saved_tensors
            return g * r


    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = MyExp.apply(x * 2)
    loss = (y * 3).sum()
    loss.backward()
""")


# 500 top-level statements first: lines far down a long file (the capture remembers each instruction's line)
LONG_FILE = "".join(f"pad{i} = {i} * 2\n" for i in range(500)) + LINES


@pytest.mark.parametrize("program", [LINES, INPLACE_AND_VIEWS, CUSTOM_FUNCTION, LONG_FILE],
                         ids=["functions", "inplace_and_views", "custom_function", "long_file"])
def test_every_node_line_is_the_statement_that_created_it(tmp_path: Any, program: str) -> None:
    """Ground truth: the forward traceback that torch's anomaly mode stores in every node it creates."""
    trace = capture(tmp_path, program)
    assert_ok(trace)
    p = trace.passes[-1]
    upto = line_of(program, "loss.backward()") - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.set_anomaly_enabled(True)
        try:
            ns = plain(program, upto=upto, filename="<lines>")
        finally:
            torch.set_anomaly_enabled(False)
    expected = _anomaly_lines(ns["loss"], "<lines>")
    functions = [n for n in p.nodes if n.kind == "function"]
    assert Counter((n.type, n.line) for n in functions) == expected
    lines = program.splitlines()
    for n in functions:
        assert n.code == lines[n.line - 1].strip()


def test_lines_inside_user_functions(tmp_path: Any) -> None:
    p = capture(tmp_path, LINES).passes[0]
    assert only(nodes_of(p, "TanhBackward0")).line == line_of(LINES, "h = torch.tanh(v)")
    assert only(nodes_of(p, "DivBackward0")).code == "return v / v.norm()"
    assert only(nodes_of(p, "ReluBackward0")).code == "return h * 2 + F.relu(v)"


def test_custom_function_adds_no_cut_edge(tmp_path: Any) -> None:
    """A custom Function's forward runs under no_grad, but its output is connected, not cut off."""
    trace = capture(tmp_path, CUSTOM_FUNCTION)
    p = trace.passes[0]
    assert [e for e in p.edges if e.kind == "detached"] == []
    assert all(n.kind != "detached" for n in p.nodes)
    my = only(nodes_of(p, "MyExpBackward"))
    assert "y" in my.names
    ns = plain(CUSTOM_FUNCTION)
    assert_same(leaf_grad(p, "x").after, ns["x"].grad)


# ------------------------------------------------------------------------------------------------ 5. saved

SAVED = src("""
    import torch
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x * w
    p = x ** 3
    s = torch.sum(torch.stack([y, p]), dim=0, keepdim=True)
    c = torch.cat([s, y.unsqueeze(0)], dim=1)
    loss = c.sum()
    loss.backward()
""")


def _plain_value(v: Any) -> Any:
    if isinstance(v, tuple | list | torch.Size):
        return [_plain_value(i) for i in v]
    return v if v is None or isinstance(v, bool | int | float | str) else str(v)


def test_saved_tensors_and_attrs_equal_torchs(tmp_path: Any) -> None:
    trace = capture(tmp_path, SAVED)
    assert_ok(trace)
    p = trace.passes[0]
    ns = plain(SAVED, upto=line_of(SAVED, "loss.backward()") - 1)
    mul = only(nodes_of(p, "MulBackward0"))
    assert set(mul.saved) == {"_saved_self", "_saved_other"}
    assert_same(mul.saved["_saved_self"], ns["x"])
    assert_same(mul.saved["_saved_other"], ns["w"])
    by_type = {}
    stack = [ns["loss"].grad_fn]
    while stack:
        fn = stack.pop()
        if fn is not None and type(fn).__name__ != "AccumulateGrad":
            by_type.setdefault(type(fn).__name__, fn)
            stack.extend(nf for nf, _ in fn.next_functions)
    for n in p.nodes:
        if n.kind != "function":
            continue
        fn = by_type[n.type]
        for name, summary in n.saved.items():
            base, _, index = name.partition("[")
            value = getattr(fn, base)
            assert_same(summary, value[int(index[:-1])] if index else value)
        for name, v in n.attrs.items():
            assert v == _plain_value(getattr(fn, name)), (n.type, name)
    pow_ = only(nodes_of(p, "PowBackward0"))
    assert pow_.attrs["_saved_exponent"] == 3
    assert_same(pow_.saved["_saved_self"], ns["x"])
    sum_ = only(nodes_of(p, "SumBackward1"))
    assert sum_.attrs["_saved_keepdim"] is True and sum_.attrs["_saved_dim"] == [0]
    cat = only(nodes_of(p, "CatBackward0"))
    assert cat.attrs["_saved_dim"] == 1
    stack_ = only(nodes_of(p, "StackBackward0"))
    assert stack_.attrs["_saved_dim"] == 0


# ------------------------------------------------------------------------------------------------ 6. errors

TWICE = src("""
    import torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()
    print("not reached")
""")


def _torch_error(source: str) -> BaseException:
    with pytest.raises(BaseException) as e:
        plain(source)
    return e.value


def test_backward_twice_is_an_error_pass_and_ends_the_program(tmp_path: Any) -> None:
    trace = capture(tmp_path, TWICE)
    line = line_of(TWICE, "y.backward()", 1)
    err = _torch_error(TWICE)
    assert [p.status for p in trace.passes] == ["ok", "error"]
    bad = trace.passes[1]
    assert bad.line == line and bad.code == "y.backward()"
    assert bad.error is not None and bad.error.type == type(err).__name__ and bad.error.message == str(err)
    assert bad.error.line == line
    assert trace.status == "error" and trace.error is not None
    assert trace.error.type == type(err).__name__ and trace.error.message == str(err)
    assert trace.error.line == line
    assert "not reached" not in trace.stdout
    ns = plain(TWICE, upto=line - 1)
    assert_same(leaf_grad(trace.passes[0], "x").after, ns["x"].grad)


CAUGHT = src("""
    import torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    try:
        y.backward()
    except RuntimeError as e:
        print("caught")
    v = x * x
    try:
        v.backward()
    except RuntimeError:
        print("caught again")
    z = (x ** 3).sum()
    z.backward()
""")


def test_caught_engine_errors_are_error_passes_and_the_program_goes_on(tmp_path: Any) -> None:
    trace = capture(tmp_path, CAUGHT)
    assert trace.status == "ok" and trace.error is None
    assert [p.status for p in trace.passes] == ["ok", "error", "error", "ok"]
    assert [p.line for p in trace.passes] == [line_of(CAUGHT, "y.backward()"), line_of(CAUGHT, "y.backward()", 1),
                                              line_of(CAUGHT, "v.backward()"), line_of(CAUGHT, "z.backward()")]
    twice = _torch_error(TWICE)
    assert trace.passes[1].error.message == str(twice)
    assert trace.passes[1].error.line == trace.passes[1].line
    non_scalar = _torch_error(src("""
        import torch
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        (x * x).backward()
    """))
    assert trace.passes[2].error.type == type(non_scalar).__name__
    assert trace.passes[2].error.message == str(non_scalar)
    assert "caught\ncaught again\n" in trace.stdout
    ns = plain(CAUGHT)
    assert_same(leaf_grad(trace.passes[3], "x").after, ns["x"].grad)
    assert_same(trace.final_grads["x"], ns["x"].grad)


@pytest.mark.parametrize("body, etype", [("y = 1 / 0", ZeroDivisionError),
                                         ("raise ValueError('bad value here')", ValueError)])
def test_plain_exception_is_the_trace_error_at_its_line(tmp_path: Any, body: str, etype: type) -> None:
    source = src(f"""
        import torch
        x = torch.ones(2, requires_grad=True)
        (x * 2).sum().backward()


        def inner():
            {body}


        print("before")
        inner()
        print("after")
    """)
    trace = capture(tmp_path, source)
    err = _torch_error(source)
    assert isinstance(err, etype)
    assert trace.status == "error" and trace.error is not None
    assert trace.error.type == etype.__name__ and trace.error.message == str(err)
    assert trace.error.line == line_of(source, body)
    assert "gradviz" not in trace.error.message and "capture.py" not in trace.error.message
    assert trace.stdout == "before\n"
    assert [p.status for p in trace.passes] == ["ok"]  # no implicit pass after an error


def test_syntax_error_gives_its_line(tmp_path: Any) -> None:
    source = "import torch\nx = torch.ones(2)\ny = (x +\nprint(y)\n"
    with pytest.raises(SyntaxError) as e:
        compile(source, "prog.py", "exec")
    trace = capture(tmp_path, source)
    assert trace.status == "error" and trace.error is not None
    assert trace.error.type == "SyntaxError" and trace.error.line == e.value.lineno
    assert trace.passes == ()


def test_sys_exit(tmp_path: Any) -> None:
    three = capture(tmp_path, "import sys\nprint('bye')\nsys.exit(3)\n")
    assert three.status == "error" and three.error is not None
    assert "3" in three.error.message and three.error.line == 3
    assert three.stdout == "bye\n"
    zero = capture(tmp_path, src("""
        import sys, torch
        x = torch.ones(2, requires_grad=True)
        (x * 3).sum().backward()
        sys.exit(0)
        print("not reached")
    """))
    assert zero.status == "ok" and zero.error is None and zero.stdout == ""
    assert len(zero.passes) == 1
    assert_same(zero.final_grads["x"], torch.full((2,), 3.0))
    assert capture(tmp_path, "import sys\nsys.exit()\n").status == "ok"


# ------------------------------------------------------------------------------------------------ 7. implicit

IMPLICIT = src("""
    import torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
""")


def test_implicit_pass_from_the_last_tensor(tmp_path: Any) -> None:
    trace = capture(tmp_path, IMPLICIT)
    assert_ok(trace)
    p = only(list(trace.passes))
    assert p.call == "implicit" and p.line is None and p.detail == "full"
    assert p.note is not None and "ones_like" in p.note and "y" in p.note
    assert p.roots == (node_named(p, "y").id,)
    assert trace.final_grads == {}
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.backward(torch.ones_like(y))
    assert_same(leaf_grad(p, "x").after, x.grad)
    assert leaf_grad(p, "x").before is None
    assert_same(step_of(p, p.roots[0]).grad_outputs[0], torch.ones_like(y))


def test_implicit_pass_from_a_scalar_and_from_a_named_root(tmp_path: Any) -> None:
    source = IMPLICIT + "s = (y * 3).sum()\n"
    last = only(list(capture(tmp_path, source).passes))
    assert last.roots == (node_named(last, "s").id,) and "ones_like" not in (last.note or "")
    chosen = capture(tmp_path, source, root="y")
    p = only(list(chosen.passes))
    assert p.call == "implicit" and p.roots == (node_named(p, "y").id,)
    assert "s" not in {name for n in p.nodes for name in n.names}
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert_same(leaf_grad(p, "x").after, x.grad)
    missing = capture(tmp_path, source, root="nope")
    assert only(list(missing.passes)).status == "error"


def test_root_adds_a_pass_after_the_programs_own(tmp_path: Any) -> None:
    source = IMPLICIT + "y.sum().backward()\nq = x * 5\n"
    trace = capture(tmp_path, source, root="q")
    assert [p.call for p in trace.passes] == ["backward", "implicit"]
    ns = plain(source)
    assert_same(trace.final_grads["x"], ns["x"].grad)  # taken before the implicit pass
    x = ns["x"]
    expected = x.grad.clone()
    (x * 5).sum().backward()
    assert_same(leaf_grad(trace.passes[1], "x").after, x.grad)
    assert_same(leaf_grad(trace.passes[1], "x").before, expected)


# ------------------------------------------------------------------------------------------------ 8. autograd.grad

SECOND = src("""
    import torch
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = (x ** 3).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    g2 = torch.autograd.grad(y, x, create_graph=True)[0]
    g2.sum().backward()
""")


def test_autograd_grad_with_create_graph(tmp_path: Any) -> None:
    trace = capture(tmp_path, SECOND)
    assert_ok(trace)
    ns = plain(SECOND)
    assert [p.call for p in trace.passes] == ["grad", "grad", "grad", "backward"]
    first, second, third, last = trace.passes
    assert first.line == line_of(SECOND, "(g,) = torch.autograd.grad(y, x, create_graph=True)")
    assert second.line == line_of(SECOND, "(h,) = torch.autograd.grad(g.sum(), x)")
    assert_same(only(list(first.results)), ns["g"])
    assert_same(only(list(second.results)), ns["h"])
    assert_same(only(list(third.results)), ns["g2"])
    assert first.leaf_grads == () and second.leaf_grads == ()
    assert_same(leaf_grad(last, "x").after, ns["x"].grad)
    # the second-derivative graph holds the nodes the engine built: its root and the nodes under it are new
    first_ids = {n.id for n in first.nodes}
    assert second.roots[0] not in first_ids
    assert "x" in {name for n in second.nodes for name in n.names}
    assert_edges_join_nodes(trace)
    assert set(trace.final_grads) == {"x"}


def test_library_engine_calls_are_not_passes(tmp_path: Any) -> None:
    source = src("""
        import torch
        x = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
        ok = torch.autograd.gradcheck(lambda v: (v ** 3).sin(), (x,))
        J = torch.autograd.functional.jacobian(lambda v: v ** 2, x)
        (x * x).sum().backward()
    """)
    trace = capture(tmp_path, source)
    assert_ok(trace)
    assert [p.line for p in trace.passes] == [line_of(source, "(x * x).sum().backward()")]
    ns = plain(source)
    assert ns["ok"] is True
    assert_same(leaf_grad(trace.passes[0], "x").after, ns["x"].grad)


# ------------------------------------------------------------------------------------------------ 9. threads

THREAD = src("""
    import threading
    import torch

    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)


    def work():
        y = torch.cos(x) * x
        y.sum().backward()


    t = threading.Thread(target=work)
    t.start()
    t.join()
""")


def test_backward_in_a_user_thread_is_a_pass(tmp_path: Any) -> None:
    trace = capture(tmp_path, THREAD)
    assert_ok(trace)
    p = only(list(trace.passes))
    assert p.call == "backward" and p.line == line_of(THREAD, "y.sum().backward()") and p.detail == "full"
    ns = plain(THREAD)
    assert_same(leaf_grad(p, "x").after, ns["x"].grad)
    assert {n.type for n in p.nodes} == {"SumBackward0", "MulBackward0", "CosBackward0", "AccumulateGrad"}
    assert len(p.steps) == 4


def test_lines_of_nodes_created_in_a_user_thread(tmp_path: Any) -> None:
    trace = capture(tmp_path, THREAD)
    p = trace.passes[0]
    line = line_of(THREAD, "y = torch.cos(x) * x")
    assert {n.type: n.line for n in p.nodes if n.kind == "function"} == {
        "SumBackward0": line + 1, "MulBackward0": line, "CosBackward0": line}


# ------------------------------------------------------------------------------------------------ 10. training loop

LOOP = src("""
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    X = torch.randn(8, 3)
    Y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    seen = []
    for i in range(50):
        opt.zero_grad()
        loss = ((net(X) - Y) ** 2).mean()
        loss.backward()
        seen.append((net.weight.grad.clone(), net.bias.grad.clone()))
        opt.step()
""")


def test_training_loop_keeps_first_passes_and_the_last_in_full(tmp_path: Any) -> None:
    trace = capture(tmp_path, LOOP, options=CaptureOptions(keep_first=3))
    assert_ok(trace)
    assert len(trace.passes) == 50
    line = line_of(LOOP, "loss.backward()")
    assert all(p.line == line and p.code == "loss.backward()" and p.status == "ok" for p in trace.passes)
    full = [i for i, p in enumerate(trace.passes) if p.detail == "full"]
    assert full == [0, 1, 2, 49]
    for i, p in enumerate(trace.passes):
        if i in full:
            assert p.nodes and p.steps and p.edges
            assert node_named(p, "net.weight").kind == "leaf"
        else:
            assert p.detail == "summary" and p.nodes == () and p.steps == () and p.edges == ()
    seen = plain(LOOP)["seen"]
    for p, (wg, bg) in zip(trace.passes, seen, strict=True):
        assert_same(leaf_grad(p, "net.weight").after, wg)
        assert_same(leaf_grad(p, "net.bias").after, bg)
    leaves = {n.id for i in full for n in trace.passes[i].nodes if n.type == "AccumulateGrad"}
    assert len(leaves) == 2  # a parameter is one node across the whole loop
    assert_edges_join_nodes(trace)


def _leaf_grads_by_node(p: Pass) -> dict[str, LeafGrad]:
    return {g.node: g for g in p.leaf_grads}


def test_without_keep_last_later_passes_are_summaries_with_torchs_leaf_gradients(tmp_path: Any) -> None:
    """keep_last=False: passes beyond keep_first run with no hook, yet list the same leaf gradients as
    the default's summaries (torch's, pass by pass); the last pass is a summary too."""
    light = capture(tmp_path, LOOP, options=CaptureOptions(keep_first=3, keep_last=False))
    assert_ok(light)
    assert [p.detail for p in light.passes] == ["full"] * 3 + ["summary"] * 47
    seen = plain(LOOP)["seen"]
    for p, (wg, bg) in zip(light.passes, seen, strict=True):
        assert p.line == line_of(LOOP, "loss.backward()") and p.status == "ok"
        assert_same(leaf_grad(p, "net.weight").after, wg)
        assert_same(leaf_grad(p, "net.bias").after, bg)
        assert leaf_grad(p, "net.weight").before is None  # opt.zero_grad() set it to None
    default = capture(tmp_path, LOOP, options=CaptureOptions(keep_first=3))
    for a, b in zip(light.passes[3:49], default.passes[3:49], strict=True):
        assert _leaf_grads_by_node(a) == _leaf_grads_by_node(b)


def test_without_keep_last_grad_and_inputs_passes_list_what_the_full_ones_list(tmp_path: Any) -> None:
    """grad() leaves .grad alone and backward(inputs=[w]) accumulates only w: the hook-free summaries
    say so exactly as the recorded passes do."""
    light = capture(tmp_path, PARTIAL, options=CaptureOptions(keep_first=0, keep_last=False))
    full = capture(tmp_path, PARTIAL)
    assert_ok(light)
    assert [p.detail for p in light.passes] == ["summary"] * 3
    assert [p.call for p in light.passes] == [p.call for p in full.passes] == ["grad", "backward", "grad"]
    for a, b in zip(light.passes, full.passes, strict=True):
        assert _leaf_grads_by_node(a) == _leaf_grads_by_node(b)
    assert [g.name for g in light.passes[1].leaf_grads] == ["w"]
    assert_same(leaf_grad(light.passes[1], "w").after, plain(PARTIAL)["w"].grad)


# ------------------------------------------------------------------------------------------------ 12. output and events


def test_output_is_captured_and_bounded(tmp_path: Any) -> None:
    source = src("""
        for i in range(300):
            print(f"{i:04d}" + "x" * 1019)
    """)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        plain(source)
    full = buf.getvalue()
    assert len(full.encode()) == 300 * 1024
    trace = capture(tmp_path, source)
    assert trace.status == "ok"
    assert trace.stdout_bytes == len(full.encode())
    limit = 64 * 1024
    assert trace.stdout.startswith(full[:limit]) and trace.stdout.endswith(full[-limit:])
    assert len(trace.stdout) < 2 * limit + 200
    assert f"{len(full) - 2 * limit} bytes" in trace.stdout


def test_small_output_is_kept_whole_with_stderr_merged(tmp_path: Any) -> None:
    source = "import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('中文')\n"
    trace = capture(tmp_path, source)
    assert trace.stdout == "a\nb\n中文\n" and trace.stdout_bytes == len(trace.stdout.encode())


def test_events_arrive_in_order(tmp_path: Any) -> None:
    source = src("""
        import torch
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        print("one")
        (x * x).sum().backward()
        print("two")
        try:
            (x * x).backward()
        except RuntimeError:
            pass
        print("three")
    """)
    events: list[dict[str, Any]] = []
    trace = capture(tmp_path, source, on_event=events.append)
    assert "".join(e["text"] for e in events if e["event"] == "stdout") == "one\ntwo\nthree\n" == trace.stdout
    marks = [(e["event"], e.get("index"), e.get("text")) for e in events if e["event"] != "stdout" or e["text"] != "\n"]
    assert marks == [("stdout", None, "one"), ("pass_started", 0, None), ("pass_finished", 0, None),
                     ("stdout", None, "two"), ("pass_started", 1, None), ("pass_finished", 1, None),
                     ("stdout", None, "three")]
    started = [e for e in events if e["event"] == "pass_started"]
    finished = [e for e in events if e["event"] == "pass_finished"]
    assert [(e["call"], e["line"]) for e in started] == [(p.call, p.line) for p in trace.passes]
    assert [e["pass"]["status"] for e in finished] == ["ok", "error"]
    assert finished[1]["pass"]["error"]["message"] == trace.passes[1].error.message
    assert [e["pass"]["line"] for e in finished] == [p.line for p in trace.passes]


# ------------------------------------------------------------------------------------------------ cuts

CUTS = src("""
    import torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    a = y.data
    with torch.no_grad():
        b = y * 3
        c = x * 5
    with torch.inference_mode():
        d = y * 7
    z = a * x + b * x + c * x + d.clone() + x
    z.sum().backward()
""")


def test_every_kind_of_cut_is_a_detached_edge(tmp_path: Any) -> None:
    trace = capture(tmp_path, CUTS)
    assert_ok(trace)
    assert_no_step_on_ghosts(trace)
    p = trace.passes[0]
    cuts = Counter(e.cut for e in p.edges if e.kind == "detached" and e.cut is not None)
    assert cuts == Counter({".data": 1, "no_grad": 2, "inference_mode": 1})
    ghost = only([n for n in p.nodes if n.kind == "detached"])
    assert ghost.type == "MulBackward0" and ghost.line == line_of(CUTS, "y = x * x")
    assert {e.cut for e in p.edges if e.dst == ghost.id} == {".data", "no_grad", "inference_mode"}
    leaf = node_named(p, "x")
    # c = x * 5 under no_grad was made from the leaf itself: a detached edge straight to the leaf
    assert [e.cut for e in p.edges if e.dst == leaf.id and e.kind == "detached" and e.cut] == ["no_grad"]
    assert_same(leaf_grad(p, "x").after, plain(CUTS)["x"].grad)


# ------------------------------------------------------------------------------------------------ values kept

MUTATED = src("""
    import torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    e = y.exp()
    z = y * e
    z.sum().backward()
    y += 100
    with torch.no_grad():
        e.zero_()
""")


def test_saved_values_are_those_of_the_pass_even_if_the_program_changes_them_later(tmp_path: Any) -> None:
    """y and e are saved by z's MulBackward0 and e is exp's saved result; the program then changes both in
    place. The pass shows what the engine used (torch's saved tensors just before the call)."""
    trace = capture(tmp_path, MUTATED)
    assert_ok(trace)
    p = trace.passes[0]
    ns = plain(MUTATED, upto=line_of(MUTATED, "z.sum().backward()") - 1)
    fn = ns["z"].grad_fn
    z_mul = only([n for n in nodes_of(p, "MulBackward0") if n.line == line_of(MUTATED, "z = y * e")])
    assert_same(z_mul.saved["_saved_self"], fn._saved_self)
    assert_same(z_mul.saved["_saved_other"], fn._saved_other)
    exp = only(nodes_of(p, "ExpBackward0"))
    assert_same(exp.saved["_saved_result"], ns["e"].grad_fn._saved_result)


STEPPED = src("""
    import torch
    torch.manual_seed(0)
    a = torch.randn((), requires_grad=True)
    w = torch.randn(100, requires_grad=True)
    x = torch.linspace(-1, 1, 100)
    before = []
    for i in range(6):
        loss = ((a + w * x) ** 2).sum()
        before.append((a.detach().clone(), w.detach().clone()))
        loss.backward()
        with torch.no_grad():
            a -= 0.1 * a.grad
            w -= 0.1 * w.grad
            a.grad = None
            w.grad = None
""")


def test_leaf_values_are_those_of_the_pass_after_an_optimizer_step(tmp_path: Any) -> None:
    """Each kept pass shows its parameters as the engine used them, though the loop then steps them in
    place: a scalar (kept as a copy when it changes) and a 100-element vector (kept as its summary)."""
    trace = capture(tmp_path, STEPPED, options=CaptureOptions(keep_first=2))
    assert_ok(trace)
    full = [i for i, p in enumerate(trace.passes) if p.detail == "full"]
    assert full == [0, 1, 5]
    before = plain(STEPPED)["before"]
    for i in full:
        a, w = before[i]
        assert_same(node_named(trace.passes[i], "a").tensor, a)
        assert_same(node_named(trace.passes[i], "w").tensor, w)
        assert not torch.equal(a, before[-1][0]) or i == 5


CHAIN = src("""
    import torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for i in range(300):
        y = y * 1.001 + 0.001 * i
    y.sum().backward()
""")


@pytest.mark.parametrize("program", [LESSON, CAUGHT, MUTATED, STEPPED, CHAIN],
                         ids=["lesson", "caught", "mutated", "stepped", "chain"])
def test_eager_and_lazy_summaries_agree(tmp_path: Any, program: str) -> None:
    """hold_bytes=0 summarises every step in its hook and each pass as it ends; the default summarises when
    the program ends."""
    lazy = capture(tmp_path, program)
    eager = capture(tmp_path, program, options=CaptureOptions(hold_bytes=0))
    assert lazy.passes == eager.passes


TENTATIVE = src("""
    import torch
    torch.manual_seed(0)
    w = torch.randn(4, requires_grad=True)
    b = torch.randn((), requires_grad=True)
    x = torch.randn(4)


    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            return 2 * t * g


    def step(i):
        h = w * x
        h.register_hook(lambda g: g * 2)
        y = Square.apply(h) + h * h + b{cut}
        loss = y.sum()
        loss.backward(retain_graph=True)
        (y * w).sum().backward()
        try:
            loss.backward()
        except RuntimeError:
            pass
        gw, = torch.autograd.grad((w * x * b).pow(2).sum(), [w])
        (w * b * b).sum().backward(inputs=[b])
        with torch.no_grad():
            w.sub_(0.01 * (w.grad + gw))
            w.grad = None


    for i in range(4):
        step(i)
    last = w * x
    out = (last * last * b).sum(){cut_last}
    {final}
    x.add_(1)
""")


def _ids_in_order(p: Pass) -> Pass:
    """`p` with its node ids renamed k0, k1... in order of appearance (runs number nodes differently)."""
    order: dict[str, str] = {}

    def k(uid: str) -> str:
        return order.setdefault(uid, f"k{len(order)}")

    roots = tuple(k(r) for r in p.roots)
    nodes = tuple(dataclasses.replace(n, id=k(n.id)) for n in p.nodes)
    edges = tuple(dataclasses.replace(e, src=k(e.src), dst=k(e.dst)) for e in p.edges)
    steps = tuple(dataclasses.replace(s, node=k(s.node)) for s in p.steps)
    leaf_grads = tuple(dataclasses.replace(g, node=k(g.node)) for g in p.leaf_grads)
    return dataclasses.replace(p, roots=roots, nodes=nodes, edges=edges, steps=steps, leaf_grads=leaf_grads)


@pytest.mark.parametrize("cut", ["", " + (h.detach() * b).sum()"], ids=["joined", "with-cuts"])
@pytest.mark.parametrize("hold_bytes", [CaptureOptions.hold_bytes, 0], ids=["held", "settled-in-hooks"])
@pytest.mark.parametrize("final", ["out.backward()", "gw, gb = torch.autograd.grad(out, [w, b])",
                                   "out.backward(inputs=[w])"], ids=["backward", "grad", "inputs"])
def test_a_tentative_pass_that_is_the_last_equals_the_one_recorded_in_full(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, cut: str, hold_bytes: int, final: str) -> None:
    """Passes beyond keep_first record only what the engine frees and their steps; the last one is made
    whole when the program ends. It is the pass a full snapshot would have recorded: the same nodes, saved
    values (x changes after the loop), edges, steps (a tensor hook, a custom Function, summed gradients, a
    retained graph, a failed pass, grad() and inputs=), names, leaf gradients and grad()'s results; the
    others list the same leaf gradients."""
    program = (TENTATIVE.replace("{cut}", cut).replace("{cut_last}", cut.replace("h.", "last."))
               .replace("{final}", final))
    options = CaptureOptions(keep_first=0, hold_bytes=hold_bytes)
    tentative = capture(tmp_path, program, options=options)
    monkeypatch.setattr(_Capture, "tentative", False)
    full = capture(tmp_path, program, options=options)
    assert tentative.status == full.status == "ok", (tentative.error, full.error)
    assert [p.detail for p in tentative.passes] == ["summary"] * 20 + ["full"]
    assert [p.status for p in tentative.passes] == ["ok", "ok", "error", "ok", "ok"] * 4 + ["ok"]
    assert [p.call for p in tentative.passes] == ["backward"] * 3 + ["grad", "backward"] + ["backward"] * 3 + [
        "grad", "backward"] + ["backward"] * 3 + ["grad", "backward"] + ["backward"] * 3 + ["grad", "backward"] + [
        "grad" if "grad(" in final else "backward"]
    assert _ids_in_order(tentative.passes[-1]) == _ids_in_order(full.passes[-1])
    for a, b in zip(tentative.passes, full.passes, strict=True):
        assert [(g.name, g.before, g.after) for g in a.leaf_grads] == [(g.name, g.before, g.after) for g in b.leaf_grads]
    made = only([n for n in nodes_of(tentative.passes[-1], "MulBackward0") if n.line == line_of(program, "last = w * x")])
    assert_same(made.saved["_saved_other"], plain(program.replace("x.add_(1)", ""))["x"])


LEAF_HOOKS = src("""
    import torch
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = torch.tensor([1.5, 0.25, -0.75], requires_grad=True)
    b = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
    hx = x.register_hook(lambda g: g * 3)


    def halve(p):
        p.grad.mul_(0.5)


    hw = w.register_post_accumulate_grad_hook(halve)
    b.grad = torch.ones(3)
    loss = (x * w + b * x).pow(2).sum()
    loss.backward()
    again = (x * w * b).sum()
    again.backward()
""")


def test_leaf_steps_show_what_arrived_whatever_accumulate_grad_and_hooks_do(tmp_path: Any) -> None:
    """A leaf without .grad gets the arriving gradient as its .grad, so that is read after the engine — but
    not where a post-accumulate hook changes .grad in place (w), nor where .grad already exists and the
    gradient is added into it (b; x in the second pass). x's tensor hook triples what arrives."""
    trace = capture(tmp_path, LEAF_HOOKS)
    assert_ok(trace)
    first, second = trace.passes
    ns = plain(LEAF_HOOKS, upto=line_of(LEAF_HOOKS, "loss.backward()") - 1)
    _assert_steps_equal_the_engine(first, _engine_record(ns["loss"]))
    mid = plain(LEAF_HOOKS, upto=line_of(LEAF_HOOKS, "again.backward()") - 1)
    for name in ("x", "w", "b"):
        assert_same(leaf_grad(first, name).after, mid[name].grad)
    ns = plain(LEAF_HOOKS, upto=line_of(LEAF_HOOKS, "again.backward()") - 1)
    _assert_steps_equal_the_engine(second, _engine_record(ns["again"]))
    done = plain(LEAF_HOOKS)
    for name in ("x", "w", "b"):
        assert_same(leaf_grad(second, name).before, mid[name].grad)
        assert_same(leaf_grad(second, name).after, done[name].grad)
        assert_same(trace.final_grads[name], done[name].grad)


# ------------------------------------------------------------------------------------------------ more calls

CALLS = src("""
    import torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, -4.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 10)
    y = (x * w).sum()
    y.backward(retain_graph=True)
    y.backward(inputs=[w])
    torch.autograd.backward([(x * 2).sum(), (w * 3).sum()])
    v = x * w
    v.backward(torch.tensor([0.5, -2.0]))
""")


@pytest.mark.parametrize("index", range(4))
def test_retain_inputs_several_roots_seed_and_hooks(tmp_path: Any, index: int) -> None:
    trace = capture(tmp_path, CALLS)
    assert_ok(trace)
    assert len(trace.passes) == 4
    p = trace.passes[index]
    lines = [i + 1 for i, text in enumerate(CALLS.splitlines()) if "backward(" in text]
    assert p.line == lines[index]
    after, before = plain(CALLS, upto=p.line), plain(CALLS, upto=p.line - 1)
    for name in ("x", "w"):
        if after[name].grad is None or (before[name].grad is not None
                                        and torch.equal(before[name].grad, after[name].grad)):
            assert name not in {g.name for g in p.leaf_grads}  # this pass did not touch it
            continue
        g = leaf_grad(p, name)
        assert_same(g.after, after[name].grad)
        if before[name].grad is None:
            assert g.before is None
        else:
            assert_same(g.before, before[name].grad)
    assert len(p.roots) == (2 if index == 2 else 1)
    if index == 3:
        assert_same(step_of(p, p.roots[0]).grad_outputs[0], torch.tensor([0.5, -2.0]))
    if index == 1:  # retained graph: the same nodes, and their saved tensors are still there
        assert {n.id for n in p.nodes} == {n.id for n in trace.passes[0].nodes}
        assert only(nodes_of(p, "MulBackward0")).saved


def test_autograd_grad_results_with_unused_inputs_and_grad_outputs(tmp_path: Any) -> None:
    source = src("""
        import torch
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        u = torch.tensor([5.0], requires_grad=True)
        y = x * 3
        gx, gu = torch.autograd.grad(y, [x, u], grad_outputs=torch.tensor([1.0, -1.0]), allow_unused=True)
    """)
    trace = capture(tmp_path, source)
    assert_ok(trace)
    p = only(list(trace.passes))
    ns = plain(source)
    assert ns["gu"] is None
    assert len(p.results) == 2 and p.results[1] is None
    assert_same(p.results[0], ns["gx"])
    assert_same(step_of(p, p.roots[0]).grad_outputs[0], torch.tensor([1.0, -1.0]))
    assert trace.final_grads == {}


BOOM = src("""
    import torch


    class Boom(torch.autograd.Function):
        @staticmethod
        def forward(ctx, i):
            return i * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom in backward")


    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = Boom.apply(x * 2)
    loss = (y.sin() * 3).sum()
    loss.backward()
""")


def test_a_pass_that_fails_part_way_keeps_the_steps_that_ran(tmp_path: Any) -> None:
    trace = capture(tmp_path, BOOM)
    line = line_of(BOOM, "loss.backward()")
    p = only(list(trace.passes))
    assert p.status == "error" and p.error.type == "ValueError" and p.error.line == line
    assert trace.status == "error" and trace.error.message == "boom in backward"
    assert trace.error.line == line_of(BOOM, 'raise ValueError("boom in backward")')
    ns = plain(BOOM, upto=line - 1)
    record: list[list[Any]] = []
    with pytest.raises(ValueError):
        _engine_record(ns["loss"], into=record)
    order = [kind for kind, _, _ in record]
    types = {n.id: n.type for n in p.nodes}
    assert [types[s.node] for s in p.steps] == order
    assert order[-1] == "BoomBackward"


def test_error_pass_has_no_freed_saved_tensors(tmp_path: Any) -> None:
    trace = capture(tmp_path, TWICE)
    ok, bad = trace.passes
    assert only(nodes_of(ok, "MulBackward0")).saved
    assert only(nodes_of(bad, "MulBackward0")).saved == {}
    assert {n.id for n in ok.nodes} == {n.id for n in bad.nodes}


# ------------------------------------------------------------------------------------------------ isolation of runs


def test_capture_leaves_torch_as_it_found_it(tmp_path: Any) -> None:
    backward, grad = torch.autograd.backward, torch.autograd.grad
    trace = capture(tmp_path, TWICE)
    assert trace.status == "error"
    assert torch.autograd.backward is backward and torch.autograd.grad is grad
    assert not torch.overrides._get_current_function_mode_stack()
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    assert "gradviz" not in y.grad_fn.metadata


def test_program_runs_as_a_real_main_module_so_pickle_finds_its_classes(tmp_path):
    """multiprocessing and torch.save pickle by reference to __main__: it must be the program's module."""
    source = (
        "import pickle\n"
        "import torch\n"
        "class Box:\n"
        "    pass\n"
        "def double(v):\n"
        "    return v * 2\n"
        "print(type(pickle.loads(pickle.dumps(Box()))).__name__, pickle.loads(pickle.dumps(double))(21))\n"
    )
    trace = run_program(source, str(tmp_path / "prog.py"))
    assert trace.status == "ok", trace.error
    assert trace.stdout.split() == ["Box", "42"]
    assert sys.modules["__main__"].__dict__.get("Box") is None


DATA_UPDATES = src("""
    import torch

    w = torch.ones(100, requires_grad=True)
    x = torch.arange(100.0)
    seen_w, seen_grad = [], []
    for _ in range(3):
        seen_w.append(w.detach().clone())
        loss = (w * x).sum()
        loss.backward()
        seen_grad.append(w.grad.detach().clone())
        w.data -= 0.01 * w.grad
        w.grad.data.zero_()
    d = w.data
    d.mul_(2)
    w.data = torch.full((100,), 3.0)
""")


def test_changes_through_data_are_seen(tmp_path: Any) -> None:
    """`w.data -= ...`, `w.grad.data.zero_()` and `w.data = t` change values without bumping the version
    counter a cached summary is checked by: every pass shows the values of its own time (D2L-style updates
    on a 100-element weight, past the size where values are copied outright)."""
    trace = capture(tmp_path, DATA_UPDATES)
    assert_ok(trace)
    ns = plain(DATA_UPDATES)
    assert len(trace.passes) == 3
    for i, p in enumerate(trace.passes):
        assert_same(node_named(p, "w").tensor, ns["seen_w"][i])
        g = leaf_grad(p, "w")
        if i == 0:
            assert g.before is None
        else:
            assert_same(g.before, torch.zeros(100))
        assert_same(g.after, ns["seen_grad"][i])
    assert_same(trace.final_grads["w"], ns["w"].grad)


UNUSUAL_TENSORS = src("""
    import torch

    i = torch.tensor([[0, 1, 1], [2, 0, 2]])
    v = torch.tensor([3.0, 4.0, 5.0], requires_grad=True)
    d = torch.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
    torch.sparse.mm(torch.sparse_coo_tensor(i, v, (2, 3)), d).sum().backward()
    emb = torch.nn.Embedding(10, 3, sparse=True)
    emb(torch.tensor([1, 1, 4])).sum().backward()
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = torch.tensor([4.0, 5.0], requires_grad=True)
    nt = torch.nested.as_nested_tensor([a, b], layout=torch.jagged)
    (nt * 2).values().sum().backward()
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    jac, = torch.autograd.grad(x ** 2, x, grad_outputs=torch.eye(3), is_grads_batched=True)
""")


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
def test_sparse_nested_and_batched_gradients_never_break_the_program(tmp_path: Any) -> None:
    """Gradients gradviz cannot read element by element (sparse, nested, vmap-batched) get a summary without
    statistics; the program runs as it does without gradviz and every pass is kept."""
    trace = capture(tmp_path, UNUSUAL_TENSORS)
    assert_ok(trace)
    ns = plain(UNUSUAL_TENSORS)
    assert [(p.call, p.status) for p in trace.passes] == [("backward", "ok")] * 3 + [("grad", "ok")]
    for name in ("v", "d", "a", "b"):
        assert_same(trace.final_grads[name], ns[name].grad)
    assert all(p.steps for p in trace.passes)
    assert_same(trace.passes[3].results[0], ns["jac"])


def test_backward_through_a_subclass_or_a_helper_module_is_a_pass(tmp_path: Any) -> None:
    """A Tensor subclass's backward goes through its __torch_function__, a helper module's through another
    file: both are the program's passes, at the user's line that made them, and no implicit pass follows."""
    (tmp_path / "helper_mod.py").write_text("def step(loss):\n    loss.backward()\n", encoding="utf-8")
    program = src("""
        import sys
        import torch
        sys.path.insert(0, HERE)
        import helper_mod


        class Logged(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return super().__torch_function__(func, types, args, kwargs or {})


        z = torch.tensor([1.0, 2.0, 3.0]).as_subclass(Logged).requires_grad_()
        (z.exp() * 2).sum().backward()
        w = torch.tensor([1.0, 2.0], requires_grad=True)
        helper_mod.step((w * w).sum())
    """).replace("HERE", repr(str(tmp_path)))
    trace = capture(tmp_path, program)
    assert_ok(trace)
    assert [(p.call, p.line, p.status) for p in trace.passes] == [
        ("backward", line_of(program, "(z.exp() * 2).sum().backward()"), "ok"),
        ("backward", line_of(program, "helper_mod.step((w * w).sum())"), "ok")]
    assert_same(leaf_grad(trace.passes[0], "z").after, torch.tensor([1.0, 2.0, 3.0]).exp() * 2)
    assert_same(leaf_grad(trace.passes[1], "w").after, torch.tensor([2.0, 4.0]))


LEAF_ROOTS = src("""
    import torch

    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.backward(torch.tensor([1.0, 0.5, 2.0]))
    s = torch.tensor(5.0, requires_grad=True)
    for _ in range(12):
        s.backward()
""")


def test_backward_on_a_leaf_is_one_step_into_its_grad(tmp_path: Any) -> None:
    """`x.backward(v)` on a leaf: the engine runs its AccumulateGrad alone; the pass shows that step and
    `.grad` None -> v (it showed no step and no gradient), in the kept passes and the last one alike."""
    trace = capture(tmp_path, LEAF_ROOTS)
    assert_ok(trace)
    ns = plain(LEAF_ROOTS)
    first = trace.passes[0]
    assert [s.node for s in first.steps] == [node_named(first, "x").id]
    assert leaf_grad(first, "x").before is None
    assert_same(leaf_grad(first, "x").after, ns["x"].grad)
    last = trace.passes[-1]
    assert len(trace.passes) == 13 and last.detail == "full" and len(last.steps) == 1
    assert_same(leaf_grad(last, "s").before, torch.tensor(11.0))
    assert_same(leaf_grad(last, "s").after, ns["s"].grad)

