"""Pieces of the server-drawn SVG charts: elements, text widths and fitting, contrast-safe colours, numbers.

No style attributes and no <style> elements (the Content-Security-Policy): colours and sizes are
presentation attributes, hover and focus come from classes in static/lists.css.
"""
from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from babel.numbers import format_compact_decimal
from flask_babel import format_decimal, format_percent, get_locale
from markupsafe import Markup, escape

FONT = 12  # px in the drawing's own units (the viewBox is about as wide as a dashboard panel)
ELLIPSIS = "…"
WHITE = "#ffffff"
INK = "#333333"  # 12.6:1 on white
# Tableau 10, each darkened as far as needed for 3:1 against the white panel (WCAG 1.4.11)
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#ff7f0e")


def el(tag: str, body: Any = "", **attrs: Any) -> Markup:
    """<tag attrs>body</tag>; `class_` is class, `aria_label` is aria-label; None attributes are left out."""
    names = "".join(f' {name.rstrip("_").replace("_", "-")}="{escape(value)}"'
                    for name, value in attrs.items() if value is not None)
    return Markup(f"<{tag}{names}>{escape(body)}</{tag}>")


def join(parts: Any) -> Markup:
    return Markup("").join(parts)


def num(value: float) -> str:
    """A coordinate: short, without a trailing '.0'."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------- text
def _char_em(char: str) -> float:
    if unicodedata.east_asian_width(char) in "WF":
        return 1.0  # CJK: one em each
    if char.isupper() or char in "mwMW%@":
        return 0.74
    if char in " .,:;'|!il()[]":
        return 0.34
    return 0.6


def text_width(text: str, size: float = FONT) -> float:
    """The width a sans-serif font gives `text`, estimated on the wide side so that labels never touch."""
    return sum(_char_em(c) for c in text) * size


def fit(text: str, width: float, size: float = FONT) -> str:
    """`text` cut to `width` with an ellipsis (the caller puts the full text in a <title>)."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + ELLIPSIS, size) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def label(text: str, width: float, size: float = FONT, **attrs: Any) -> Markup:
    """A <text> cut to `width`; when cut, its full text in a <title> (shown on hover)."""
    shown = fit(text, width, size)
    return el("text", join([escape(shown), el("title", text) if shown != text else ""]), **attrs)


# ---------------------------------------------------------------- colours
def _channels(color: str) -> tuple[float, ...]:
    color = color.lstrip("#")
    if len(color) == 3:
        color = "".join(c * 2 for c in color)
    return tuple(int(color[i:i + 2], 16) / 255 for i in (0, 2, 4))


def luminance(color: str) -> float:
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in _channels(color)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable(color: str | None, ratio: float = 3.0, against: str = WHITE) -> str:
    """`color` darkened just enough for `ratio`:1 against the background (a figure's colours are hints)."""
    if not color or not re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", color):
        color = PALETTE[0]
    channels = _channels(color)
    for step in range(21):
        shade = "#" + "".join(f"{round(c * (1 - step / 20) * 255):02x}" for c in channels)
        if contrast(shade, against) >= ratio:
            return shade
    return "#000000"


# ---------------------------------------------------------------- numbers
def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def formatted(value: Any, spec: str = ",") -> str:
    """`value` in the user's language after a plotly-style format (",", ",.2f", ".0%", "~s")."""
    if not is_number(value):
        return "—" if value is None else str(value)
    decimals = re.search(r"\.(\d+)", spec)
    places = int(decimals.group(1)) if decimals else None
    if spec.endswith("%"):
        return format_percent(value, "#,##0" + ("." + "0" * places if places else "") + "%")
    if spec.endswith("s"):
        return short(value)
    if places is None:
        places = 0 if float(value).is_integer() else 2
    return format_decimal(value, "#,##0" + ("." + "0" * places if places else ""))


def short(value: float) -> str:
    """An axis tick: 1.2M in English, 123.5万 in Chinese."""
    if abs(value) < 10_000:
        return format_decimal(value, "#,##0.##")
    return format_compact_decimal(value, locale=str(get_locale() or "en"), fraction_digits=1)


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 x 10^k) up to at least `top`."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    steps = math.ceil(top / step - 1e-9)
    return [i * step for i in range(steps + 1)]


TEMPLATE_FIELD = re.compile(r"%\{(\w+)(?::([^}]*))?\}")


def hover_text(template: str, values: dict[str, Any]) -> str:
    """A plotly hovertemplate filled in as plain text: a mark's accessible name and tooltip."""
    text = template.replace("<extra></extra>", "")
    text = TEMPLATE_FIELD.sub(lambda m: formatted(values.get(m.group(1)), m.group(2) or ","), text)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())
