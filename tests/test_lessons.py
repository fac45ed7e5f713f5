"""The lesson gallery's data (gradviz.core.lessons): it loads, walks the D2L seed lesson cell by cell, opens
each lesson on a step that really holds the gradient plain PyTorch computes, and reads checks from output."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
import torch

from gradviz.core.capture import run_program
from gradviz.core.lessons import (
    FAIL,
    MISSING,
    PASS,
    SHOWN,
    UNKNOWN,
    Check,
    Lesson,
    LessonError,
    Target,
    check_results,
    leaf_gradient,
    leaf_step,
    load_lessons,
    parse_bool_result,
    resolve_target,
)
from gradviz.core.trace import Trace

SEED_CELLS = [f"In [{i}]" for i in range(1, 13)]  # the cells of /work/shared/seed (D2L 自动求导)
FOLLOW_UP_EXAMPLES = ["06_retain_graph.py", "07_no_grad.py", "08_training_step.py", "09_second_derivative.py",
                      "10_custom_function.py", "11_training_loop.py"]


# ---------------------------------------------------------------------------------------------- helpers


def torch_reference(source: str) -> list[dict[str, torch.Tensor]]:
    """Run a program with plain PyTorch in this process. After every backward() / autograd.grad() call, in
    call order (one entry per pass gradviz records), note what each named leaf received: its `.grad` for
    backward, the returned gradient for autograd.grad. Module parameters are named like gradviz names them
    ("net.0.weight")."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    calls: list[dict[str, torch.Tensor]] = []
    original_backward, original_grad = torch.Tensor.backward, torch.autograd.grad

    def named_leaves() -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for name, value in list(namespace.items()):
            if isinstance(value, torch.Tensor) and value.is_leaf and value.requires_grad:
                out[name] = value
            elif isinstance(value, torch.nn.Module):
                out.update({f"{name}.{p}": t for p, t in value.named_parameters()})
        return out

    def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        try:
            original_backward(self, *args, **kwargs)
        finally:
            calls.append({k: v.grad.detach().clone() for k, v in named_leaves().items() if v.grad is not None})

    def grad(outputs: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        results = original_grad(outputs, inputs, *args, **kwargs)
        wrt = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
        leaves = named_leaves()
        calls.append({name: r.detach().clone() for t, r in zip(wrt, results, strict=True)
                      for name, v in leaves.items() if v is t})
        return results

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.Tensor, "backward", backward)
        mp.setattr(torch.autograd, "grad", grad)
        mp.setattr("builtins.print", lambda *a, **k: None)
        exec(compile(source, "<reference>", "exec"), namespace)
    return calls


def target_leaf(lesson: Lesson) -> str | None:
    step = lesson.target.step
    return step[len("leaf:"):] if isinstance(step, str) and step.startswith("leaf:") else None


def summary_tensor(summary: Any) -> torch.Tensor:
    return torch.tensor(summary.values, dtype=torch.float32)


@cache
def traced(example: str) -> Trace:
    lesson = next(x for x in load_lessons() if x.example == example)
    return run_program(lesson.source(), example)


@cache
def reference(example: str) -> list[dict[str, torch.Tensor]]:
    lesson = next(x for x in load_lessons() if x.example == example)
    return torch_reference(lesson.source())


LESSONS = load_lessons()


# ---------------------------------------------------------------------------------------------- the data


def test_lessons_load_with_unique_ids_and_both_languages() -> None:
    assert len(LESSONS) >= 8 + len(FOLLOW_UP_EXAMPLES)
    assert len({x.id for x in LESSONS}) == len(LESSONS)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for lesson in LESSONS:
        assert cjk.search(lesson.title_zh) and cjk.search(lesson.text_zh), lesson.id
        assert lesson.title_en and not cjk.search(lesson.text_en), lesson.id
        assert lesson.source().startswith("# title:"), lesson.id


def test_seed_lessons_walk_every_seed_cell_in_order_then_the_follow_ups() -> None:
    parts = [x.part for x in LESSONS]
    assert parts == sorted(parts, key=lambda p: p != "seed")  # the seed lesson first, follow-ups after
    cells = [c for x in LESSONS if x.part == "seed" for c in x.cells]
    assert cells == SEED_CELLS
    follow_ups = [x.example for x in LESSONS if x.part == "follow-up"]
    assert follow_ups == FOLLOW_UP_EXAMPLES


def test_seed_lessons_name_the_seed_assertions() -> None:
    asserts = {c.expression for x in LESSONS if x.part == "seed" for c in x.checks if c.kind == "assert"}
    assert {"x.grad == 4 * x", "x.grad == 2 * x", "x.grad == u", "a.grad == d / a"} <= asserts


@pytest.mark.parametrize("bad", [
    {"schema": "other"},
    {"schema": "gradviz.lessons/1", "lessons": [{"id": "a"}]},
    {"schema": "gradviz.lessons/1", "lessons": [{"id": "a", "example": "01_scalar_gradient.py",
                                                 "title": {"zh": "甲", "en": "A"}, "text": {"zh": "甲", "en": "A"},
                                                 "target": {"pass": 1, "step": "middle"}}]},
    {"schema": "gradviz.lessons/1", "lessons": [{"id": "a", "example": "99_missing.py",
                                                 "title": {"zh": "甲", "en": "A"}, "text": {"zh": "甲", "en": "A"},
                                                 "target": {"pass": 1, "step": 0}}]},
])
def test_malformed_lesson_data_is_refused(bad: dict) -> None:
    with pytest.raises(LessonError):
        load_lessons(json.dumps(bad))


# ---------------------------------------------------------------------------------------------- real runs


@pytest.mark.parametrize("lesson", LESSONS, ids=[x.id for x in LESSONS])
def test_target_step_holds_the_gradient_plain_pytorch_computes(lesson: Lesson) -> None:
    trace = traced(lesson.example)
    assert trace.status == "ok", trace.error
    ref = reference(lesson.example)
    assert len(ref) == len(trace.passes)  # one recorded pass per backward / autograd.grad call
    index, step = resolve_target(trace, lesson.target)
    pass_ = trace.passes[index]
    name = target_leaf(lesson)
    if name is None:  # a step-number target: before backward, nothing has reached any leaf yet
        assert step == 0
        leaves = [n for n in pass_.nodes if n.kind == "leaf"]
        assert leaves and all(leaf_gradient(pass_, step, nm) is None for n in leaves for nm in n.names)
        return
    shown = leaf_gradient(pass_, step, name)
    assert shown is not None and step >= 1
    expected = ref[index][name]
    assert torch.allclose(summary_tensor(shown), expected.to(torch.float32), rtol=1e-5, atol=1e-6), (shown, expected)
    # and one step earlier the leaf had not received it yet
    earlier = leaf_gradient(pass_, step - 1, name)
    assert earlier is None or not torch.equal(summary_tensor(earlier), summary_tensor(shown))


@pytest.mark.parametrize("lesson", LESSONS, ids=[x.id for x in LESSONS])
def test_checks_are_read_from_the_programs_output(lesson: Lesson) -> None:
    trace = traced(lesson.example)
    results = check_results(lesson.checks, trace.stdout)
    assert results, lesson.id
    for r in results:
        assert r.status != MISSING, r
        assert r.printed and r.printed.split()[0] in trace.stdout, r
        assert r.status == (PASS if r.check.kind == "assert" else SHOWN), r


def test_detach_lesson_opens_on_the_accumulate_grad_step_of_x_in_pass_1() -> None:
    lesson = next(x for x in LESSONS if x.id == "detach")
    trace = traced(lesson.example)
    index, step = resolve_target(trace, lesson.target)
    node = trace.passes[index].node(trace.passes[index].steps[step - 1].node)
    assert (index, node.type, node.names) == (0, "AccumulateGrad", ("x",))
    assert step == len(trace.passes[0].steps)


def test_leaf_target_in_an_autograd_grad_pass_is_the_step_that_sends_into_the_leaf() -> None:
    trace = traced("09_second_derivative.py")
    second = trace.passes[1]
    assert second.call == "grad"
    step = leaf_step(second, "x")
    assert step is not None
    sender = second.steps[step - 1].node
    leaf = next(n.id for n in second.nodes if n.kind == "leaf")
    assert any(e.src == sender and e.dst == leaf for e in second.edges)
    x = torch.tensor(3.0, requires_grad=True)
    (dy,) = torch.autograd.grad(x ** 3, x, create_graph=True)
    (d2y,) = torch.autograd.grad(dy, x)
    assert torch.allclose(summary_tensor(leaf_gradient(second, step, "x")), d2y)
    assert leaf_gradient(second, step - 1, "x") is None


def test_targets_that_are_not_in_the_trace_are_refused() -> None:
    trace = traced("11_training_loop.py")
    summary = next(i for i, p in enumerate(trace.passes) if p.detail != "full")
    with pytest.raises(LessonError, match="summary"):
        resolve_target(trace, Target(summary + 1, "last"))
    with pytest.raises(LessonError, match="passes"):
        resolve_target(trace, Target(len(trace.passes) + 1, 0))
    with pytest.raises(LessonError, match="leaf"):
        resolve_target(trace, Target(1, "leaf:nobody"))
    with pytest.raises(LessonError, match="steps"):
        resolve_target(trace, Target(1, 999))
    assert resolve_target(trace, Target(-1, "last")) == (len(trace.passes) - 1, len(trace.passes[-1].steps))
    assert resolve_target(trace, Target(1, "first")) == (0, 1)


# ---------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("printed", "verdict"), [
    ("tensor([True, True, True, True])", True),
    ("tensor(True)", True),
    ("True", True),
    ("tensor([True, False, True])", False),
    ("tensor(False)", False),
    ("tensor([0., 1., 4., 9.])", None),
    ("Truest", None),
])
def test_parse_bool_result(printed: str, verdict: bool | None) -> None:
    assert parse_bool_result(printed) is verdict


def test_check_results_from_a_real_printout() -> None:
    """Printed by plain torch here, so the expected verdicts come from torch itself."""
    x = torch.arange(4.0)
    u = x * x
    lines = [f"x.grad = {x}", f"x.grad == u: {x == u}", f"x.grad == x: {x == x}",
             f"w = {torch.ones(2, 3) / 3}", "same: True"]
    stdout = "\n".join(str(line) for line in lines) + "\n"
    checks = [Check("x.grad =", kind="value"), Check("x.grad == u:"), Check("x.grad == x:"),
              Check("w =", kind="value"), Check("same:"), Check("x.grad =", nth=2, kind="value"),
              Check("x.grad:", kind="assert")]
    results = check_results(checks, stdout)
    assert [r.status for r in results] == [SHOWN, FAIL if not bool((x == u).all()) else PASS, PASS, SHOWN, PASS,
                                           MISSING, MISSING]
    assert results[0].printed == str(x)  # "x.grad =" does not also match "x.grad == u:"
    assert results[3].printed.count("[") == 3  # a 2-D tensor printed over two lines is read whole
    assert check_results([Check("x.grad =", kind="assert")], stdout)[0].status == UNKNOWN
    assert Check("x.grad == u:").expression == "x.grad == u"
    assert Check("x.grad =", label="x.grad (second)").expression == "x.grad (second)"
