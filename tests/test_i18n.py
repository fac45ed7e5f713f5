"""Translations without a window: the catalogue covers every text in the code, the .qm loads and swaps at
runtime, the start-up language follows the system's locale, captions read like the core's, CJK fonts."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtGui import QFont, QFontInfo, QFontMetrics

from gradviz.core import layout as core_layout
from gradviz.core.capture import run_program
from gradviz.core.replay import Replay
from gradviz.gui import captions, i18n

DETACH = open("resources/examples/04_detach.py", encoding="utf-8").read()


@pytest.fixture()
def english(qapp):
    """Whatever a test installs, the session goes on in English."""
    yield
    i18n.install_language("en")


@pytest.fixture()
def default_locale():
    """Restore the default locale a test changes (QLocale() is the system's unless setDefault was called)."""
    before = QLocale()
    yield
    QLocale.setDefault(before)


def catalogue() -> dict[tuple[str, str], str]:
    return {(m.context, m.source): m.translation for m in i18n.read_ts(i18n.ts_path("zh_CN"))}


def test_the_catalogue_translates_every_text_in_the_code_and_its_qm_is_current() -> None:
    ts = i18n.ts_path("zh_CN")
    assert i18n.missing_from(ts) == [], "run `make translations` and translate the new entries"
    assert i18n.problems(i18n.read_ts(ts)) == []
    assert i18n.hidden_from_lupdate() == []
    assert i18n.qm_is_current(ts, i18n.qm_path("zh_CN")), "run `python -m gradviz.gui.i18n compile`"
    assert len(catalogue()) > 250


def test_check_reports_unfinished_messages_and_broken_placeholders(tmp_path) -> None:
    ts = tmp_path / "x.ts"
    ts.write_text("""<?xml version="1.0" encoding="utf-8"?><!DOCTYPE TS><TS version="2.1" language="zh_CN">
<context><name>W</name>
<message><source>Saved {0}</source><translation>已保存</translation></message>
<message><source>Run</source><translation type="unfinished"></translation></message>
<message><source>Zoom &amp;In\tCtrl+=</source><translation>放大(&amp;I)\tCtrl+=</translation></message>
<message><source>Gone</source><translation type="vanished">走了</translation></message>
</context></TS>""", encoding="utf-8")
    found = i18n.problems(i18n.read_ts(ts))
    assert [line.split("  ")[0] for line in found] == ["placeholders differ", "untranslated"]
    assert "'Saved {0}'" in found[0] and "'Run'" in found[1]


def test_a_tr_call_inside_an_f_string_is_found() -> None:
    source = ('a = f\'<a href="x">{self.tr("line {0}").format(n)}</a>\'\n'
              'b = self.tr("line {0}").format(n)\n'
              'c = f"{translate(\'Ctx\', \'text\')}"\n')
    assert i18n.hidden_lines(source) == [1, 3]


@pytest.mark.parametrize(("code", "expected"), [("zh_CN", "zh_CN"), ("zh-CN", "zh_CN"), ("zh_TW", "zh_CN"),
                                                ("zh", "zh_CN"), ("en_US.UTF-8", "en"), ("C", "en"), ("en", "en"),
                                                ("de_DE", None), ("", None), (None, None)])
def test_language_codes_are_normalised(code, expected) -> None:
    assert i18n.normalise(code) == expected


def test_the_start_language_follows_the_system_locale_unless_one_was_chosen(qapp, default_locale) -> None:
    QLocale.setDefault(QLocale("zh_CN"))
    assert i18n.system_language() == "zh_CN"
    assert i18n.startup_language(None) == "zh_CN"
    assert i18n.startup_language("en") == "en"  # the remembered choice wins
    QLocale.setDefault(QLocale("zh_TW"))
    assert i18n.system_language() == "zh_CN"  # the only Chinese catalogue
    QLocale.setDefault(QLocale("de_DE"))
    assert i18n.startup_language(None) == "en"
    assert i18n.startup_language("zh_CN") == "zh_CN"
    assert i18n.startup_language("klingon") == "en"


def test_the_qm_loads_and_is_removed_again(english) -> None:
    zh = catalogue()
    assert i18n.install_language("zh_CN") == "zh_CN" == i18n.current_language()
    for key in [("MainWindow", "&File"), ("Stepper", "Pass"), ("Inspector", "Derivative rule"),
                ("DerivativeRule", "leaf.grad += grad  (gradients from every use of the leaf add up)")]:
        assert QCoreApplication.translate(*key) == zh[key] != key[1]
    qt_save = QCoreApplication.translate("QPlatformTheme", "Save")  # Qt's own catalogue comes along
    assert qt_save != "Save"
    assert i18n.install_language("en") == "en"
    assert QCoreApplication.translate("MainWindow", "&File") == "&File"
    assert QCoreApplication.translate("QPlatformTheme", "Save") == "Save"


def test_a_missing_catalogue_leaves_the_ui_in_english(english, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(i18n, "qm_path", lambda code: tmp_path / f"gradviz_{code}.qm")
    assert i18n.install_language("zh_CN") == "en"
    assert QCoreApplication.translate("MainWindow", "&File") == "&File"
    assert i18n.install_language("xx") == "en"


def test_captions_say_in_english_what_the_core_says_and_are_translated(english) -> None:
    trace = run_program(DETACH, "/tmp/04_detach.py")
    pass_ = trace.passes[0]
    replay = Replay(pass_)
    for k in range(replay.total + 1):
        assert captions.step_caption(replay, k) == core_layout.step_caption(replay, k)
    assert captions.pass_title(pass_, 1, 2) == core_layout.pass_title(pass_, 1, 2)
    assert captions.pass_title(pass_) == core_layout.pass_title(pass_)
    zh = catalogue()
    i18n.install_language("zh_CN")
    template = zh[("Caption", "step {0} of {1}:  {2}.grad accumulated")]
    last = replay.total
    assert captions.step_caption(replay, last) == template.format(last, last, "x")


def test_fonts_fall_back_to_an_installed_chinese_font(qapp, monkeypatch) -> None:
    family = QFontInfo(QFont("sans-serif")).family()  # a real family installed here
    base = QFont(family)
    monkeypatch.setattr(i18n, "_installed_families",
                        lambda: frozenset({family, "WenQuanYi Micro Hei", "Noto Sans CJK SC",
                                           "Noto Sans CJK JP", "Noto Sans Mono CJK SC"}))
    assert i18n.with_cjk_fallback(base).families() == [family, "Noto Sans CJK SC", "WenQuanYi Micro Hei"]
    mono = i18n.with_cjk_fallback(QFont("monospace"), mono=True)  # an alias: the font it means comes first
    assert mono.families()[0] == QFontInfo(QFont("monospace")).family() == QFontInfo(mono).family()
    assert mono.families().index("Noto Sans Mono CJK SC") < mono.families().index("Noto Sans CJK SC")
    monkeypatch.setattr(i18n, "_installed_families", lambda: frozenset({family}))
    assert i18n.with_cjk_fallback(base).families() == [family]  # none installed: unchanged, no error


def test_the_first_fallback_found_on_this_machine_has_the_lessons_characters(qapp) -> None:
    families = i18n.cjk_families()
    if not families:
        pytest.skip("no CJK font installed here (Chinese would show as boxes)")
    metrics = QFontMetrics(QFont(families[0]))
    assert all(metrics.inFontUcs4(ord(ch)) for ch in "梯度反向传播计算图叶子节点标量向量")
