"""One-line derivative rules of common autograd nodes, as the inspector states them to a learner.

`grad` is the gradient arriving at the node (dL/d output); each rule says what the node sends back to each
input. Names follow PyTorch's derivatives.yaml (`self`, `other`, `result`, ...); `·` is an elementwise
product, `@` a matrix product, `ᵀ` a transpose.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QCoreApplication

from gradviz.gui.i18n import QT_TRANSLATE_NOOP

_RULES: dict[str, str] = {
    "AccumulateGrad": QT_TRANSLATE_NOOP(
        "DerivativeRule", "leaf.grad += grad  (gradients from every use of the leaf add up)"),
    "AddBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad,  grad_other = grad · alpha  (summed over broadcast dims)"),
    "AddBackward1": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad  (adding a constant does not change the gradient)"),
    "SubBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad,  grad_other = −grad · alpha"),
    "SubBackward1": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad  (subtracting a constant does not change the gradient)"),
    "RsubBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = −grad · alpha,  grad_other = grad"),
    "RsubBackward1": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = −grad · alpha"),
    "MulBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · other,  grad_other = grad · self"),
    "MulBackward1": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · other  (other is a constant)"),
    "DivBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad / other,  grad_other = −grad · self / other²"),
    "DivBackward1": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad / other  (other is a constant)"),
    "PowBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · exponent · self^(exponent − 1)"),
    "PowBackward1": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · exponent · self^(exponent − 1),  grad_exponent = grad · result · ln(self)"),
    "PowBackward2": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_exponent = grad · result · ln(self)  (constant base)"),
    "DotBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · tensor,  grad_tensor = grad · self"),
    "SumBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad expanded to self's shape  (every element gets the same grad)"),
    "SumBackward1": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad unsqueezed at dim and expanded to self's shape"),
    "MeanBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad expanded to self's shape / numel"),
    "MeanBackward1": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad expanded along dim / size of dim"),
    "MmBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad @ mat2ᵀ,  grad_mat2 = selfᵀ @ grad"),
    "MatmulBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad @ otherᵀ,  grad_other = selfᵀ @ grad"),
    "BmmBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad @ mat2ᵀ,  grad_mat2 = selfᵀ @ grad  (per batch)"),
    "MvBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad ⊗ vec  (outer product),  grad_vec = selfᵀ @ grad"),
    "AddmmBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · beta,  grad_mat1 = grad @ mat2ᵀ · alpha,  grad_mat2 = mat1ᵀ @ grad · alpha"),
    "ExpBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · result  (d/dx eˣ = eˣ)"),
    "LogBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad / self"),
    "Log1PBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad / (1 + self)"),
    "SqrtBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad / (2 · result)"),
    "RsqrtBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = −grad · result³ / 2"),
    "ReciprocalBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = −grad · result²"),
    "TanhBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · (1 − result²)"),
    "SigmoidBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · result · (1 − result)"),
    "ReluBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · (result > 0)"),
    "LeakyReluBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · (1 if self > 0 else negative_slope)"),
    "GeluBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · gelu′(self)"),
    "SiluBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · σ(self) · (1 + self · (1 − σ(self)))"),
    "SoftplusBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · σ(beta · self)"),
    "SinBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · cos(self)"),
    "CosBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = −grad · sin(self)"),
    "AbsBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · sign(self)"),
    "NegBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = −grad"),
    "CloneBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad"),
    "TBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = gradᵀ"),
    "TransposeBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad transposed back (dim0 ↔ dim1)"),
    "PermuteBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad permuted back by the inverse permutation"),
    "ViewBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad.view(self's shape)  (same numbers, old shape)"),
    "ReshapeAliasBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad.reshape(self's shape)"),
    "UnsafeViewBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad.reshape(self's shape)"),
    "ExpandBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad summed over the expanded dims  (back to self's shape)"),
    "SqueezeBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad unsqueezed back to self's shape"),
    "SqueezeBackward1": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad.unsqueeze(dim)"),
    "UnsqueezeBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad.squeeze(dim)"),
    "SelectBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = zeros with grad written at [index] along dim"),
    "SliceBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = zeros with grad written into the slice"),
    "IndexBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = zeros with grad added at the indexed positions"),
    "CatBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_tensors[i] = the slice of grad that tensor i filled"),
    "StackBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_tensors[i] = grad.select(dim, i)"),
    "MaxBackward1": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad at the position of the max, 0 elsewhere"),
    "MinBackward1": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad at the position of the min, 0 elsewhere"),
    "MaximumBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad where self > other, grad_other = grad where other > self (ties split)"),
    "ClampBackward1": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad where min ≤ self ≤ max, else 0"),
    "ClampMinBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad where self ≥ min, else 0"),
    "WhereBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad where condition, grad_other = grad where not condition"),
    "SoftmaxBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = result · (grad − Σ(grad · result) along dim)"),
    "LogSoftmaxBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad − exp(result) · Σ grad along dim"),
    "NllLossBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = −grad / N at each target class, 0 elsewhere"),
    "MseLossBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · 2 · (self − target) / N,  grad_target = −grad_self"),
    "BinaryCrossEntropyBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · (self − target) / (self · (1 − self)) / N"),
    "EmbeddingBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_weight[row] += grad for every index that picked that row"),
    "LinalgVectorNormBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · self / result  (for the 2-norm)"),
    "NormBackward1": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = grad · self / result  (for the 2-norm)"),
    "CumsumBackward0": QT_TRANSLATE_NOOP(
        "DerivativeRule", "grad_self = reverse cumulative sum of grad along dim"),
    "ProdBackward0": QT_TRANSLATE_NOOP("DerivativeRule", "grad_self = grad · result / self"),
}

# A few families share one rule whatever the overload number.
_FAMILY: dict[str, str] = {
    "Add": "AddBackward0", "Sub": "SubBackward0", "Mul": "MulBackward0", "Div": "DivBackward0",
    "Sum": "SumBackward1", "Mean": "MeanBackward1", "View": "ViewBackward0", "Expand": "ExpandBackward0",
    "Clone": "CloneBackward0", "Neg": "NegBackward0", "Relu": "ReluBackward0", "Exp": "ExpBackward0",
    "Log": "LogBackward0", "Tanh": "TanhBackward0", "Sigmoid": "SigmoidBackward0", "Squeeze": "SqueezeBackward1",
    "Max": "MaxBackward1", "Min": "MinBackward1", "Clamp": "ClampBackward1",
}

_OVERLOAD = re.compile(r"^(?P<family>[A-Za-z0-9]+?)Backward\d*$")


def rule_for(op_type: str) -> str | None:
    """The one-line derivative rule of an autograd node type (e.g. "MulBackward0"), or None if unknown."""
    if op_type in _RULES:
        return _RULES[op_type]
    match = _OVERLOAD.match(op_type)
    if match and match["family"] in _FAMILY:
        return _RULES[_FAMILY[match["family"]]]
    return None


def translated_rule(op_type: str) -> str | None:
    """`rule_for(op_type)` in the UI's language (the formulas stay; the words around them are translated)."""
    rule = rule_for(op_type)
    return QCoreApplication.translate("DerivativeRule", rule) if rule is not None else None


def known_ops() -> tuple[str, ...]:
    """Every node type with a rule of its own (for tests and the docs)."""
    return tuple(_RULES)
