"""`gradviz render`: run a program in the worker, then draw one of its backward passes headless to SVG, PNG,
PDF (a page per step), an animated GIF of the walk, or DOT — with the same scene the window shows."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from gradviz.core.runner import Runner
    from gradviz.core.trace import Pass, Trace

# Only light modules above (no pathlib, no trace classes): `gradviz render` imports this module to spawn
# its worker (`start_runner`), and the worker's start delays the whole run.

FORMATS = ("svg", "png", "pdf", "gif", "dot")
EXIT_OK, EXIT_PROGRAM_FAILED, EXIT_USAGE = 0, 1, 2


class RenderUsageError(ValueError):
    """The request cannot be met as asked (bad output type, pass or step): exit code 2."""


@dataclass(frozen=True)
class RenderRequest:
    """One render: the program, the output file, and which pass and step(s) to draw (1-based as the window
    numbers them; step 0 is "before the first step", the default)."""

    file: str
    output: str
    pass_number: int | None = None  # None: the last pass
    step: str = "0"  # an integer, "last" or "all"
    scale: float = 1.0
    theme: str = "light"
    timeout: float = 30.0
    direction: str = "TB"
    caption: bool = True


def output_format(path: str) -> str:
    """The format an output path asks for, from its extension."""
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in FORMATS:
        raise RenderUsageError(f"cannot write {path!r}: the output must end in one of "
                               f"{', '.join('.' + f for f in FORMATS)}")
    return suffix


def check_request(req: RenderRequest) -> str:
    """Validate what can be checked before running the program; returns the output format."""
    fmt = _check_arguments(req)
    _check_direction(req)
    return fmt


def _check_arguments(req: RenderRequest) -> str:
    """The checks that need no gradviz module beyond this one (done before the worker starts)."""
    fmt = output_format(req.output)
    if not os.path.isfile(req.file):
        raise RenderUsageError(f"no such file: {req.file}")
    if req.step not in ("last", "all"):
        try:
            if int(req.step) < 0:
                raise ValueError
        except ValueError:
            raise RenderUsageError(f"--step must be a step number (0 = before the first), 'last' or 'all', "
                                   f"not {req.step!r}") from None
    if req.step == "all" and fmt not in ("gif", "pdf"):
        raise RenderUsageError("--step all needs a .gif (animation) or .pdf (a page per step) output")
    if not 0 < req.scale <= 16:
        raise RenderUsageError(f"--scale must be in (0, 16], not {req.scale}")
    if req.pass_number is not None and req.pass_number < 1:
        raise RenderUsageError("--pass counts from 1")
    from gradviz.core.source import prepare_output

    problem = prepare_output(req.output)
    if problem is not None:
        raise RenderUsageError(problem)
    return fmt


def _check_direction(req: RenderRequest) -> None:
    from gradviz.core.layout import DIRECTIONS

    if req.direction not in DIRECTIONS:
        raise RenderUsageError(f"--direction must be one of {', '.join(DIRECTIONS)}")


def pick_pass(trace: Trace, number: int | None) -> tuple[int, Pass]:
    """The pass to draw, 1-based (default: the last one with a graph); raises RenderUsageError if it is not
    drawable."""
    passes = trace.passes
    if not passes and trace.status != "ok":
        raise LookupError("the program stopped before it made an autograd graph to draw")
    if not passes:
        raise LookupError("the program made no autograd graph to draw (no backward pass and no tensor "
                          "with a grad_fn at the end)")
    # by default the last pass that has a graph (a backward that failed at once, e.g. on a tensor without
    # grad_fn, has none: its picture would be empty)
    drawable = [i for i, q in enumerate(passes, 1) if q.detail == "full" and q.nodes]
    index = (drawable[-1] if drawable else len(passes)) if number is None else number
    if not 1 <= index <= len(passes):
        raise RenderUsageError(f"--pass {number}: the program made {len(passes)} pass"
                               f"{'' if len(passes) == 1 else 'es'}")
    p = passes[index - 1]
    if p.detail != "full":
        raise RenderUsageError(f"pass {index} was kept as a summary only (long loops keep the first passes "
                               "and the last one in full); choose another --pass")
    return index, p


def pick_steps(p: Pass, step: str) -> list[int]:
    """The step numbers to draw: one, or every step of the walk for `all`."""
    total = len(p.steps)
    if step == "all":
        return list(range(1, total + 1)) if total else [0]
    k = total if step == "last" else int(step)
    if k > total:
        raise RenderUsageError(f"--step {k}: this pass has {total} step{'' if total == 1 else 's'}")
    return [k]


def start_runner() -> Runner:
    """A one-shot runner whose worker starts importing torch now, for `run_trace` to use."""
    from gradviz.core.runner import Runner

    # A one-shot worker skips the optimizer warm-up (torch._dynamo, ~1-2 s) unless the program needs it.
    os.environ.setdefault("GRADVIZ_WARM_OPTIMIZER", "0")
    runner = Runner(warm=False)
    runner.prestart()
    return runner


def run_trace(req: RenderRequest, meanwhile: Callable[[], None] | None = None,
              runner: Runner | None = None) -> Trace:
    """Run the program in a fresh worker process (the CLI never runs user code itself); `meanwhile` runs in
    this process while the worker imports torch and runs the program (default: `_warm_qt`). `runner`: one
    from `start_runner` (its worker already warming up); closed here once the trace is in."""
    from gradviz.core.runner import RunRequest
    from gradviz.core.source import read_program

    try:
        source = read_program(req.file)
    except (UnicodeDecodeError, SyntaxError) as e:
        raise RenderUsageError(f"{req.file} is not text in the encoding it declares (UTF-8 by default): {e}") from e
    runner = runner or start_runner()
    try:
        # A picture shows at most 8 values of a tensor and no saved tensors: capture no more than that.
        handle = runner.start(RunRequest(source, os.path.realpath(req.file), timeout=req.timeout,
                                         values_limit=8, saved=False))
        (meanwhile or _warm_qt)()
        trace = handle.wait()
    finally:
        runner.close()
    assert trace is not None
    return trace


def _warm_qt() -> None:
    """A Qt application (offscreen), then Graphviz and the fonts loaded once: `render` calls it while the
    worker runs the program, so imports, Graphviz's plugins and font loading are not paid after the trace
    arrives."""
    import gradviz.gui  # noqa: F401 (its PySide6 workaround must run before any drawing)

    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # headless: no display needed
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        QApplication(["gradviz-render"])
    _load_once()


@functools.cache
def _load_once() -> None:
    import gradviz.gui.export  # noqa: F401
    from gradviz.core.layout import LayoutInput, solve
    from gradviz.gui.scene import GraphScene
    from gradviz.gui.theme import theme_named

    solve(LayoutInput((("a", 40.0, 20.0), ("b", 40.0, 20.0)), ((0, "a", "b", 0, "grad", 30.0, 12.0),)))
    fonts = GraphScene(theme_named("light")).fonts
    for role in fonts.metrics:
        fonts.measure("0.", role)


def draw(p: Pass, output: str, steps: list[int], *, scale: float = 1.0, theme: str = "light",
         direction: str = "TB", title: str | None = None) -> int:
    """Lay out `p` once and write it to `output` at `steps`; returns the pages/frames written."""
    _warm_qt()
    from PySide6.QtWidgets import QGraphicsScene

    from gradviz.core.layout import layout_pass
    from gradviz.gui import export
    from gradviz.gui.scene import GraphScene
    from gradviz.gui.theme import theme_named

    fmt = output_format(output)
    scene = GraphScene(theme_named(theme))
    # A file is drawn whole, once or once per step: no spatial index of the items to build and keep up
    # (a BSP tree of ~2,000 items for a 6-layer transformer: ~15 ms). The same items, drawn in the same order.
    scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
    scene.set_pass(p, layout_pass(p, scene.measure(), direction))
    if title is not None:
        scene.set_caption(title)
    scene.set_step(steps[0])
    if fmt == "svg":
        export.export_svg(scene, output, title or "gradviz")
    elif fmt in ("png", "gif"):
        used = export.image_scale(scene, scale)
        if used < scale:
            print(f"note: the graph is too big for a {scale:g}x bitmap; drawing it at {used:.3g}x "
                  "(SVG and PDF keep every detail)", file=sys.stderr)
        if fmt == "gif":
            return export.export_gif(scene, output, steps, scale)
        export.export_png(scene, output, scale)
    elif fmt == "pdf":
        return export.export_pdf(scene, output, steps)
    else:
        export.export_dot(scene, output)
    return 1


def render(req: RenderRequest, err: TextIO | None = None, out: TextIO | None = None,
           runner: Runner | None = None) -> int:
    """Run and draw; exit code 0 ok, 1 the program failed (what exists is still drawn), 2 usage.
    Messages go to `err` / `out` (default: this process's stderr / stdout). `runner`: see `run_trace`
    (the caller closes it if the request is refused before the run)."""
    from gradviz.core.gc_pause import gc_paused

    _check_arguments(req)
    # One trace decoded and drawn once: its tens of thousands of new objects need no hunt for reference
    # cycles while it runs (~10 ms of collections for a 6-layer transformer); collection resumes after.
    with gc_paused():
        return _run_and_draw(req, err or sys.stderr, out or sys.stdout, runner)


def _run_and_draw(req: RenderRequest, err: TextIO, out: TextIO, runner: Runner | None) -> int:
    """`render` itself, once the request is known to be valid."""

    def meanwhile() -> None:
        _check_direction(req)  # after the worker started: it imports the layout module
        _warm_qt()

    trace = run_trace(req, meanwhile, runner)
    failed = trace.status != "ok"
    if failed and trace.error is not None:
        line = trace.error.line
        where = f" (line {line})" if line is not None and f"line {line}" not in trace.error.message else ""
        err.write(f"error: {trace.error.type}: {trace.error.message}{where}\n")
    elif failed:
        err.write(f"error: the program ended with status {trace.status}\n")
    try:
        number, p = pick_pass(trace, req.pass_number)
    except LookupError as e:
        err.write(f"error: {e}\n")
        return EXIT_PROGRAM_FAILED
    except RenderUsageError as e:
        if failed:  # the program's error came first; this one says why there is no picture
            err.write(f"error: {e}\n")
            return EXIT_PROGRAM_FAILED
        raise
    steps = pick_steps(p, req.step)
    from gradviz.core.layout import pass_title  # imported once the worker runs (see `meanwhile`)

    title = pass_title(p, number, len(trace.passes)) if req.caption else None
    count = draw(p, req.output, steps, scale=req.scale, theme=req.theme, direction=req.direction, title=title)
    what = f"{count} pages" if req.output.lower().endswith(".pdf") and count > 1 else (
        f"{count} frame{'' if count == 1 else 's'}" if req.output.lower().endswith(".gif")
        else f"step {steps[0]} of {len(p.steps)}")
    out.write(f"wrote {req.output} (pass {number} of {len(trace.passes)}, {what})\n")
    return EXIT_PROGRAM_FAILED if failed else EXIT_OK
