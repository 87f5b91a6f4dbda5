"""The label panel changes exactly its box; every label of the hub renders with real glyphs (never tofu)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from conftest import REPO
from videohub.card import LABEL_DIR, read_labels
from videohub.viz.draw import OKABE_ITO, Overlay, font_size_for, make_panel, mmss, paint_overlay
from videohub.viz.fonts import text_font

VIDEOTAG_LABELS = REPO / "modules" / "videotag_tsn_lstm" / "label_3396.txt"
NOT_A_CHARACTER = "\U000F0000"  # private use plane: no font has it, so it draws the font's tofu box


def glyph(ch: str, size: int = 20) -> np.ndarray:
    img = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(img).text((size // 2, size // 4), ch, font=text_font(size), fill=255)
    return np.asarray(img)


def test_mmss_and_palette():
    assert [mmss(t) for t in (0, 5.9, 65, 3599, 3600 + 61)] == ["0:00", "0:05", "1:05", "59:59", "1:01:01"]
    assert len(set(OKABE_ITO)) == 8
    assert font_size_for(320, 240) < font_size_for(1280, 720) <= 36


def test_panel_changes_exactly_its_box():
    frame = np.full((240, 320, 3), 128, np.uint8)
    overlay = Overlay("0:00–0:02", (("0.98  archery", 0.98), ("0.01  exercising arm", 0.01)))
    out, (x0, y0, x1, y1) = paint_overlay(frame, overlay)
    changed = np.any(out != frame, axis=2)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert 0 < x0 < x1 <= 320 and 0 < y0 < y1 <= 240
    inside = np.zeros_like(changed)
    inside[y0:y1, x0:x1] = True
    assert not changed[~inside].any()          # nothing outside the box
    assert changed[inside].all()               # the whole box is darkened (a mid-grey frame)
    box = out[y0:y1, x0:x1]
    assert (box > 200).all(axis=2).sum() > 50  # white text
    orange = np.array([0xE6, 0x9F, 0x00])
    assert (np.abs(box.astype(int) - orange).sum(axis=2) < 10).sum() > 20   # the top label's bar


def test_rows_that_do_not_fit_a_tiny_frame_are_left_out():
    rows = tuple((f"0.10  label {i}", 0.1) for i in range(20))
    panel = make_panel(Overlay("t", rows), (176, 144))
    x0, y0, x1, y1 = panel.box
    assert x1 <= 176 and y1 <= 144


def test_every_label_character_has_a_glyph():
    """Each character of VideoTag's 3396 tags and the Kinetics labels draws differently from the tofu box."""
    tofu = glyph(NOT_A_CHARACTER)
    assert tofu.any()  # the font's .notdef box is visible, so equality below means tofu
    chars = set("".join(read_labels(VIDEOTAG_LABELS))) | set("".join(read_labels(LABEL_DIR / "kinetics400.txt")))
    tofu_chars = sorted(c for c in chars - {" "} if np.array_equal(glyph(c), tofu))
    assert len(chars) > 1000 and tofu_chars == []


def test_chinese_tags_render_unlike_tofu():
    """A panel with VideoTag's tags, compared with the same panel whose characters are tofu boxes."""
    frame = np.full((256, 144, 3), 90, np.uint8)   # the portrait size of the VideoTag sample
    tags = read_labels(VIDEOTAG_LABELS)
    assert "训练" in tags and "蹲" in tags
    real = Overlay("whole video", (("0.98  训练", 0.98), ("0.94  蹲", 0.94)))
    tofu = Overlay("whole video", ((f"0.98  {NOT_A_CHARACTER * 2}", 0.98), (f"0.94  {NOT_A_CHARACTER}", 0.94)))
    a, box_a = paint_overlay(frame, real)
    b, box_b = paint_overlay(frame, tofu)
    x0, y0, x1, y1 = box_a
    text_rows = slice(y0 + (y1 - y0) // 3, y1)      # below the title, where the tags are
    assert not np.array_equal(a[text_rows, x0:x1], b[text_rows, x0:x1])
    # and each tag's glyphs are not the tofu glyph
    for ch in "训练蹲":
        assert not np.array_equal(glyph(ch), glyph(NOT_A_CHARACTER))
