"""Trace JSON: a captured trace survives to_json/from_json unchanged, and the JSON is strict (no NaN or
Infinity literals) even when tensors, statistics and attributes hold non-finite values."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
import torch

from gradviz.core.capture import CaptureOptions, run_program
from gradviz.core.trace import SCHEMA, ErrorInfo, Trace

RICH = """\
import torch
from torch import nn

# 一个小网络 (a small network)
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
x = torch.randn(4, 3)
w = {"fc": torch.randn(2, requires_grad=True)}
h = net(x) * w["fc"]
u = (h * 3).detach()
loss = (h * u).sum() + h.pow(2).mean()
loss.backward(retain_graph=True)
(g,) = torch.autograd.grad(loss, w["fc"], create_graph=True)
g.sum().backward()
try:
    (h * 2).backward()
except RuntimeError:
    print("梯度 caught")
for i in range(4):
    net.zero_grad()
    net(x).sum().backward()
raise KeyError("the end")
"""

NONFINITE = """\
import torch
x = torch.tensor([1.0, 0.0, -1.0, 4.0], requires_grad=True)
y = torch.sqrt(x)
(y * 2).sum().backward()
q = x.pow(float("-inf"))
q.sum().backward()
big = torch.full((40, 30), float("nan"), requires_grad=True)
(big * torch.log(torch.zeros(40, 30))).sum().backward()
"""


def _strict_loads(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def _same(a: Any, b: Any, path: str = "") -> None:
    """Deep equality that treats NaN as equal to NaN (dataclass == does not), and checks types."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b and type(a) is type(b), (path, a, b)


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Trace:
    return run_program(RICH, str(tmp_path_factory.mktemp("json") / "rich.py"),
                       options=CaptureOptions(keep_first=3))


@pytest.fixture(scope="module")
def nonfinite(tmp_path_factory: pytest.TempPathFactory) -> Trace:
    return run_program(NONFINITE, str(tmp_path_factory.mktemp("json") / "nonfinite.py"))


def test_rich_trace_has_everything_worth_round_tripping(rich: Trace) -> None:
    assert rich.status == "error" and rich.error == ErrorInfo("KeyError", "'the end'", 22)
    assert {p.call for p in rich.passes} == {"backward", "grad"}
    assert {p.status for p in rich.passes} == {"ok", "error"}
    assert {p.detail for p in rich.passes} == {"full", "summary"}
    kinds = {n.kind for p in rich.passes for n in p.nodes}
    assert kinds == {"function", "leaf", "detached"}
    assert any(p.results for p in rich.passes)
    assert any(n.module for p in rich.passes for n in p.nodes)
    assert any(n.attrs for p in rich.passes for n in p.nodes)
    assert "w['fc']" in rich.final_grads and "梯度 caught" in rich.stdout


def test_round_trip_is_equal(rich: Trace) -> None:
    text = rich.to_json()
    back = Trace.from_json(text)
    assert back == rich
    assert back.to_json() == text
    assert Trace.from_json(rich.to_json(indent=1)) == rich


def test_json_is_strict_and_utf8(rich: Trace) -> None:
    text = rich.to_json()
    data = _strict_loads(text)
    assert data["schema"] == SCHEMA
    assert "梯度" in text  # written as is, not \\u-escaped


def test_nonfinite_values_round_trip_through_strict_json(nonfinite: Trace) -> None:
    assert nonfinite.status == "ok", nonfinite.error
    text = nonfinite.to_json()
    for literal in ("NaN,", "Infinity,", "NaN]", "Infinity]"):
        assert f" {literal}" not in text and f",{literal}" not in text
    _strict_loads(text)
    back = Trace.from_json(text)
    _same(back, nonfinite)
    assert back.to_json() == text


def test_nonfinite_values_decode_to_torchs_values(nonfinite: Trace) -> None:
    ns: dict[str, Any] = {}
    exec(compile("\n".join(NONFINITE.splitlines()[:4]), "<plain>", "exec"), ns)
    back = Trace.from_json(nonfinite.to_json())
    first = back.passes[0]
    after = next(g for g in first.leaf_grads if g.name == "x").after
    assert torch.allclose(torch.tensor(after.values), ns["x"].grad, equal_nan=True)
    assert after.stats["nan"] == 1 and after.stats["inf"] == 1
    pow_ = next(n for n in back.passes[1].nodes if n.type == "PowBackward0")
    assert pow_.attrs["_saved_exponent"] == -math.inf
    big = back.final_grads["big"]
    assert big.values is None and big.stats == {"nan": 0, "inf": 1200}
    data = _strict_loads(nonfinite.to_json())
    assert data["final_grads"]["big"]["stats"]["inf"] == 1200
    x_after = next(g for g in data["passes"][0]["leaf_grads"] if g["name"] == "x")["after"]
    assert x_after["values"][1] == "Infinity" and x_after["values"][2] == "NaN"


def test_summary_only_passes_round_trip(rich: Trace) -> None:
    summary = [p for p in rich.passes if p.detail == "summary"]
    assert summary and all(p.nodes == () and p.steps == () for p in summary)
    assert any(p.leaf_grads for p in summary) and any(p.status == "error" for p in summary)
    back = Trace.from_json(rich.to_json())
    assert [p for p in back.passes if p.detail == "summary"] == summary


def test_readers_ignore_unknown_keys_and_refuse_other_schemas(rich: Trace) -> None:
    data = json.loads(rich.to_json())
    data["future_key"] = 1
    data["passes"][0]["future_key"] = [1, 2]
    data["passes"][0]["nodes"][0]["future_key"] = {}
    assert Trace.from_dict(data) == rich
    data["schema"] = "gradviz.trace/999"
    with pytest.raises(ValueError, match="schema"):
        Trace.from_dict(data)


def test_syntax_error_trace_round_trips(tmp_path: Any) -> None:
    trace = run_program("x = (\n", str(tmp_path / "bad.py"))
    assert trace.status == "error" and trace.error.type == "SyntaxError"
    assert Trace.from_json(trace.to_json()) == trace
