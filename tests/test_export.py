"""Exports of the scene: SVG parses and keeps labels as text, PNG at its scale, PDF pages, GIF frames,
DOT that reads back with its attributes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pygraphviz
import pytest
import torch
from PIL import Image

from gradviz.core.capture import run_program
from gradviz.core.layout import format_tensor, layout_pass, pass_title
from gradviz.core.summary import summarize
from gradviz.core.trace import Pass
from gradviz.gui import export
from gradviz.gui.scene import GraphScene
from gradviz.gui.theme import DARK
from tests.test_replay import DETACH


@pytest.fixture(scope="module")
def detach_pass() -> Pass:
    trace = run_program(DETACH, "/tmp/detach.py")
    assert trace.status == "ok"
    return trace.passes[-1]


@pytest.fixture
def scene(qtbot, detach_pass: Pass) -> GraphScene:  # type: ignore[no-untyped-def]
    s = GraphScene()
    s.set_pass(detach_pass, layout_pass(detach_pass, s.measure()))
    return s


def expected_x_grad() -> str:
    x = torch.arange(4.0, requires_grad=True)
    ((x * x).detach() * x).sum().backward()
    return format_tensor(summarize(x.grad))


def test_svg_parses_and_keeps_labels_as_text(scene: GraphScene, detach_pass: Pass, tmp_path: Path) -> None:
    scene.set_caption(pass_title(detach_pass))
    scene.set_step(len(detach_pass.steps))
    out = tmp_path / "g.svg"
    export.export_svg(scene, out)
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    texts = " ".join("".join(t.itertext()) for t in root.iter() if t.tag.endswith("text"))
    for label in ("SumBackward0", "MulBackward0", "detach()", "x", ".grad", expected_x_grad(),
                  "z.sum().backward()", "step 3 of 3"):
        assert label in texts, label
    # every font list ends in a generic family: a machine without DejaVu draws the labels in their kind
    families = {e.get("font-family") for e in root.iter() if e.get("font-family")}
    assert families and all(f.endswith((",monospace", ",sans-serif")) for f in families), families
    assert any("Mono" in f and f.endswith(",monospace") for f in families)


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_png_at_scale(scene: GraphScene, tmp_path: Path, scale: int) -> None:
    out = tmp_path / f"g{scale}.png"
    export.export_png(scene, out, scale)
    rect = scene.graph_rect()
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.size == (round(rect.width() * scale), round(rect.height() * scale))
        assert im.convert("RGB").getpixel((1, 1)) == (255, 255, 255)  # light theme background


def test_pdf_one_page_per_step(scene: GraphScene, detach_pass: Pass, tmp_path: Path) -> None:
    out = tmp_path / "walk.pdf"
    steps = list(range(1, len(detach_pass.steps) + 1))
    assert export.export_pdf(scene, out, steps) == len(steps)
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == len(detach_pass.steps)
    single = tmp_path / "one.pdf"
    assert export.export_pdf(scene, single) == 1
    assert len(re.findall(rb"/Type\s*/Page\b", single.read_bytes())) == 1


def test_gif_one_frame_per_step(scene: GraphScene, detach_pass: Pass, tmp_path: Path) -> None:
    out = tmp_path / "walk.gif"
    steps = list(range(1, len(detach_pass.steps) + 1))
    assert export.export_gif(scene, out, steps) == len(steps)
    with Image.open(out) as im:
        assert im.n_frames == len(detach_pass.steps) and im.is_animated
        firsts = []
        for i in range(im.n_frames):
            im.seek(i)
            firsts.append(im.convert("RGB").tobytes())
        assert len(set(firsts)) == im.n_frames  # every step looks different


def test_dark_theme_png(scene: GraphScene, tmp_path: Path) -> None:
    scene.set_theme(DARK)
    out = tmp_path / "dark.png"
    export.export_png(scene, out)
    with Image.open(out) as im:
        assert "#{:02x}{:02x}{:02x}".format(*im.convert("RGB").getpixel((1, 1))) == DARK.background


def test_dot_reads_back_with_attributes(scene: GraphScene, detach_pass: Pass, tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    export.export_dot(scene, out)
    g = pygraphviz.AGraph(str(out))
    assert sorted(g.nodes()) == sorted(n.id for n in detach_pass.nodes)
    assert g.number_of_edges() == len(detach_pass.edges)
    ghost = next(n for n in detach_pass.nodes if n.kind == "detached")
    assert g.get_node(ghost.id).attr["kind"] == "detached" and "dashed" in g.get_node(ghost.id).attr["style"]
    cuts = [e for e in g.edges() if e.attr.get("cut")]
    assert [(e[0], e[1], e.attr["cut"]) for e in cuts] == [(e.src, e.dst, e.cut) for e in detach_pass.edges if e.cut]
    leaf = next(n for n in detach_pass.nodes if n.kind == "leaf")
    assert expected_x_grad() in g.get_node(leaf.id).attr["label"]
    assert g.get_node(leaf.id).attr["pos"]  # the layout's positions travel with it
