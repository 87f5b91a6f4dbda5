"""Timeline PNGs: size, not blank, the palette's lines and bars where the results put them."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from videohub.viz.draw import OKABE_ITO, rgb
from videohub.viz.timeline import LEFT, RIGHT, WIDTH, tick_step, timeline_image, timeline_png


def colour_mask(img: Image.Image, hex_colour: str, tol: int = 30) -> np.ndarray:
    a = np.asarray(img.convert("RGB")).astype(int)
    return np.abs(a - np.array(rgb(hex_colour))).sum(axis=2) < tol


def windowed(n: int = 12, seconds: float = 5.0):
    """A label that rises over the video and one that falls (probabilities per window)."""
    windows = []
    for i in range(n):
        up = (i + 0.5) / n
        windows.append({"start": i * seconds, "end": (i + 1) * seconds,
                        "prediction": {"rising": up, "falling": 1 - up}})
    return {"path": "long/match.mp4", "prediction": {"rising": 0.5, "falling": 0.5}, "windows": windows}


def test_tick_steps():
    assert tick_step(10, 1000) == 1 and tick_step(600, 1000) == 60 and tick_step(7200, 1000) == 600


def test_classification_timeline(tmp_path):
    out = timeline_png([windowed()], tmp_path / "t.png")
    img = Image.open(out)
    assert img.format == "PNG" and img.width == WIDTH and 250 < img.height < 500
    a = np.asarray(img.convert("L"))
    assert (a < 250).mean() > 0.02                           # not blank
    rising, falling = colour_mask(img, OKABE_ITO[0]), colour_mask(img, OKABE_ITO[1])
    assert rising.sum() > 500 and falling.sum() > 500
    # the first label rises: its line is lower (larger y) at the left than at the right of the plot
    plot = slice(LEFT + 5, WIDTH - RIGHT - 5)
    ys = [np.nonzero(rising[:, x])[0] for x in (plot.start + 10, plot.stop - 10)]
    assert ys[0].min() > ys[1].max()


def test_proposal_timeline_with_ground_truth(tmp_path):
    result = {"name": "v", "duration": 124.23,
              "proposals": [{"segment": [0.0, 122.99], "score": 0.8}, {"segment": [12.42, 124.23], "score": 0.49},
                            {"segment": [39.75, 60.0], "score": 0.2}]}
    img = timeline_image(result, ground_truth=[{"segment": [30.0, 90.0], "label": "dancing"}], top_n=2)
    assert img.width == WIDTH
    bars = colour_mask(img, OKABE_ITO[4], tol=10)         # the outline of each proposal bar
    gt = colour_mask(img, OKABE_ITO[5], tol=10)
    rows_with_bars = np.unique(np.nonzero(bars)[0])
    assert rows_with_bars.size > 0 and gt.sum() > 1000
    gt_cols = np.nonzero(gt.any(axis=0))[0]
    span = WIDTH - LEFT - RIGHT
    assert gt_cols.min() == pytest.approx(LEFT + span * 30 / 124.23, abs=2)
    assert gt_cols.max() == pytest.approx(LEFT + span * 90 / 124.23, abs=2)


def test_errors_are_not_drawn(tmp_path):
    with pytest.raises(ValueError, match="no successful result"):
        timeline_png([{"path": "x", "error": {"type": "VideoOpenError", "message": "bad"}}], tmp_path / "x.png")
