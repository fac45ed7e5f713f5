"""Tensor -> `TensorSummary`: shape, dtype, small values and statistics, so traces never hold tensors."""

from __future__ import annotations

import torch

from gradviz.core.trace import TensorSummary

VALUES_LIMIT = 1024


def summarize(t: torch.Tensor, values_limit: int = VALUES_LIMIT) -> TensorSummary:
    """Summarise `t`: full values when it has at most `values_limit` elements; always min/max/mean/norm and
    NaN/Inf counts (statistics are over the finite elements when some are not finite)."""
    t = t.detach()
    shape = tuple(t.shape)
    dtype = str(t.dtype).removeprefix("torch.")
    if t.layout != torch.strided or t.is_quantized or t.device.type == "meta":
        return TensorSummary(shape, dtype, None, {})
    if t.is_complex():
        stats = _stats(t.abs())
        return TensorSummary(shape, dtype, None, {**stats, "of": "abs"})
    numel = t.numel()
    values = t.tolist() if numel <= values_limit else None
    return TensorSummary(shape, dtype, values, _stats(t) if numel else {})


def _stats(t: torch.Tensor) -> dict[str, float | int]:
    x = t if t.is_floating_point() else t.to(torch.float64)
    nan = inf = 0
    if not bool(torch.isfinite(x).all()):
        nan = int(torch.isnan(x).sum())
        inf = int(torch.isinf(x).sum())
        x = x[torch.isfinite(x)]
    if x.numel() == 0:
        return {"nan": nan, "inf": inf}
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    lo, hi = torch.aminmax(x)
    mn, mx, mean, norm = torch.stack([lo, hi, x.mean(), torch.linalg.vector_norm(x)]).tolist()
    return {"min": mn, "max": mx, "mean": mean, "norm": norm, "nan": nan, "inf": inf}
