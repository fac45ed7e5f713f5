"""Files from the graph scene: SVG (text kept as text), PNG at a scale, vector PDF (a page per step), an
animated GIF of the backward walk, and DOT. Every picture is the window's own `GraphScene`, rendered."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QFile, QIODevice, QMarginsF, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import QImage, QPageSize, QPainter, QPdfWriter
from PySide6.QtSvg import QSvgGenerator

from gradviz.core.layout import to_agraph
from gradviz.gui.scene import GraphScene

if TYPE_CHECKING:
    from PIL import Image

FORMATS = ("svg", "png", "pdf", "gif", "dot")
GIF_FRAME_MS = 900
GIF_LAST_FRAME_MS = 2600
MAX_SIDE = 16384  # pixels
MAX_PIXELS = 48_000_000


def _render(scene: GraphScene, painter: QPainter, width: float, height: float) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    with scene.detailed():
        scene.render(painter, QRectF(0, 0, width, height), scene.graph_rect(), Qt.AspectRatioMode.IgnoreAspectRatio)


def image_scale(scene: GraphScene, scale: float) -> float:
    """`scale`, reduced if needed so the image stays within `MAX_SIDE` pixels a side and `MAX_PIXELS` in
    all (a 2,000-node chain is ~200,000 px tall at 1x: a bitmap that size helps nobody; SVG/PDF do)."""
    rect = scene.graph_rect()
    w, h = max(rect.width(), 1.0), max(rect.height(), 1.0)
    return min(scale, MAX_SIDE / w, MAX_SIDE / h, (MAX_PIXELS / (w * h)) ** 0.5)


def render_image(scene: GraphScene, scale: float = 1.0) -> QImage:
    """The scene as it stands, drawn into an image `scale` times its natural size (see `image_scale`)."""
    scale = image_scale(scene, scale)
    rect = scene.graph_rect()
    w, h = max(1, round(rect.width() * scale)), max(1, round(rect.height() * scale))
    image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(scene.backgroundBrush().color())
    painter = QPainter(image)
    _render(scene, painter, w, h)
    painter.end()
    return image


def export_png(scene: GraphScene, path: str | Path, scale: float = 1.0) -> float:
    """A PNG of the scene at `scale` (1, 2, 4... times its size in pixels). Returns the scale used, which
    is smaller than asked only for graphs too big for a bitmap (see `image_scale`)."""
    image = render_image(scene, scale)
    if not image.save(str(path), "PNG"):  # type: ignore[call-overload]  # (stubs say bytes; runtime wants str)
        raise OSError(f"could not write {path}")
    return image_scale(scene, scale)


def _open(path: str | Path) -> QFile:
    """`path` opened for writing. Exports close it themselves, so the file is complete when they return
    (`gradviz render` ends its process right after, without waiting for Qt objects to be destroyed)."""
    file = QFile(str(path))
    if not file.open(QIODevice.OpenModeFlag.WriteOnly | QIODevice.OpenModeFlag.Truncate):
        raise OSError(f"could not write {path}: {file.errorString()}")
    return file


def export_svg(scene: GraphScene, path: str | Path, title: str = "gradviz") -> None:
    """An SVG of the scene: shapes as paths, labels as <text> (selectable, searchable, scalable)."""
    rect = scene.graph_rect()
    file = _open(path)  # before drawing: a path that cannot be written fails at once
    drawn = QBuffer()
    drawn.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(drawn)
    gen.setSize(QSize(round(rect.width()), round(rect.height())))
    gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    gen.setResolution(72)
    gen.setTitle(title)
    gen.setDescription("autograd graph drawn by gradviz")
    painter = QPainter(gen)
    _render(scene, painter, rect.width(), rect.height())
    painter.end()
    file.write(with_generic_fonts(bytes(drawn.data().data()).decode("utf-8")).encode("utf-8"))
    file.close()


def with_generic_fonts(svg: str) -> str:
    """End every font-family list with its generic family, so a machine without DejaVu (Windows, macOS) draws
    the labels in a font of the same kind rather than a browser's default serif."""
    def generic(match: re.Match[str]) -> str:
        families = match.group(1)
        if families.rstrip().endswith(("monospace", "sans-serif", "serif")):
            return match.group(0)
        kind = "monospace" if "Mono" in families else "sans-serif"
        return f'font-family="{families},{kind}"'

    return re.sub(r'font-family="([^"]*)"', generic, svg)


def export_pdf(scene: GraphScene, path: str | Path, steps: Sequence[int] | None = None,
               on_page: Callable[[int], None] | None = None) -> int:
    """A vector PDF: one page at the current step, or one page per step in `steps`. Returns the pages
    written. `on_page(k)` runs before each page is drawn (exports use it to update a caption)."""
    rect = scene.graph_rect()
    file = _open(path)
    writer = QPdfWriter(file)
    writer.setResolution(72)
    writer.setPageSize(QPageSize(QSizeF(rect.width(), rect.height()), QPageSize.Unit.Point, "gradviz"))
    writer.setPageMargins(QMarginsF(0, 0, 0, 0))
    writer.setCreator("gradviz")
    pages = list(steps) if steps is not None else [scene.step]
    painter = QPainter(writer)
    for i, k in enumerate(pages):
        if i:
            writer.newPage()
        scene.set_step(k)
        if on_page is not None:
            on_page(k)
        _render(scene, painter, rect.width(), rect.height())
    painter.end()
    file.close()
    return len(pages)


def _to_pil(image: QImage) -> Image.Image:
    from PIL import Image  # only GIFs need Pillow: not imported for the other formats

    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = bytes(rgba.constBits())
    return Image.frombuffer("RGBA", (rgba.width(), rgba.height()), data, "raw", "RGBA", rgba.bytesPerLine(), 1)


def export_gif(scene: GraphScene, path: str | Path, steps: Sequence[int], scale: float = 1.0,
               on_page: Callable[[int], None] | None = None) -> int:
    """An animated GIF with one frame per step in `steps` (the backward walk), looping; the last frame
    stays longer. Returns the number of frames."""
    from PIL import Image

    frames = []
    for k in steps:
        scene.set_step(k)
        if on_page is not None:
            on_page(k)
        frames.append(_to_pil(render_image(scene, scale)).convert("RGB").quantize(colors=255, dither=Image.Dither.NONE))
    if not frames:
        raise ValueError("no steps to animate")
    durations = [GIF_FRAME_MS] * (len(frames) - 1) + [GIF_LAST_FRAME_MS]
    frames[0].save(str(path), save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)
    return len(frames)


def export_dot(scene: GraphScene, path: str | Path) -> None:
    """The graph in Graphviz DOT with its attributes (types, names, lines, slots, cuts, positions)."""
    if scene.pass_ is None:
        raise ValueError("the scene shows no pass")
    to_agraph(scene.pass_, scene.layout).write(str(path))
