"""Drawing primitives: the colour-blind-safe palette, mm:ss times, and the label panel on a frame.

A panel is a box in the top-left corner: the frame darkened under it, a title line, then one row per label
(text and a bar as long as its value in [0, 1]). `Panel.paint(frame)` changes only the pixels of `Panel.box`;
the panel is rendered once per content and blended into every frame that shows it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from videohub.viz.fonts import text_font

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
# Colours of the 1st, 2nd, ... label (bars on frames, lines of timelines, bars of the web page): yellow last, as
# it is faint on white; black left out, as it vanishes on the dark panel.
SERIES = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442")
PANEL_ALPHA = 0.62          # how dark the frame gets under a panel
Box = Tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)


def rgb(hex_colour: str) -> Tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def mmss(seconds: float) -> str:
    """`m:ss` (`h:mm:ss` from an hour on), seconds rounded down."""
    s = max(0, int(seconds))
    h, m, s = s // 3600, (s // 60) % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def font_size_for(width: int, height: int) -> int:
    """Text size for a frame: readable on small clips, not shouting on large ones."""
    return int(min(36, max(11, round(min(width, height) * 0.055))))


def fit_text(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


@dataclass(frozen=True)
class Overlay:
    """What a frame shows: a title and rows of (text, bar value in [0, 1])."""
    title: str
    rows: Tuple[Tuple[str, float], ...] = ()


@dataclass
class Panel:
    box: Box
    colour: np.ndarray   # [h, w, 3] float32: what is drawn
    alpha: np.ndarray    # [h, w, 1] float32: how much of it covers the frame

    def paint(self, frame: np.ndarray) -> np.ndarray:
        """A copy of `frame` with the panel blended in; pixels outside `box` are untouched."""
        x0, y0, x1, y1 = self.box
        out = frame.copy()
        region = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(region * (1.0 - self.alpha) + self.colour * self.alpha + 0.5, 0, 255
                                    ).astype(np.uint8)
        return out


@functools.lru_cache(maxsize=16)  # panels of the windows being written (a 4K panel is a few MB)
def make_panel(overlay: Overlay, frame_size: Tuple[int, int]) -> Panel:
    """The panel of `overlay` for frames of `frame_size` (width, height). Rows that do not fit the frame's
    height are left out; text too wide for the frame is cut with an ellipsis."""
    fw, fh = frame_size
    size = font_size_for(fw, fh)
    font = text_font(size)
    pad, bar_h = max(3, size // 2), max(2, size // 5)
    line_h = int(size * 1.3)
    row_h = line_h + bar_h + max(1, size // 6)
    margin = max(2, size // 2)
    max_w = fw - 2 * margin - 2 * pad
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title = fit_text(probe, overlay.title, font, max_w)
    texts = [fit_text(probe, t, font, max_w) for t, _ in overlay.rows]
    fits = max(0, (fh - 2 * margin - 2 * pad - line_h) // row_h)
    texts = texts[:fits]
    inner_w = int(max([probe.textlength(t, font=font) for t in [title, *texts]] + [size * 8]))
    inner_w = min(inner_w, max_w)
    w, h = inner_w + 2 * pad, line_h + len(texts) * row_h + 2 * pad
    w, h = min(w, fw - margin), min(h, fh - margin)
    img = Image.new("RGBA", (w, h), (0, 0, 0, int(255 * PANEL_ALPHA)))
    d = ImageDraw.Draw(img)
    d.text((pad, pad), title, font=font, fill=(255, 255, 255, 255))
    y = pad + line_h
    for i, (text, (_, value)) in enumerate(zip(texts, overlay.rows)):
        d.text((pad, y), text, font=font, fill=(255, 255, 255, 255))
        colour = rgb(SERIES[i % len(SERIES)])
        bar_w = int(round(inner_w * min(1.0, max(0.0, float(value)))))
        d.rectangle((pad, y + line_h, pad + inner_w, y + line_h + bar_h - 1), fill=(255, 255, 255, 70))
        if bar_w > 0:
            d.rectangle((pad, y + line_h, pad + bar_w - 1, y + line_h + bar_h - 1), fill=(*colour, 255))
        y += row_h
    rgba = np.asarray(img, dtype=np.float32)
    return Panel((margin, margin, margin + w, margin + h), rgba[..., :3], rgba[..., 3:] / 255.0)


def paint_overlay(frame: np.ndarray, overlay: Overlay) -> Tuple[np.ndarray, Box]:
    """`frame` (uint8 RGB) with `overlay` drawn, and the box it covers."""
    panel = make_panel(overlay, (frame.shape[1], frame.shape[0]))
    return panel.paint(frame), panel.box


def label_rows(prediction: Sequence[Tuple[str, float]], top_k: int) -> Tuple[Tuple[str, float], ...]:
    """Rows `0.98  archery` of the best `top_k` (label, probability) pairs, as given (best first)."""
    return tuple((f"{p:.2f}  {label}", float(p)) for label, p in list(prediction)[:top_k])
