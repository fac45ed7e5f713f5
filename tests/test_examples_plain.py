"""The example programs in resources/examples run as plain Python, carry a parseable header, and print the
gradients PyTorch itself computes (the D2L autograd lesson's cells 1-12 for 01-05)."""

from __future__ import annotations

import ast
import os
import re
import runpy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "resources" / "examples"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
FILES = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "__init__.py")
SEED_FILES = ["01_scalar_gradient.py", "02_accumulate_zero.py", "03_vector_sum_backward.py",
              "04_detach.py", "05_control_flow.py"]
FOLLOW_UPS = ["06_retain_graph.py", "07_no_grad.py", "08_training_step.py", "09_second_derivative.py",
              "10_custom_function.py", "11_training_loop.py"]
HEADER_LINE = re.compile(r"^# (title|zh|en): (\S.*)$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _run(name: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([PYTHON, name], cwd=EXAMPLES, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


@cache
def _all_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every example run once per session, two at a time (torch's import dominates each run)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(FILES, pool.map(_run, FILES), strict=True))


def run(name: str) -> subprocess.CompletedProcess[str]:
    return _all_runs()[name]


def parse_header(path: Path) -> dict[str, list[str]]:
    """The `# key: text` lines at the top of an example, grouped by key in order of appearance."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header: dict[str, list[str]] = {}
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        m = HEADER_LINE.match(lines[i])
        assert m, f"{path.name}:{i + 1}: not a '# title|zh|en: text' line: {lines[i]!r}"
        key, text = m.groups()
        assert key not in header or list(header)[-1] == key, f"{path.name}:{i + 1}: '{key}' is not contiguous"
        header.setdefault(key, []).append(text.strip())
        i += 1
    assert i < len(lines) and lines[i] == "", f"{path.name}: the header must be followed by a blank line"
    return header


def tensor_value(text: str) -> Any:
    """The data of a printed tensor (`tensor([0., 4.], grad_fn=<...>)` -> [0.0, 4.0]); `None` stays None."""
    text = text.strip()
    if text == "None":
        return None
    assert text.startswith("tensor(") and text.endswith(")"), text
    body = re.sub(r",\s*(grad_fn=<\w+>|requires_grad=True|dtype=[\w.]+)", "", text[len("tensor("):-1])
    return ast.literal_eval(body)


def printed(stdout: str, label: str) -> list[Any]:
    """Every value printed as `label = tensor(...)` or `label: tensor(...)`, in order."""
    prefix = re.compile(rf"^{re.escape(label)}(?: =|:) (.*)$")
    return [tensor_value(m.group(1)) for line in stdout.splitlines() if (m := prefix.match(line))]


def as_tensor(value: Any) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float32)


def assert_printed_close(value: Any, expected: torch.Tensor) -> None:
    """Printed tensors carry 4 decimals: compare at that precision."""
    torch.testing.assert_close(as_tensor(value), expected.detach().float(), rtol=1e-4, atol=1e-4)


def assert_all_true(values: list[Any]) -> None:
    assert values, "nothing printed"
    for v in values:
        assert torch.tensor(v).all(), v


def test_examples_exist_in_lesson_order() -> None:
    assert FILES[:5] == SEED_FILES
    assert set(FOLLOW_UPS) <= set(FILES)
    numbers = [int(f[:2]) for f in FILES]
    assert numbers == list(range(1, len(FILES) + 1))
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.py", f) for f in FILES)
    assert (EXAMPLES / "README.md").is_file()


@pytest.mark.parametrize("name", FILES)
def test_header_parses(name: str) -> None:
    header = parse_header(EXAMPLES / name)
    assert list(header) == ["title", "zh", "en"]
    (title,) = header["title"]
    zh_title, sep, en_title = title.partition(" | ")
    assert sep and CJK.search(zh_title) and re.search(r"[A-Za-z]", en_title), title
    assert 2 <= len(header["zh"]) <= 5 and all(CJK.search(line) for line in header["zh"])
    assert 2 <= len(header["en"]) <= 5 and not any(CJK.search(line) for line in header["en"])


@pytest.mark.parametrize("name", FILES)
def test_runs_as_plain_python(name: str) -> None:
    result = run(name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr


def test_01_scalar_gradient_matches_torch() -> None:
    x = torch.arange(4.0, requires_grad=True)
    y = 2 * torch.dot(x, x)
    y.backward()
    out = run("01_scalar_gradient.py").stdout
    assert_printed_close(printed(out, "x")[0], x)
    assert_printed_close(printed(out, "y")[0], y)
    grads = printed(out, "x.grad")
    assert grads[0] is None and len(grads) == 2
    assert_printed_close(grads[1], x.grad)
    assert_all_true(printed(out, "x.grad == 4 * x"))


def test_02_gradients_accumulate_then_clear() -> None:
    x = torch.arange(4.0, requires_grad=True)
    expected = []
    (2 * torch.dot(x, x)).backward()
    expected.append(x.grad.clone())
    x.sum().backward()
    expected.append(x.grad.clone())
    x.grad.zero_()
    x.sum().backward()
    expected.append(x.grad.clone())
    grads = printed(run("02_accumulate_zero.py").stdout, "x.grad")
    assert len(grads) == len(expected)
    for got, want in zip(grads, expected, strict=True):
        assert_printed_close(got, want)


def test_03_vector_sum_backward_matches_torch() -> None:
    x = torch.arange(4.0, requires_grad=True)
    (x * x).backward(torch.ones(len(x)))
    out = run("03_vector_sum_backward.py").stdout
    (grad,) = printed(out, "x.grad")
    assert_printed_close(grad, x.grad)
    assert_all_true(printed(out, "x.grad == 2 * x"))


def test_04_detach_stops_the_gradient() -> None:
    x = torch.arange(4.0, requires_grad=True)
    y = x * x
    (cut,) = torch.autograd.grad((y.detach() * x).sum(), x)
    (full,) = torch.autograd.grad(y.sum(), x)
    out = run("04_detach.py").stdout
    grads = printed(out, "x.grad")
    assert len(grads) == 2
    assert_printed_close(grads[0], cut)
    assert_printed_close(grads[1], full)
    assert_all_true(printed(out, "x.grad == u") + printed(out, "x.grad == 2 * x"))


def test_05_control_flow_gradient_matches_torch() -> None:
    ns = runpy.run_path(str(EXAMPLES / "05_control_flow.py"), run_name="example")
    a = ns["a"].detach().clone().requires_grad_(True)
    d = ns["f"](a)
    (grad,) = torch.autograd.grad(d, a)
    out = run("05_control_flow.py").stdout
    (a_printed,) = printed(out, "a")
    assert_printed_close(a_printed, a)  # the fixed seed gives the same a in every process
    (grad_printed,) = printed(out, "a.grad")
    assert_printed_close(grad_printed, grad)
    assert_printed_close(grad_printed, d.detach() / a.detach())
    assert_all_true(printed(out, "a.grad == d / a"))


def test_06_second_backward_needs_retain_graph() -> None:
    x = torch.arange(4.0, requires_grad=True)
    (once,) = torch.autograd.grad((x * x).sum(), x)
    out = run("06_retain_graph.py").stdout
    grads = printed(out, "x.grad")
    assert len(grads) == 3
    for got, want in zip(grads, [once, 2 * once, once], strict=True):
        assert_printed_close(got, want)
    assert re.search(r"^RuntimeError: Trying to backward through the graph a second time", out, re.M)


def test_07_no_grad_value_is_a_constant() -> None:
    out = run("07_no_grad.py").stdout
    scale = re.search(r"^scale = (tensor\(.*\)) requires_grad: False$", out, re.M)
    assert scale
    (grad,) = printed(out, "x.grad")
    assert_printed_close(grad, torch.full((len(grad),), tensor_value(scale.group(1))))
    assert re.search(r"^w = tensor\(.*\) is_leaf: True$", out, re.M)


def test_08_one_step_lowers_the_loss() -> None:
    out = run("08_training_step.py").stdout
    before = float(re.search(r"^loss = (\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    after = float(re.search(r"^loss after step = (\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    assert after < before
    assert printed(out, "weight.grad") and printed(out, "bias.grad")


def _cube(t: torch.Tensor) -> torch.Tensor:
    return t ** 3


def test_09_second_derivative_matches_torch_func() -> None:
    out = run("09_second_derivative.py").stdout
    (x,) = printed(out, "x")
    x_t = as_tensor(x)
    assert_printed_close(printed(out, "dy/dx")[0], torch.func.grad(_cube)(x_t))
    assert_printed_close(printed(out, "d2y/dx2")[0], torch.func.grad(torch.func.grad(_cube))(x_t))
    assert_all_true(printed(out, "dy/dx == 3 * x**2") + printed(out, "d2y/dx2 == 6 * x"))
    assert printed(out, "x.grad") == [None]


def test_10_custom_function_agrees_with_builtin() -> None:
    out = run("10_custom_function.py").stdout
    (mine,) = printed(out, "MyExp grad")
    (builtin,) = printed(out, "torch.exp grad")
    assert_printed_close(mine, as_tensor(builtin))
    assert re.search(r"^same: True$", out, re.M)


def test_11_training_loop_loss_goes_down() -> None:
    out = run("11_training_loop.py").stdout
    losses = [float(v) for v in re.findall(r"^step +\d+ +loss (\S+)$", out, re.M)]
    assert len(losses) == 5
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0]


def _rounded(v: Any) -> Any:
    """Floats to 6 significant digits, so a doc example survives last-bit changes in the statistics."""
    if isinstance(v, float):
        return float(f"{v:.6g}")
    if isinstance(v, list):
        return [_rounded(x) for x in v]
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    return v


def test_trace_format_doc_example_is_the_real_trace_of_example_01() -> None:
    """docs/trace-format.md shows the trace of 01_scalar_gradient.py; regenerate it (see the doc) if this fails."""
    from gradviz.core.capture import run_program
    from gradviz.core.trace import Trace

    doc = (ROOT / "docs" / "trace-format.md").read_text(encoding="utf-8")
    block = re.search(r"^```json\n(\{\n  \"schema\".*?)^```$", doc, re.M | re.S)
    assert block, "no complete trace example in docs/trace-format.md"
    shown = Trace.from_json(block.group(1)).to_dict()
    path = EXAMPLES / "01_scalar_gradient.py"
    real = run_program(path.read_text(encoding="utf-8"), str(path)).to_dict()
    for d in (shown, real):
        d.pop("filename")
        d.pop("duration")
    assert _rounded(shown) == _rounded(real)
