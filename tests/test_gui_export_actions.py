"""File > Export from the real window: the current view as PNG (1x/2x/4x), SVG (text as text) and PDF, the
backward walk as a GIF (a frame per step) and a PDF (a page per step), and the image on the clipboard."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from gui_helpers import private_window
from PIL import Image
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QGuiApplication

from gradviz.core.layout import format_tensor
from gradviz.core.summary import summarize
from gradviz.gui.export_actions import PNG_SCALES
from gradviz.gui.mainwindow import MainWindow
from gradviz.gui.settings import Settings

RUN_TIMEOUT_MS = 30000


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """A window that ran the detach example and shows its first pass at step 2 of 3."""
    tmp = tmp_path_factory.mktemp("gui-export")
    w = private_window(tmp)
    assert w.controller.wait_ready(120), "the worker process did not start"
    assert w.open_example("04_detach.py")
    loop = QEventLoop()
    w.controller.trace_ready.connect(lambda _t: loop.quit())
    QTimer.singleShot(RUN_TIMEOUT_MS, loop.quit)
    assert w.run_program()
    loop.exec()
    assert w.trace() is not None and w.trace().status == "ok"
    w.stepper.set_pass(0)
    w.stepper.set_step(2)
    yield w
    w.editor.document().setModified(False)
    w.close()
    w.controller.shutdown()


@pytest.fixture
def answer(window: MainWindow, monkeypatch, tmp_path):
    """Replace the file dialog: each export is written where `answer.path` says (None: cancelled)."""

    class Answer:
        path: str | None = None
        asked: list[tuple[str, str]] = []

    a = Answer()
    a.asked = []

    def ask_path(kind: str, suggested: str) -> str | None:
        a.asked.append((kind, suggested))
        return a.path

    monkeypatch.setattr(window.exporter, "ask_path", ask_path)
    return a


def detach_x_grad() -> str:
    """x.grad after z.sum().backward() with z = y.detach() * x, as graph labels write it."""
    x = torch.arange(4.0, requires_grad=True)
    ((x * x).detach() * x).sum().backward()
    return format_tensor(summarize(x.grad))


def pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", path.read_bytes()))


def test_the_export_submenu_sits_in_the_file_menu(window: MainWindow) -> None:
    exporter = window.exporter
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.menu() and exporter.menu in
                     [x.menu() for x in a.menu().actions()])
    names = [a.objectName() for a in file_menu.actions()]
    assert names.index("exportAction") + 1 == [a.menu() for a in file_menu.actions()].index(exporter.menu)
    assert exporter.copy_action.shortcut().toString() == "Ctrl+Shift+C"
    assert exporter.copy_action in window.actions()  # the shortcut works with the menu closed


@pytest.mark.parametrize("scale", PNG_SCALES)
def test_png_of_the_current_view_at_each_scale(window: MainWindow, answer, tmp_path: Path, scale: int) -> None:
    answer.path = str(tmp_path / f"view{scale}.png")
    written = window.exporter.export_view("png", scale)
    assert written == Path(answer.path) and answer.asked[-1][0] == "png"
    rect = window.exporter.build_scene().graph_rect()
    with Image.open(written) as im:
        im.load()
        assert im.format == "PNG"
        assert im.size == (round(rect.width() * scale), round(rect.height() * scale))
    assert window.status_label.text().endswith(str(written))


def test_svg_keeps_node_labels_and_gradients_as_text(window: MainWindow, answer, tmp_path: Path) -> None:
    answer.path = str(tmp_path / "view")  # no suffix typed: .svg is added
    written = window.exporter.export_view("svg")
    assert written == tmp_path / "view.svg"
    root = ET.parse(written).getroot()
    texts = " ".join("".join(t.itertext()) for t in root.iter() if t.tag.endswith("text"))
    for label in ("SumBackward0", "MulBackward0", "x", "detach()", "z.sum().backward()", "step 2 of 3"):
        assert label in texts, label
    assert detach_x_grad() in texts  # the gradient on its way to x at step 2 is on its edge


def test_pdf_of_the_current_view_is_one_vector_page(window: MainWindow, answer, tmp_path: Path) -> None:
    answer.path = str(tmp_path / "view.pdf")
    written = window.exporter.export_view("pdf")
    assert written is not None and written.read_bytes().startswith(b"%PDF")
    assert pdf_pages(written) == 1


def test_backward_walk_as_gif_has_a_frame_per_step(window: MainWindow, answer, tmp_path: Path) -> None:
    answer.path = str(tmp_path / "walk.gif")
    steps = len(window.current_pass().steps)
    written = window.exporter.export_walk("gif")
    assert written is not None
    with Image.open(written) as im:
        assert im.format == "GIF" and im.n_frames == steps
    assert window.stepper.step() == 2 and window.scene.step == 2  # the window's own view did not move


def test_backward_walk_as_pdf_has_a_page_per_step(window: MainWindow, answer, tmp_path: Path) -> None:
    answer.path = str(tmp_path / "walk.pdf")
    written = window.exporter.export_walk("walk-pdf")
    assert written is not None and pdf_pages(written) == len(window.current_pass().steps)


def test_copy_image_puts_the_view_on_the_clipboard(window: MainWindow) -> None:
    clipboard = QGuiApplication.clipboard()
    clipboard.clear()
    assert clipboard.image().isNull()
    window.exporter.copy_action.trigger()
    image = clipboard.image()
    rect = window.exporter.build_scene().graph_rect()
    assert not image.isNull()
    assert (image.width(), image.height()) == (round(rect.width() * 2), round(rect.height() * 2))


def test_cancelled_dialog_writes_nothing(window: MainWindow, answer, tmp_path: Path) -> None:
    answer.path = None
    assert window.exporter.export_view("png", 2) is None
    assert window.exporter.export_walk("gif") is None
    assert list(tmp_path.iterdir()) == []


def test_nothing_to_export_before_a_run(qapp, tmp_path: Path, monkeypatch) -> None:
    w = MainWindow(settings=Settings(tmp_path / "s.ini"), autosave_dir=tmp_path / "autosave", warm=False,
                   offer_autosave=False)
    messages: list[str] = []
    monkeypatch.setattr(w, "show_message", lambda title, text: messages.append(title))
    monkeypatch.setattr(w.exporter, "ask_path", lambda kind, suggested: pytest.fail("no dialog without a graph"))
    assert w.exporter.export_view("svg") is None
    assert w.exporter.copy_image() is False
    assert len(messages) == 2
    w.controller.shutdown()
    w.deleteLater()
