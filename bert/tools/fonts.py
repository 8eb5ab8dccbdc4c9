"""Chinese labels in matplotlib figures: register a CJK font that a PyPI package ships.

matplotlib's default font, DejaVu Sans, has no hanzi: a title such as "注意力权重" comes out as empty boxes
("tofu") with a "Glyph … missing" warning. `use_cjk_font()` registers Noto Sans CJK (SIL Open Font License), which
the PyPI package `noto-cjk-sans-otc` installs as a font file inside site-packages (`make install` installs it with
the dev extra: no root, no system font needed), and appends it to `rcParams["font.family"]` (by default
["sans-serif"], i.e. DejaVu Sans). matplotlib (≥ 3.6) falls back glyph by glyph through that list, so Latin letters
and digits keep DejaVu's look and hanzi come from Noto.

It only registers a font and sets `rcParams["font.family"]`: it never picks a backend, so a
notebook's inline plots are untouched.
"""

from __future__ import annotations

import warnings

FONT_PACKAGE = "noto-cjk-sans-otc"   # the PyPI package that carries the font file
CJK_FAMILY = "Noto Sans CJK SC"      # the simplified-Chinese face of the collection


def cjk_font_path() -> str | None:
    """Path of the Noto Sans CJK font collection installed by `noto-cjk-sans-otc`, or None when not installed."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return None
    return str(noto_cjk_sans_otc.FONT_PATH)


def use_cjk_font() -> str | None:
    """Register Noto Sans CJK with matplotlib and make it the fallback after the current font families. Returns
    the family name ("Noto Sans CJK SC"), or None — with a warning that names the package to install — when the
    font package is missing (figures still draw; hanzi show as boxes). Safe to call again."""
    import matplotlib
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        warnings.warn(f"use_cjk_font: the font package {FONT_PACKAGE!r} is not installed (pip install "
                      f"{FONT_PACKAGE}, or make install): Chinese labels will show as boxes", RuntimeWarning,
                      stacklevel=2)
        return None
    if not any(f.fname == path for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(path)      # every face of the collection (SC, TC, JP, KR, HK; mono)
    families = [f for f in matplotlib.rcParams["font.family"] if f != CJK_FAMILY]
    matplotlib.rcParams["font.family"] = families + [CJK_FAMILY]   # the fallback after the usual font
    return CJK_FAMILY


__all__ = ["use_cjk_font", "cjk_font_path", "CJK_FAMILY", "FONT_PACKAGE"]
