"""Geometry of one pass: its labels (the text every drawing shows), Graphviz `dot` run in-process through
pygraphviz, and the result as plain frozen data — node boxes, Bézier edges with arrow heads, label places.

Two halves so a GUI can measure text on its thread and lay out elsewhere: `prepare()` turns a pass and a
font-metrics callback into a picklable `LayoutInput`; `solve()` runs `dot` on it. `layout_pass()` does both.
A pass is laid out once; replaying its steps changes styles only (see `gradviz.core.replay`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gradviz.core.replay import Replay
from gradviz.core.trace import LeafGrad, Node, Pass, TensorSummary

# Text roles a label line can have; a drawing maps each to a font (see gradviz/gui/theme.py).
TITLE, BODY, MONO, SMALL = "title", "body", "mono", "small"
ROLES = (TITLE, BODY, MONO, SMALL)

DIRECTIONS = ("TB", "BT", "LR", "RL")
SEED_PREFIX = "__seed__:"  # id of the invisible point a root's incoming "seed gradient" edge starts from

Measure = Callable[[str, str], tuple[float, float]]
Point = tuple[float, float]

# Padding around a node's text and the fixed parts of its drawing (pixels, 1 px = 1 Graphviz point).
NODE_PAD_X, NODE_PAD_Y, LINE_GAP = 14.0, 7.0, 2.0
LABEL_PAD_X, LABEL_PAD_Y = 5.0, 2.0  # around an edge's gradient text
CUT_GLYPH = 16.0  # width of the scissors glyph in front of a cut marker's text
CUT_GAP = 10.0  # room between a ghost edge and its cut marker's box, where the break bars are drawn
VALUES_SHOWN = 8  # tensors with at most this many elements are shown by value


# ---------------------------------------------------------------------------------------------- text


@dataclass(frozen=True)
class TextLine:
    """One line of a label and the font role it is drawn with."""

    text: str
    role: str = BODY


_EST = {TITLE: (13.0, 0.60), BODY: (11.0, 0.56), MONO: (11.0, 0.61), SMALL: (10.0, 0.56)}


def estimate_text(text: str, role: str) -> tuple[float, float]:
    """A deterministic, font-free guess of a line's (width, height), close to the default theme fonts."""
    size, advance = _EST.get(role, _EST[BODY])
    return len(text) * size * advance, math.ceil(size * 1.35)


def format_number(v: Any) -> str:
    """A number the way a slide wants it: integral floats as `2.`, others with 4 significant digits."""
    if isinstance(v, bool) or isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v.is_integer() and abs(v) < 1e6:
            return f"{v:.0f}."
        return f"{v:.4g}"
    if isinstance(v, str):  # a non-finite value kept as its JSON spelling
        return {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(v, v)
    return str(v)


def _format_values(values: Any) -> str:
    """Nested lists of numbers as `[[1., 2.], [3., 4.]]`, built without recursion."""
    out: list[str] = []
    stack: list[Any] = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, _Close):
            out.append("]")
        elif isinstance(item, _Sep):
            out.append(", ")
        elif isinstance(item, list | tuple):
            out.append("[")
            stack.append(_CLOSE)
            for i in range(len(item) - 1, -1, -1):
                stack.append(item[i])
                if i:
                    stack.append(_SEP)
        else:
            out.append(format_number(item))
    return "".join(out)


class _Close:
    pass


class _Sep:
    pass


_CLOSE, _SEP = _Close(), _Sep()


def format_shape(shape: Iterable[int]) -> str:
    """`(4,)`, `(2, 3)` or `()` — Python's spelling, which learners see in torch output."""
    return str(tuple(shape))


def format_tensor(t: TensorSummary | None) -> str:
    """A tensor in one short line: its values when it has at most 8 elements, else shape and norm."""
    if t is None:
        return "None"
    if t.values is not None and t.numel <= VALUES_SHOWN:
        return _format_values(t.values)
    norm = t.stats.get("norm")
    text = format_shape(t.shape)
    if norm is not None:
        text += f" ‖·‖={format_number(float(norm) if isinstance(norm, int) else norm)}"
    nonfinite = (t.stats.get("nan") or 0) + (t.stats.get("inf") or 0)
    if nonfinite:
        text += f" ({nonfinite} non-finite)"
    return text


def name_line(node: Node) -> str:
    """The names a person gave the node and its source line, as drawn under its title: `y, z  ·  L12`."""
    parts = []
    if node.names:
        parts.append(", ".join(node.names))
    if node.line is not None:
        parts.append(f"L{node.line}")
    return "  ·  ".join(parts)


def leaf_title(node: Node) -> str:
    """A leaf's heading: its variable name(s), or "leaf" when the program gave it none."""
    return ", ".join(node.names) if node.names else "leaf"


def leaf_grad_text(record: LeafGrad | None, done: bool) -> str:
    """The `.grad` line of a leaf: its value before the pass, and `before → after` once accumulated."""
    if record is None:
        return ".grad  —"
    before = format_tensor(record.before)
    if not done:
        return f".grad  {before}"
    return f".grad  {before} → {format_tensor(record.after)}"


def node_lines(node: Node, record: LeafGrad | None = None, done: bool = False) -> tuple[TextLine, ...]:
    """The text of a node as every drawing shows it. Function (and detached) nodes: op type, then variable
    names and source line. Leaves: name, shape and dtype (and value when small), then `.grad`, which changes
    when the leaf's AccumulateGrad step is done — pass its record and whether that step is done."""
    if node.kind == "leaf":
        lines = [TextLine(leaf_title(node), TITLE)]
        meta = []
        if node.tensor is not None:
            meta.append(f"{format_shape(node.tensor.shape)} {node.tensor.dtype}")
        if node.line is not None:
            meta.append(f"L{node.line}")
        if meta:
            lines.append(TextLine("  ·  ".join(meta), SMALL))
        if node.tensor is not None and node.tensor.values is not None and node.tensor.numel <= VALUES_SHOWN:
            lines.append(TextLine(f"= {format_tensor(node.tensor)}", MONO))
        lines.append(TextLine(leaf_grad_text(record, done), MONO))
        return tuple(lines)
    lines = [TextLine(node.type, TITLE)]
    names = name_line(node)
    if names:
        lines.append(TextLine(names, BODY))
    if node.module:
        lines.append(TextLine(node.module, SMALL))
    return tuple(lines)


def cut_text(cut: str | None) -> str:
    """What a cut marker says: how the branch was cut off."""
    return cut or "cut"


def pass_title(pass_: Pass, number: int | None = None, count: int | None = None) -> str:
    """A heading for a drawing of a pass: which call it was, where."""
    head = pass_.code.strip() if pass_.code else f"{pass_.call}()"
    if pass_.line is not None:
        head += f"   (L{pass_.line})"
    if number is not None and count is not None and count > 1:
        head = f"pass {number} of {count}:  {head}"
    return head


def step_caption(replay: Replay, k: int) -> str:
    """One line saying what the engine has just done at step k."""
    n = replay.total
    k = replay.clamp(k)
    if k == 0:
        return f"before backward: nothing has run yet ({n} step{'' if n == 1 else 's'} to replay)"
    current = replay.current(k)
    node = replay.node(current) if current is not None else None
    if node is None:
        return f"step {k} of {n}"
    if node.kind == "leaf":
        return f"step {k} of {n}:  {leaf_title(node)}.grad accumulated"
    where = name_line(node)
    who = f"{node.type} ({where})" if where else node.type
    return f"step {k} of {n}:  {who} computed the gradients of its inputs"


def lines_size(lines: Iterable[TextLine], measure: Measure) -> tuple[float, float]:
    """Width and height of stacked lines."""
    w = h = 0.0
    n = 0
    for line in lines:
        lw, lh = measure(line.text, line.role)
        w = max(w, lw)
        h += lh
        n += 1
    return w, h + LINE_GAP * max(n - 1, 0)


# ------------------------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class NodeBox:
    """A node's box, centred at (x, y), y growing downwards, in pixels."""

    id: str
    x: float
    y: float
    width: float
    height: float

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def top(self) -> float:
        return self.y - self.height / 2


@dataclass(frozen=True)
class EdgePath:
    """An edge's drawing. `points` is a cubic Bézier spline: start, then (control, control, end) triples.
    `arrow` is (base, tip) of the arrow head at the destination. `label` is the centre of the edge's label box
    (the gradient it carries, or the cut marker of a detached edge) and `label_size` its size.
    `index` points into `Pass.edges`; -1 marks the seed edge that brings the starting gradient to a root."""

    index: int
    src: str
    dst: str
    slot: int
    kind: str
    cut: str | None
    points: tuple[Point, ...]
    arrow: tuple[Point, Point] | None
    label: Point | None
    label_size: tuple[float, float]


@dataclass(frozen=True)
class Layout:
    """The laid-out pass: boxes, edges, and the bounds of the drawing (0, 0, width, height)."""

    nodes: tuple[NodeBox, ...]
    edges: tuple[EdgePath, ...]
    width: float
    height: float
    direction: str = "TB"

    @cached_property
    def _by_id(self) -> dict[str, NodeBox]:
        return {b.id: b for b in self.nodes}

    def box(self, node_id: str) -> NodeBox:
        """The box of a node by id."""
        return self._by_id[node_id]

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "width": self.width, "height": self.height,
                "nodes": [[b.id, b.x, b.y, b.width, b.height] for b in self.nodes],
                "edges": [{"index": e.index, "src": e.src, "dst": e.dst, "slot": e.slot, "kind": e.kind,
                           "cut": e.cut, "points": [list(p) for p in e.points],
                           "arrow": None if e.arrow is None else [list(p) for p in e.arrow],
                           "label": None if e.label is None else list(e.label),
                           "label_size": list(e.label_size)} for e in self.edges]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Layout:
        edges = tuple(
            EdgePath(e["index"], e["src"], e["dst"], e["slot"], e["kind"], e.get("cut"),
                     tuple((p[0], p[1]) for p in e["points"]),
                     None if e.get("arrow") is None else ((e["arrow"][0][0], e["arrow"][0][1]),
                                                          (e["arrow"][1][0], e["arrow"][1][1])),
                     None if e.get("label") is None else (e["label"][0], e["label"][1]),
                     (e["label_size"][0], e["label_size"][1]))
            for e in d["edges"])
        return cls(tuple(NodeBox(*b) for b in d["nodes"]), edges, d["width"], d["height"], d["direction"])


@dataclass(frozen=True)
class LayoutInput:
    """What `dot` needs, already measured: node sizes, and edges with the sizes of their labels.
    Edges are (index, src, dst, slot, kind, label_w, label_h); plain data, so it can cross processes."""

    nodes: tuple[tuple[str, float, float], ...]
    edges: tuple[tuple[int, str, str, int, str, float, float], ...]
    direction: str = "TB"
    cuts: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "nodes": [list(n) for n in self.nodes],
                "edges": [list(e) for e in self.edges], "cuts": [[i, c] for i, c in self.cuts.items()]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayoutInput:
        return cls(tuple((n[0], n[1], n[2]) for n in d["nodes"]),
                   tuple((e[0], e[1], e[2], e[3], e[4], e[5], e[6]) for e in d["edges"]),
                   d["direction"], {i: c for i, c in d["cuts"]})


def edge_label_lines(pass_: Pass, replay: Replay, index: int) -> tuple[TextLine, ...]:
    """The text on edge `index` once it has carried its gradient (or, cut edges, the cut marker)."""
    e = pass_.edges[index]
    if e.kind != "grad":
        return (TextLine(cut_text(e.cut), SMALL),) if e.cut else ()
    g = replay.edge_grad(index)
    return () if g is None else (TextLine(format_tensor(g), MONO),)


def seed_label_lines(replay: Replay, root: str) -> tuple[TextLine, ...]:
    """The text on a root's seed edge: the gradient backward starts from."""
    g = replay.seed_grad(root)
    return () if g is None else (TextLine(format_tensor(g), MONO),)


def node_size(node: Node, record: LeafGrad | None, measure: Measure) -> tuple[float, float]:
    """A box that fits every version of the node's text (a leaf's `.grad` line grows when it is done)."""
    w, h = lines_size(node_lines(node, record, False), measure)
    if node.kind == "leaf":
        w2, h2 = lines_size(node_lines(node, record, True), measure)
        w, h = max(w, w2), max(h, h2)
    return math.ceil(w + 2 * NODE_PAD_X), math.ceil(h + 2 * NODE_PAD_Y)


def _label_size(lines: tuple[TextLine, ...], measure: Measure, glyph: float = 0.0) -> tuple[float, float]:
    if not lines:
        return 0.0, 0.0
    w, h = lines_size(lines, measure)
    return math.ceil(w + glyph + 2 * LABEL_PAD_X), math.ceil(h + 2 * LABEL_PAD_Y)


def prepare(pass_: Pass, measure: Measure | None = None, direction: str = "TB",
            replay: Replay | None = None) -> LayoutInput:
    """Measure every label of `pass_` (with `measure`, else `estimate_text`) into a `LayoutInput`."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    measure = measure or estimate_text
    replay = replay or Replay(pass_)
    nodes = []
    for n in pass_.nodes:
        w, h = node_size(n, replay.leaf_record(n.id), measure)
        nodes.append((n.id, float(w), float(h)))
    edges = []
    cuts: dict[int, str] = {}
    for i, e in enumerate(pass_.edges):
        lines = edge_label_lines(pass_, replay, i)
        glyph = CUT_GLYPH + CUT_GAP if e.kind != "grad" and e.cut else 0.0
        lw, lh = _label_size(lines, measure, glyph)
        edges.append((i, e.src, e.dst, e.slot, e.kind, lw, lh))
        if e.cut:
            cuts[i] = e.cut
    known = {n.id for n in pass_.nodes}
    for root in pass_.roots:
        if root in known:
            lw, lh = _label_size(seed_label_lines(replay, root), measure)
            edges.append((-1, SEED_PREFIX + root, root, 0, "seed", lw, lh))
    return LayoutInput(tuple(nodes), tuple(edges), direction, cuts)


def _dot_source(spec: LayoutInput) -> str:
    """The graph `dot` lays out, in the DOT language: fixed-size boxes with no text of their own (we draw the
    text) and edge labels as fixed-size HTML tables, so Graphviz reserves exactly the room our labels need.
    Node k of `spec.nodes` is named `k` (the seed point of a root, `s` + the root's number), so no id needs
    quoting. One string parsed once by Graphviz is several times faster than building the graph call by call."""
    if spec.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {spec.direction!r}")
    out = [f"digraph {{\ngraph [rankdir={spec.direction}, nodesep=0.35, ranksep=0.42, ordering=out, margin=0, "
           "pad=0, outputorder=edgesfirst];\nnode [shape=box, fixedsize=true, label=\"\"];\n"
           "edge [arrowsize=0.8];"]
    add = out.append
    number = {}
    for k, (nid, w, h) in enumerate(spec.nodes):
        number[nid] = k
        add(f"{k} [width={w / 72:.4f}, height={h / 72:.4f}];")
    # Slot order within each source, so `ordering=out` puts input 0 left of input 1.
    for index, src, dst, _slot, kind, lw, lh in sorted(spec.edges, key=lambda e: (e[3], e[0])):
        if kind == "seed":
            tail = f"s{number[dst]}"
            add(f"{tail} [shape=point, width=0.01, height=0.01, fixedsize=true];")
        else:
            tail = str(number[src])
        attrs = f"id={index}" if index >= 0 else f"id={tail}"
        if lw > 0:
            attrs += (f', label=<<TABLE FIXEDSIZE="TRUE" WIDTH="{math.ceil(lw)}" HEIGHT="{math.ceil(lh)}" '
                      'BORDER="0" CELLBORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD></TD></TR></TABLE>>')
        if kind == "detached":
            attrs += ", weight=1"
        add(f"{tail} -> {number[dst]} [{attrs}];")
    add("}\n")
    return "\n".join(out)


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def _parse_spline(pos: str, flip: Callable[[float, float], Point]) -> tuple[tuple[Point, ...], tuple[Point, Point] | None]:
    """Graphviz edge `pos` ("e,x,y s,x,y x1,y1 ...", several splines separated by ";") -> points, arrow."""
    points: list[Point] = []
    arrow: tuple[Point, Point] | None = None
    for part in pos.split(";"):
        end: Point | None = None
        pts: list[Point] = []
        for token in part.split():
            if token.startswith("e,"):
                x, y = _floats(token[2:])
                end = flip(x, y)
            elif token.startswith("s,"):
                continue
            else:
                x, y = _floats(token)
                pts.append(flip(x, y))
        if points and pts:
            pts = pts[1:] if pts[0] == points[-1] else pts
        points.extend(pts)
        if end is not None and pts:
            arrow = (pts[-1], end)
    return tuple(points), arrow


def _run_dot(source: str) -> tuple[str, list[tuple[str, str]], list[tuple[str, str, str | None]]]:
    """Lay out DOT `source` with Graphviz in this process; returns the bounding box, each node's (name, pos)
    and each edge's (id, pos, lp), read straight from Graphviz (no Python object per node or edge)."""
    import pygraphviz  # type: ignore[import-untyped]
    from pygraphviz import graphviz as gv  # type: ignore[import-untyped]

    graph = pygraphviz.AGraph(string=source)
    handle = graph.handle
    gvc = gv.gvContextWithBuiltins()
    try:
        if gv.gvLayout(gvc, handle, b"dot") != 0:
            raise RuntimeError("Graphviz dot could not lay out the graph")
        try:
            gv.gvRender(gvc, handle, b"dot", None)  # writes pos, lp and bb into the graph's attributes
            bb = gv.agget(handle, b"bb").decode()
            nodes: list[tuple[str, str]] = []
            edges: list[tuple[str, str, str | None]] = []
            n = gv.agfstnode(handle)
            while n is not None:
                nodes.append((gv.agnameof(n).decode(), gv.agget(n, b"pos").decode()))
                e = gv.agfstout(handle, n)
                while e is not None:
                    lp = gv.agget(e, b"lp")
                    edges.append((gv.agget(e, b"id").decode(), (gv.agget(e, b"pos") or b"").decode(),
                                  lp.decode() if lp else None))
                    e = gv.agnxtout(handle, e)
                n = gv.agnxtnode(handle, n)
        finally:
            gv.gvFreeLayout(gvc, handle)
    finally:
        gv.gvFreeContext(gvc)
    return bb, nodes, edges


def solve(spec: LayoutInput) -> Layout:
    """Run Graphviz `dot` on the measured graph and read the geometry back (y flipped to grow downwards)."""
    bb, dot_nodes, dot_edges = _run_dot(_dot_source(spec))
    x0, y0, x1, y1 = _floats(bb)
    height = y1 - y0

    def flip(x: float, y: float) -> Point:
        return (round(x - x0, 2), round(y1 - y, 2))

    where = dict(dot_nodes)
    boxes = []
    for k, (nid, w, h) in enumerate(spec.nodes):
        cx, cy = flip(*_floats(where[str(k)]))
        boxes.append(NodeBox(nid, cx, cy, w, h))

    number = {nid: k for k, (nid, _, _) in enumerate(spec.nodes)}
    info = {(str(e[0]) if e[0] >= 0 else f"s{number[e[2]]}"): e for e in spec.edges}
    paths = []
    for eid, pos, lp in dot_edges:
        index, src, dst, slot, kind, lw, lh = info[eid]
        points, arrow = _parse_spline(pos, flip)
        label = flip(*_floats(lp)) if lp and lw > 0 else None
        paths.append(EdgePath(index, src, dst, slot, kind, spec.cuts.get(index), points, arrow, label,
                              (lw, lh)))
    paths.sort(key=lambda p: (p.index < 0, p.index))
    return Layout(tuple(boxes), tuple(paths), round(x1 - x0, 2), round(height, 2), spec.direction)


def solve_isolated(spec: LayoutInput, timeout: float | None = 120.0) -> Layout:
    """`solve()` in a child Python process. pygraphviz holds the GIL while `dot` runs, so a thread alone
    would still freeze a GUI; a process does not. Raises RuntimeError if the child fails."""
    proc = subprocess.run([sys.executable, "-m", "gradviz.core.layout"], input=json.dumps(spec.to_dict()),
                          capture_output=True, text=True, timeout=timeout, env=_child_env())
    if proc.returncode != 0:
        raise RuntimeError(f"layout process failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return Layout.from_dict(json.loads(proc.stdout))


def _child_env() -> dict[str, str]:
    """This environment, with the directory holding the `gradviz` package importable."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def layout_pass(pass_: Pass, measure: Measure | None = None, direction: str = "TB") -> Layout:
    """Lay out one pass: measure its labels, run `dot`, return the geometry."""
    return solve(prepare(pass_, measure, direction))


def to_agraph(pass_: Pass, layout: Layout | None = None) -> Any:
    """The pass as a self-describing pygraphviz graph for `.dot` files: readable labels, the trace's
    attributes (type, kind, names, line, slot, cut) and, given a layout, each node's position."""
    import pygraphviz  # type: ignore[import-untyped]

    replay = Replay(pass_)
    g = pygraphviz.AGraph(directed=True, strict=False, name="gradviz")
    g.graph_attr.update(rankdir=layout.direction if layout else "TB", label=f"{pass_.call} (line {pass_.line})"
                        if pass_.line is not None else pass_.call)
    g.node_attr.update(shape="box", style="rounded", fontname="DejaVu Sans")
    roots = set(pass_.roots)
    for n in pass_.nodes:
        lines = node_lines(n, replay.leaf_record(n.id), replay.step_of(n.id) is not None)
        attrs = {"label": "\n".join(line.text for line in lines), "type": n.type, "kind": n.kind,
                 "names": ",".join(n.names)}
        if n.line is not None:
            attrs["line"] = str(n.line)
        if n.code:
            attrs["code"] = n.code
        if n.kind == "leaf":
            attrs["style"] = ""
        elif n.kind == "detached":
            attrs.update(style="rounded,dashed", color="grey60", fontcolor="grey50")
        if n.id in roots:
            attrs["peripheries"] = "2"
        step = replay.step_of(n.id)
        if step is not None:
            attrs["step"] = str(step)
        if layout is not None:
            b = layout.box(n.id)
            attrs["pos"] = f"{b.x:.2f},{layout.height - b.y:.2f}"
            attrs["width"] = f"{b.width / 72:.4f}"
            attrs["height"] = f"{b.height / 72:.4f}"
        g.add_node(n.id, **attrs)
    for i, e in enumerate(pass_.edges):
        attrs = {"slot": str(e.slot), "kind": e.kind}
        lines = edge_label_lines(pass_, replay, i)
        if lines:
            attrs["label"] = lines[0].text
        if e.kind != "grad":
            attrs.update(style="dashed", color="grey60", fontcolor="grey40")
        if e.cut:
            attrs["cut"] = e.cut
        g.add_edge(e.src, e.dst, key=str(i), **attrs)
    return g


def _main() -> None:
    """`python -m gradviz.core.layout`: a `LayoutInput` as JSON on stdin -> its `Layout` as JSON on stdout."""
    spec = LayoutInput.from_dict(json.load(sys.stdin))
    json.dump(solve(spec).to_dict(), sys.stdout)


if __name__ == "__main__":
    _main()
