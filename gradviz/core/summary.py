"""Tensor -> `TensorSummary`: shape, dtype, small values and statistics, so traces never hold tensors."""

from __future__ import annotations

import bisect
import math
import weakref
from operator import mul as _MUL
from typing import Any

import numpy as np
import torch

from gradviz.core.trace import TensorSummary

VALUES_LIMIT = 1024
_DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
                torch.int64: "int64", torch.bool: "bool"}
# dtype -> the range of max|x| whose squares, summed over up to numel elements, neither overflow nor
# underflow to nothing: (smallest, largest x² · numel). Outside it the elements are scaled first.
_NUMPY_FLOATS = {torch.float32: (1e-15, 1e37), torch.float64: (1e-150, 1e300)}
_FAST = {dt: (_DTYPE_NAMES[dt], safe) for dt, safe in _NUMPY_FLOATS.items()}
_PY_STATS_LIMIT = 64  # below this many elements, statistics in Python beat a handful of torch kernels
_MIN, _MAX, _ADD = np.minimum.reduce, np.maximum.reduce, np.add.reduce
_INF = math.inf
PLAIN_TENSORS = frozenset((torch.Tensor, torch.nn.Parameter))  # exact types whose __torch_function__ is torch's
_NO_TORCH_FUNCTION = torch._C.DisableTorchFunction
_TORCH_FUNCTION_ON = torch._C._is_torch_function_enabled


def summarize(t: torch.Tensor, values_limit: int = VALUES_LIMIT) -> TensorSummary:
    """Summarise `t`: full values when it has at most `values_limit` elements; always min/max/mean/norm and
    NaN/Inf counts (statistics are over the finite elements when some are not finite)."""
    if type(t) not in PLAIN_TENSORS:
        return _summarize(t, values_limit)
    if _TORCH_FUNCTION_ON():
        # Outside any TorchFunctionMode (the capture's own watches every op): each tensor call would go
        # through it, which doubled the cost of a summary, and is no op of the user's program anyway.
        with _NO_TORCH_FUNCTION():
            return _summarize_plain(t, values_limit)
    return _summarize_plain(t, values_limit)


def _summarize_plain(t: torch.Tensor, values_limit: int) -> TensorSummary:
    fast = _FAST.get(t.dtype)
    s = None if fast is None else _fast_summary(t, values_limit, fast)
    return _summarize(t, values_limit) if s is None else s


class SummaryMemo:
    """Summaries of tensors still alive and unchanged, found again by the memory they cover: a gradient
    arrives at the next node as the same tensor, a view's backward sends a view of what it received, a
    matmul saves its weight transposed, a leaf's `.grad` is the gradient that arrived. The same elements
    have the same statistics, so one summary serves them all (a 200-layer transformer's backward: a
    third of its summaries)."""

    def __init__(self) -> None:
        # key -> (weakref to the tensor summarised, its version then, the summary, its strides when values
        # were kept); the key is the memory (first element's address, numel, dtype) of a dense tensor, else
        # the tensor object itself
        self._seen: dict[Any, tuple[weakref.ref[torch.Tensor], int, TensorSummary, Any]] = {}
        # byte ranges of storages reached through a `.data` alias: its changes bump no version counter the
        # tensors there share, so their summaries are never reused (sorted, disjoint [start, end) pairs)
        self._distrusted: list[tuple[int, int]] = []

    def distrust(self, t: torch.Tensor) -> None:
        """`t` is a `.data` alias: forget the summaries of its storage's memory, and take none from it again."""
        try:
            storage = t.untyped_storage()
            start = storage.data_ptr()
            end = start + storage.nbytes()
        except (RuntimeError, NotImplementedError, TypeError):  # no storage (a sparse or a meta tensor)
            return
        if start == end or self._distrusted_at(start) and self._distrusted_at(end - 1):
            return
        spans = [(a, b) for a, b in self._distrusted if b < start or a > end]
        merged = [(a, b) for a, b in self._distrusted if not (b < start or a > end)]
        spans.append((min([start, *(a for a, _ in merged)]), max([end, *(b for _, b in merged)])))
        self._distrusted = sorted(spans)
        for key in [k for k, hit in self._seen.items() if self._covers(k, hit[0](), start, end)]:
            del self._seen[key]

    @staticmethod
    def _covers(key: Any, held: torch.Tensor | None, start: int, end: int) -> bool:
        ptr = key[0] if type(key) is tuple else (held.data_ptr() if held is not None else None)
        return held is None or ptr is not None and start <= ptr < end

    def _distrusted_at(self, ptr: int) -> bool:
        spans = self._distrusted
        i = bisect.bisect_right(spans, (ptr, _INF)) - 1
        return i >= 0 and ptr < spans[i][1]

    def summarize(self, t: torch.Tensor, values_limit: int = VALUES_LIMIT) -> TensorSummary:
        """`summarize(t)`, or the summary of a live, unchanged tensor over the same elements."""
        if type(t) not in PLAIN_TENSORS:
            return summarize(t, values_limit)
        if _TORCH_FUNCTION_ON():
            with _NO_TORCH_FUNCTION():
                return self._lookup(t, values_limit)
        return self._lookup(t, values_limit)

    def _lookup(self, t: torch.Tensor, values_limit: int) -> TensorSummary:
        """(A plain tensor, torch functions off.)"""
        numel = t.numel()
        if numel <= _PY_STATS_LIMIT or t.layout != torch.strided or not t.is_cpu:
            return _summarize_plain(t, values_limit)  # a few numbers cost no more than looking them up
        if self._distrusted and self._distrusted_at(t.data_ptr()):
            return _summarize_plain(t, values_limit)
        key: Any = (t.data_ptr(), numel, t.dtype, values_limit) if _dense(t) and not t.is_neg() else id(t)
        version = t._version
        hit = self._seen.get(key)
        if hit is not None:
            ref, was, s, strides = hit
            held = ref()
            if held is not None and was == version == held._version and (type(key) is tuple or held is t):
                shape = tuple(t.shape)
                if numel > values_limit:  # statistics only: any layout of the same elements
                    return s if s.shape == shape else TensorSummary(shape, s.dtype, None, s.stats)
                if s.shape == shape and strides == t.stride():  # values too: only the same layout
                    return s
        s = summarize(t, values_limit)
        seen = self._seen
        ref = weakref.ref(t, lambda r: seen.pop(key, None) if seen.get(key, (None,))[0] is r else None)
        seen[key] = (ref, version, s, t.stride() if numel <= values_limit else None)
        return s

    def __len__(self) -> int:
        return len(self._seen)


def _dense(t: torch.Tensor) -> bool:
    """Whether `t`'s elements fill a block of memory exactly once, in any order of its dimensions (a
    contiguous tensor, a transposed or permuted one; not a slice, an expanded or an overlapping view)."""
    if t.is_contiguous():
        return True
    expected = 1
    for stride, size in sorted(zip(t.stride(), t.shape, strict=True)):
        if size != 1:
            if stride != expected:
                return False
            expected *= size
    return True


def _fast_summary(t: torch.Tensor, values_limit: int, fast: tuple[str, tuple[float, float]]
                  ) -> TensorSummary | None:
    """A finite float32/float64 tensor on the CPU (gradients, activations: nearly every summary), or None
    (then `_summarize` takes it). A few elements are added up in Python (doubles); more by numpy on the
    tensor's own memory, in its dtype like torch's own: a few µs instead of ~8 torch calls."""
    if not t.dim():  # a scalar (a loss, a scalar parameter's gradient): its one number
        return _scalar_summary(t, values_limit, fast[0])
    try:
        a = (t.detach() if t.requires_grad else t).numpy()
    except (RuntimeError, TypeError):  # not on the CPU, not strided, a negative or conjugate view
        return None
    numel = a.size
    if not numel:
        return None
    if numel <= _PY_STATS_LIMIT:
        flat = a.ravel().tolist()
        stats = _float_stats(flat, numel)
        if stats is not None:
            values = None if numel > values_limit else (flat if a.ndim == 1 else a.tolist())
            return TensorSummary(a.shape, fast[0], values, stats)
    stats = _numpy_stats(a, numel, fast[1])  # also where squares leave the range of a double: scaled
    if stats is None:
        return None
    return TensorSummary(a.shape, fast[0], a.tolist() if numel <= values_limit else None, stats)


def _scalar_summary(t: torch.Tensor, values_limit: int, dtype: str) -> TensorSummary | None:
    """A finite float scalar's summary (its one number), or None (NaN, Inf: the general path counts them;
    a meta tensor: it has no number)."""
    if t.is_meta:
        return None
    v = t.item()
    if -_INF < v < _INF:
        return TensorSummary((), dtype, v if values_limit else None,
                             {"min": v, "max": v, "mean": v, "norm": abs(v), "nan": 0, "inf": 0})
    return None


def _summarize(t: torch.Tensor, values_limit: int) -> TensorSummary:
    """The general path; a tensor whose elements cannot be read here (a vmap-batched gradient, a nested
    tensor) gets what can be said of it: never an error in the user's program."""
    try:
        return _summarize_any(t, values_limit)
    except Exception:  # noqa: BLE001 - any tensor type may turn up in a user's program
        return TensorSummary(_plain_shape(t), _dtype_name(t), None, {})


def _plain_shape(t: torch.Tensor) -> tuple[int, ...]:
    """The shape as ints, or () where it has none (a nested tensor's ragged dimension is symbolic)."""
    try:
        return tuple(int(d) for d in t.shape)
    except Exception:  # noqa: BLE001
        return ()


def _dtype_name(t: torch.Tensor) -> str:
    return _DTYPE_NAMES.get(t.dtype) or str(t.dtype).removeprefix("torch.")


def _summarize_any(t: torch.Tensor, values_limit: int) -> TensorSummary:
    if t.requires_grad:
        t = t.detach()
    shape = tuple(t.shape)
    dtype = _dtype_name(t)
    if t.is_meta:
        return TensorSummary(shape, dtype, None, {})
    if not shape and t.is_floating_point() and t.layout == torch.strided:  # fast path: a scalar
        scalar = _scalar_summary(t, values_limit, dtype)
        if scalar is not None:
            return scalar
    if t.layout != torch.strided or t.is_quantized:
        return TensorSummary(shape, dtype, None, {})
    if t.is_complex():
        return TensorSummary(shape, dtype, None, {**_torch_stats(t.abs()), "of": "abs"})
    numel = t.numel()
    if numel == 0:
        return TensorSummary(shape, dtype, [] if values_limit else None, {})
    if numel <= _PY_STATS_LIMIT:
        flat = t.reshape(-1).tolist()
        values = flat[0] if not shape else (flat if len(shape) == 1 else t.tolist())
        return TensorSummary(shape, dtype, values if numel <= values_limit else None, _py_stats(flat))
    values = t.tolist() if numel <= values_limit else None
    return TensorSummary(shape, dtype, values, _torch_stats(t))


def _numpy_stats(a: np.ndarray, numel: int, safe: tuple[float, float]) -> dict[str, float | int] | None:
    """min/max/mean/norm of a float array with no NaN/Inf, or None (then the torch path counts them).
    Four passes over memory the tensor already has: min, max, a pairwise sum and a dot product."""
    flat = a.ravel(order="K")  # in memory order: a contiguous view unless the tensor skips memory (then a copy)
    lo = float(_MIN(flat))
    hi = float(_MAX(flat))
    if not (-_INF < lo and hi < _INF):  # NaN fails both comparisons
        return None
    big = max(-lo, hi)
    if safe[0] < big and big * big * numel < safe[1]:
        total = float(_ADD(flat))
        norm = math.sqrt(_squares(flat))
    elif big == 0.0:
        total = norm = 0.0
    else:  # squares would overflow (or vanish): in float64, scaled by the largest magnitude
        scaled = np.divide(flat, big, dtype=np.float64)
        total = float(_ADD(scaled)) * big
        norm = math.sqrt(float(np.dot(scaled, scaled))) * big
    return {"min": lo, "max": hi, "mean": total / numel, "norm": norm, "nan": 0, "inf": 0}


_CHUNK = 1 << 16  # BLAS sums a dot product in the array's dtype: float32 loses ~0.2 % over 20 M elements


def _squares(flat: np.ndarray) -> float:
    """The sum of squares: one BLAS dot for up to 256 K elements, else dots of 64 K-element chunks added up
    in double precision (a 20 M-element gradient's norm: 2e-7 off instead of 2e-3)."""
    n = flat.size
    if n <= 4 * _CHUNK:
        return float(np.dot(flat, flat))
    return math.fsum(float(np.dot(part, part)) for part in (flat[i:i + _CHUNK] for i in range(0, n, _CHUNK)))


def _float_stats(flat: list[float], numel: int) -> dict[str, float | int] | None:
    """Statistics of a few finite floats in Python, or None when some are not finite (or their squares
    would leave the range of a double): then the general paths take them."""
    total = sum(flat)
    if not -_INF < total < _INF:  # NaN, ±Inf (or an overflow: rare, and handled there)
        return None
    lo, hi = min(flat), max(flat)
    big = max(-lo, hi)
    low, high = _NUMPY_FLOATS[torch.float64]  # Python floats are doubles
    if not (big == 0.0 or low < big and big * big * numel < high):
        return None
    return {"min": lo, "max": hi, "mean": total / numel, "norm": math.sqrt(sum(map(_MUL, flat, flat))),
            "nan": 0, "inf": 0}


def _py_stats(flat: list[Any]) -> dict[str, float | int]:
    xs = [float(v) for v in flat]
    finite = [v for v in xs if math.isfinite(v)]
    nan = sum(1 for v in xs if v != v)
    inf = len(xs) - len(finite) - nan
    if not finite:
        return {"nan": nan, "inf": inf}
    return {"min": min(finite), "max": max(finite), "mean": math.fsum(finite) / len(finite),
            "norm": math.sqrt(math.fsum(v * v for v in finite)), "nan": nan, "inf": inf}


def _torch_stats(t: torch.Tensor) -> dict[str, float | int]:
    x = t if t.is_floating_point() else t.to(torch.float64)
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    lo, hi = torch.aminmax(x)
    nan = inf = 0
    if not (math.isfinite(lo.item()) and math.isfinite(hi.item())):  # NaN propagates through min/max
        nan = int(torch.isnan(x).sum())
        inf = int(torch.isinf(x).sum())
        x = x[torch.isfinite(x)]
        if x.numel() == 0:
            return {"nan": nan, "inf": inf}
        lo, hi = torch.aminmax(x)
    mn, mx, mean, norm = torch.stack([lo, hi, x.mean(), torch.linalg.vector_norm(x)]).tolist()
    return {"min": mn, "max": mx, "mean": mean, "norm": norm, "nan": nan, "inf": inf}
