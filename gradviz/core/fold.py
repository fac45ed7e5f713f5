"""Folded views of big passes: nodes grouped by the `nn.Module` that created them, runs of identical sibling
blocks (`layers.1` … `layers.199`) folded into one box, and the small `Pass` such a view is drawn as.

A `FoldedGraph` analyses a pass once (module tree, structural signatures, runs). A `ViewState` says what is
open (expanded modules, unfolded runs); it is immutable and changed by `FoldedGraph.expand` / `collapse` /
`unfold` / `fold`. `FoldedGraph.view(state)` returns a `FoldedView`: the visible items, the map from every
underlying node to the item that contains it, and `view.pass_`, a synthetic `Pass` whose nodes are the
visible items — plain nodes keep their ids and data; a collapsed module is a node `group:<path>` and a folded
run a node `run:<parent>[<first>-<last>]`, both marked by `attrs["fold"]` — so the existing
prepare → solve → scene pipeline draws a view unchanged (see docs/big-graphs.md).

Invariant kept by every view: each underlying node is in exactly one visible item.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gradviz.core.gc_pause import gc_paused
from gradviz.core.trace import Edge, Node, Pass, Step, TensorSummary

ROOT = ""  # the module path of nodes created outside any nn.Module; always expanded
GROUP_PREFIX = "group:"
RUN_PREFIX = "run:"
FOLD_KEY = "fold"  # attrs key of a synthetic node: "group" (a collapsed module) or "run" (a folded run)
WL_ROUNDS = 8  # most refinement rounds of the structural signature (stops earlier when stable)


def group_id(path: str) -> str:
    """The item id of the collapsed module `path`."""
    return GROUP_PREFIX + path


def run_piece_id(parent: str, first: int, last: int) -> str:
    """The item id of the folded members `first`..`last` (their integer names) of module `parent`."""
    return f"{RUN_PREFIX}{parent}[{first}-{last}]"


@dataclass(frozen=True)
class ModuleGroup:
    """One module of the tree: its path, parent, children (module paths) and the nodes it created itself
    (`own`, node ids, including the parameters it owns); `size` counts the nodes of its whole subtree."""

    path: str
    parent: str | None
    depth: int
    children: tuple[str, ...]
    own: tuple[str, ...]
    size: int
    leaves: int  # leaf (parameter / input) nodes in the subtree


@dataclass(frozen=True)
class Run:
    """Consecutive, structurally identical sibling modules with integer names (`net.layers.1` … `.199`)."""

    id: str
    parent: str
    members: tuple[str, ...]
    numbers: tuple[int, ...]
    size: int  # nodes per member


@dataclass(frozen=True)
class ViewState:
    """What a view shows open: expanded module paths (ROOT always) and unfolded run ids. Plain data."""

    expanded: frozenset[str] = frozenset({ROOT})
    unfolded: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {"expanded": sorted(self.expanded), "unfolded": sorted(self.unfolded)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ViewState:
        return cls(frozenset(d.get("expanded") or ()) | {ROOT}, frozenset(d.get("unfolded") or ()))


@dataclass(frozen=True)
class Item:
    """One visible thing: an underlying node ("node"), a collapsed module ("group") or a piece of a folded
    run ("run"). `members` are the module paths a group or run piece stands for; `size` its nodes."""

    id: str
    kind: str
    module: str | None
    members: tuple[str, ...] = ()
    run: str | None = None
    size: int = 1


@dataclass(frozen=True)
class FoldedView:
    """A view of a pass in one `ViewState`. `pass_` is what is drawn; `edge_members[i]` lists the underlying
    edge indices behind `pass_.edges[i]`; synthetic step j (1-based) covers underlying steps
    `step_starts[j-1]` .. `step_starts[j]-1` (consecutive engine steps inside one visible item)."""

    state: ViewState
    pass_: Pass
    items: dict[str, Item]
    node_item: dict[str, str]
    edge_members: tuple[tuple[int, ...], ...]
    step_starts: tuple[int, ...]
    source: Pass = field(repr=False)

    def item_of(self, node_id: str) -> str:
        """The visible item that contains underlying node `node_id`."""
        return self.node_item[node_id]

    def view_step(self, k: int) -> int:
        """The synthetic step showing underlying engine step `k` (0 stays 0)."""
        if k <= 0:
            return 0
        return bisect.bisect_right(self.step_starts, k)

    def underlying_steps(self, j: int) -> range:
        """The underlying engine steps (1-based) that synthetic step `j` stands for."""
        if j <= 0 or j > len(self.step_starts):
            return range(0)
        end = self.step_starts[j] if j < len(self.step_starts) else len(self.source.steps) + 1
        return range(self.step_starts[j - 1], end)

    def anchors(self, previous: FoldedView) -> dict[str, str]:
        """For each item of this view that `previous` did not show, the previous item that held its first
        node — what an incremental layout places it near (see `gradviz.core.layered.solve_layered`)."""
        out: dict[str, str] = {}
        for nid, item in self.node_item.items():
            if item not in previous.items and item not in out:
                out[item] = previous.node_item[nid]
        return out


class FoldedGraph:
    """The module tree and the runs of identical blocks of one pass, computed once (linear in its size,
    plus a few refinement rounds over the modules that may fold); views are computed from it on demand."""

    def __init__(self, pass_: Pass, min_run: int = 2) -> None:
        with gc_paused():
            self._analyse(pass_, min_run)

    def _analyse(self, pass_: Pass, min_run: int) -> None:
        self.pass_ = pass_
        self.min_run = min_run
        self._index = {n.id: i for i, n in enumerate(pass_.nodes)}
        self._in_degree: dict[str, int] = {}
        for e in pass_.edges:
            self._in_degree[e.dst] = self._in_degree.get(e.dst, 0) + 1
        node_mod = self._assign_modules(pass_)
        self._node_mod = node_mod
        self.modules: dict[str, ModuleGroup] = self._build_tree(pass_, node_mod)
        self.runs: dict[str, Run] = {}
        self._member_run: dict[str, tuple[str, int]] = {}  # member path -> (run id, index in run)
        self._find_runs()
        self._runs_of_module: dict[str, tuple[tuple[str, int], ...]] = {}
        for path in self._top_down():
            mod = self.modules[path]
            chain = self._runs_of_module.get(mod.parent, ()) if mod.parent is not None else ()
            if path in self._member_run:
                chain = chain + (self._member_run[path],)
            self._runs_of_module[path] = chain

    # ------------------------------------------------------------------ analysis

    def _assign_modules(self, pass_: Pass) -> list[str]:
        """Each node's module path: the one recorded at capture, or for a parameter leaf
        (`net.layers.3.linear1.weight`) the deepest known module its name lies in."""
        known: set[str] = set()
        for n in pass_.nodes:
            m = n.module
            while m and m not in known:
                known.add(m)
                m = m.rpartition(".")[0]
        out = []
        for n in pass_.nodes:
            m = n.module
            if not m and n.kind == "leaf":
                m = self._owner(n.names, known)
            out.append(m or ROOT)
        return out

    @staticmethod
    def _owner(names: Iterable[str], known: set[str]) -> str:
        best = ROOT
        for name in names:
            m = name.rpartition(".")[0]
            while m and m not in known:
                m = m.rpartition(".")[0]
            if len(m) > len(best):
                best = m
        return best

    def _build_tree(self, pass_: Pass, node_mod: list[str]) -> dict[str, ModuleGroup]:
        own: dict[str, list[str]] = {ROOT: []}
        first_seen: dict[str, int] = {ROOT: -1}
        for i, (n, m) in enumerate(zip(pass_.nodes, node_mod, strict=True)):
            p = m
            while p not in own:  # register the module and its missing ancestors
                own[p] = []
                first_seen[p] = i
                p = p.rpartition(".")[0]
            own[m].append(n.id)
        parent = {p: (None if p == ROOT else p.rpartition(".")[0]) for p in own}
        children: dict[str, list[str]] = {p: [] for p in own}
        for p in sorted(own, key=lambda q: first_seen[q]):
            up = parent[p]
            if up is not None:
                children[up].append(p)
        size = {p: len(v) for p, v in own.items()}
        leaves = {p: sum(1 for nid in v if pass_.nodes[self._index[nid]].kind == "leaf") for p, v in own.items()}
        for p in sorted(own, key=lambda q: -q.count(".") if q else 1):  # deepest first, ROOT last
            q = parent[p]
            if q is not None:
                size[q] += size[p]
                leaves[q] += leaves[p]
        return {p: ModuleGroup(p, parent[p], 0 if p == ROOT else p.count(".") + 1, tuple(children[p]),
                               tuple(own[p]), size[p], leaves[p]) for p in own}

    def _top_down(self) -> list[str]:
        """Module paths, parents before children (breadth first from ROOT)."""
        order = [ROOT]
        i = 0
        while i < len(order):
            order.extend(self.modules[order[i]].children)
            i += 1
        return order

    def subtree_nodes(self, path: str) -> list[str]:
        """Ids of every node created in module `path` or below it."""
        out: list[str] = []
        stack = [path]
        while stack:
            mod = self.modules[stack.pop()]
            out.extend(mod.own)
            stack.extend(mod.children)
        return out

    def _find_runs(self) -> None:
        """Runs among integer-named siblings: same cheap signature (size, edges, typed nodes), then the same
        Weisfeiler-Lehman signature of the subtree's internal graph, at consecutive numbers."""
        pass_ = self.pass_
        out_edges: list[list[tuple[int, int]]] = [[] for _ in pass_.nodes]
        in_edges: list[list[tuple[int, int]]] = [[] for _ in pass_.nodes]
        idx = self._index
        for e in pass_.edges:
            s, d = idx.get(e.src), idx.get(e.dst)
            if s is not None and d is not None:
                out_edges[s].append((e.slot, d))
                in_edges[d].append((e.slot, s))
        for path in self._top_down():
            mod = self.modules[path]
            numbered = sorted((int(c.rpartition(".")[2]), c) for c in mod.children
                               if c.rpartition(".")[2].isdigit())
            if len(numbered) < self.min_run:
                continue
            cheap: dict[str, Any] = {}
            members: dict[str, list[int]] = {}
            for _, c in numbered:
                nodes = [idx[nid] for nid in self.subtree_nodes(c)]
                members[c] = nodes
                cheap[c] = self._cheap_signature(c, nodes, out_edges)
            by_cheap: dict[Any, list[str]] = {}
            for _, c in numbered:
                by_cheap.setdefault(cheap[c], []).append(c)
            full: dict[str, tuple[int, int]] = {}  # (cheap class, refined class): equal only if both are
            for g, group in enumerate(by_cheap.values()):
                if len(group) >= self.min_run:
                    for c, refined in self._wl_signatures(group, members, out_edges, in_edges).items():
                        full[c] = (g, refined)
            start = 0
            while start < len(numbered):
                end = start + 1
                key = full.get(numbered[start][1])
                while (end < len(numbered) and key is not None and full.get(numbered[end][1]) == key
                       and numbered[end][0] == numbered[end - 1][0] + 1):
                    end += 1
                if end - start >= self.min_run:
                    chunk = numbered[start:end]
                    rid = run_piece_id(path, chunk[0][0], chunk[-1][0])
                    self.runs[rid] = Run(rid, path, tuple(c for _, c in chunk), tuple(k for k, _ in chunk),
                                         self.modules[chunk[0][1]].size)
                    for i, (_, c) in enumerate(chunk):
                        self._member_run[c] = (rid, i)
                start = end

    def _relative(self, node: int, base: str) -> str:
        m = self._node_mod[node]
        return m[len(base):]

    def _cheap_signature(self, path: str, nodes: list[int], out_edges: list[list[tuple[int, int]]]) -> Any:
        inside = set(nodes)
        typed = sorted((self.pass_.nodes[i].type, self.pass_.nodes[i].kind, self._relative(i, path))
                       for i in nodes)
        internal = sum(1 for i in nodes for _, d in out_edges[i] if d in inside)
        return len(nodes), internal, tuple(typed)

    def _wl_signatures(self, paths: list[str], members: dict[str, list[int]],
                       out_edges: list[list[tuple[int, int]]],
                       in_edges: list[list[tuple[int, int]]]) -> dict[str, int]:
        """Colour refinement on each member's internal graph (labels: op type, kind, module path relative to
        the member, inputs taken from outside it; then neighbours' labels by input slot; how the block's result
        is used outside is context, not structure), with one shared label table
        so equal structures get equal signatures. Iterative: rounds over node lists, no recursion."""
        table: dict[Any, int] = {}
        local: dict[str, tuple[list[int], list[list[tuple[int, int]]], list[list[tuple[int, int]]]]] = {}
        labels: dict[str, list[int]] = {}
        nodes_of = self.pass_.nodes
        for p in paths:
            nodes = members[p]
            pos = {g: i for i, g in enumerate(nodes)}
            outs = [sorted((s, pos[d]) for s, d in out_edges[g] if d in pos) for g in nodes]
            ins = [[(s, pos[u]) for s, u in in_edges[g] if u in pos] for g in nodes]
            lab = []
            for k, g in enumerate(nodes):
                n = nodes_of[g]
                key = (n.type, n.kind, self._relative(g, p), len(out_edges[g]) - len(outs[k]))
                lab.append(table.setdefault(key, len(table)))
            local[p] = (nodes, outs, ins)
            labels[p] = lab
        classes = len(table)
        for _ in range(WL_ROUNDS):
            table_r: dict[Any, int] = {}
            for p in paths:
                _, outs, ins = local[p]
                old = labels[p]
                new = []
                for k in range(len(old)):
                    # Out-edges are sorted by slot (unique per node): canonical without sorting labels.
                    sig = (old[k], tuple([(s, old[d]) for s, d in outs[k]]),
                           tuple(sorted([(s, old[u]) for s, u in ins[k]])) if len(ins[k]) > 1
                           else tuple([(s, old[u]) for s, u in ins[k]]))
                    new.append(table_r.setdefault(sig, len(table_r)))
                labels[p] = new
            if len(table_r) == classes:
                break
            classes = len(table_r)
        final: dict[Any, int] = {}
        return {p: final.setdefault(tuple(sorted(labels[p])), len(final)) for p in paths}

    # ------------------------------------------------------------------ queries

    def module_of(self, node_id: str) -> str:
        """The module path a node is grouped under (ROOT for top-level code)."""
        return self._node_mod[self._index[node_id]]

    def locate(self, node_id: str) -> tuple[tuple[str, int], ...]:
        """The runs a node lies in, outermost first, each with the member's index in the run:
        `(("run:net.layers[1-199]", 16),)` for a node of `net.layers.17` — "which layer"."""
        return self._runs_of_module[self.module_of(node_id)]


    # ------------------------------------------------------------------ states

    def collapse_all(self, max_items: int = 60) -> ViewState:
        """The first view of a big pass: runs folded, modules expanded level by level (breadth first) as
        long as the whole view stays within `max_items` visible items."""
        expanded = {ROOT}
        count = self._open_cost(ROOT)
        level = [c for c in self._visible_children(ROOT)]
        while level:
            cost = sum(self._open_cost(p) - 1 for p in level)
            if count + cost > max_items:
                break
            count += cost
            expanded.update(level)
            level = [c for p in level for c in self._visible_children(p)]
        return ViewState(frozenset(expanded))

    def expand_all(self) -> ViewState:
        """Every module expanded and every run unfolded: the whole pass, node by node."""
        return ViewState(frozenset(self.modules), frozenset(self.runs))

    def _visible_children(self, path: str) -> list[str]:
        """Children of an expanded module shown as groups of their own (not hidden in a folded run)."""
        return [c for c in self.modules[path].children if c not in self._member_run]

    def _open_cost(self, path: str) -> int:
        """Items an expanded module shows at its own level: its nodes, child groups, one per run."""
        mod = self.modules[path]
        runs = {self._member_run[c][0] for c in mod.children if c in self._member_run}
        return len(mod.own) + len(self._visible_children(path)) + len(runs)

    def expand(self, state: ViewState, item_id: str, deep: bool = False) -> ViewState:
        """Open a collapsed module (`group:<path>`), or the first member of a folded run piece; `deep` opens
        every module below it too. Ancestors are opened so the module is visible. Unknown ids: no change."""
        path = self._item_module(item_id)
        if path is None:
            return state
        opened = set(state.expanded)
        p: str | None = path
        while p is not None:
            opened.add(p)
            p = self.modules[p].parent
        if deep:
            opened.update(self._descendants(path))
        return ViewState(frozenset(opened), state.unfolded)

    def collapse(self, state: ViewState, item_id: str) -> ViewState:
        """Close a module (`group:<path>`, or the innermost expanded module holding a node id) and everything
        open below it. ROOT cannot be collapsed."""
        if item_id.startswith(GROUP_PREFIX):
            path: str | None = item_id[len(GROUP_PREFIX):]
        elif item_id in self._index:
            path = self.module_of(item_id)
            while path is not None and path != ROOT and path not in state.expanded:
                path = self.modules[path].parent
        else:
            return state
        if path is None or path == ROOT or path not in self.modules:
            return state
        closed = {path} | set(self._descendants(path))
        unfolded = {r for r in state.unfolded if self.runs[r].parent not in closed}
        return ViewState(frozenset(state.expanded - closed), frozenset(unfolded))

    def unfold(self, state: ViewState, run_id: str) -> ViewState:
        """Show every member of a run as its own (collapsed) group; a piece id unfolds its whole run."""
        rid = self._run_id(run_id)
        if rid is None:
            return state
        return self.expand(ViewState(state.expanded, state.unfolded | {rid}), group_id(self.runs[rid].parent))

    def fold(self, state: ViewState, run_id: str) -> ViewState:
        """Fold a run back into one box (its members and everything below them closed)."""
        rid = self._run_id(run_id)
        if rid is None:
            return state
        closed: set[str] = set()
        for m in self.runs[rid].members:
            closed.add(m)
            closed.update(self._descendants(m))
        return ViewState(frozenset(state.expanded - closed), frozenset(state.unfolded - {rid}))

    def _descendants(self, path: str) -> list[str]:
        out: list[str] = []
        stack = list(self.modules[path].children)
        while stack:
            p = stack.pop()
            out.append(p)
            stack.extend(self.modules[p].children)
        return out

    def _item_module(self, item_id: str) -> str | None:
        if item_id.startswith(GROUP_PREFIX):
            path = item_id[len(GROUP_PREFIX):]
            return path if path in self.modules else None
        if item_id.startswith(RUN_PREFIX):
            parent, _, rest = item_id[len(RUN_PREFIX):].rpartition("[")
            first = rest.split("-")[0]
            path = f"{parent}.{first}" if parent else first
            return path if path in self._member_run else None
        return None

    def _run_id(self, item_id: str) -> str | None:
        if item_id in self.runs:
            return item_id
        path = self._item_module(item_id) if item_id.startswith(RUN_PREFIX) else None
        return self._member_run[path][0] if path is not None else None

    # ------------------------------------------------------------------ views

    def view(self, state: ViewState) -> FoldedView:
        """The visible items in `state`, and the synthetic pass that draws them."""
        with gc_paused():
            return self._view(state)

    def _view(self, state: ViewState) -> FoldedView:
        EXPANDED = None  # noqa: N806 (a sentinel: the module's own nodes are shown one by one)
        vis: dict[str, str | None] = {ROOT: EXPANDED}
        items: dict[str, Item] = {}
        pieces = self._pieces(state)
        for path in self._top_down()[1:]:
            mod = self.modules[path]
            up = vis[mod.parent] if mod.parent is not None else EXPANDED
            if up is not EXPANDED:
                vis[path] = up
            elif path in pieces:
                vis[path] = pieces[path].id
                items.setdefault(pieces[path].id, pieces[path])
            elif path in state.expanded:
                vis[path] = EXPANDED
            else:
                gid = group_id(path)
                vis[path] = gid
                items[gid] = Item(gid, "group", path, (path,), None, mod.size)
        node_item: dict[str, str] = {}
        for n, m in zip(self.pass_.nodes, self._node_mod, strict=True):
            it = vis[m]
            if it is EXPANDED:
                node_item[n.id] = n.id
                items[n.id] = Item(n.id, "node", n.module)
            else:
                node_item[n.id] = it
        return self._synthesize(state, items, node_item)

    def _pieces(self, state: ViewState) -> dict[str, Item]:
        """Folded runs split around their opened members: member path -> the piece item hiding it."""
        out: dict[str, Item] = {}
        for rid, run in self.runs.items():
            if rid in state.unfolded:
                continue
            segment: list[int] = []
            for i in range(len(run.members) + 1):
                if i < len(run.members) and run.members[i] not in state.expanded:
                    segment.append(i)
                    continue
                if len(segment) >= 2:
                    first, last = run.numbers[segment[0]], run.numbers[segment[-1]]
                    members = tuple(run.members[k] for k in segment)
                    item = Item(run_piece_id(run.parent, first, last), "run", run.parent, members, rid,
                                run.size * len(segment))
                    for m in members:
                        out[m] = item
                segment = []
        return out

    def _synthesize(self, state: ViewState, items: dict[str, Item], node_item: dict[str, str]) -> FoldedView:
        src_pass = self.pass_
        # Items in order of their first node, so the synthetic pass reads like the original.
        order: dict[str, int] = {}
        for n in src_pass.nodes:
            order.setdefault(node_item[n.id], len(order))
        items = {k: items[k] for k in sorted(items, key=order.__getitem__)}

        # Edges between different items, aggregated; a plain node's edges keep their slot (and gradient).
        agg: dict[tuple[str, str, int], list[int]] = {}
        group_slot: dict[tuple[str, str], int] = {}
        out_count: dict[str, int] = {}
        for i, e in enumerate(src_pass.edges):
            s, d = node_item.get(e.src), node_item.get(e.dst)
            if s is None or d is None or s == d:
                continue
            if items[s].kind == "node":
                key = (s, d, e.slot)
            else:
                slot = group_slot.get((s, d))
                if slot is None:
                    slot = group_slot[(s, d)] = out_count.get(s, 0)
                    out_count[s] = slot + 1
                key = (s, d, slot)
            agg.setdefault(key, []).append(i)
        edges: list[Edge] = []
        members: list[tuple[int, ...]] = []
        for (s, d, slot), idxs in agg.items():
            under = [src_pass.edges[i] for i in idxs]
            grad = any(u.kind == "grad" for u in under)
            cut = None if grad else next((u.cut for u in under if u.cut), None)
            edges.append(Edge(s, d, slot, "grad" if grad else under[0].kind, cut))
            members.append(tuple(idxs))

        # Steps: consecutive engine steps inside one item become one synthetic step.
        step_idx = {st.node: k for k, st in enumerate(src_pass.steps)}
        starts: list[int] = []
        seg_items: list[str] = []
        for k, st in enumerate(src_pass.steps, start=1):
            it = node_item.get(st.node)
            if it is None:
                continue
            if not seg_items or seg_items[-1] != it:
                seg_items.append(it)
                starts.append(k)
        first_seg: dict[str, int] = {}
        for j, it in enumerate(seg_items):
            first_seg.setdefault(it, j)
        roots_in: dict[str, str] = {}
        for r in src_pass.roots:
            if r in node_item:
                roots_in.setdefault(node_item[r], r)
        group_grads: dict[str, list[TensorSummary | None]] = {}
        for (s, _, slot), behind in zip(agg, members, strict=True):
            if items[s].kind == "node":
                continue
            grads = group_grads.setdefault(s, [None] * out_count[s])
            grads[slot] = self._carried(behind, step_idx)
        steps: list[Step] = []
        for j, (it, k) in enumerate(zip(seg_items, starts, strict=True)):
            if items[it].kind == "node":
                steps.append(src_pass.steps[k - 1])
            elif first_seg[it] == j:
                root = roots_in.get(it)
                outputs = src_pass.steps[step_idx[root]].grad_outputs if root in step_idx else ()
                steps.append(Step(it, outputs, tuple(group_grads.get(it, ()))))
            else:
                steps.append(Step(it))

        nodes: list[Node] = []
        by_id = {n.id: n for n in src_pass.nodes}
        content: dict[str, list[Node]] = {}
        for n in src_pass.nodes:
            it = node_item[n.id]
            if items[it].kind != "node":
                content.setdefault(it, []).append(n)
        for it, item in items.items():
            nodes.append(by_id[it] if item.kind == "node" else self._item_node(item, content[it]))
        visible = {it for it, item in items.items() if item.kind == "node"}
        synthetic = Pass(call=src_pass.call, line=src_pass.line, status=src_pass.status, error=src_pass.error,
                         nodes=tuple(nodes), edges=tuple(edges), steps=tuple(steps),
                         leaf_grads=tuple(g for g in src_pass.leaf_grads if g.node in visible),
                         roots=tuple(dict.fromkeys(node_item[r] for r in src_pass.roots if r in node_item)),
                         code=src_pass.code, note=src_pass.note, detail=src_pass.detail,
                         results=src_pass.results)
        return FoldedView(state, synthetic, items, node_item, tuple(members), tuple(starts), src_pass)

    def _carried(self, idxs: tuple[int, ...], step_idx: dict[str, int]) -> TensorSummary | None:
        """The gradient an aggregated edge carries, when it is one tensor: its single underlying edge's, or,
        when its edges are all the edges into one single-output node, the sum that node received."""
        src_pass = self.pass_
        under = [src_pass.edges[i] for i in idxs]
        if any(e.kind != "grad" for e in under):
            return None
        if len(under) == 1:
            k = step_idx.get(under[0].src)
            sent = src_pass.steps[k].grad_inputs if k is not None else ()
            return sent[under[0].slot] if 0 <= under[0].slot < len(sent) else None
        dst = under[0].dst
        k = step_idx.get(dst)
        if k is None or any(e.dst != dst for e in under) or self._in_degree.get(dst) != len(under):
            return None
        arrived = src_pass.steps[k].grad_outputs
        return arrived[0] if len(arrived) == 1 else None

    def _item_node(self, item: Item, inside: list[Node]) -> Node:
        """The synthetic node drawing a group or run piece: its title is the module path, its text the
        count of operations and parameters."""
        ops = sum(1 for n in inside if n.kind != "leaf")
        params = len(inside) - ops
        what = f"{ops} op{'s' if ops != 1 else ''}" + (f" · {params} param{'s' if params != 1 else ''}"
                                                       if params else "")
        lines = [n.line for n in inside if n.line is not None]
        kind = "detached" if all(n.kind == "detached" for n in inside) else "function"
        if item.kind == "group":
            attrs: dict[str, Any] = {FOLD_KEY: "group", "module": item.module, "ops": ops, "params": params}
            return Node(item.id, item.module or "(top level)", kind, (what,), min(lines) if lines else None,
                        None, None, attrs=attrs)
        count = len(item.members)
        run = self.runs[item.run] if item.run else None
        first, last = item.members[0], item.members[-1]
        title = f"{first} … {last.rpartition('.')[2]}"
        each = run.size if run else len(inside) // count
        attrs = {FOLD_KEY: "run", "module": item.module, "run": item.run, "count": count, "first": first,
                 "last": last, "ops": ops, "params": params}
        return Node(item.id, f"{title}  ×{count}", kind, (f"{count} identical blocks of {each} nodes",),
                    min(lines) if lines else None, None, None, attrs=attrs)
