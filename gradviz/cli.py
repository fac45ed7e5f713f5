"""The `gradviz` command: the app (`gradviz [FILE.py]`), `trace` a program to JSON, `shot` the window."""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from gradviz.core.runner import Runner

# argparse and pathlib are imported when used: `gradviz render` spawns its worker before either is needed.

EXIT_OK, EXIT_PROGRAM_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


def _read_program(path: str) -> str:
    from pathlib import Path

    from gradviz.core.source import read_program

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        return read_program(p)
    except (UnicodeDecodeError, SyntaxError) as e:
        raise UsageError(f"{path} is not text in the encoding it declares (UTF-8 by default): {e}") from e


def cmd_trace(args: argparse.Namespace) -> int:
    """Run FILE in a worker process (time limit, memory cap) and write its trace as JSON (stdout, or -o)."""
    from pathlib import Path

    from gradviz.core.runner import Runner, RunRequest
    from gradviz.core.source import prepare_output

    source = _read_program(args.file)
    problem = prepare_output(args.output) if args.output else None
    if problem is not None:
        raise UsageError(problem)
    request = RunRequest(source, str(Path(args.file).resolve()), root=args.root, keep_first=args.keep_first,
                         keep_last=args.keep_last)
    with Runner(timeout=args.timeout, memory_limit=args.memory_limit, warm=False) as runner:
        trace = runner.run(request)
    text = trace.to_json(indent=args.indent)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    if trace.error is not None:
        line = trace.error.line
        where = f" (line {line})" if line is not None and f"line {line}" not in trace.error.message else ""
        print(f"gradviz: {trace.status}: {trace.error.type}: {trace.error.message.splitlines()[0]}{where}",
              file=sys.stderr)
    failed_implicit = [p for p in trace.passes if p.call == "implicit" and p.status != "ok"]
    for p in failed_implicit:
        error = f"{p.error.type}: {p.error.message.splitlines()[0]}" if p.error is not None else p.status
        print(f"gradviz: the implicit pass{f' from {args.root}' if args.root else ''} failed: {error}",
              file=sys.stderr)
    if trace.status != "ok" or (args.root and failed_implicit):
        return EXIT_PROGRAM_FAILED  # the program failed, or the pass asked for with --root could not be made
    return EXIT_OK


def _checked(text: str, convert: Callable[[str], float], ok: Callable[[float], bool], what: str) -> float:
    """`text` converted, if it is `what`; else the one-line usage error argparse shows."""
    import argparse

    try:
        value = convert(text)
    except ValueError:
        value = math.nan
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
    return value


def _seconds(text: str) -> float:
    """A time limit: a positive, finite number of seconds."""
    return _checked(text, float, lambda v: v > 0 and math.isfinite(v), "a positive number of seconds")


def _count(text: str) -> int:
    """A count that may be zero: 0, 1, 2..."""
    return int(_checked(text, int, lambda v: v >= 0, "a whole number, 0 or more"))


def _size(text: str) -> int:
    """'512M', '4G', '1.5GiB', '1000000' -> bytes (binary units)."""
    import argparse

    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    s = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = s[-1:] if s[-1:] in units else ""
    try:
        value = float(s[: len(s) - len(unit)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 512M or 4G)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the memory limit must be positive, not {text!r}")
    return int(value * units[unit])


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(prog="gradviz", description="See autograd: trace, draw and replay backward().",
                                     epilog="Without a command, `gradviz [FILE.py]` opens the desktop app.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("trace", help="run a program and write its autograd trace as JSON")
    p.add_argument("file", help="the Python program to run")
    p.add_argument("-o", "--output", help="write the JSON here instead of stdout")
    p.add_argument("--root", help="variable to run an implicit backward from (default: the last tensor with a grad_fn)")
    p.add_argument("--keep-first", type=_count, default=10, metavar="N",
                   help="keep the full graph of the first N passes (and of the last one); default 10")
    p.add_argument("--keep-last", action=argparse.BooleanOptionalAction, default=True,
                   help="also keep the last pass in full (default). --no-keep-last records the passes beyond "
                        "the first N without hooks, as summaries: a long training loop runs ~1/3 faster")
    p.add_argument("--indent", type=int, default=None, help="pretty-print the JSON with this indent")
    p.add_argument("--timeout", type=_seconds, default=30.0, metavar="S",
                   help="stop the program after S seconds (status \"timeout\"); default 30")
    p.add_argument("--memory-limit", type=_size, default=None, metavar="SIZE",
                   help="memory the program may use, e.g. 512M or 4G (default: half of the RAM)")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("shot", help="screenshot the whole window on a program at a replay step (offscreen)")
    p.add_argument("file", help="the Python program to run")
    p.add_argument("-o", "--output", required=True, help="the PNG file to write")
    p.add_argument("--step", type=int, default=None, metavar="K",
                   help="replay step to show: 0 = before backward, negative counts from the end (default: last)")
    p.add_argument("--pass", dest="pass_number", type=int, default=None, metavar="N",
                   help="which backward pass to show, 1-based (default: the first with a graph)")
    p.add_argument("--size", default="1600x1000", help="window size WIDTHxHEIGHT (default 1600x1000)")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--lang", choices=("en", "zh_CN"), default=None,
                   help="language of the window's texts (default: the system's, as the app)")
    p.add_argument("--select", metavar="NAME", help="select the node of this variable (or op type) in the inspector")
    p.add_argument("--timeout", type=_seconds, default=60.0, help="seconds to wait for the program (default 60)")
    p.set_defaults(func=cmd_shot)

    p = sub.add_parser("render", help="run a program and draw a backward pass to SVG, PNG, PDF, GIF or DOT")
    p.add_argument("file", help="the Python program to run")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="OUT.svg, .png, .pdf (a page per step with --step all), .gif (the walk) or .dot")
    p.add_argument("--pass", dest="pass_number", type=int, default=None, metavar="N",
                   help="which backward pass, 1-based (default: the last)")
    p.add_argument("--step", default="0", metavar="K|last|all",
                   help="replay step: 0 = before the first step (default), K, last, or all (.gif/.pdf)")
    p.add_argument("--scale", type=float, default=1.0, metavar="S", help="PNG/GIF scale factor (1, 2, 4...)")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--direction", choices=("TB", "BT", "LR", "RL"), default="TB",
                   help="where the gradient flows: TB = output on top (default)")
    p.add_argument("--no-caption", dest="caption", action="store_false", help="draw the graph alone")
    p.add_argument("--timeout", type=_seconds, default=30.0, metavar="S", help="seconds the program may run")
    p.set_defaults(func=cmd_render)
    return parser


def cmd_render(args: argparse.Namespace) -> int:
    """Run FILE and draw one of its passes headless (gradviz/render.py)."""
    from gradviz.render import RenderRequest, RenderUsageError, render

    req = RenderRequest(args.file, args.output, args.pass_number, args.step, args.scale, args.theme,
                        args.timeout, args.direction, args.caption)
    try:
        return render(req, runner=getattr(args, "runner", None))
    except RenderUsageError as e:
        raise UsageError(str(e)) from e


def cmd_shot(args: argparse.Namespace) -> int:
    """Screenshot the window on FILE at a step, offscreen."""
    from pathlib import Path

    from gradviz.shot import ShotError, parse_size, take_shot

    try:
        size = parse_size(args.size)
    except ValueError as e:
        raise UsageError(str(e)) from e
    if not Path(args.file).is_file():
        raise UsageError(f"no such file: {args.file}")
    try:
        result = take_shot(args.file, args.output, step=args.step, size=size, theme=args.theme, select=args.select,
                           pass_index=None if args.pass_number is None else args.pass_number - 1,
                           timeout=args.timeout, language=args.lang)
    except ShotError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROGRAM_FAILED
    print(f"{result.path}: pass {result.pass_index + 1}, step {result.step} / {result.steps}, run {result.status}")
    return EXIT_OK


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    import argparse

    return {name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices}


def main(argv: list[str] | None = None) -> int:
    """The `gradviz` command. Without `argv` it is the process's entry point (the `gradviz` script,
    `python -m gradviz.cli`): a `render` then ends the process as soon as its file is written."""
    entry = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    runner = _early_runner(argv)
    try:
        return _main(argv, entry, runner)
    finally:
        if runner is not None:
            runner.close()


def _early_runner(argv: list[str]) -> Runner | None:
    """For `render`, a runner whose worker is already importing torch, spawned before anything else is
    imported or parsed (the run waits for that worker: every millisecond before its spawn counts)."""
    if argv[:1] != ["render"] or "-h" in argv or "--help" in argv:
        return None
    from gradviz.render import start_runner

    return start_runner()


def _main(argv: list[str], entry: bool, runner: Runner | None) -> int:
    from pathlib import Path

    parser = build_parser()
    if not argv or (argv[0] not in _subcommands(parser) and not argv[0].startswith("-")
                    and (argv[0].endswith(".py") or Path(argv[0]).is_file())):
        # `gradviz` or `gradviz FILE.py`: the desktop app
        if len(argv) > 1:
            print(f"error: unexpected arguments after {argv[0]}: {' '.join(argv[1:])}", file=sys.stderr)
            return EXIT_USAGE
        from gradviz.gui.app import run_app

        return run_app(argv[0] if argv else None)
    args: Any = parser.parse_args(argv)
    args.runner = runner
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        code = int(args.func(args))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if entry and args.func is cmd_render:
        _end_process(code)
    return code


def _end_process(code: int) -> NoReturn:
    """Exit now, without the interpreter's teardown: the render's file is written and closed, and tearing
    down Qt, a scene of a thousand items and every module takes longer than laying a graph out (~0.1 s)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
