"""Python syntax colouring for the editor: Pygments tokens mapped onto a QSyntaxHighlighter."""

from __future__ import annotations

from bisect import bisect_right

from pygments.lexers import PythonLexer
from pygments.styles import get_style_by_name
from pygments.token import Text, _TokenType
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

PYGMENTS_STYLES = {"light": "default", "dark": "one-dark"}


class PygmentsHighlighter(QSyntaxHighlighter):
    """Lexes the whole document with Pygments (so triple-quoted strings and line continuations colour right)
    and hands each block its slice; a block's state is the token open at its end, so Qt re-colours the
    following lines exactly when that changes."""

    def __init__(self, document: QTextDocument, theme: str = "light") -> None:
        self._lexer = PythonLexer(stripnl=False, ensurenl=False)
        self._formats: dict[_TokenType, QTextCharFormat] = {}
        self._state_ids: dict[_TokenType, int] = {}
        self._cache_key: tuple[int, int] | None = None
        self._starts: list[int] = []
        self._tokens: list[tuple[int, int, _TokenType]] = []
        self._style_name = PYGMENTS_STYLES.get(theme, theme)
        super().__init__(document)

    def set_theme(self, theme: str) -> None:
        """Switch to the Pygments style that goes with a gradviz theme ("light"/"dark") and re-colour."""
        self._style_name = PYGMENTS_STYLES.get(theme, theme)
        self._formats.clear()
        self.rehighlight()

    def style_background(self) -> QColor | None:
        """The background colour of the current Pygments style (the editor paints itself with it)."""
        bg = get_style_by_name(self._style_name).background_color
        return QColor(bg) if bg else None

    def style_foreground(self) -> QColor | None:
        """The default text colour of the current Pygments style."""
        style = get_style_by_name(self._style_name)
        colour = style.style_for_token(Text).get("color")
        return QColor(f"#{colour}") if colour else None

    def _format(self, token: _TokenType) -> QTextCharFormat:
        fmt = self._formats.get(token)
        if fmt is None:
            spec = get_style_by_name(self._style_name).style_for_token(token)
            fmt = QTextCharFormat()
            if spec.get("color"):
                fmt.setForeground(QColor(f"#{spec['color']}"))
            if spec.get("bold"):
                fmt.setFontWeight(QFont.Weight.Bold)
            if spec.get("italic"):
                fmt.setFontItalic(True)
            if spec.get("underline"):
                fmt.setFontUnderline(True)
            self._formats[token] = fmt
        return fmt

    def _lex(self) -> None:
        doc = self.document()
        key = (doc.revision(), doc.characterCount())
        if key == self._cache_key:
            return
        self._cache_key = key
        # toPlainText() joins blocks with one "\n" and block positions count one character per separator,
        # so Pygments' offsets are document positions.
        text = doc.toPlainText()
        self._tokens = [(pos, len(value), tok) for pos, tok, value in self._lexer.get_tokens_unprocessed(text)]
        self._starts = [t[0] for t in self._tokens]

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt override)
        self._lex()
        block = self.currentBlock()
        start, end = block.position(), block.position() + len(text)
        i = max(bisect_right(self._starts, start) - 1, 0)
        end_token = None
        while i < len(self._tokens):
            pos, length, token = self._tokens[i]
            if pos > end:
                break
            if pos + length > start and length:
                a, b = max(pos, start), min(pos + length, end)
                if b > a:
                    self.setFormat(a - start, b - a, self._format(token))
                if pos <= end < pos + length:
                    end_token = token  # the token that holds this block's line break
            i += 1
        state = self._state_ids.setdefault(end_token, len(self._state_ids)) if end_token is not None else -1
        self.setCurrentBlockState(state)
