"""The `gradviz` command: `trace` a program to JSON (more subcommands are added beside it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PROGRAM_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


def _read_program(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text: {e}") from e


def cmd_trace(args: argparse.Namespace) -> int:
    """Run FILE and write its trace as JSON (stdout, or -o)."""
    from gradviz.core.capture import CaptureOptions, run_program

    source = _read_program(args.file)
    trace = run_program(source, str(Path(args.file).resolve()), root=args.root,
                        options=CaptureOptions(keep_first=args.keep_first))
    text = trace.to_json(indent=args.indent)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return EXIT_OK if trace.status == "ok" else EXIT_PROGRAM_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gradviz", description="See autograd: trace, draw and replay backward().")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("trace", help="run a program and write its autograd trace as JSON")
    p.add_argument("file", help="the Python program to run")
    p.add_argument("-o", "--output", help="write the JSON here instead of stdout")
    p.add_argument("--root", help="variable to run an implicit backward from (default: the last tensor with a grad_fn)")
    p.add_argument("--keep-first", type=int, default=10, metavar="N",
                   help="keep the full graph of the first N passes (and always the last one); default 10")
    p.add_argument("--indent", type=int, default=None, help="pretty-print the JSON with this indent")
    p.set_defaults(func=cmd_trace)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args: Any = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
