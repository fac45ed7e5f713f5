"""Replay of one backward pass: what is done, current and pending after k engine steps, and which gradient
sits on each edge and in each leaf's `.grad` — a pure function of the `Pass`, shared by the GUI and exports.

Step numbering: step 0 is the graph before the engine ran anything; step k (1..n) is the moment just after
the engine executed its k-th node, which is then the *current* node (steps 1..k-1 are *done*).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gradviz.core.trace import LeafGrad, Node, Pass, TensorSummary

PENDING, CURRENT, DONE, DETACHED = "pending", "current", "done", "detached"
NODE_STATES = (PENDING, CURRENT, DONE, DETACHED)

# Edge states: never carries anything (cut off), not yet carried, carried earlier, just carried at this step.
EDGE_DETACHED, EDGE_PENDING, EDGE_CARRIED, EDGE_FRESH = "detached", "pending", "carried", "fresh"
EDGE_STATES = (EDGE_DETACHED, EDGE_PENDING, EDGE_CARRIED, EDGE_FRESH)


@dataclass(frozen=True)
class Frame:
    """The whole picture at one step. `edge_grads` holds, by index into `Pass.edges`, every edge that has
    carried a gradient so far; `leaf_grads` holds each leaf's `.grad` as it stands at this step."""

    step: int
    total: int
    current: str | None
    node_states: Mapping[str, str]
    edge_states: Mapping[int, str]
    edge_grads: Mapping[int, TensorSummary]
    leaf_grads: Mapping[str, TensorSummary | None]


class Replay:
    """An index over one pass, built once, that answers per-step questions in O(1) per item, and says which
    items differ between two steps so a view restyles only those."""

    def __init__(self, pass_: Pass) -> None:
        self.pass_ = pass_
        self.total = len(pass_.steps)
        self._nodes = {n.id: n for n in pass_.nodes}
        self._order: list[str] = [s.node for s in pass_.steps]
        self._node_step: dict[str, int] = {}
        for k, step in enumerate(pass_.steps, start=1):
            self._node_step.setdefault(step.node, k)
        self._detached = {n.id for n in pass_.nodes if n.kind == "detached"}
        self._out_edges: dict[str, list[int]] = {}
        self._edge_grad: list[TensorSummary | None] = []
        self._edge_step: list[int | None] = []
        for i, e in enumerate(pass_.edges):
            self._out_edges.setdefault(e.src, []).append(i)
            grad, when = None, None
            ran = self._node_step.get(e.src)
            if e.kind == "grad" and ran is not None:
                sent = pass_.steps[ran - 1].grad_inputs
                grad = sent[e.slot] if 0 <= e.slot < len(sent) else None
                when = ran if grad is not None else None
            self._edge_grad.append(grad)
            self._edge_step.append(when)
        self._leaf: dict[str, LeafGrad] = {g.node: g for g in pass_.leaf_grads}

    # ---------------------------------------------------------------- per item

    def node(self, node_id: str) -> Node:
        """The pass's node with this id."""
        return self._nodes[node_id]

    def clamp(self, k: int) -> int:
        """`k` limited to the valid steps 0..total."""
        return max(0, min(int(k), self.total))

    def current(self, k: int) -> str | None:
        """The node the engine executed at step k (None at step 0)."""
        k = self.clamp(k)
        return self._order[k - 1] if k else None

    def step_of(self, node_id: str) -> int | None:
        """The step at which the engine executed this node (None if it never ran in this pass)."""
        return self._node_step.get(node_id)

    def out_edges(self, node_id: str) -> list[int]:
        """Indices (into `Pass.edges`) of the edges leaving this node, without scanning every edge."""
        return self._out_edges.get(node_id, [])

    def node_state(self, node_id: str, k: int) -> str:
        """pending / current / done at step k; "detached" for nodes of a branch cut off the graph."""
        if node_id in self._detached:
            return DETACHED
        ran = self._node_step.get(node_id)
        k = self.clamp(k)
        if ran is None or ran > k:
            return PENDING
        return CURRENT if ran == k else DONE

    def edge_grad(self, index: int) -> TensorSummary | None:
        """The gradient edge `index` carries in this pass (None if it never carries one)."""
        return self._edge_grad[index]

    def edge_state(self, index: int, k: int) -> str:
        """detached / pending / carried / fresh (carried at exactly this step) for edge `index` at step k."""
        if self.pass_.edges[index].kind != "grad":
            return EDGE_DETACHED
        when = self._edge_step[index]
        k = self.clamp(k)
        if when is None or when > k:
            return EDGE_PENDING
        return EDGE_FRESH if when == k else EDGE_CARRIED

    def leaf_grad(self, node_id: str, k: int) -> TensorSummary | None:
        """The leaf's `.grad` at step k: its value before this pass until its AccumulateGrad ran, after it
        from then on."""
        g = self._leaf.get(node_id)
        if g is None:
            return None
        ran = self._node_step.get(node_id)
        return g.after if ran is not None and ran <= self.clamp(k) else g.before

    def leaf_record(self, node_id: str) -> LeafGrad | None:
        """The pass's before/after record of this leaf's `.grad`, if it has one."""
        return self._leaf.get(node_id)

    def seed_grad(self, root_id: str) -> TensorSummary | None:
        """The gradient the pass starts from at this root (what `backward(gradient=...)` was given)."""
        k = self._node_step.get(root_id)
        if k is None:
            return None
        arriving = self.pass_.steps[k - 1].grad_outputs
        return arriving[0] if arriving else None

    # ---------------------------------------------------------------- whole frames and differences

    def frame(self, k: int) -> Frame:
        """Everything at step k (O(size of the pass); use the per-item methods when stepping a view)."""
        k = self.clamp(k)
        edge_states = {i: self.edge_state(i, k) for i in range(len(self.pass_.edges))}
        return Frame(
            step=k, total=self.total, current=self.current(k),
            node_states={n.id: self.node_state(n.id, k) for n in self.pass_.nodes},
            edge_states=edge_states,
            edge_grads={i: g for i, g in enumerate(self._edge_grad)
                        if g is not None and edge_states[i] in (EDGE_CARRIED, EDGE_FRESH)},
            leaf_grads={nid: self.leaf_grad(nid, k) for nid in self._leaf},
        )

    def transitions(self, k_from: int, k_to: int) -> tuple[list[tuple[str, str]], list[tuple[int, str]]]:
        """The (node id, state at `k_to`) and (edge index, state at `k_to`) pairs of everything `changed()`
        names, computed in one pass without per-item calls — stepping a 2,000-node pass from its first to
        its last step touches ~4,000 items, within one frame."""
        a, b = self.clamp(k_from), self.clamp(k_to)
        if a == b:
            return [], []
        lo, hi = min(a, b), max(a, b)
        order, node_step, detached = self._order, self._node_step, self._detached
        out_edges, edge_step, edges_of = self._out_edges, self._edge_step, self.pass_.edges
        nodes: list[tuple[str, str]] = []
        edges: list[tuple[int, str]] = []
        seen: set[str] = set()
        for i in range(max(lo - 1, 0), hi):
            nid = order[i]
            if nid in seen:
                continue
            seen.add(nid)
            if nid in detached:
                state = DETACHED
            else:
                ran = node_step[nid]
                state = PENDING if ran > b else (CURRENT if ran == b else DONE)
            nodes.append((nid, state))
            for e in out_edges.get(nid, ()):
                if edges_of[e].kind != "grad":
                    edges.append((e, EDGE_DETACHED))
                    continue
                when = edge_step[e]
                edges.append((e, EDGE_PENDING if when is None or when > b else (EDGE_FRESH if when == b
                                                                                 else EDGE_CARRIED)))
        return nodes, edges

    def changed(self, k_from: int, k_to: int) -> tuple[set[str], set[int]]:
        """Node ids and edge indices whose state (or gradient shown) may differ between the two steps:
        the nodes executed in between, plus the current node at either end, and their outgoing edges."""
        a, b = sorted((self.clamp(k_from), self.clamp(k_to)))
        if a == b:
            return set(), set()
        nodes = set(self._order[max(a - 1, 0):b])
        edges: set[int] = set()
        for nid in nodes:
            edges.update(self._out_edges.get(nid, ()))
        return nodes, edges


def frame_at(pass_: Pass, step: int) -> Frame:
    """The picture of `pass_` after `step` engine steps (0 = before the first step)."""
    return Replay(pass_).frame(step)
