"""gradviz.core is the Qt-free model: importing it, in a fresh interpreter, never loads PySide6."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import pytest

import gradviz.core

CORE_MODULES = sorted(f"gradviz.core.{m.name}" for m in pkgutil.iter_modules(gradviz.core.__path__))

PROBE = """\
import importlib, json, sys
loaded = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    loaded[name] = sorted(m for m in sys.modules if m == "PySide6" or m.startswith(("PySide6.", "shiboken")))
print(json.dumps(loaded))
"""


def _qt_modules_after_importing(*modules: str) -> dict[str, list[str]]:
    """Import `modules` one after the other in a fresh interpreter; the Qt modules loaded after each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("QT_QPA_PLATFORM", None)
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_core_capture_and_trace_do_not_load_pyside6() -> None:
    loaded = _qt_modules_after_importing("gradviz.core", "gradviz.core.capture", "gradviz.core.trace")
    assert loaded == {"gradviz.core": [], "gradviz.core.capture": [], "gradviz.core.trace": []}


def test_no_core_module_loads_pyside6() -> None:
    assert len(CORE_MODULES) >= 8
    loaded = _qt_modules_after_importing(*CORE_MODULES)
    assert {m: qt for m, qt in loaded.items() if qt} == {}


def test_the_probe_sees_pyside6_when_it_is_loaded() -> None:
    """The checks above can fail: a Qt import is seen."""
    pytest.importorskip("PySide6")
    assert "PySide6" in _qt_modules_after_importing("PySide6.QtCore")["PySide6.QtCore"]
