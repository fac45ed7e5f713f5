"""End to end: `gradviz trace` on every example, through the real command and worker, checked against PyTorch."""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
import torch

from gradviz.core.trace import Trace

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("[0-9][0-9]_*.py"))


def _gradviz(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gradviz.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180, cwd=ROOT)


@cache
def _traces() -> dict[str, tuple[int, Trace]]:
    """Every example traced once through the CLI (two at a time: each run starts a worker)."""
    def one(path: Path) -> tuple[str, tuple[int, Trace]]:
        proc = _gradviz("trace", str(path))
        return path.name, (proc.returncode, Trace.from_json(proc.stdout))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, EXAMPLES))


def _plain(path: Path) -> dict[str, object]:
    """The example run plainly by Python, its final namespace: the ground truth."""
    with contextlib.redirect_stdout(io.StringIO()):
        return runpy.run_path(str(path), run_name="__main__")


def _values(summary: object) -> torch.Tensor:
    return torch.tensor(summary.values)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_traces_and_final_grads_match_pytorch(path: Path) -> None:
    code, trace = _traces()[path.name]
    assert code == 0 and trace.status == "ok", trace.error
    assert trace.passes, "every example has at least one backward pass"
    namespace = _plain(path)
    leaves = {k for k, v in namespace.items() if isinstance(v, torch.Tensor) and v.is_leaf and v.grad is not None}
    assert leaves <= set(trace.final_grads)
    for name, summary in trace.final_grads.items():
        expected = _resolve(name, namespace).grad
        assert torch.allclose(_values(summary).to(expected.dtype), expected, atol=1e-6), name


def _resolve(name: str, namespace: dict[str, object]) -> torch.Tensor:
    """"x", "params[0]", "w['fc']" are Python expressions; "net.0.weight" is a module parameter's name."""
    head, _, rest = name.partition(".")
    if rest and isinstance(namespace.get(head), torch.nn.Module):
        return dict(namespace[head].named_parameters())[rest]  # type: ignore[union-attr]
    return eval(name, {}, namespace)


def _leaf_after(trace: Trace, pass_index: int, name: str) -> torch.Tensor:
    p = trace.passes[pass_index]
    (record,) = [g for g in p.leaf_grads if g.name == name]
    return _values(record.after)


def test_seed_values_come_out_as_the_lesson_says() -> None:
    traces = _traces()
    x = torch.arange(4.0)
    # 01: y = 2 * dot(x, x) -> 4x
    assert torch.equal(_leaf_after(traces["01_scalar_gradient.py"][1], 0, "x"), 4 * x)
    # 02: gradients accumulate (4x + 1), zero_() clears (1)
    t02 = traces["02_accumulate_zero.py"][1]
    assert torch.equal(_leaf_after(t02, 1, "x"), 4 * x + torch.ones(4))
    assert torch.equal(_leaf_after(t02, 2, "x"), torch.ones(4))
    # 03: y.sum().backward() for y = x * x -> 2x
    assert torch.equal(_leaf_after(traces["03_vector_sum_backward.py"][1], 0, "x"), 2 * x)
    # 04: x.grad == u for u = (x * x).detach(), then 2x through y's own graph; the cut branch is a ghost
    t04 = traces["04_detach.py"][1]
    assert torch.equal(_leaf_after(t04, 0, "x"), x * x)
    assert torch.equal(_leaf_after(t04, 1, "x"), 2 * x)
    first = t04.passes[0]
    ghosts = {n.id for n in first.nodes if n.kind == "detached"}
    assert [n.type for n in first.nodes if n.id in ghosts] == ["MulBackward0"]
    assert [e.cut for e in first.edges if e.dst in ghosts and e.cut] == ["detach()"]
    assert not ghosts & {s.node for s in first.steps}
    # 05: a.grad == d / a, one MulBackward0 per loop iteration on the `b = b * 2` line
    namespace = _plain(EXAMPLES[4])
    t05 = traces["05_control_flow.py"][1]
    a, d = namespace["a"], namespace["d"]
    assert torch.allclose(_leaf_after(t05, 0, "a"), (d / a).detach())
    assert any(n.code == "b = b * 2" for n in t05.passes[0].nodes)


def test_trace_writes_a_file_and_reports_errors_with_exit_code(tmp_path: Path) -> None:
    program = tmp_path / "broken.py"
    program.write_text("import torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\n"
                       "raise ValueError('bad value')\n", encoding="utf-8")
    out = tmp_path / "trace.json"
    proc = _gradviz("trace", str(program), "-o", str(out))
    assert proc.returncode == 1
    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert trace.status == "error" and trace.error is not None
    assert (trace.error.type, trace.error.message, trace.error.line) == ("ValueError", "bad value", 4)
    assert len(trace.passes) == 1
    json.loads(out.read_text(encoding="utf-8"))  # strict JSON on disk


def test_trace_bad_usage_exits_2(tmp_path: Path) -> None:
    proc = _gradviz("trace", str(tmp_path / "missing.py"))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--keep-first", "-3"], ["--timeout", "nan"], ["--timeout", "0"],
                                  ["--timeout", "-1"], ["-o", "/dev/null/trace.json"]])
def test_trace_bad_arguments_exit_2_before_running(tmp_path: Path, args: list[str]) -> None:
    program = tmp_path / "p.py"
    program.write_text("print('ran')\n", encoding="utf-8")
    proc = _gradviz("trace", str(program), *args)
    assert proc.returncode == 2 and "ran" not in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_root_that_cannot_be_a_pass_is_said_and_fails(tmp_path: Path) -> None:
    """--root naming nothing usable: one line on stderr and exit 1 (it looked like success); a complex
    scalar as the default root is seeded with ones, as PyTorch requires, and its pass runs."""
    program = tmp_path / "p.py"
    program.write_text("import torch\na = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                       "c = torch.tensor(2 + 1j, requires_grad=True) * 2\n", encoding="utf-8")
    proc = _gradviz("trace", str(program), "--root", "nonexistent")
    assert proc.returncode == 1
    assert "implicit pass from nonexistent failed" in proc.stderr and "'nonexistent'" in proc.stderr
    proc = _gradviz("trace", str(program))
    assert proc.returncode == 0, proc.stderr
    (p,) = Trace.from_json(proc.stdout).passes
    assert (p.call, p.status, p.note) == ("implicit", "ok", "implicit: c.backward(torch.ones_like(c))")
    assert len(p.steps) == 2


def test_a_file_as_windows_notepad_saves_it_runs(tmp_path: Path) -> None:
    """A UTF-8 BOM and CRLF line ends (Windows Notepad), a Chinese comment; and the trace goes into a folder
    that does not exist yet."""
    program = tmp_path / "notepad.py"
    program.write_bytes("import torch\r\n# 梯度\r\nx = torch.tensor([1.0, 2.0], requires_grad=True)\r\n"
                        "(x * x).sum().backward()\r\n".encode("utf-8-sig"))
    out = tmp_path / "new" / "folder" / "trace.json"
    proc = _gradviz("trace", str(program), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert trace.status == "ok" and trace.final_grads["x"].values == [2.0, 4.0]


def test_keep_first_and_no_keep_last_reach_the_worker(tmp_path: Path) -> None:
    """--keep-first 2 --no-keep-last: the first two passes in full, the rest (the last too) summaries whose
    leaf gradients are torch's."""
    program = tmp_path / "loop.py"
    program.write_text("import torch\nw = torch.tensor([1.0, -2.0], requires_grad=True)\ngrads = []\n"
                       "for i in range(5):\n    (w * w * (i + 1)).sum().backward()\n"
                       "    grads.append(w.grad.clone())\n    w.grad = None\n", encoding="utf-8")
    proc = _gradviz("trace", str(program), "--keep-first", "2", "--no-keep-last")
    assert proc.returncode == 0, proc.stderr
    trace = Trace.from_json(proc.stdout)
    assert [p.detail for p in trace.passes] == ["full", "full", "summary", "summary", "summary"]
    truth = _plain(program)["grads"]
    for p, g in zip(trace.passes, truth, strict=True):  # type: ignore[call-overload]
        (leaf,) = p.leaf_grads
        assert leaf.name == "w" and torch.equal(_values(leaf.after), g)
    default = Trace.from_json(_gradviz("trace", str(program), "--keep-first", "2").stdout)
    assert [p.detail for p in default.passes] == ["full", "full", "summary", "summary", "full"]


def test_a_torch_warning_points_at_the_users_line(tmp_path: Path) -> None:
    """PyTorch warns from inside an op; Python attributes that to the innermost frame, gradviz's own mode:
    the warning in the output must name the user's file and line, as it does without gradviz."""
    program = tmp_path / "warns.py"
    program.write_text("import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 2\nprint(y.grad)\n",
                       encoding="utf-8")
    proc = _gradviz("trace", str(program))
    assert proc.returncode == 0, proc.stderr
    out = Trace.from_json(proc.stdout).stdout
    assert f"{program}:4: UserWarning" in out and "print(y.grad)" in out and "capture.py" not in out
