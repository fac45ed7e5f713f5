"""A near-linear layered (Sugiyama-style) layout for passes too big for Graphviz `dot`, returning the same
`Layout` as `gradviz.core.layout.solve` from the same `LayoutInput`, so the scene draws it unchanged.

Steps, each a loop over lists (no recursion per node): back edges of a depth-first walk are reversed (a
folded view may have cycles; a pass has none); ranks by longest path from the roots, with sources pulled down
next to what they feed; long edges get one dummy per rank crossed; a few barycentric ordering sweeps keep the
ordering with the fewest crossings; across each rank, positions minimise the weighted squared distance to
the weighted median of their neighbours, subject to no overlap (isotonic regression, pool-adjacent-
violators); edges are cubic Béziers with vertical tangents through their dummies, with the label beside the
edge just below its upper end.

`solve_auto` picks `dot` for small graphs and this layout above `dot_limit` nodes. Given the previous layout
of the same pass (and, for items that replace a folded group, the id of the item they came from), the layout
keeps the left-to-right order of every node that was already drawn and pulls it towards its old position.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from gradviz.core.gc_pause import gc_paused
from gradviz.core.layout import SEED_PREFIX, EdgePath, Layout, LayoutInput, NodeBox, Point, solve

NODESEP = 0.35 * 72  # between neighbouring boxes in a rank (dot's nodesep)
EDGESEP = 10.0  # between a dummy (a long edge passing a rank) and its neighbours
RANKSEP = 0.42 * 72  # between ranks (dot's ranksep)
DUMMY_W = 6.0
SEED_W = 1.0  # the invisible point a seed edge starts from
ARROW = 8.0  # arrow head length (dot's arrowsize 0.8)
LABEL_GAP = 4.0  # between an edge and its label
PORT_MARGIN = 4.0
LOOP_REACH = 24.0  # how far a self-loop bulges out of its node
SWEEPS = 4  # ordering iterations (down + up)
PREVIOUS_WEIGHT = 4.0  # how strongly a node already drawn is held at its old place
DUMMY_WEIGHT = 8.0  # between two dummies of a long edge, so it runs straight (1 for every other edge)
LIGHT_WEIGHT = 0.05  # relative weight of an edge into a sink when placing nodes


def solve_auto(spec: LayoutInput, dot_limit: int = 1000, previous: Layout | None = None,
               anchors: Mapping[str, str] | None = None,
               dot: Callable[[LayoutInput], Layout] = solve) -> Layout:
    """`dot` when the graph has at most `dot_limit` nodes and there is no previous layout to stay close to;
    the layered layout otherwise (dot grows ~n^2.3-n^3; this layout is near linear). `dot` may be
    `layout.solve_isolated`, for a GUI that must not hold the GIL while Graphviz runs."""
    if previous is None and len(spec.nodes) <= dot_limit:
        return dot(spec)
    return solve_layered(spec, previous, anchors)


def solve_layered(spec: LayoutInput, previous: Layout | None = None,
                  anchors: Mapping[str, str] | None = None) -> Layout:
    """Lay out `spec` in ranks along the gradient flow. With `previous` (same direction), nodes it drew keep
    their left-to-right order and are pulled to their old across-position; a node listed in `anchors`
    (new id -> id in `previous`) starts where that item was."""
    with gc_paused():  # the run allocates many small lists; collections would rescan the caller's whole heap
        return _Layered(spec, previous, anchors or {}).run()


class _Layered:
    """One layered layout computation; attributes are flat lists indexed by virtual node (real nodes, then
    seed points, then dummies)."""

    def __init__(self, spec: LayoutInput, previous: Layout | None, anchors: Mapping[str, str]) -> None:
        self.spec = spec
        self.vertical = spec.direction in ("TB", "BT")
        self.previous = previous if previous is not None and previous.direction == spec.direction else None
        self.anchors = anchors
        self.ids: list[str] = [n[0] for n in spec.nodes]
        self.index: dict[str, int] = {nid: i for i, nid in enumerate(self.ids)}
        self.n_real = len(self.ids)
        self.across: list[float] = [(w if self.vertical else h) for _, w, h in spec.nodes]
        self.along: list[float] = [(h if self.vertical else w) for _, w, h in spec.nodes]
        self.real: list[bool] = [True] * self.n_real

    # ------------------------------------------------------------------ graph

    def _add_virtual(self, across: float, along: float, real: bool) -> int:
        self.across.append(across)
        self.along.append(along)
        self.real.append(real)
        return len(self.across) - 1

    def run(self) -> Layout:
        spec = self.spec
        edges: list[tuple[int, int, int]] = []  # (src, dst, position in spec.edges)
        loops: list[int] = []
        for k, (_, src, dst, _, kind, _, _) in enumerate(spec.edges):
            if dst not in self.index:
                continue
            if src not in self.index:
                if kind != "seed" and not src.startswith(SEED_PREFIX):
                    continue
                self.index[src] = self._add_virtual(SEED_W, SEED_W, False)
            u, v = self.index[src], self.index[dst]
            if u == v:
                loops.append(k)
            else:
                edges.append((u, v, k))
        self.n_base = len(self.across)
        self.loops = loops
        up = self._break_cycles(edges)
        self.edge_spec = [k for _, _, k, _ in up]
        rank = self._ranks(up)
        chains = self._dummies(up, rank)
        layers = self._order(chains, self.rank)
        x = self._coordinates(chains, layers)
        return self._geometry(chains, up, layers, x, loops)

    def _break_cycles(self, edges: list[tuple[int, int, int]]) -> list[tuple[int, int, int, bool]]:
        """Edges oriented downwards: (upper, lower, spec position, reversed?). Back edges of an iterative
        depth-first walk (started from the sources, in input order) are reversed."""
        n = self.n_base
        slot = [e[3] for e in self.spec.edges]
        out: list[list[int]] = [[] for _ in range(n)]
        has_in = [False] * n
        for i, (u, v, _) in enumerate(edges):
            out[u].append(i)
            has_in[v] = True
        for lst in out:
            lst.sort(key=lambda i: (slot[edges[i][2]], edges[i][2]))
        state = [0] * n  # 0 unseen, 1 on the walk's stack, 2 finished
        back = [False] * len(edges)
        starts = [v for v in range(n) if not has_in[v]] + list(range(n))
        for s in starts:
            if state[s]:
                continue
            state[s] = 1
            stack = [(s, 0)]
            while stack:
                v, i = stack[-1]
                if i < len(out[v]):
                    stack[-1] = (v, i + 1)
                    e = out[v][i]
                    w = edges[e][1]
                    if state[w] == 0:
                        state[w] = 1
                        stack.append((w, 0))
                    elif state[w] == 1:
                        back[e] = True
                else:
                    state[v] = 2
                    stack.pop()
        return [(v, u, k, True) if back[i] else (u, v, k, False) for i, (u, v, k) in enumerate(edges)]

    def _ranks(self, up: list[tuple[int, int, int, bool]]) -> list[int]:
        """Longest path from the sources (Kahn's order), then every source moved down to just above the
        highest node it feeds (seed points, parameters and inputs sit next to their use)."""
        n = self.n_base
        succ: list[list[int]] = [[] for _ in range(n)]
        indeg = [0] * n
        for a, b, _, _ in up:
            succ[a].append(b)
            indeg[b] += 1
        rank = [0] * n
        queue = [v for v in range(n) if indeg[v] == 0]
        sources = list(queue)
        topo: list[int] = []
        i = 0
        while i < len(queue):
            v = queue[i]
            i += 1
            topo.append(v)
            r = rank[v] + 1
            for w in succ[v]:
                if rank[w] < r:
                    rank[w] = r
                indeg[w] -= 1
                if indeg[w] == 0:
                    queue.append(w)
        for v in sources:
            if succ[v]:
                rank[v] = min(rank[w] for w in succ[v]) - 1
        low = min(rank) if rank else 0
        return [r - low for r in rank]

    def _dummies(self, up: list[tuple[int, int, int, bool]], rank: list[int]) -> list[list[int]]:
        """Each edge as the chain of virtual nodes it passes, one per rank."""
        chains = []
        for a, b, _, _ in up:
            chain = [a]
            for r in range(rank[a] + 1, rank[b]):
                chain.append(self._add_virtual(DUMMY_W, 0.0, False))
                rank.append(r)  # ranks of dummies follow those of real nodes and seed points
            chain.append(b)
            chains.append(chain)
        self.rank = rank
        return chains

    # ------------------------------------------------------------------ ordering

    def _order(self, chains: list[list[int]], rank: list[int]) -> list[list[int]]:
        """Nodes of each rank, left to right: a depth-first start (inputs in slot order, or the previous
        layout's order), then barycentric sweeps down and up; the ordering with fewest crossings wins."""
        nv = len(self.across)
        preds: list[list[int]] = [[] for _ in range(nv)]
        succs: list[list[int]] = [[] for _ in range(nv)]
        for chain in chains:
            for i in range(len(chain) - 1):
                succs[chain[i]].append(chain[i + 1])
                preds[chain[i + 1]].append(chain[i])
        self.preds, self.succs = preds, succs
        nranks = max(rank) + 1 if rank else 0
        layers: list[list[int]] = [[] for _ in range(nranks)]
        seen = [False] * nv
        for s in range(nv):  # depth-first preorder: a node's inputs left to right, in slot order
            if seen[s] or preds[s]:
                continue
            seen[s] = True
            stack = [s]
            while stack:
                v = stack.pop()
                layers[rank[v]].append(v)
                for w in reversed(succs[v]):
                    if not seen[w]:
                        seen[w] = True
                        stack.append(w)
        fixed = self._previous_order(layers)
        pos = [0] * nv
        for layer in layers:
            for i, v in enumerate(layer):
                pos[v] = i
        best = [list(layer) for layer in layers]
        best_cross = self._crossings(layers, pos)
        for _ in range(SWEEPS):
            if best_cross == 0:
                break
            for r in range(1, nranks):
                self._reorder(layers[r], preds, pos, fixed)
            for r in range(nranks - 2, -1, -1):
                self._reorder(layers[r], succs, pos, fixed)
            cross = self._crossings(layers, pos)
            if cross < best_cross:
                best_cross = cross
                best = [list(layer) for layer in layers]
        return best

    def _previous_order(self, layers: list[list[int]]) -> list[float] | None:
        """With a previous layout: sort each rank by old across-position (anchored new nodes at their
        anchor's, the rest between their depth-first neighbours) and return those keys for nodes that were
        drawn before (None for others), whose relative order the sweeps then keep."""
        prev = self.previous
        if prev is None:
            return None
        old: dict[str, float] = {b.id: (b.x if self.vertical else b.y) for b in prev.nodes}
        nv = len(self.across)
        key: list[float | None] = [None] * nv
        fixed: list[float] = [float("nan")] * nv
        for v in range(self.n_real):
            nid = self.ids[v]
            if nid in old:
                key[v] = fixed[v] = old[nid]
            elif self.anchors.get(nid) in old:
                key[v] = old[self.anchors[nid]]
        for layer in layers:
            last = float("-inf")
            resolved = []
            for i, v in enumerate(layer):
                k = key[v]
                if k is None:
                    k = last
                last = k
                resolved.append((k, i, v))
            resolved.sort()
            layer[:] = [v for _, _, v in resolved]
        return fixed

    @staticmethod
    def _reorder(layer: list[int], nbrs: list[list[int]], pos: list[int], fixed: list[float] | None) -> None:
        """Sort one rank by the mean position of each node's neighbours in the adjacent rank; nodes without
        neighbours there keep their slot; nodes drawn before keep their order among themselves."""
        if len(layer) < 2:
            return
        movable = []
        slots = []
        for i, v in enumerate(layer):
            ns = nbrs[v]
            if ns:
                movable.append((sum(pos[w] for w in ns) / len(ns), pos[v], v))
                slots.append(i)
        movable.sort()
        for i, (_, _, v) in zip(slots, movable, strict=True):
            layer[i] = v
        if fixed is not None:
            old_slots = [i for i, v in enumerate(layer) if fixed[v] == fixed[v]]
            olds = sorted((layer[i] for i in old_slots), key=lambda v: fixed[v])
            for i, v in zip(old_slots, olds, strict=True):
                layer[i] = v
        for i, v in enumerate(layer):
            pos[v] = i

    def _crossings(self, layers: list[list[int]], pos: list[int]) -> int:
        """Edge crossings between consecutive ranks (inversions counted with a Fenwick tree)."""
        succs = self.succs
        total = 0
        for r in range(len(layers) - 1):
            pairs = sorted((pos[u], pos[w]) for u in layers[r] for w in succs[u])
            if len(pairs) < 2:
                continue
            size = len(layers[r + 1])
            tree = [0] * (size + 1)
            seen = 0
            for _, b in pairs:
                i = b + 1
                le = 0
                while i > 0:  # how many earlier edges end at or left of b
                    le += tree[i]
                    i -= i & -i
                total += seen - le
                seen += 1
                i = b + 1
                while i <= size:
                    tree[i] += 1
                    i += i & -i
        return total

    # ------------------------------------------------------------------ coordinates

    def _label_across(self, k: int) -> float:
        lw, lh = self.spec.edges[k][5], self.spec.edges[k][6]
        return lw if self.vertical else lh

    def _label_along(self, k: int) -> float:
        lw, lh = self.spec.edges[k][5], self.spec.edges[k][6]
        return lh if self.vertical else lw

    def _coordinates(self, chains: list[list[int]], layers: list[list[int]]) -> list[float]:
        """Across-positions: each rank packed without overlap, as close as possible (weighted least squares)
        to the weighted median of its neighbours in the previous rank, then the next one, alternately; a long
        edge's dummies weigh more so long edges run straight; a node between two equal pulls settles midway,
        so a residual block (fork, two branches, merge) ends where it began instead of drifting sideways."""
        nv = len(self.across)
        real = self.real
        pos = [0] * nv
        for layer in layers:
            for i, v in enumerate(layer):
                pos[v] = i
        # A node's column: its box, or the labels of the edges leaving it downwards side by side, each label
        # right of its edge. `wp_off` is where such an edge crosses the gap below, relative to the node.
        col = list(self.across)
        labelled: list[list[int]] = [[] for _ in range(nv)]
        for e, chain in enumerate(chains):
            if self._label_across(self.edge_spec[e]) > 0:
                labelled[chain[0]].append(e)
        self.wp_off: list[float | None] = [None] * len(chains)
        for v in range(nv):
            labs = labelled[v]
            if not labs:
                continue
            labs.sort(key=lambda e: pos[chains[e][1]])
            widths = [self._label_across(self.edge_spec[e]) + 2 * LABEL_GAP for e in labs]
            # The edges themselves are centred under the node (a fork stays symmetric, so a residual block
            # does not drift sideways); the column is symmetric and holds the last label too.
            spread = sum(widths[:-1])
            at = -spread / 2
            for e, w in zip(labs, widths, strict=True):
                self.wp_off[e] = at
                at += w
            col[v] = max(col[v], spread + 2 * widths[-1])
        for k in self.loops:  # a self-loop and its label go right of the node: room on both sides
            v = self.index[self.spec.edges[k][2]]
            col[v] = max(col[v], self.across[v] + 2 * (LOOP_REACH + LABEL_GAP + self._label_across(k)))
        self.col = col
        # Neighbours with the offset at which each wants this node: (node, offset) pairs.
        above: list[list[tuple[int, float]]] = [[] for _ in range(nv)]
        below: list[list[tuple[int, float]]] = [[] for _ in range(nv)]
        for e, chain in enumerate(chains):
            off = self.wp_off[e] or 0.0
            for i in range(len(chain) - 1):
                a, b = chain[i], chain[i + 1]
                d = off if i == 0 else 0.0
                below[a].append((b, -d))
                above[b].append((a, d))
        x = [0.0] * nv
        for layer in layers:
            at = 0.0
            for i, v in enumerate(layer):
                if i:
                    at += self._sep(layer[i - 1], v)
                x[v] = at
        prev_x: list[float | None] = [None] * nv
        if self.previous is not None:
            old = {b.id: (b.x if self.vertical else b.y) for b in self.previous.nodes}
            for v in range(self.n_real):
                prev_x[v] = old.get(self.ids[v])
        # Edges to sinks (parameters, inputs, ends of cut branches) weigh little: the chain of operations
        # stays straight and the leaves hanging off it move aside, instead of the chain drifting sideways.
        light = [real[v] and not below[v] for v in range(nv)]
        for sweep in ("down", "up", "down", "up", "both"):
            order = layers if sweep != "up" else layers[::-1]
            for layer in order:
                desired = []
                weights = []
                for v in layer:
                    ns = above[v] if sweep == "down" else below[v] if sweep == "up" else above[v] + below[v]
                    pulls = []
                    for w, off in ns:
                        wt = 1.0 if (real[v] or real[w]) else DUMMY_WEIGHT
                        if light[v] or light[w]:
                            wt *= LIGHT_WEIGHT
                        pulls.append((x[w] + off, wt))
                    p = prev_x[v]
                    if p is not None:
                        pulls.append((p, PREVIOUS_WEIGHT))
                    if not pulls:
                        desired.append(x[v])
                        weights.append(LIGHT_WEIGHT)
                    elif len(pulls) == 1:
                        desired.append(pulls[0][0])
                        weights.append(pulls[0][1])
                    else:
                        desired.append(_weighted_median(pulls))
                        weights.append(sum(wt for _, wt in pulls))
                placed = self._place(layer, desired, weights)
                for v, xv in zip(layer, placed, strict=True):
                    x[v] = xv
        return x

    def _sep(self, a: int, b: int) -> float:
        gap = NODESEP if (self.real[a] and self.real[b]) else EDGESEP
        return (self.col[a] + self.col[b]) / 2 + gap

    def _place(self, layer: list[int], desired: list[float], weights: list[float]) -> list[float]:
        """Positions in layer order with at least `_sep` between neighbours, as close as possible to
        `desired` (weighted least squares)."""
        return _isotonic(desired, weights, [self._sep(layer[i - 1], layer[i]) for i in range(1, len(layer))])

    # ------------------------------------------------------------------ geometry

    def _geometry(self, chains: list[list[int]], up: list[tuple[int, int, int, bool]],
                  layers: list[list[int]], x: list[float], loops: list[int]) -> Layout:
        """Rank bands and gaps (a gap grows to hold the labels of the edges leaving the rank above it),
        ports spread along box sides, Bézier paths, arrow heads, labels; then the frame turned to the
        requested direction and moved to (0, 0)."""
        spec, rank, along, across = self.spec, self.rank, self.along, self.across
        nv = len(across)
        nranks = len(layers)
        band = [0.0] * nranks
        for v in range(nv):
            if along[v] > band[rank[v]]:
                band[rank[v]] = along[v]
        label_h = [0.0] * nranks
        for e, chain in enumerate(chains):
            la = self._label_along(self.edge_spec[e])
            r = rank[chain[0]]
            if la > label_h[r]:
                label_h[r] = la
        top = [0.0] * nranks
        gap_mid = [0.0] * nranks
        y = 0.0
        for r in range(nranks):
            top[r] = y
            y += band[r]
            gap = RANKSEP + (label_h[r] + 2 * LABEL_GAP if label_h[r] else 0.0)
            gap_mid[r] = y + gap / 2
            if r < nranks - 1:
                y += gap
        total = y

        outs: list[list[int]] = [[] for _ in range(nv)]
        ins: list[list[int]] = [[] for _ in range(nv)]
        for e, chain in enumerate(chains):
            outs[chain[0]].append(e)
            ins[chain[-1]].append(e)
        out_port = [0.0] * len(chains)
        in_port = [0.0] * len(chains)
        waypoint: list[float | None] = [None] * len(chains)
        for v in range(self.n_base):
            left, w = x[v] - across[v] / 2, across[v]
            lst = sorted(outs[v], key=lambda e: x[chains[e][1]])
            for e in lst:
                off = self.wp_off[e]
                if off is not None:
                    waypoint[e] = x[v] + off
            for i, e in enumerate(lst):
                wp = waypoint[e]
                out_port[e] = _clamp(wp if wp is not None else left + w * (i + 1) / (len(lst) + 1), left, w)
            lst = sorted(ins[v], key=lambda e: x[chains[e][-2]])
            for i, e in enumerate(lst):
                in_port[e] = _clamp(left + w * (i + 1) / (len(lst) + 1), left, w)

        def centre(v: int) -> float:
            return top[rank[v]] + band[rank[v]] / 2

        points: list[list[Point]] = []
        arrows: list[tuple[Point, Point]] = []
        labels: list[Point | None] = []
        for e, chain in enumerate(chains):
            a, b = chain[0], chain[-1]
            flipped = up[e][3]
            a_bottom = centre(a) + along[a] / 2
            b_top = centre(b) - along[b] / 2
            start = (out_port[e], a_bottom + (ARROW if flipped else 0.0))
            pts = [start]
            wp = waypoint[e]
            k = self.edge_spec[e]
            label: Point | None = None
            if wp is not None:
                pts.append((wp, gap_mid[rank[a]]))
                label = (wp + LABEL_GAP + self._label_across(k) / 2, gap_mid[rank[a]])
            for d in chain[1:-1]:
                r = rank[d]
                pts.append((x[d], top[r]))
                if band[r] > 0:
                    pts.append((x[d], top[r] + band[r]))
            end = (in_port[e], b_top - (0.0 if flipped else ARROW))
            pts.append(end)
            if flipped:
                arrow = (start, (out_port[e], a_bottom))
                pts.reverse()
            else:
                arrow = (end, (in_port[e], b_top))
            points.append(_bezier(pts))
            arrows.append(arrow)
            labels.append(label)

        loop_geo = []
        for k in loops:
            v = self.index[spec.edges[k][2]]
            right, cy, q = x[v] + across[v] / 2, centre(v), along[v] / 4
            base = (right + ARROW, cy + q)
            pts = [(right, cy - q), (right + LOOP_REACH, cy - q - 6), (right + LOOP_REACH, cy + q + 6), base]
            la = self._label_across(k)
            label = (right + LOOP_REACH + LABEL_GAP + la / 2, cy) if la > 0 else None
            loop_geo.append((k, pts, (base, (right, cy + q)), label))

        lo = min([x[v] - across[v] / 2 for v in range(self.n_base)], default=0.0)
        hi = max([x[v] + across[v] / 2 for v in range(self.n_base)], default=0.0)
        for pts in points:
            for p in pts:
                lo, hi = min(lo, p[0]), max(hi, p[0])
        for e, lab in enumerate(labels):
            if lab is not None:
                half = self._label_across(self.edge_spec[e]) / 2
                lo, hi = min(lo, lab[0] - half), max(hi, lab[0] + half)
        for k, pts, _, lab in loop_geo:
            hi = max(hi, *(p[0] for p in pts))
            if lab is not None:
                hi = max(hi, lab[0] + self._label_across(k) / 2)
        direction = spec.direction

        def turn(pts: list[Point]) -> tuple[Point, ...]:
            """Internal (across, along) points -> the requested direction, moved to start at 0."""
            if direction == "TB":
                return tuple([(a - lo, yy) for a, yy in pts])
            if direction == "BT":
                return tuple([(a - lo, total - yy) for a, yy in pts])
            if direction == "LR":
                return tuple([(yy, a - lo) for a, yy in pts])
            return tuple([(total - yy, a - lo) for a, yy in pts])

        centres = turn([(x[v], centre(v)) for v in range(self.n_real)])
        boxes = [NodeBox(nid, cx, cy, w, h) for (nid, w, h), (cx, cy) in zip(spec.nodes, centres, strict=True)]
        paths: list[EdgePath] = []
        for e, pts in enumerate(points):
            lab = labels[e]
            marks = turn([arrows[e][0], arrows[e][1]] + ([] if lab is None else [lab]))
            paths.append(self._edge_path(self.edge_spec[e], turn(pts), (marks[0], marks[1]),
                                         marks[2] if len(marks) > 2 else None))
        for k, pts, arrow, lab in loop_geo:
            marks = turn([arrow[0], arrow[1]] + ([] if lab is None else [lab]))
            paths.append(self._edge_path(k, turn(pts), (marks[0], marks[1]), marks[2] if len(marks) > 2 else None))
        paths.sort(key=lambda p: (p.index < 0, p.index))
        extent, length = math.ceil((hi - lo) * 100) / 100, math.ceil(total * 100) / 100
        width, height = (extent, length) if self.vertical else (length, extent)
        return Layout(tuple(boxes), tuple(paths), width, height, direction)

    def _edge_path(self, k: int, points: tuple[Point, ...], arrow: tuple[Point, Point],
                   label: Point | None) -> EdgePath:
        index, src, dst, slot, kind, lw, lh = self.spec.edges[k]
        return EdgePath(index, src, dst, slot, kind, self.spec.cuts.get(index), points, arrow, label, (lw, lh))


def _weighted_median(pulls: list[tuple[float, float]]) -> float:
    """The weighted median of (position, weight) pairs (the mean of the two middle ones on a tie): a node
    lines up with its heaviest neighbour instead of settling between them, so chains run straight."""
    pulls.sort()
    half = sum(w for _, w in pulls) / 2
    acc = 0.0
    for i, (pos, w) in enumerate(pulls):
        acc += w
        if acc > half + 1e-9:
            return pos
        if abs(acc - half) <= 1e-9 and i + 1 < len(pulls):
            return (pos + pulls[i + 1][0]) / 2
    return pulls[-1][0]


def _isotonic(desired: list[float], weights: list[float], seps: list[float]) -> list[float]:
    """Positions p_0 <= p_1 <= ... with p_{i+1} - p_i >= seps[i], minimising sum w_i (p_i - desired_i)^2:
    isotonic regression of desired_i - offset_i by pool-adjacent-violators, in linear time."""
    if len(desired) == 1:
        return list(desired)
    offsets = [0.0]
    for gap in seps:
        offsets.append(offsets[-1] + gap)
    values: list[float] = []
    wsum: list[float] = []
    counts: list[int] = []
    for d, o, w in zip(desired, offsets, weights, strict=True):
        values.append(d - o)
        wsum.append(w)
        counts.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            w2 = wsum[-2] + wsum[-1]
            v2 = (values[-2] * wsum[-2] + values[-1] * wsum[-1]) / w2
            c2 = counts[-2] + counts[-1]
            del values[-1], wsum[-1], counts[-1]
            values[-1], wsum[-1], counts[-1] = v2, w2, c2
    out = []
    i = 0
    for v, c in zip(values, counts, strict=True):
        for _ in range(c):
            out.append(v + offsets[i])
            i += 1
    return out


def _clamp(px: float, left: float, width: float) -> float:
    """A port position kept on the box side, away from its corners."""
    if width <= 2 * PORT_MARGIN:
        return left + width / 2
    return min(max(px, left + PORT_MARGIN), left + width - PORT_MARGIN)


def _bezier(pts: list[Point]) -> list[Point]:
    """A cubic Bézier spline through `pts` with vertical tangents at every point (straight where two
    consecutive points are above one another): start, then (control, control, end) triples."""
    out = [pts[0]]
    for (px, py), (qx, qy) in zip(pts, pts[1:], strict=False):
        h = (qy - py) / 2
        out.extend(((px, py + h), (qx, qy - h), (qx, qy)))
    return out

