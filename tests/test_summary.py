"""Tensor summaries: values only for small tensors, statistics and NaN/Inf counts equal to torch's own."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

from gradviz.core.capture import run_program
from gradviz.core.summary import VALUES_LIMIT, SummaryMemo, summarize
from gradviz.core.trace import TensorSummary


def torch_stats(t: torch.Tensor) -> dict[str, float]:
    """min/max/mean/norm over the finite elements, computed in float64 by torch."""
    x = t.detach().reshape(-1).to(torch.float64)
    x = x[torch.isfinite(x)]
    return {"min": x.min().item(), "max": x.max().item(), "mean": x.mean().item(),
            "norm": torch.linalg.vector_norm(x).item()}


def assert_stats(s: TensorSummary, t: torch.Tensor) -> None:
    # float32 statistics may be accumulated in float32 by torch: compare at float32 precision
    tol = 1e-5 if t.dtype in (torch.float64, torch.int64, torch.bool) else 1e-4
    for key, want in torch_stats(t).items():
        assert math.isclose(s.stats[key], want, rel_tol=tol, abs_tol=tol), (key, s.stats[key], want)
    assert s.stats["nan"] == int(torch.isnan(t).sum())
    assert s.stats["inf"] == int(torch.isinf(t).sum())


@pytest.mark.parametrize("numel", [1, 5, 64, 65, 1000, 1024])
def test_values_are_kept_up_to_the_limit(numel: int) -> None:
    t = torch.randn(numel, generator=torch.Generator().manual_seed(numel))
    s = summarize(t)
    assert s.shape == (numel,) and s.dtype == "float32" and s.numel == numel
    assert s.values == t.tolist()
    assert_stats(s, t)


@pytest.mark.parametrize("shape", [(1025,), (33, 32), (2, 3, 200)])
def test_values_are_dropped_above_the_limit(shape: tuple[int, ...]) -> None:
    t = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    s = summarize(t)
    assert math.prod(shape) > VALUES_LIMIT == 1024
    assert s.values is None and s.shape == shape
    assert_stats(s, t)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (8, 8, 8), (1, 1)])
def test_nested_values_keep_the_shape(shape: tuple[int, ...]) -> None:
    t = torch.arange(math.prod(shape), dtype=torch.float64).reshape(shape) / 7
    s = summarize(t)
    assert s.values == t.tolist() and s.dtype == "float64"
    assert torch.equal(torch.tensor(s.values, dtype=torch.float64), t)
    assert_stats(s, t)


def test_zero_dimensional_tensors_are_bare_numbers() -> None:
    for t in (torch.tensor(2.5), torch.tensor(-3), torch.tensor(True), torch.tensor(float("nan"))):
        s = summarize(t)
        assert s.shape == () and s.numel == 1
        assert isinstance(s.values, int | float | bool)
        assert s.values == t.item() or (math.isnan(s.values) and math.isnan(t.item()))


def test_values_limit_is_a_parameter() -> None:
    t = torch.arange(10.0)
    assert summarize(t, values_limit=10).values == t.tolist()
    assert summarize(t, values_limit=9).values is None
    assert summarize(t, values_limit=9).stats == summarize(t).stats


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32,
                                   torch.uint8, torch.bool])
@pytest.mark.parametrize("numel", [6, 300])
def test_stats_for_every_dtype(dtype: torch.dtype, numel: int) -> None:
    base = torch.linspace(-3, 7, numel, dtype=torch.float64)
    t = (base > 1) if dtype == torch.bool else (base.abs() if dtype == torch.uint8 else base).to(dtype)
    s = summarize(t)
    assert s.dtype == str(dtype).removeprefix("torch.")
    assert s.values == t.tolist()
    assert_stats(s, t.to(torch.float64) if dtype in (torch.float16, torch.bfloat16) else t)


@pytest.mark.parametrize("numel", [8, 500, 2000])
def test_nan_and_inf_are_counted_and_left_out_of_the_stats(numel: int) -> None:
    t = torch.linspace(-2, 5, numel)
    t[1] = float("nan")
    t[3] = float("inf")
    t[5] = float("-inf")
    t[-1] = float("nan")
    s = summarize(t)
    assert s.stats["nan"] == 2 and s.stats["inf"] == 2
    assert_stats(s, t)
    if numel <= VALUES_LIMIT:
        got = torch.tensor(s.values)
        assert torch.equal(torch.isnan(got), torch.isnan(t))
        assert torch.equal(got[~torch.isnan(got)], t[~torch.isnan(t)])


@pytest.mark.parametrize("numel", [3, 200])
def test_no_finite_element_gives_only_counts(numel: int) -> None:
    t = torch.full((numel,), float("nan"))
    t[0] = float("inf")
    s = summarize(t)
    assert s.stats == {"nan": numel - 1, "inf": 1}


@pytest.mark.parametrize("shape", [(), (3,), (100,)])
def test_meta_tensors_have_a_shape_and_no_numbers(shape: tuple[int, ...]) -> None:
    t = torch.empty(shape, device="meta")
    for take in (summarize, SummaryMemo().summarize):
        s = take(t)
        assert s.shape == shape and s.dtype == "float32" and s.values is None and s.stats == {}


def test_empty_complex_and_sparse() -> None:
    empty = summarize(torch.zeros(0, 3))
    assert empty.shape == (0, 3) and empty.stats == {} and empty.numel == 0
    c = torch.tensor([3 + 4j, 1 - 1j, 0j])
    sc = summarize(c)
    assert sc.values is None and sc.stats["of"] == "abs" and sc.dtype == "complex64"
    assert_stats(sc, c.abs())
    sp = summarize(torch.eye(3).to_sparse())
    assert sp.values is None and sp.stats == {} and sp.shape == (3, 3)


def test_summarize_reads_through_autograd_and_views() -> None:
    x = torch.arange(12.0, requires_grad=True)
    view = (x * 2).reshape(3, 4).t()
    s = summarize(view)
    assert s.shape == (4, 3) and s.values == view.tolist()
    assert_stats(s, view)


def _layouts() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(7)
    base = torch.randn(48, 40, generator=g) * 3 + 0.5
    return [("transposed", base.t()),
            ("permuted", torch.randn(6, 5, 70, generator=g).permute(2, 0, 1)),
            ("every other row", base[::2]),
            ("a column", base[:, 3]),
            ("a block with gaps", base[5:30:3, 2:37:4]),
            ("expanded (stride 0)", torch.randn(1, 40, generator=g).expand(30, 40)),
            ("float64 transposed", base.double().t()),
            ("offset view", base.reshape(-1)[17:1500])]


@pytest.mark.parametrize("limit", [VALUES_LIMIT, 0])
def test_views_and_strides_match_torch(limit: int) -> None:
    """Gradients and saved tensors are often views (transposed, permuted, sliced, expanded): summaries read
    their elements, with multiplicity, whatever the memory layout."""
    for label, t in _layouts():
        s = summarize(t, values_limit=limit)
        assert s.shape == tuple(t.shape), label
        assert s.values == (t.tolist() if t.numel() <= limit else None), label
        assert_stats(s, t)


def test_tensors_that_require_grad_and_parameters() -> None:
    w = torch.nn.Parameter(torch.randn(20, 30, generator=torch.Generator().manual_seed(3)))
    for t in (w, w.t(), w * 2):
        s = summarize(t)
        assert t.requires_grad and s.values == t.detach().tolist()
        assert_stats(s, t.detach())


def test_negative_view_is_read_through() -> None:
    t = torch._neg_view(torch.linspace(-1, 4, 300))
    assert t.is_neg()
    s = summarize(t)
    assert s.values == t.tolist()
    assert_stats(s, t.resolve_neg())


@pytest.mark.parametrize(("dtype", "scale"), [(torch.float32, 1e-30), (torch.float32, 1e20), (torch.float32, 3e38),
                                             (torch.float64, 1e-300), (torch.float64, 1e300)])
def test_squares_beyond_the_dtype_range_are_scaled(dtype: torch.dtype, scale: float) -> None:
    """Squares (and sums) that would overflow or vanish in the tensor's dtype: the norm and mean are still
    those of the elements (torch's, on the elements divided by the largest magnitude, times it), and no numpy
    warning reaches the user's output."""
    for numel in (20, 500):  # added up in Python, and by numpy
        t = (torch.linspace(-0.5, 1.0, numel, dtype=torch.float64) * scale).to(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            s = summarize(t)
        m = t.double().abs().max().item()
        for key, want in torch_stats(t.double() / m).items():
            assert math.isclose(s.stats[key], want * m, rel_tol=1e-5), (numel, key, s.stats[key], want * m)


def test_random_tensors_match_torch_in_float64() -> None:
    """Sizes from a handful of elements to a layer's activations, both float dtypes, shifted and scaled so
    that sums cancel: every statistic equals torch's float64 one at the dtype's precision."""
    g = torch.Generator().manual_seed(11)
    for i in range(40):
        numel = int(torch.randint(2, 70000, (1,), generator=g))
        dtype = torch.float64 if i % 4 == 0 else torch.float32
        t = (torch.randn(numel, generator=g, dtype=torch.float64) * 10 ** (i % 7 - 3) + (i % 3 - 1)).to(dtype)
        if i % 5 == 0 and numel > 100:
            t = t[: numel // 100 * 100].reshape(100, -1).t()
        assert_stats(summarize(t), t)


def test_the_norm_of_a_huge_float32_tensor_is_exact_to_float32() -> None:
    """20 M float32 elements around 1000: a float32 dot product drifts by 0.2 %; the norm must be the float64
    norm to float32 precision."""
    t = torch.rand(20_000_000, generator=torch.Generator().manual_seed(0)) + 1000.0
    s = summarize(t)
    truth = float(t.double().norm())
    assert abs(s.stats["norm"] - truth) / truth < 1e-5
    assert abs(s.stats["mean"] - float(t.double().mean())) / 1000.0 < 1e-5


def test_summaries_are_no_ops_of_an_active_torch_function_mode() -> None:
    """The capture watches every torch call through a TorchFunctionMode; a summary's own calls (numpy(),
    tolist(), detach()...) must not reach it, yet give the same result."""
    seen: list[Any] = []

    class Watch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
            seen.append(func)
            return func(*args, **(kwargs or {}))

    tensors = [torch.randn(5), torch.randn(300, requires_grad=True), torch.randn(40, 30).t(), torch.tensor(2.0),
               torch.tensor([1.0, float("nan")] * 50), torch.arange(100)]
    expected = [summarize(t) for t in tensors]
    with Watch():
        got = [summarize(t) for t in tensors]
    assert seen == []
    for a, b, t in zip(got, expected, tensors, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype and a.stats == b.stats
        if t.numel() > VALUES_LIMIT:
            assert a.values is None
            continue
        assert torch.allclose(torch.tensor(a.values, dtype=t.dtype), t.detach(), rtol=0, atol=0, equal_nan=True)


def _capture(tmp_path: Any, source: str) -> Any:
    return run_program(source, str(tmp_path / "prog.py"))


def test_captured_summaries_use_the_default_limit(tmp_path: Any) -> None:
    """Through a capture (default options): the 1200-element leaf grad has stats only, the 1024-element one
    has values too, and both equal torch's."""
    source = ("import torch\n"
              "torch.manual_seed(0)\n"
              "big = torch.randn(40, 30, requires_grad=True)\n"
              "small = torch.randn(32, 32, requires_grad=True)\n"
              "loss = (big.sin() * 3).sum() + (small ** 2).mean()\n"
              "loss.backward()\n")
    trace = _capture(tmp_path, source)
    assert trace.status == "ok", trace.error
    ns: dict[str, Any] = {}
    exec(compile(source, "<plain>", "exec"), ns)
    big, small = trace.final_grads["big"], trace.final_grads["small"]
    assert big.values is None and big.shape == (40, 30)
    assert_stats(big, ns["big"].grad)
    assert small.values is not None
    assert torch.allclose(torch.tensor(small.values), ns["small"].grad)
    assert_stats(small, ns["small"].grad)
    p = trace.passes[0]
    leaf = next(g for g in p.leaf_grads if g.name == "big")
    assert leaf.after == big


def test_captured_nan_and_inf_gradients(tmp_path: Any) -> None:
    source = ("import torch\n"
              "x = torch.tensor([1.0, 0.0, -1.0, 4.0], requires_grad=True)\n"
              "y = torch.sqrt(x)\n"
              "(y * 2).sum().backward()\n")
    trace = _capture(tmp_path, source)
    ns: dict[str, Any] = {}
    exec(compile(source, "<plain>", "exec"), ns)
    g = trace.final_grads["x"]
    assert torch.allclose(torch.tensor(g.values), ns["x"].grad, equal_nan=True)
    assert g.stats["nan"] == 1 and g.stats["inf"] == 1
    assert_stats(g, ns["x"].grad)
    sqrt = next(n for n in trace.passes[0].nodes if n.type == "SqrtBackward0")
    assert sqrt.saved["_saved_result"].stats["nan"] == 1


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """Count the summaries the memo really takes (it calls the module's `summarize`)."""
    from gradviz.core import summary

    taken: list[torch.Tensor] = []
    real = summary.summarize

    def counted(t: torch.Tensor, *args: Any) -> TensorSummary:
        taken.append(t)
        return real(t, *args)

    monkeypatch.setattr(summary, "summarize", counted)
    return taken


def test_memo_summarises_views_of_the_same_memory_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A weight, its transpose (as a matmul saves it) and a flat view: one summary, each in its own shape,
    statistics equal torch's for every one of them."""

    taken = _counting(monkeypatch)
    memo = SummaryMemo()
    w = torch.randn(300, 40, generator=torch.Generator().manual_seed(3))
    views = [w, w.t(), w.reshape(-1), w.unsqueeze(0).permute(2, 0, 1)]
    got = [memo.summarize(v) for v in views]
    assert len(taken) == 1
    for s, v in zip(got, views, strict=True):
        assert s.shape == tuple(v.shape) and s.values is None
        assert_stats(s, v)


def test_memo_never_reuses_a_summary_for_other_elements(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changed in place, sliced, expanded, negated, small in another layout, or a new tensor in the memory of
    a dead one: each gets a summary of its own, equal to torch's."""

    taken = _counting(monkeypatch)
    memo = SummaryMemo()
    g = torch.Generator().manual_seed(5)
    w = torch.randn(200, 30, generator=g)
    memo.summarize(w)
    w.mul_(3)
    changed = memo.summarize(w)
    assert_stats(changed, w)
    for v in (w[:100], w[:, :7], w[::2], torch.randn(1, 2000, generator=g).expand(5, 2000), torch._neg_view(w)):
        s = memo.summarize(v)
        assert s.shape == tuple(v.shape)
        assert_stats(s, v.resolve_neg())
    small = torch.randn(8, 4, generator=g)
    assert memo.summarize(small).values == small.tolist()
    assert memo.summarize(small.t()).values == small.t().tolist()
    n = len(taken)
    del small
    for _ in range(3):  # freed memory is handed out again: same address, other values
        t = torch.randn(200, 30, generator=g)
        assert_stats(memo.summarize(t), t)
        del t
    assert len(taken) == n + 3


def test_memo_forgets_tensors_that_die() -> None:

    memo = SummaryMemo()
    kept = torch.randn(500)
    memo.summarize(kept)
    for _ in range(10):
        memo.summarize(torch.randn(500) + 1)
    assert len(memo) == 1
    del kept
    assert len(memo) == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("memo", [False, True], ids=["summarize", "memo"])
def test_scalars_and_tiny_tensors(dtype: torch.dtype, memo: bool) -> None:
    take = SummaryMemo().summarize if memo else summarize
    for value in (2.5, -0.0, 1e-30, float("nan"), float("inf")):
        t = torch.tensor(value, dtype=dtype)
        s = take(t)
        assert s.shape == () and s.dtype == str(dtype).removeprefix("torch.")
        assert s.values == t.item() or (math.isnan(s.values) and math.isnan(t.item()))
        assert s.stats["nan"] == int(math.isnan(value)) and s.stats["inf"] == int(math.isinf(value))
        if math.isfinite(value):
            assert_stats(s, t)
