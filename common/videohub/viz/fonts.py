"""The font of every picture: Noto Sans SC (SIL OFL) from the pinned PyPI package `pylopdf-fonts-zh-cn`. It has
the Latin letters of the Kinetics labels and every character of VideoTag's 3396 Chinese tags, so labels are
never drawn as tofu boxes. Without the package drawing fails with a clear message instead of falling back to
a font that lacks the glyphs."""
from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

FONT_PACKAGE = "pylopdf-fonts-zh-cn==0.1.1"


class FontMissingError(RuntimeError):
    """The pinned font package is not installed."""


def font_path() -> Path:
    try:
        import pylopdf_fonts_zh_cn
    except ImportError as exc:
        raise FontMissingError(f"drawing labels needs the font package: pip install {FONT_PACKAGE}") from exc
    return Path(pylopdf_fonts_zh_cn.sans_path())


@functools.lru_cache(maxsize=16)
def text_font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans SC at `size` pixels (cached: the file is read once per size)."""
    return ImageFont.truetype(str(font_path()), int(size))
