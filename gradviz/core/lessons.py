"""The lesson gallery as data: lessons loaded from resources/lessons/lessons.json, the pass and step each one
opens (resolved from a `Trace`), and the checks it reads from the program's printed output.

A lesson is one point of the D2L autograd lesson (or a follow-up), made with one bundled example program:
its explanation in Chinese and English, the replay position that shows the point (`Target`), and the
printed lines that prove it (`Check`). Nothing here knows Qt or torch; results always come from a real run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from gradviz.core.trace import Pass, TensorSummary, Trace

LESSONS_SCHEMA = "gradviz.lessons/1"
PARTS = ("seed", "follow-up")  # the D2L lesson itself, then what a teacher shows next
CHECK_KINDS = ("assert", "value")  # a printed boolean test, or a printed value shown as it is
STEP_WORDS = ("first", "last")
PASS, FAIL, SHOWN, UNKNOWN, MISSING = "pass", "fail", "shown", "unknown", "missing"
MAX_CONTINUATION_LINES = 20  # a printed tensor spanning lines: follow its brackets at most this far


class LessonError(ValueError):
    """The lesson data is malformed, or a lesson's target is not in the trace it was asked about."""


@dataclass(frozen=True)
class Target:
    """Where a lesson makes its point: pass `pass_number` (1-based; negative counts from the end) at a step
    given by `step`: a number (0 = before backward), "first", "last", or "leaf:NAME" (the step where leaf
    NAME receives its gradient)."""

    pass_number: int
    step: int | str

    def describe(self) -> str:
        return f"pass {self.pass_number}, step {self.step}"


@dataclass(frozen=True)
class Check:
    """A line the program prints: the `nth` line (1-based) starting with `output` followed by a space or its
    end. An "assert" check expects a boolean result (all True passes); a "value" check shows what was printed."""

    output: str
    nth: int = 1
    kind: str = "assert"
    label: str | None = None

    @property
    def expression(self) -> str:
        """What the check is about, as a learner reads it: "x.grad == u" for the line "x.grad == u: ..."."""
        return self.label or self.output.strip().rstrip(":=").strip()


@dataclass(frozen=True)
class CheckResult:
    """A check against one run's output: what was printed after the label, and pass / fail / shown /
    unknown (an assert line without a boolean) / missing (the line was never printed)."""

    check: Check
    printed: str | None
    status: str


@dataclass(frozen=True)
class Lesson:
    """One lesson: which example it runs, its titles and explanation in both languages, the seed cells
    it follows ("In [10]"), where it opens and what it checks."""

    id: str
    part: str
    example: str
    title_zh: str
    title_en: str
    text_zh: str
    text_en: str
    target: Target
    checks: tuple[Check, ...] = ()
    cells: tuple[str, ...] = ()

    def source(self) -> str:
        """The example program's text (from the bundled examples)."""
        return example_file(self.example).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- loading


def lessons_file() -> Traversable:
    return files("gradviz.resources") / "lessons" / "lessons.json"


def example_file(name: str) -> Traversable:
    return files("gradviz.resources") / "examples" / name


def load_lessons(text: str | None = None) -> list[Lesson]:
    """The lessons in order, from `text` (JSON) or the bundled lessons.json. Raises LessonError if the data
    is malformed or names an example that is not bundled."""
    raw = json.loads(text if text is not None else lessons_file().read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or raw.get("schema") != LESSONS_SCHEMA:
        raise LessonError(f"not a lesson list (expected schema {LESSONS_SCHEMA!r})")
    lessons = [_lesson(d) for d in raw.get("lessons") or ()]
    ids = [lesson.id for lesson in lessons]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise LessonError(f"lesson ids used twice: {', '.join(duplicates)}")
    for lesson in lessons:
        if not example_file(lesson.example).is_file():
            raise LessonError(f"lesson {lesson.id!r}: no bundled example {lesson.example!r}")
    return lessons


def _lesson(d: dict[str, Any]) -> Lesson:
    try:
        lesson_id = str(d["id"])
        target = d["target"]
        lesson = Lesson(
            id=lesson_id, part=str(d.get("part", "seed")), example=str(d["example"]),
            title_zh=str(d["title"]["zh"]), title_en=str(d["title"]["en"]),
            text_zh=_text(d["text"]["zh"]), text_en=_text(d["text"]["en"]),
            target=Target(int(target["pass"]), _step_rule(target["step"])),
            checks=tuple(Check(str(c["output"]), int(c.get("nth", 1)), str(c.get("kind", "assert")),
                               c.get("label")) for c in d.get("checks") or ()),
            cells=tuple(str(c) for c in d.get("cells") or ()))
    except (KeyError, TypeError, ValueError) as e:
        raise LessonError(f"lesson {d.get('id', '?')!r}: {type(e).__name__}: {e}") from None
    if lesson.part not in PARTS:
        raise LessonError(f"lesson {lesson_id!r}: part must be one of {PARTS}")
    if lesson.target.pass_number == 0:
        raise LessonError(f"lesson {lesson_id!r}: passes count from 1 (or from the end with -1)")
    for c in lesson.checks:
        if c.kind not in CHECK_KINDS or c.nth < 1 or not c.output.strip():
            raise LessonError(f"lesson {lesson_id!r}: bad check {c}")
    return lesson


def _text(value: str | list[str]) -> str:
    """A text written in JSON as one string or as a list of paragraphs."""
    return "\n\n".join(value) if isinstance(value, list) else str(value)


def _step_rule(value: int | str) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"step {value} is negative")
        return value
    text = str(value)
    if text in STEP_WORDS or (text.startswith("leaf:") and text[5:].strip()):
        return text
    raise ValueError(f"step must be a number, {' / '.join(STEP_WORDS)} or leaf:NAME, not {value!r}")


# ---------------------------------------------------------------------------------------------- targets


def resolve_target(trace: Trace, target: Target) -> tuple[int, int]:
    """(pass index, step) the target names in this trace. Raises LessonError if it is not there."""
    passes = trace.passes
    n = target.pass_number
    index = n - 1 if n > 0 else len(passes) + n
    if not 0 <= index < len(passes):
        raise LessonError(f"{target.describe()}: the run made {len(passes)} pass{'' if len(passes) == 1 else 'es'}")
    pass_ = passes[index]
    if pass_.detail != "full":
        raise LessonError(f"{target.describe()}: that pass was kept as a summary only")
    total = len(pass_.steps)
    rule = target.step
    if isinstance(rule, int):
        if rule > total:
            raise LessonError(f"{target.describe()}: the pass has {total} steps")
        return index, rule
    if rule == "first":
        return index, min(1, total)
    if rule == "last":
        return index, total
    step = leaf_step(pass_, rule[len("leaf:"):].strip())
    if step is None:
        raise LessonError(f"{target.describe()}: no gradient reaches that leaf in this pass")
    return index, step


def find_leaf(pass_: Pass, name: str) -> str | None:
    """The id of the leaf called `name` in this pass (None if there is none)."""
    return next((n.id for n in pass_.nodes if n.kind == "leaf" and name in n.names), None)


def leaf_step(pass_: Pass, name: str) -> int | None:
    """The step where leaf `name` gets its gradient: its AccumulateGrad step when the engine ran it
    (backward), else the last step that sent a gradient into it (autograd.grad, which skips .grad)."""
    leaf = find_leaf(pass_, name)
    if leaf is None:
        return None
    order = [s.node for s in pass_.steps]
    if leaf in order:
        return order.index(leaf) + 1
    senders = {e.src for e in pass_.edges if e.dst == leaf and e.kind == "grad"}
    ran = [k for k, node in enumerate(order, start=1) if node in senders]
    return ran[-1] if ran else None


def leaf_gradient(pass_: Pass, step: int, name: str) -> TensorSummary | None:
    """What leaf `name` has received by `step`: its `.grad` after accumulating, or, when the engine never
    accumulates it (autograd.grad), the gradient sent into it (summed over its incoming edges)."""
    leaf = find_leaf(pass_, name)
    if leaf is None:
        return None
    order = [s.node for s in pass_.steps]
    if leaf in order:
        record = next((g for g in pass_.leaf_grads if g.node == leaf), None)
        if record is None:
            return None
        return record.after if order.index(leaf) < step else record.before
    arriving: list[TensorSummary] = []
    for e in pass_.edges:
        if e.dst != leaf or e.kind != "grad" or e.src not in order or order.index(e.src) >= step:
            continue
        sent = pass_.steps[order.index(e.src)].grad_inputs
        grad = sent[e.slot] if 0 <= e.slot < len(sent) else None
        if grad is not None:
            arriving.append(grad)
    if not arriving:
        return None
    total = arriving[0]
    for g in arriving[1:]:
        total = TensorSummary(total.shape, total.dtype, _add(total.values, g.values))
    return total


def _add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, list):
        return [_add(x, y) for x, y in zip(a, b, strict=True)]
    return a + b


# ---------------------------------------------------------------------------------------------- checks


def check_results(checks: tuple[Check, ...] | list[Check], stdout: str) -> list[CheckResult]:
    """Each check against a run's printed output."""
    lines = stdout.splitlines()
    return [_check_one(c, lines) for c in checks]


def _check_one(check: Check, lines: list[str]) -> CheckResult:
    # The label must end where the printed value begins: "x.grad =" is not the start of "x.grad == u: ...".
    hits = [i for i, line in enumerate(lines)
            if line.startswith(check.output) and line[len(check.output):len(check.output) + 1] in ("", " ", "\t")]
    if len(hits) < check.nth:
        return CheckResult(check, None, MISSING)
    i = hits[check.nth - 1]
    printed = _with_continuation(lines, i)[len(check.output):].strip()
    if check.kind == "value":
        return CheckResult(check, printed, SHOWN)
    verdict = parse_bool_result(printed)
    return CheckResult(check, printed, UNKNOWN if verdict is None else (PASS if verdict else FAIL))


def _with_continuation(lines: list[str], i: int) -> str:
    """Line i, joined with the lines after it while its brackets stay open (a printed 2-D tensor)."""
    text = lines[i]
    j = i + 1
    while (_open_brackets(text) > 0 and j < len(lines) and j - i <= MAX_CONTINUATION_LINES):
        text += " " + lines[j].strip()
        j += 1
    return text


def _open_brackets(text: str) -> int:
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


_BOOL = re.compile(r"\b(True|False)\b")


def parse_bool_result(printed: str) -> bool | None:
    """True if every boolean in a printed result is True ("tensor([True, True])", "tensor(True)", "True"),
    False if any is False, None if it holds no boolean."""
    found = _BOOL.findall(printed)
    if not found:
        return None
    return all(v == "True" for v in found)
