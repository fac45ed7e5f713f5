"""Big graphs: from a program to the first readable picture, with capture cost, memory, trace size, folding
and layout times, next to plain PyTorch and to torchviz + Graphviz `dot`, measured side by side.

For each workload: a plain run and a captured run (`gradviz.core.capture.run_program`) in child processes,
their forward and backward times (wall clock, and the main thread's CPU time, steadier when the shared
machine is busy) and peak RSS (`RUSAGE_CHILDREN` of a wrapper process), the tensor summaries
taken (count, µs each, inside the run) and the trace encoded as the worker sends it (`jsonio.trace_line`);
the runner's time from request to trace; folding and laying out the first (collapsed) view; opening one
encoder layer fully; the full layered layout (and the full dot layout where it finishes); torchviz `make_dot`
+ `dot -Tsvg` in a child process, capped. The parent process never imports torch.

Side by side: `--against REV` also captures with the package as committed at REV (`git archive`, nothing in
the work tree changes), `--capture-file PATH` with this tree's package but PATH as `gradviz/core/capture.py`
(a change to try before it is made); their captured runs alternate with the plain ones, one row each.

    OMP_NUM_THREADS=1 .venv/bin/python bench/big_graphs.py [--only NAME] [--cap 120] [--rounds 3]
    OMP_NUM_THREADS=1 .venv/bin/python bench/big_graphs.py --only "transformer 200x d128" --against HEAD~3
    OMP_NUM_THREADS=1 .venv/bin/python bench/big_graphs.py --profile "transformer 200x d128"
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from variants import variant_trees

from gradviz.core.fold import FOLD_KEY, FoldedGraph
from gradviz.core.layered import solve_auto, solve_layered
from gradviz.core.layout import prepare, solve_isolated
from gradviz.core.trace import Trace

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]

PROGRAM = '''import json, time, torch
torch.manual_seed(0)
{setup}
{warmup}
t0, c0 = time.perf_counter(), time.thread_time()
out = {forward}
t1, c1 = time.perf_counter(), time.thread_time()
out.backward()
t2, c2 = time.perf_counter(), time.thread_time()
print(json.dumps({{"forward": t1 - t0, "backward": t2 - t1, "forward_cpu": c1 - c0, "backward_cpu": c2 - c1}}))
'''

WORKLOADS: dict[str, dict[str, Any]] = {
    "seed": dict(
        setup="x = torch.arange(4.0, requires_grad=True)",
        forward="2 * torch.dot(x, x)", warm=True),
    "mlp 784-256-256-10": dict(
        setup="net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),"
              " torch.nn.ReLU(), torch.nn.Linear(256, 10))\nx = torch.randn(64, 784)",
        forward="torch.nn.functional.cross_entropy(net(x), torch.arange(64) % 10)", warm=True),
    "transformer 6x d256": dict(
        setup="layer = torch.nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024)\n"
              "net = torch.nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)\n"
              "x = torch.randn(32, 8, 256)",
        forward="net(x).pow(2).mean()", warm=True),
    "chain 2000 ops": dict(
        setup="x = torch.ones(3, requires_grad=True)\n"
              "def chain(x):\n    y = x\n    for _ in range(2000):\n        y = y * 1.0001\n    return y.sum()",
        forward="chain(x)", warm=True),
    "transformer 200x d128": dict(
        setup="layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=8, dim_feedforward=512)\n"
              "net = torch.nn.TransformerEncoder(layer, num_layers=200, enable_nested_tensor=False)\n"
              "x = torch.randn(32, 4, 128)",
        forward="net(x).pow(2).mean()", warm=False),
}

WRAP = """import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(r.stdout)
sys.stderr.write(r.stderr[-4000:])
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)
"""


def program(name: str) -> str:
    w = WORKLOADS[name]
    warmup = f"for _ in range(2):\n    ({w['forward']}).backward()" if w["warm"] else ""
    return PROGRAM.format(setup=w["setup"], warmup=warmup, forward=w["forward"])


# ------------------------------------------------------------------------------------------ children


def child(mode: str, name: str, out: str) -> None:
    """Runs in a child process: one workload, plain / captured / under torchviz; prints JSON."""
    source = program(name)
    if mode == "plain":
        import contextlib
        import io

        buf = io.StringIO()
        t = time.perf_counter()
        with contextlib.redirect_stdout(buf):
            exec(compile(source, "<bench>", "exec"), {"__name__": "__main__"})
        wall = time.perf_counter() - t
        print(json.dumps({**json.loads(buf.getvalue().strip().splitlines()[-1]), "wall": wall}))
    elif mode == "capture":
        import gc

        from gradviz.core import capture, jsonio

        gc.freeze()  # as the worker does before a run: its imports' objects out of the GC's full passes
        count, spent = count_summaries(capture)
        t = time.perf_counter()
        trace = capture.run_program(source, out + ".py")
        wall = time.perf_counter() - t
        if trace.status != "ok":
            raise SystemExit(f"capture failed: {trace.error}")
        t = time.perf_counter()
        size = 0
        with open(out, "wb") as f:  # as the worker sends it, piece by piece
            pieces = jsonio.trace_line(trace) if hasattr(jsonio, "trace_line") else [  # --against an old REV
                jsonio.dumps_line(trace.to_dict())]
            for piece in pieces:
                size += f.write(piece)
        to_json = time.perf_counter() - t
        timed = json.loads(trace.stdout.strip().splitlines()[-1])
        print(json.dumps({**timed, "wall": wall, "to_json": to_json, "json_bytes": size,
                          "summaries": count[0], "summary_us": spent[0] / max(count[0], 1) * 1e6}))
    elif mode == "torchviz":
        import torch
        from torchviz import make_dot

        ns: dict[str, Any] = {"torch": torch}
        torch.manual_seed(0)
        w = WORKLOADS[name]
        exec(w["setup"], ns)
        result = eval(w["forward"], ns)
        net = ns.get("net")
        t = time.perf_counter()
        graph = make_dot(result, params=dict(net.named_parameters()) if net is not None else None)
        source_text = graph.source
        made = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(["dot", "-Tsvg", "-o", out], input=source_text, text=True, check=True)
        print(json.dumps({"make_dot": made, "dot": time.perf_counter() - t}))
    elif mode == "profile":
        import cProfile
        import pstats

        from gradviz.core.capture import run_program

        prof = cProfile.Profile()
        prof.enable()
        run_program(source, out + ".py")
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def count_summaries(capture: Any) -> tuple[list[int], list[float]]:
    """Wrap `summarize` (where the capture module and the summary module call it) to count the summaries the
    capture takes and the seconds they cost."""
    from gradviz.core import summary

    count, spent = [0], [0.0]
    summarize = summary.summarize
    clock = time.perf_counter

    def counted(t: Any, *args: Any) -> Any:
        start = clock()
        try:
            return summarize(t, *args)
        finally:
            spent[0] += clock() - start
            count[0] += 1

    capture.summarize = summary.summarize = counted
    return count, spent


def measured(mode: str, name: str, out: str, timeout: float, tree: str = str(ROOT)
             ) -> tuple[dict[str, Any] | None, int | None, str]:
    """Run a child through the RSS wrapper (importing gradviz from `tree`): its JSON result, its peak RSS
    (KiB), and an error note."""
    cmd = [sys.executable, "-c", WRAP, sys.executable, str(HERE), "--child", mode, name, out]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=tree)
    # A session of its own: on timeout the whole group goes, `dot` included (killing only the child left
    # torchviz's `dot` running for minutes on both cores, skewing every measurement after it).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, None, f"> {timeout:.0f} s"
    rss = None
    result = None
    for line in stdout.splitlines():
        if line.startswith("PEAK_RSS_KB "):
            rss = int(line.split()[1])
        elif line.startswith("{"):
            result = json.loads(line)
    if proc.returncode != 0:
        return None, rss, f"failed: {stderr.strip().splitlines()[-1] if stderr.strip() else proc.returncode}"
    return result, rss, ""


# ------------------------------------------------------------------------------------------ parent


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - t


def via_runner(name: str, folder: str, cap: float) -> float | None:
    """Seconds from run request to Trace through a warm runner worker (None if it did not finish)."""
    from gradviz.core.runner import Runner, RunRequest

    path = Path(folder) / "runner_prog.py"
    source = program(name)
    path.write_text(source, encoding="utf-8")
    with Runner(timeout=cap, warm=True) as runner:
        if not runner.ready(120):
            return None
        t = time.perf_counter()
        trace = runner.run(RunRequest(source, str(path), timeout=cap))
        elapsed = time.perf_counter() - t
    return elapsed if trace.status == "ok" else None


def views(trace_json: str, cap: float) -> dict[str, Any]:
    """Folding and layout numbers for the last pass of a trace."""
    r: dict[str, Any] = {}
    trace, r["load"] = timed(Trace.from_json, trace_json)
    p = trace.passes[-1]
    r["nodes"], r["edges"] = len(p.nodes), len(p.edges)
    fg, r["fold"] = timed(FoldedGraph, p)
    r["runs"] = ", ".join(f"{rid} x{len(run.members)}" for rid, run in fg.runs.items()) or "-"
    state = fg.collapse_all()
    view, r["view"] = timed(fg.view, state)
    spec, r["first_prepare"] = timed(prepare, view.pass_)
    first, r["first_layout"] = timed(solve_auto, spec)
    r["first_items"] = len(view.pass_.nodes)
    piece = next((n.id for n in view.pass_.nodes if n.attrs.get(FOLD_KEY) == "run"), None)
    if piece is not None:
        t = time.perf_counter()
        state2 = fg.expand(state, piece, deep=True)
        view2 = fg.view(state2)
        spec2 = prepare(view2.pass_)
        solve_auto(spec2, previous=first, anchors=view2.anchors(view))
        r["expand_layer"] = time.perf_counter() - t
        r["expand_items"] = len(view2.pass_.nodes)
    spec_full, r["full_prepare"] = timed(prepare, p)
    _, r["full_layered"] = timed(solve_layered, spec_full)
    if len(p.nodes) <= 3000:
        try:
            _, r["full_dot"] = timed(solve_isolated, spec_full, timeout=cap)
        except subprocess.TimeoutExpired:
            r["full_dot"] = None
    return r


def more_numbers(name: str, out: str, folder: str, args: argparse.Namespace) -> dict[str, Any]:
    """Views, runner and torchviz numbers, for the work tree's own capture only."""
    r = views(Path(out).read_text(encoding="utf-8"), args.cap)
    r["runner"] = None if args.no_runner else via_runner(name, folder, args.cap * 3)
    if not args.no_torchviz:
        res, _, err = measured("torchviz", name, str(Path(folder) / "tv.svg"), args.cap)
        r["torchviz"] = None if res is None else res["make_dot"] + res["dot"]
        r["torchviz_note"] = err
    return r


def nodes_edges(trace_json: str) -> dict[str, Any]:
    p = Trace.from_json(trace_json).passes[-1]
    return {"nodes": len(p.nodes), "edges": len(p.edges)}


def ms(v: float | None) -> str:
    if v is None:
        return "-"
    if v < 0.01:
        return f"{v * 1000:.2f} ms"
    return f"{v * 1000:.0f} ms" if v < 10 else f"{v:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only this workload (repeatable)")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds before a child is given up")
    parser.add_argument("--rounds", type=int, default=3, help="plain/captured pairs for small workloads")
    parser.add_argument("--big-rounds", type=int, default=1, help="plain/captured pairs for the 200-layer model")
    parser.add_argument("--no-torchviz", action="store_true")
    parser.add_argument("--no-runner", action="store_true")
    parser.add_argument("--profile", help="cProfile the capture of one workload and stop")
    parser.add_argument("--against", action="append", default=[], metavar="REV",
                        help="also capture with the package as committed at REV (repeatable)")
    parser.add_argument("--capture-file", action="append", default=[], metavar="PATH",
                        help="also capture with PATH as gradviz/core/capture.py (repeatable)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.profile:
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run([sys.executable, str(HERE), "--child", "profile", args.profile,
                            str(Path(folder) / "p")], env=dict(os.environ, OMP_NUM_THREADS="1"), check=True)
        return
    names = args.only or list(WORKLOADS)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        trees = variant_trees(folder, args.against, args.capture_file)
        for name in names:
            print(f"== {name}", flush=True)
            out = str(Path(folder) / "trace.json")
            rounds = args.rounds if WORKLOADS[name]["warm"] else args.big_rounds
            plain: dict[str, list[float]] = {}
            rss_plain = 0
            caps: list[dict[str, list[float]]] = [{} for _ in trees]
            rss_caps = [0] * len(trees)
            extras: list[dict[str, Any]] = [{} for _ in trees]
            notes = [""] * len(trees)
            for _ in range(rounds):  # alternate plain and captured runs: the machine is shared
                res, rss, err = measured("plain", name, out, args.cap * 3)
                if res:
                    for k, v in res.items():
                        plain.setdefault(k, []).append(v)
                    rss_plain = max(rss_plain, rss or 0)
                for i, (_label, tree) in enumerate(trees):
                    trace_out = out if i == 0 else f"{out}.{i}"
                    res, rss, err2 = measured("capture", name, trace_out, args.cap * 3, tree)
                    if res:
                        for k in ("forward", "backward", "wall", "forward_cpu", "backward_cpu"):
                            caps[i].setdefault(k, []).append(res[k])
                        extras[i] = res
                        rss_caps[i] = max(rss_caps[i], rss or 0)
                    notes[i] = err or err2 or notes[i]
            for i, (label, _tree) in enumerate(trees):
                cap, extra = caps[i], extras[i]
                if not cap:
                    print(f"   capture{f' [{label}]' if label else ''} did not finish: {notes[i]}")
                    continue
                row: dict[str, Any] = {"name": f"{name} [{label}]" if label else name, "rss_plain": rss_plain,
                                       "rss_cap": rss_caps[i], "json_mb": extra["json_bytes"] / 1e6,
                                       "to_json": extra["to_json"], "summaries": extra.get("summaries"),
                                       "summary_us": extra.get("summary_us")}
                for k in ("forward", "backward", "wall", "forward_cpu", "backward_cpu"):
                    row[f"plain_{k}"] = statistics.median(plain[k]) if k in plain else None
                    row[f"cap_{k}"] = statistics.median(cap[k])
                if i == 0:
                    row.update(more_numbers(name, out, folder, args))
                    to_trace = row["runner"] if row["runner"] is not None else row["cap_wall"] + row["load"]
                    row["first_picture"] = (to_trace + row["fold"] + row["view"] + row["first_prepare"]
                                            + row["first_layout"])
                else:
                    row.update(nodes_edges(Path(f"{out}.{i}").read_text(encoding="utf-8")))
                rows.append(row)
                print(json.dumps(row, default=str), flush=True)
    report(rows)


def report(rows: list[dict[str, Any]]) -> None:
    print()
    print("| workload | nodes / edges | plain fwd / bwd | captured fwd / bwd | ratio fwd / bwd | CPU ratio fwd / bwd |"
          " peak RSS plain / captured (ratio) | summaries, µs each | run_program | runner | trace JSON, encode |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pf, pb = r["plain_forward"], r["plain_backward"]
        ratio = f"{r['cap_forward'] / pf:.2f} / {r['cap_backward'] / pb:.2f}" if pf and pb else "-"
        cf, cb = r["plain_forward_cpu"], r["plain_backward_cpu"]
        cpu = f"{r['cap_forward_cpu'] / cf:.2f} / {r['cap_backward_cpu'] / cb:.2f}" if cf and cb else "-"
        rss = (f"{r['rss_plain'] / 1024:.0f} / {r['rss_cap'] / 1024:.0f} MB"
               f" ({r['rss_cap'] / r['rss_plain']:.2f})" if r["rss_plain"] else "-")
        summaries = f"{r['summaries']:,}, {r['summary_us']:.1f}" if r.get("summaries") is not None else "-"
        print(f"| {r['name']} | {r['nodes']:,} / {r['edges']:,} | {ms(pf)} / {ms(pb)} | {ms(r['cap_forward'])} / "
              f"{ms(r['cap_backward'])} | {ratio} | {cpu} | {rss} | {summaries} | {ms(r['cap_wall'])} | "
              f"{ms(r.get('runner'))} | {r['json_mb']:.1f} MB, {ms(r['to_json'])} |")
    viewed = [r for r in rows if "fold" in r]
    if not viewed:
        return
    print()
    print("| workload | fold | first view: items, layout | open one layer | full layered | full dot | torchviz + dot"
          " | program to first picture |")
    print("|---|---|---|---|---|---|---|---|")
    for r in viewed:
        tv = ms(r.get("torchviz")) if r.get("torchviz") is not None else (r.get("torchviz_note") or "-")
        dot = ms(r["full_dot"]) if r.get("full_dot") is not None else ("> cap" if "full_dot" in r else "not run")
        layer = f"{ms(r['expand_layer'])} ({r['expand_items']} items)" if "expand_layer" in r else "-"
        print(f"| {r['name']} | {ms(r['fold'] + r['view'])} | {r['first_items']}, "
              f"{ms(r['first_prepare'] + r['first_layout'])} | {layer} | {ms(r['full_prepare'] + r['full_layered'])}"
              f" | {dot} | {tv} | {ms(r['first_picture'])} |")
    print()
    for r in viewed:
        print(f"{r['name']}: runs {r['runs']}")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(bench took {time.perf_counter() - t0:.0f} s)")
