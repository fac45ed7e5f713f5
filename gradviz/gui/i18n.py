"""The window's languages: the Qt translators of the chosen one (English is the source text), the language
the app starts in, CJK font fallbacks so Chinese renders, and the tool that refreshes the translation files:

    python -m gradviz.gui.i18n update    # pyside6-lupdate: gradviz/gui/*.py -> resources/translations/*.ts
    python -m gradviz.gui.i18n compile   # pyside6-lrelease: *.ts -> *.qm (the .qm files are committed)
    python -m gradviz.gui.i18n check     # exit 1 if a string in the code lacks a finished translation

Widgets write every visible text through `self.tr()` / `QCoreApplication.translate()` and set it again in a
`retranslate()` called on QEvent.LanguageChange; `install_language()` sends that event before returning.
"""

from __future__ import annotations

import argparse
import functools
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QLibraryInfo, QLocale, QTranslator
from PySide6.QtGui import QFont, QFontDatabase, QFontInfo

SOURCE_LANGUAGE = "en"
# Language code -> its name written in that language (menu entries are never translated: a reader lost in a
# language they cannot read still finds their own).
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
CATALOGUE = "gradviz"  # resources/translations/gradviz_<code>.ts / .qm

# Fonts with Simplified Chinese glyphs, best first. Without one of them Qt may pick any Han font the system
# has (Japanese glyph shapes, say) or none; with none installed Chinese shows as boxes and nothing else breaks.
CJK_SANS = ("Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans SC", "WenQuanYi Micro Hei",
            "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "SimHei", "Heiti SC",
            "AR PL UMing CN", "Droid Sans Fallback")
CJK_MONO = ("Noto Sans Mono CJK SC", "Sarasa Mono SC", "WenQuanYi Micro Hei Mono", "WenQuanYi Zen Hei Mono")

_state: dict[str, object] = {"language": SOURCE_LANGUAGE, "translators": []}


# ---------------------------------------------------------------------------------------------- languages

def translations_dir() -> Path:
    """Where the .ts sources and compiled .qm catalogues live (resources/translations in the package)."""
    return Path(str(files("gradviz.resources") / "translations"))


def qm_path(language: str) -> Path:
    return translations_dir() / f"{CATALOGUE}_{language}.qm"


def ts_path(language: str) -> Path:
    return translations_dir() / f"{CATALOGUE}_{language}.ts"


def normalise(code: str | None) -> str | None:
    """A known language code for `code` ("zh_CN", "zh-CN", "zh", "en_US", "C"...), or None if unknown."""
    if not code:
        return None
    text = code.strip().replace("-", "_")
    if text in LANGUAGES:
        return text
    base = text.split("_", 1)[0].split(".", 1)[0].lower()
    if base == "zh":
        return "zh_CN"  # the only Chinese catalogue: Simplified reads better than English to most Chinese readers
    if base in ("en", "c", "posix"):
        return "en"
    return None


def system_language(locale: QLocale | None = None) -> str:
    """The language the app starts in when none was chosen: the default locale's (the system's unless
    QLocale.setDefault was called), Chinese of any script or region -> "zh_CN", everything else English."""
    loc = locale if locale is not None else QLocale()
    if loc.language() == QLocale.Language.Chinese:
        return "zh_CN"
    return SOURCE_LANGUAGE


def startup_language(saved: str | None) -> str:
    """The remembered choice if it is a known language, else the system's."""
    return normalise(saved) or system_language()


def current_language() -> str:
    """The language the window is shown in now."""
    return str(_state["language"])


def install_language(language: str) -> str:
    """Show the UI in `language` ("en", "zh_CN"): swap the app's translators (gradviz's catalogue and Qt's own,
    for standard dialog buttons) and deliver QEvent.LanguageChange to every widget before returning. Returns
    the language now shown: English if `language` is unknown or its catalogue cannot be loaded."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("install_language needs a QApplication")
    code = normalise(language) or SOURCE_LANGUAGE
    translators: list[QTranslator] = []
    if code != SOURCE_LANGUAGE:
        own = QTranslator(app)
        if own.load(str(qm_path(code))):
            translators.append(own)
            qt = QTranslator(app)
            if qt.load(f"qtbase_{code}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
                translators.append(qt)
        else:
            code = SOURCE_LANGUAGE
    old = list(_state["translators"])  # type: ignore[call-overload]
    if code == _state["language"] and not translators and not old:
        return code
    for t in old:
        QCoreApplication.removeTranslator(t)
    for t in translators:
        QCoreApplication.installTranslator(t)
    _state["translators"] = translators
    _state["language"] = code
    # Qt posts LanguageChange to the application, which posts it on to every window: deliver both rounds now so
    # callers (menus, tests, `gradviz shot`) see the new texts at once.
    for _ in range(2):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LanguageChange)
    return code


# ---------------------------------------------------------------------------------------------- fonts

def cjk_families(mono: bool = False) -> list[str]:
    """The installed CJK-capable families, best first (monospaced ones first when `mono`)."""
    installed = _installed_families()
    wanted = (CJK_MONO + CJK_SANS) if mono else CJK_SANS
    return [f for f in wanted if f in installed]


@functools.lru_cache(maxsize=1)
def _installed_families() -> frozenset[str]:
    """The system's font families, asked once (every theme's fonts ask again)."""
    return frozenset(QFontDatabase.families())


def with_cjk_fallback(font: QFont, mono: bool = False) -> QFont:
    """`font` with the installed CJK families appended to its family list: Latin text keeps its font, Chinese
    comes from the first fallback that has it. Unchanged when no CJK font is installed."""
    out = QFont(font)
    families = list(out.families()) or [out.family()]
    extra = [f for f in cjk_families(mono) if f not in families]
    if extra:
        # An alias ("monospace", "Sans Serif") is not a family Qt finds in a list: name the font it stands
        # for first, or the first CJK family would draw the Latin text too.
        resolved = QFontInfo(out).family()
        if resolved and resolved not in families:
            families.insert(0, resolved)
        out.setFamilies(families + extra)
    return out


def apply_app_font(app: QCoreApplication) -> None:
    """Give the application font (which every widget without a font of its own inherits) the CJK fallbacks."""
    from PySide6.QtWidgets import QApplication

    if isinstance(app, QApplication):
        app.setFont(with_cjk_fallback(app.font()))


# ---------------------------------------------------------------------------------------------- texts kept

def QT_TRANSLATE_NOOP(context: str, source: str) -> str:  # noqa: N802 (the name pyside6-lupdate looks for)
    """Mark `source` as a text of `context` for pyside6-lupdate and return it unchanged: for texts kept in
    tables and translated where they are shown. (PySide6's own is typed as returning object.)"""
    return source



class TextKeeper:
    """Texts set once at construction and again, translated in `context`, on each language change. Sources
    passed to `keep` must be wrapped in QT_TRANSLATE_NOOP(context, "...") so pyside6-lupdate finds them."""

    def __init__(self, context: str) -> None:
        self.context = context
        self._items: list[tuple[Callable[[str], object], str]] = []

    def keep(self, setter: Callable[[str], object], source: str) -> str:
        """Call `setter` with `source` translated now, and again on every `retranslate()`."""
        self._items.append((setter, source))
        text = QCoreApplication.translate(self.context, source)
        setter(text)
        return text

    def retranslate(self) -> None:
        for setter, source in self._items:
            setter(QCoreApplication.translate(self.context, source))


# ---------------------------------------------------------------------------------------------- .ts files

@dataclass(frozen=True)
class Message:
    """One message of a .ts file: its context, source text, translation and state ("" when finished)."""

    context: str
    source: str
    translation: str
    state: str  # "", "unfinished", "vanished", "obsolete"


def read_ts(path: str | Path) -> list[Message]:
    """Every message of a Qt Linguist .ts file."""
    root = ET.parse(str(path)).getroot()
    out = []
    for ctx in root.iter("context"):
        name = ctx.findtext("name") or ""
        for msg in ctx.iter("message"):
            tr = msg.find("translation")
            if tr is None:
                text = ""
            elif tr.find("numerusform") is not None:
                text = "|".join(n.text or "" for n in tr.iter("numerusform"))
            else:
                text = tr.text or ""
            state = "" if tr is None else tr.get("type", "")
            out.append(Message(name, msg.findtext("source") or "", text, state))
    return out


_PLACEHOLDER = re.compile(r"\{\d*\}|%n|%\d+|\\t|\t")


def problems(messages: Iterable[Message]) -> list[str]:
    """What keeps a catalogue from being complete: messages unfinished or empty, and translations whose
    `{0}` placeholders or tab-separated shortcuts differ from the source's."""
    out = []
    for m in messages:
        if m.state in ("vanished", "obsolete"):
            continue
        where = f"{m.context}: {m.source!r}"
        if m.state == "unfinished" or not m.translation:
            out.append(f"untranslated  {where}")
        elif sorted(_PLACEHOLDER.findall(m.source)) != sorted(_PLACEHOLDER.findall(m.translation)):
            out.append(f"placeholders differ  {where} -> {m.translation!r}")
    return out


def source_files() -> list[Path]:
    """The Python files whose strings are translated: the window's modules."""
    return sorted(Path(__file__).resolve().parent.glob("*.py"))


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).exists():
        raise FileNotFoundError(f"{name} not found (it comes with PySide6)")
    return found


def lupdate(ts: Path, *, keep_obsolete: bool = False) -> str:
    """Merge the strings of `source_files()` into `ts` (created if missing); returns lupdate's summary."""
    args = [_tool("pyside6-lupdate"), *map(str, source_files()), "-locations", "none", "-ts", str(ts)]
    if not keep_obsolete:
        args.insert(-2, "-no-obsolete")
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def lrelease(ts: Path, qm: Path) -> str:
    """Compile `ts` into the binary catalogue `qm` that QTranslator loads."""
    done = subprocess.run([_tool("pyside6-lrelease"), str(ts), "-qm", str(qm)], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def missing_from(ts: Path) -> list[str]:
    """Strings the code has that `ts` does not list yet (it needs `update`)."""
    with tempfile.TemporaryDirectory(prefix="gradviz-ts-") as tmp:
        fresh = Path(tmp) / ts.name
        lupdate(fresh)
        have = {(m.context, m.source) for m in read_ts(ts) if m.state not in ("vanished", "obsolete")}
        return [f"not in {ts.name}  {m.context}: {m.source!r}" for m in read_ts(fresh)
                if (m.context, m.source) not in have]


def qm_is_current(ts: Path, qm: Path) -> bool:
    """Whether `qm` is exactly what compiling `ts` gives now (lrelease output is deterministic)."""
    with tempfile.TemporaryDirectory(prefix="gradviz-qm-") as tmp:
        fresh = Path(tmp) / qm.name
        lrelease(ts, fresh)
        return qm.is_file() and fresh.read_bytes() == qm.read_bytes()


_TR_IN_FSTRING = re.compile(r"""\{[^{}"']*\b(?:tr|translate)\(""")


def hidden_lines(source: str) -> list[int]:
    """Line numbers of tr()/translate() calls inside f-string braces, which pyside6-lupdate cannot see
    (their text would never be translated)."""
    return [number for number, line in enumerate(source.splitlines(), 1)
            if re.search(r"""\bf["']""", line) and _TR_IN_FSTRING.search(line)]


def hidden_from_lupdate() -> list[str]:
    """`hidden_lines` of every translated source file, as "file:line"."""
    return [f"{path.name}:{n}" for path in source_files() for n in hidden_lines(path.read_text(encoding="utf-8"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradviz.gui.i18n",
                                     description="Refresh gradviz's translations in resources/translations.")
    parser.add_argument("command", choices=("update", "compile", "check"),
                        help="update: extract strings into the .ts files; compile: .ts -> .qm; "
                             "check: fail if a string lacks a finished translation")
    args = parser.parse_args(argv)
    languages = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
    status = 0
    for code in languages:
        ts = ts_path(code)
        if args.command == "update":
            print(lupdate(ts))
        elif args.command == "compile":
            print(lrelease(ts, qm_path(code)))
        else:
            found = missing_from(ts) + problems(read_ts(ts))
            found += [f"translated text inside an f-string, invisible to lupdate: {where}"
                      for where in hidden_from_lupdate()]
            if not qm_is_current(ts, qm_path(code)):
                found.append(f"{qm_path(code).name} is older than {ts.name}: run `compile`")
            for line in found:
                print(f"{ts.name}: {line}")
            status = status or (1 if found else 0)
            if not found:
                print(f"{ts.name}: complete")
    return status


if __name__ == "__main__":
    sys.exit(main())
