"""Revisions of the gradviz package to measure side by side: this work tree, a commit, or a capture.py to try.

Shared by the benchmarks' `--against REV` / `--capture-file PATH` options: each variant is a folder holding a
`gradviz` package, to put first on a child process's PYTHONPATH (nothing in the work tree changes).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def variant_trees(folder: str, against: list[str], capture_files: list[str] = ()) -> list[tuple[str, str]]:
    """(label, package root) for each variant: this tree first, then each REV and each capture.py to try."""
    trees = [("", str(ROOT))]
    for rev in against:
        dest = Path(folder) / f"rev-{len(trees)}"
        dest.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "gradviz"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
        trees.append((rev, str(dest)))
    for path in capture_files:
        dest = Path(folder) / f"file-{len(trees)}"
        shutil.copytree(ROOT / "gradviz", dest / "gradviz", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(path, dest / "gradviz" / "core" / "capture.py")
        trees.append((Path(path).name, str(dest)))
    return trees
