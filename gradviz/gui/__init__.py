"""PySide6 widgets of gradviz: they display and drive the core's data, never run user code themselves."""

import sys


def _guard_none_refcount() -> None:
    """Some PySide6 builds (seen: 6.12.0 on Python 3.11) return None from void methods without a new
    reference, so every such call takes one from None until CPython aborts ("none_dealloc") — after a few
    thousand calls, i.e. one big repaint. Detect that and give None a reserve it cannot run through.
    Python 3.12+ makes None immortal, so nothing is needed there."""
    if sys.version_info >= (3, 12):
        return
    from PySide6.QtCore import QRectF

    probe = QRectF()
    before = sys.getrefcount(None)
    for _ in range(8):
        probe.setWidth(1.0)
    if sys.getrefcount(None) < before:
        import ctypes

        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40


_guard_none_refcount()
