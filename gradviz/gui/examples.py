"""The bundled example programs (gradviz.resources/examples/*.py) in lesson order, with their titles."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

HEADER_TITLE = "# title:"


@dataclass(frozen=True)
class Example:
    """One example program: file name, its two titles ("中文 | English" in the header) and source."""

    name: str
    title_zh: str
    title_en: str
    source: str

    @property
    def menu_text(self) -> str:
        """"01  English title — 中文标题" (whichever titles exist)."""
        number = self.name.split("_", 1)[0]
        titles = " — ".join(t for t in (self.title_en, self.title_zh) if t) or self.name
        return f"{number}  {titles}" if number.isdigit() else titles


def parse_title(source: str) -> tuple[str, str]:
    """(Chinese, English) from a "# title: 中文 | English" line among the leading comments ("" if absent)."""
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        if stripped.lower().startswith(HEADER_TITLE):
            text = stripped[len(HEADER_TITLE):].strip()
            zh, sep, en = text.partition("|")
            return (zh.strip(), en.strip()) if sep else ("", zh.strip())
    return "", ""


def examples_dir() -> Traversable:
    return files("gradviz.resources") / "examples"


def list_examples() -> list[Example]:
    """Every example, sorted by file name (the files are numbered in lesson order)."""
    folder = examples_dir()
    if not folder.is_dir():
        return []
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith(".py") and not entry.name.startswith("_"):
            source = entry.read_text(encoding="utf-8")
            zh, en = parse_title(source)
            out.append(Example(entry.name, zh, en, source))
    return out


