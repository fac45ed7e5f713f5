"""The captions drawn above a graph (exports, slides, the lesson panel) in the UI's language: the same
sentences as `gradviz.core.layout.pass_title` / `step_caption` (word for word in English, which tests
check), written through Qt's translation since the core cannot import Qt."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from gradviz.core.layout import leaf_title, name_line
from gradviz.core.replay import Replay
from gradviz.core.trace import Pass

translate = QCoreApplication.translate  # pyside6-lupdate extracts translate("Context", "text") calls


def pass_title(pass_: Pass, number: int | None = None, count: int | None = None) -> str:
    """A heading for a drawing of a pass: which call it was, where (and "pass 2 of 3" when there are more)."""
    head = pass_.code.strip() if pass_.code else f"{pass_.call}()"
    if pass_.line is not None:
        head += f"   (L{pass_.line})"
    if number is not None and count is not None and count > 1:
        head = translate("Caption", "pass {0} of {1}:  {2}").format(number, count, head)
    return head


def step_caption(replay: Replay, k: int) -> str:
    """One line saying what the engine has just done at step k."""
    n = replay.total
    k = replay.clamp(k)
    if k == 0:
        if n == 1:
            return translate("Caption", "before backward: nothing has run yet (1 step to replay)")
        return translate("Caption", "before backward: nothing has run yet ({0} steps to replay)").format(n)
    current = replay.current(k)
    node = replay.node(current) if current is not None else None
    if node is None:
        return translate("Caption", "step {0} of {1}").format(k, n)
    if node.kind == "leaf":
        return translate("Caption", "step {0} of {1}:  {2}.grad accumulated").format(k, n, leaf_title(node))
    where = name_line(node)
    who = f"{node.type} ({where})" if where else node.type
    return translate("Caption", "step {0} of {1}:  {2} computed the gradients of its inputs").format(k, n, who)
