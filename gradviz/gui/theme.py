"""The look of graph drawings as plain data — colours, fonts, pen widths — in a light and a dark theme.

The roles are those of docs/visual-language.md. States differ by more than hue (border weight, fill, check
mark, dash pattern), so a theme may change colours freely without losing the distinctions in greyscale.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Font:
    """A font by family, pixel size and weight (bold or not)."""

    family: str
    size: float
    bold: bool = False


@dataclass(frozen=True)
class Theme:
    """Everything a drawing needs to know about looks. Colours are `#rrggbb` (or `#aarrggbb`) strings."""

    name: str
    background: str
    text: str
    muted_text: str
    # nodes by state
    pending_fill: str
    pending_border: str
    current_fill: str
    current_border: str
    current_text: str
    done_fill: str
    done_border: str
    check: str
    leaf_band: str  # the header band of a leaf tensor box
    ghost_border: str
    ghost_text: str
    ghost_fill: str
    highlight: str  # nodes of the editor's current line
    selection: str
    # edges
    edge_pending: str
    edge_carried: str
    edge_fresh: str
    edge_ghost: str
    label_fill: str
    label_text: str
    cut: str
    # pen widths (pixels at 100 % zoom)
    pending_pen: float = 1.2
    done_pen: float = 1.6
    current_pen: float = 3.6
    ghost_pen: float = 1.3
    edge_pen: float = 1.3
    edge_carried_pen: float = 2.0
    edge_fresh_pen: float = 3.0
    highlight_pen: float = 3.0
    corner_radius: float = 9.0
    fonts: dict[str, Font] = field(default_factory=lambda: {
        "title": Font("DejaVu Sans", 13, True),
        "body": Font("DejaVu Sans", 11),
        "mono": Font("DejaVu Sans Mono", 11),
        "small": Font("DejaVu Sans", 10),
    })

    def scaled_fonts(self, factor: float) -> Theme:
        """The same theme with every font `factor` times larger (for projectors)."""
        return replace(self, fonts={k: replace(f, size=f.size * factor) for k, f in self.fonts.items()})


LIGHT = Theme(
    name="light",
    background="#ffffff",
    text="#1d2330",
    muted_text="#5b6475",
    pending_fill="#ffffff",
    pending_border="#6b7385",
    current_fill="#ffdf5e",
    current_border="#111111",
    current_text="#111111",
    done_fill="#afc9e6",
    done_border="#2d5f8f",
    check="#1f6f3a",
    leaf_band="#e9eef5",
    ghost_border="#a3a9b4",
    ghost_text="#8b919c",
    ghost_fill="#00ffffff",
    highlight="#e4572e",
    selection="#7b2cbf",
    edge_pending="#b3b9c4",
    edge_carried="#2d5f8f",
    edge_fresh="#c2410c",
    edge_ghost="#b0b5bf",
    label_fill="#f4f6fa",
    label_text="#1d2330",
    cut="#c0392b",
)

DARK = Theme(
    name="dark",
    background="#1b1e24",
    text="#e8ebf1",
    muted_text="#a4acba",
    pending_fill="#1b1e24",
    pending_border="#8a93a5",
    current_fill="#f2c230",
    current_border="#ffffff",
    current_text="#111111",
    done_fill="#2c4a6b",
    done_border="#8fbbe6",
    check="#7ee08f",
    leaf_band="#262b34",
    ghost_border="#5d6472",
    ghost_text="#767e8c",
    ghost_fill="#00000000",
    highlight="#ff8a5c",
    selection="#c77dff",
    edge_pending="#5a6170",
    edge_carried="#8fbbe6",
    edge_fresh="#ff9f43",
    edge_ghost="#555c69",
    label_fill="#262b34",
    label_text="#e8ebf1",
    cut="#ff6b5b",
)

THEMES = {"light": LIGHT, "dark": DARK}


def theme_named(name: str) -> Theme:
    """The theme called `name` ("light" or "dark")."""
    try:
        return THEMES[name]
    except KeyError:
        raise ValueError(f"unknown theme {name!r}; choose from {', '.join(THEMES)}") from None
