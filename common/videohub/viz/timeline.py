"""The timeline picture of a result: time on x (m:ss), for a classification the probabilities of its top labels
over time (one Okabe-Ito coloured line each, following the windows exactly as the annotated video does), for
proposals one bar per proposal (best on top, opacity = score), and ground-truth segments when given.

`timeline_image(result)` draws one result (PIL, 1200 px wide by default, height from the content);
`timeline_png(results, path)` stacks the pictures of several results into one PNG.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from PIL import Image, ImageDraw

from videohub.viz.draw import OKABE_ITO, SERIES, fit_text, mmss, rgb
from videohub.viz.fonts import text_font
from videohub.viz.overlays import window_at

WIDTH = 1200
LEFT, RIGHT, TOP = 120, 24, 34           # margins (px): row names on the left, the title on top
PLOT_H, BAR_H, ROW_GAP, AXIS_H = 220, 16, 6, 30
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
GroundTruth = Sequence[Union[Mapping[str, Any], Sequence[float]]]


def tick_step(duration: float, width_px: int, min_px: int = 70) -> int:
    """The smallest round step (s) whose ticks are at least `min_px` apart."""
    for step in TICK_STEPS:
        if duration <= 0 or step * width_px / duration >= min_px:
            return step
    return TICK_STEPS[-1]


def gt_segments(ground_truth: Optional[GroundTruth]) -> List[Tuple[float, float, str]]:
    """Ground truth as (start, end, label): ActivityNet annotations `{"segment": [s, e], "label": ...}` or pairs."""
    out = []
    for g in ground_truth or []:
        if isinstance(g, Mapping):
            out.append((float(g["segment"][0]), float(g["segment"][1]), str(g.get("label", ""))))
        else:
            out.append((float(g[0]), float(g[1]), ""))
    return out


def result_duration(result: Mapping[str, Any]) -> float:
    if "duration" in result:
        return float(result["duration"])
    windows = result.get("windows") or []
    if not windows:
        raise ValueError("a timeline needs the result's duration (classify with window=... or give duration)")
    return float(max(w["end"] for w in windows))


def timeline_image(result: Mapping[str, Any], ground_truth: Optional[GroundTruth] = None, top_n: int = 5,
                   width: int = WIDTH, duration: Optional[float] = None) -> Image.Image:
    """The timeline of one result (a classification with `windows`, or proposals)."""
    if "error" in result:
        raise ValueError(f"the result is an error ({result['error']['type']}): nothing to draw")
    duration = float(duration if duration is not None else result_duration(result))
    font, small = text_font(15), text_font(13)
    gts = gt_segments(ground_truth)
    labels = list(result.get("prediction", {}))[:top_n] if "proposals" not in result else []
    proposals = list(result.get("proposals", []))[:top_n]
    legend_rows = math.ceil(len(labels) / 3)
    height = (TOP + (PLOT_H + 10 if labels else 0) + len(proposals) * (BAR_H + ROW_GAP)
              + (BAR_H + ROW_GAP + 4 if gts else 0) + AXIS_H + legend_rows * 22 + 12)
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    x0, x1 = LEFT, width - RIGHT
    def x_of(t: float) -> float:
        return x0 + (x1 - x0) * min(max(t / duration, 0.0), 1.0) if duration > 0 else x0

    name = str(result.get("path", result.get("name", "")))
    d.text((8, 8), fit_text(d, f"{Path(name).name}  ({mmss(duration)}, {duration:.1f} s)", font, width - 16),
           font=font, fill="black")
    y = TOP
    if labels:
        top, bottom = y, y + PLOT_H
        for p in (0.0, 0.25, 0.5, 0.75, 1.0):
            yy = bottom - p * (bottom - top)
            d.line((x0, yy, x1, yy), fill=(225, 225, 225) if p not in (0.0, 1.0) else (160, 160, 160))
            d.text((x0 - 8, yy), f"{p:.2f}", font=small, fill="black", anchor="rm")
        d.text((8, top + PLOT_H / 2), "probability", font=small, fill="black", anchor="lm")
        windows = result.get("windows") or [{"start": 0.0, "end": duration, "prediction": result["prediction"]}]
        for i, label in enumerate(labels):
            colour, points = rgb(SERIES[i % len(SERIES)]), []
            for px in range(int(x0), int(x1) + 1):
                t = (px - x0) / max(1, x1 - x0) * duration
                p = window_at(windows, min(t, duration - 1e-9)).get("prediction", {}).get(label)
                if p is None:           # not among that window's reported labels: a gap, never a guess
                    if len(points) > 1:
                        d.line(points, fill=colour, width=3)
                    points = []
                    continue
                points.append((px, bottom - float(p) * (bottom - top)))
            if len(points) > 1:
                d.line(points, fill=colour, width=3)
        y = bottom + 10
    for rank, p in enumerate(proposals, start=1):
        s, e = p["segment"]
        alpha = 0.25 + 0.75 * max(0.0, min(1.0, float(p["score"])))
        fill = tuple(int(255 - alpha * (255 - c)) for c in rgb(OKABE_ITO[4]))
        d.rectangle((x_of(s), y, max(x_of(e), x_of(s) + 1), y + BAR_H), fill=fill, outline=rgb(OKABE_ITO[4]))
        d.text((8, y + BAR_H / 2), f"#{rank}  {float(p['score']):.3f}", font=small, fill="black", anchor="lm")
        y += BAR_H + ROW_GAP
    if gts:
        y += 4
        d.text((8, y + BAR_H / 2), "ground truth", font=small, fill="black", anchor="lm")
        for s, e, label in gts:
            d.rectangle((x_of(s), y, max(x_of(e), x_of(s) + 1), y + BAR_H), fill=rgb(OKABE_ITO[5]))
            if label:
                d.text((x_of(s) + 3, y + BAR_H / 2), label, font=small, fill="white", anchor="lm")
        y += BAR_H + ROW_GAP
    d.line((x0, y, x1, y), fill="black")
    step = tick_step(duration, int(x1 - x0))
    for k in range(int(duration // step) + 1):
        xx = x_of(k * step)
        d.line((xx, y, xx, y + 5), fill="black")
        d.text((xx, y + 7), mmss(k * step), font=small, fill="black", anchor="mt")
    y += AXIS_H
    for i, label in enumerate(labels):
        lx, ly = 8 + (i % 3) * (width - 16) // 3, y + (i // 3) * 22
        d.rectangle((lx, ly + 4, lx + 22, ly + 14), fill=rgb(SERIES[i % len(SERIES)]))
        p = result["prediction"][label]
        d.text((lx + 30, ly), fit_text(d, f"{label}  {p:.2f}", small, (width - 16) // 3 - 40), font=small,
               fill="black")
    return img


def timeline_png(results: Sequence[Mapping[str, Any]], out_path: Union[str, Path], top_n: int = 5,
                 ground_truth: Optional[GroundTruth] = None, width: int = WIDTH) -> Path:
    """One PNG with the timelines of the successful `results`, one under the other (`ground_truth` is drawn
    with each); raises ValueError when none succeeded."""
    pictures = [timeline_image(r, ground_truth, top_n, width) for r in results if "error" not in r]
    if not pictures:
        raise ValueError("no successful result to draw")
    sheet = Image.new("RGB", (width, sum(p.height for p in pictures)), "white")
    y = 0
    for p in pictures:
        sheet.paste(p, (0, y))
        y += p.height
    out = Path(out_path)
    sheet.save(out, format="PNG", optimize=True)
    return out
