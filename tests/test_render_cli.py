"""`gradviz render`: run, draw, exit codes (0 ok, 1 program failed, 2 usage), steps and passes numbered as
the window numbers them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pygraphviz
import pytest
from PIL import Image

from gradviz.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"
DETACH = EXAMPLES / "04_detach.py"


def svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()
    return " ".join("".join(t.itertext()) for t in root.iter() if t.tag.endswith("text"))


def test_render_png_as_a_command(tmp_path: Path) -> None:
    out = tmp_path / "detach.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # the command sets it itself
    proc = subprocess.run([sys.executable, "-m", "gradviz.cli", "render", str(DETACH), "-o", str(out),
                           "--pass", "1", "--step", "last", "--scale", "2"],
                          capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "pass 1 of 2" in proc.stdout and "step 3 of 3" in proc.stdout
    with Image.open(out) as one:
        size2 = one.size
    assert main(["render", str(DETACH), "-o", str(tmp_path / "one.png"), "--pass", "1", "--step", "last"]) == 0
    with Image.open(tmp_path / "one.png") as one:
        assert (abs(size2[0] - 2 * one.size[0]) <= 1) and (abs(size2[1] - 2 * one.size[1]) <= 1)


def test_default_is_the_last_pass_before_its_first_step(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "g.svg"
    assert main(["render", str(DETACH), "-o", str(out)]) == 0
    text = svg_text(out)
    assert "pass 2 of 2" in text and "y.sum().backward()" in text and "before backward" in text
    assert "detach()" not in text  # the second pass is y's own graph, nothing cut off
    assert main(["render", str(DETACH), "-o", str(out), "--pass", "1", "--step", "2"]) == 0
    text = svg_text(out)
    assert "pass 1 of 2" in text and "step 2 of 3" in text and "detach()" in text


def test_step_all_gives_a_gif_frame_and_a_pdf_page_per_step(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gif, pdf = tmp_path / "walk.gif", tmp_path / "walk.pdf"
    assert main(["render", str(DETACH), "-o", str(gif), "--pass", "1", "--step", "all"]) == 0
    assert main(["render", str(DETACH), "-o", str(pdf), "--pass", "1", "--step", "all", "--theme", "dark"]) == 0
    from gradviz.core.capture import run_program

    steps = len(run_program(DETACH.read_text(encoding="utf-8"), str(DETACH)).passes[0].steps)
    with Image.open(gif) as im:
        assert im.n_frames == steps
    assert len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes())) == steps


def test_dot_output(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "g.dot"
    assert main(["render", str(DETACH), "-o", str(out), "--pass", "1"]) == 0
    g = pygraphviz.AGraph(str(out))
    assert any(e.attr.get("cut") == "detach()" for e in g.edges())


def test_a_failing_program_still_draws_what_it_made(qtbot, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    prog = tmp_path / "fails.py"
    prog.write_text(textwrap.dedent("""\
        import torch
        x = torch.ones(3, requires_grad=True)
        (x * 2).sum().backward()
        raise ValueError("boom")
    """), encoding="utf-8")
    out = tmp_path / "g.png"
    assert main(["render", str(prog), "-o", str(out), "--step", "last"]) == 1
    assert out.is_file()
    err = capsys.readouterr().err
    assert "ValueError: boom" in err and "line 4" in err


def test_a_program_that_fails_before_any_graph(qtbot, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    prog = tmp_path / "early.py"
    prog.write_text("import torch\nraise RuntimeError('no graph')\n", encoding="utf-8")
    out = tmp_path / "g.png"
    assert main(["render", str(prog), "-o", str(out)]) == 1
    assert not out.exists() and "RuntimeError: no graph" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["-o", "out.jpg"], "must end in"),
    (["-o", "out.png", "--step", "all"], "--step all needs"),
    (["-o", "out.png", "--step", "minus"], "--step must be"),
    (["-o", "out.png", "--scale", "0"], "--scale"),
])
def test_usage_errors_before_running(tmp_path: Path, capsys, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    args = [a if not a.startswith("out.") else str(tmp_path / a) for a in args]
    assert main(["render", str(DETACH), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_refused_request_ends_the_worker_started_early(tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import gradviz.render as render_module

    started = []
    start_runner = render_module.start_runner

    def spy() -> object:
        runner = start_runner()
        started.append((runner, runner._spare))
        return runner

    monkeypatch.setattr(render_module, "start_runner", spy)
    assert main(["render", str(DETACH), "-o", str(tmp_path / "out.jpg")]) == 2
    assert "must end in" in capsys.readouterr().err
    ((runner, worker),) = started
    assert worker is not None and worker.proc.returncode is not None  # spawned before parsing, then killed
    assert runner._spare is None


def test_usage_errors_after_running(qtbot, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = str(tmp_path / "g.png")
    assert main(["render", str(DETACH), "-o", out, "--pass", "3"]) == 2
    assert "made 2 passes" in capsys.readouterr().err
    assert main(["render", str(DETACH), "-o", out, "--pass", "1", "--step", "9"]) == 2
    assert "has 3 steps" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "missing.py"), "-o", out]) == 2
    assert "no such file" in capsys.readouterr().err


def test_render_svg_as_a_command_is_complete_when_the_process_ends(tmp_path: Path) -> None:
    """The command ends its process without tearing Qt down: the file must be whole and the message out."""
    out = tmp_path / "detach.svg"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    proc = subprocess.run([sys.executable, "-m", "gradviz.cli", "render", str(DETACH), "-o", str(out),
                           "--pass", "1", "--step", "last"], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {out} (pass 1 of 2, step 3 of 3)"
    text = svg_text(out)  # parses: the document is closed
    assert "detach()" in text and "step 3 of 3" in text and ".grad" in text


def test_a_program_that_raised_still_gets_its_graph_drawn(qtbot, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The graph built before the error is drawn (an implicit pass), the error is said once, exit 1."""
    program = tmp_path / "fails.py"
    program.write_text("import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\ny = (x * x).sum()\n"
                       "raise ValueError('after the graph')\n", encoding="utf-8")
    out = tmp_path / "fails.svg"
    assert main(["render", str(program), "-o", str(out), "--step", "last"]) == 1
    err = capsys.readouterr().err
    assert err.count("ValueError: after the graph (line 4)") == 1
    text = svg_text(out)
    assert "SumBackward0" in text and "MulBackward0" in text


def test_by_default_the_last_pass_with_a_graph_is_drawn(qtbot, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A last backward() that failed at once (a tensor without grad_fn, caught) has no graph: the default
    picture is the pass before it, not an empty one."""
    program = tmp_path / "caught.py"
    program.write_text("import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n(x * 2).sum().backward()\n"
                       "try:\n    torch.tensor(3.0).backward()\nexcept RuntimeError:\n    pass\n", encoding="utf-8")
    out = tmp_path / "caught.svg"
    assert main(["render", str(program), "-o", str(out), "--step", "last"]) == 0
    assert "(pass 1 of 2, step 3 of 3)" in capsys.readouterr().out
    assert "MulBackward0" in svg_text(out)
