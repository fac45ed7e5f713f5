"""Folded views: nodes grouped by the module that made them, identical layers folded (and different ones
not), every node in exactly one visible item whatever is opened, and the engine's steps replayed in order on
a folded view — on graphs captured from real torch models."""

from __future__ import annotations

import pytest
import torch

from gradviz.core.capture import run_program
from gradviz.core.fold import FOLD_KEY, ROOT, FoldedGraph, FoldedView, ViewState, group_id
from gradviz.core.replay import CURRENT, DONE, PENDING, Replay
from gradviz.core.trace import Pass

BUILD = """
import torch
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0)
net = torch.nn.TransformerEncoder(layer, num_layers={layers}, enable_nested_tensor=False)
{tweak}
x = torch.randn(4, 2, 8, requires_grad=True)
"""
FORWARD = "loss = net(x).pow(2).mean()\nloss.backward()\n"
GELU_AT_2 = "net.layers[2].activation = torch.nn.functional.gelu"


def capture(source: str) -> Pass:
    trace = run_program(source, "model.py")
    assert trace.status == "ok", trace.error
    return trace.passes[-1]


@pytest.fixture(scope="module")
def identical() -> Pass:
    """Three identical encoder layers."""
    return capture(BUILD.format(layers=3, tweak="") + FORWARD)


@pytest.fixture(scope="module")
def one_different() -> Pass:
    """Four encoder layers; layer 2 uses GELU instead of ReLU."""
    return capture(BUILD.format(layers=4, tweak=GELU_AT_2) + FORWARD)


def torch_model(layers: int, tweak: str = "") -> torch.nn.Module:
    ns: dict = {}
    exec(BUILD.format(layers=layers, tweak=tweak), ns)
    return ns["net"]


def states(fg: FoldedGraph) -> list[ViewState]:
    """A walk through the operations a person can do: first view, open each group, unfold, close, fold."""
    out = [ViewState(), fg.collapse_all(), fg.collapse_all(max_items=5), fg.expand_all()]
    state = fg.collapse_all()
    for path in sorted(fg.modules):
        if path:
            state = fg.expand(state, group_id(path))
            out.append(state)
    for rid in fg.runs:
        out.append(fg.unfold(fg.collapse_all(), rid))
        out.append(fg.expand(fg.collapse_all(), rid, deep=True))
        out.append(fg.fold(state, rid))
    out.append(fg.collapse(state, group_id("net.layers")))
    out.append(fg.collapse(state, group_id("net")))
    return out


# ---------------------------------------------------------------------------------------- module tree


def test_module_tree_matches_the_torch_model(identical: Pass) -> None:
    fg = FoldedGraph(identical)
    net = torch_model(3)
    assert fg.modules[ROOT].children == ("net",)
    assert fg.modules["net"].children == ("net.layers",)
    assert sorted(fg.modules["net.layers"].children) == [f"net.layers.{i}" for i in range(len(net.layers))]
    for i, layer in enumerate(net.layers):
        made_nodes = {f"net.layers.{i}.{name}" for name, m in layer.named_children()
                      if not isinstance(m, torch.nn.Dropout)}  # dropout=0.0: no autograd node
        assert set(fg.modules[f"net.layers.{i}"].children) == made_nodes


def test_every_node_has_one_module_and_parameters_sit_with_their_owner(identical: Pass) -> None:
    fg = FoldedGraph(identical)
    owned = [nid for mod in fg.modules.values() for nid in mod.own]
    assert sorted(owned) == sorted(n.id for n in identical.nodes)
    assert fg.modules[ROOT].size == len(identical.nodes)
    params = dict(torch_model(3).named_parameters(prefix="net"))
    leaves = [n for n in identical.nodes if n.kind == "leaf" and n.names and n.names[0] in params]
    assert len(leaves) == len(params)
    for n in leaves:
        owner = fg.module_of(n.id)
        assert n.names[0].startswith(owner + ".")
        # the deepest module that made nodes: out_proj is called functionally inside self_attn
        assert owner.rpartition(".")[2] in ("self_attn", "linear1", "linear2", "norm1", "norm2")
    x = next(n for n in identical.nodes if n.kind == "leaf" and n.names == ("x",))
    assert fg.module_of(x.id) == ROOT


# ---------------------------------------------------------------------------------------------- runs


def test_identical_layers_fold_into_one_run(identical: Pass) -> None:
    fg = FoldedGraph(identical)
    assert list(fg.runs) == ["run:net.layers[0-2]"]
    run = fg.runs["run:net.layers[0-2]"]
    assert run.members == ("net.layers.0", "net.layers.1", "net.layers.2")
    assert run.size == fg.modules["net.layers.1"].size
    for n in identical.nodes:
        module = fg.module_of(n.id)
        if module.startswith("net.layers."):
            layer = int(module.split(".")[2])
            assert fg.locate(n.id) == (("run:net.layers[0-2]", layer),)  # "which layer" for any node
        else:
            assert fg.locate(n.id) == ()


def test_a_different_layer_does_not_fold(one_different: Pass) -> None:
    fg = FoldedGraph(one_different)
    # 0 and 1 are identical; 2 has another activation; 3 is identical to 0 but not next to it.
    assert list(fg.runs) == ["run:net.layers[0-1]"]
    view = fg.view(fg.collapse_all())
    titles = [n.type for n in view.pass_.nodes if n.attrs.get(FOLD_KEY)]
    assert any("×2" in t for t in titles)
    assert group_id("net.layers.2") in view.items or any(
        n.module == "net.layers.2" for n in view.pass_.nodes if not n.attrs.get(FOLD_KEY))


def test_same_op_counts_but_different_wiring_do_not_fold() -> None:
    source = """
import torch
class Block(torch.nn.Module):
    def __init__(self, swap):
        super().__init__()
        self.swap = swap
    def forward(self, x):
        a = x * 2
        b, c = torch.relu(a), torch.tanh(a)
        return c - b if self.swap else b - c  # same ops, same counts; only the wiring differs
net = torch.nn.Sequential(Block(False), Block(False), Block(True), Block(False))
x = torch.randn(3, requires_grad=True)
net(x).sum().backward()
"""
    fg = FoldedGraph(capture(source))
    assert list(fg.runs) == ["run:net[0-1]"]


def test_alternating_layers_of_a_sequential_do_not_fold() -> None:
    source = """
import torch
net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4), torch.nn.ReLU(),
                          torch.nn.Linear(4, 2))
net(torch.randn(3, 6)).sum().backward()
"""
    fg = FoldedGraph(capture(source))
    assert fg.modules["net"].children == tuple(f"net.{i}" for i in (4, 3, 2, 1, 0))  # gradient-flow order
    assert fg.runs == {}  # Linear, ReLU, Linear...: no two neighbours alike


# ------------------------------------------------------------------------------------------- views


def check_partition(fg: FoldedGraph, view: FoldedView) -> None:
    """Every underlying node in exactly one visible item, every edge drawn once (or inside an item)."""
    p = fg.pass_
    assert set(view.node_item) == {n.id for n in p.nodes}
    drawn = [n.id for n in view.pass_.nodes]
    assert len(drawn) == len(set(drawn)) and set(drawn) == set(view.node_item.values()) == set(view.items)
    for item in view.items.values():
        inside = {nid for nid, it in view.node_item.items() if it == item.id}
        if item.kind == "node":
            assert inside == {item.id}
        else:
            expected = {nid for m in item.members for nid in fg.subtree_nodes(m)}
            assert inside == expected and item.size == len(expected)
    covered = sorted(i for members in view.edge_members for i in members)
    internal = [i for i, e in enumerate(p.edges) if view.node_item[e.src] == view.node_item[e.dst]]
    assert sorted(covered + internal) == list(range(len(p.edges)))
    for e, members in zip(view.pass_.edges, view.edge_members, strict=True):
        assert {(view.node_item[p.edges[i].src], view.node_item[p.edges[i].dst]) for i in members} == {(e.src, e.dst)}


def test_opening_and_closing_keep_every_node_in_exactly_one_item(one_different: Pass) -> None:
    fg = FoldedGraph(one_different)
    seen = set()
    for state in states(fg):
        view = fg.view(state)
        check_partition(fg, view)
        seen.add(len(view.items))
    assert len(seen) > 5  # the walk really changed what is visible
    full = fg.view(fg.expand_all())
    assert all(item.kind == "node" for item in full.items.values())
    assert len(full.pass_.edges) == len(one_different.edges)


def test_first_view_is_small_and_opening_a_run_piece_opens_its_first_member(identical: Pass) -> None:
    fg = FoldedGraph(identical)
    first = fg.view(fg.collapse_all(max_items=12))
    assert len(first.items) <= 12
    assert "run:net.layers[0-2]" in first.items
    opened = fg.view(fg.expand(fg.collapse_all(max_items=12), "run:net.layers[0-2]"))
    assert "run:net.layers[1-2]" in opened.items  # the other two stay folded
    assert group_id("net.layers.0.self_attn") in opened.items
    check_partition(fg, opened)
    unfolded = fg.view(fg.unfold(fg.collapse_all(max_items=12), "run:net.layers[0-2]"))
    assert {group_id(f"net.layers.{i}") for i in range(3)} <= set(unfolded.items)


def test_collapsing_a_node_closes_its_innermost_open_module(identical: Pass) -> None:
    fg = FoldedGraph(identical)
    state = fg.expand(ViewState(), group_id("net.layers.1.linear1"))
    node = fg.modules["net.layers.1.linear1"].own[0]
    assert fg.view(state).item_of(node) == node
    closed = fg.collapse(state, node)
    assert fg.view(closed).item_of(node) == group_id("net.layers.1.linear1")
    assert fg.collapse(state, group_id(ROOT)) == state  # the top level cannot be closed


def test_an_edge_out_of_a_folded_block_carries_the_gradient_torch_computes(one_different: Pass) -> None:
    fg = FoldedGraph(one_different)
    view = fg.view(ViewState(frozenset({ROOT, "net", "net.layers"})))
    i = next(i for i, e in enumerate(view.pass_.edges)
             if (e.src, e.dst) == (group_id("net.layers.3"), group_id("net.layers.2")))
    assert len(view.edge_members[i]) == 2  # residual and attention input, summed in layer 2's output
    carried = Replay(view.pass_).edge_grad(i)
    assert carried is not None

    ns: dict = {}
    exec(BUILD.format(layers=4, tweak=GELU_AT_2), ns)  # the program's own model and input (same seed)
    out = {}

    def keep(module: torch.nn.Module, args: tuple, y: torch.Tensor) -> None:
        y.retain_grad()
        out["y"] = y

    ns["net"].layers[2].register_forward_hook(keep)
    ns["net"](ns["x"]).pow(2).mean().backward()
    expected = out["y"].grad
    assert carried.shape == tuple(expected.shape)
    torch.testing.assert_close(torch.tensor(carried.values), expected, rtol=1e-4, atol=1e-7)


# -------------------------------------------------------------------------------------------- steps


def test_stepping_a_folded_view_follows_the_engine_order(identical: Pass) -> None:
    fg = FoldedGraph(identical)
    steps = identical.steps
    for state in (fg.collapse_all(max_items=8), fg.expand(fg.collapse_all(max_items=8), "run:net.layers[0-2]")):
        view = fg.view(state)
        items_in_engine_order = [view.item_of(s.node) for s in steps]
        collapsed = [it for k, it in enumerate(items_in_engine_order)
                     if k == 0 or it != items_in_engine_order[k - 1]]
        assert [s.node for s in view.pass_.steps] == collapsed
        replay = Replay(view.pass_)
        for k, s in enumerate(steps, start=1):
            j = view.view_step(k)
            assert k in view.underlying_steps(j)
            assert replay.current(j) == view.item_of(s.node)
            assert replay.node_state(view.item_of(s.node), j) in (CURRENT, DONE)
        assert [k for j in range(1, len(view.pass_.steps) + 1) for k in view.underlying_steps(j)] == \
            list(range(1, len(steps) + 1))
        first = view.item_of(steps[0].node)
        last = view.item_of(steps[-1].node)
        assert replay.node_state(last, 0) == PENDING and replay.node_state(first, 1) == CURRENT


def test_plain_nodes_keep_their_gradients_in_a_folded_view(identical: Pass) -> None:
    fg = FoldedGraph(identical)
    view = fg.view(fg.collapse_all(max_items=8))
    original, folded = Replay(identical), Replay(view.pass_)
    plain = [i for i, e in enumerate(view.pass_.edges) if view.items[e.src].kind == "node"]
    assert plain
    for i in plain:
        (u,) = view.edge_members[i]
        assert folded.edge_grad(i) == original.edge_grad(u)
    assert {g.node for g in view.pass_.leaf_grads} <= {n.id for n in view.pass_.nodes}
