"""What a result shows at a moment of its video: `overlay_at(t) -> Overlay`, one builder per kind of result.

- classification (`{"prediction"}`, and `"windows": [{start, end, prediction}]` when classified in windows): the
  best `top_k` labels of the window whose centre is nearest to t among those containing t (so with overlapping
  windows the labels change half-way between window centres), else of the whole video;
- proposals (`{"duration", "proposals": [{segment, score}]}`, best first): the proposals among the best `top_n`
  whose segment contains t, with their rank, score and extent.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping

from videohub.viz.draw import Overlay, label_rows, mmss

OverlayAt = Callable[[float], Overlay]


def window_at(windows: List[Mapping[str, Any]], t: float) -> Mapping[str, Any]:
    """The window shown at time t: among those containing t the one whose centre is nearest (the first or last
    window before the first or after the last start)."""
    containing = [w for w in windows if w["start"] <= t < w["end"]] or [
        windows[0] if t < windows[0]["start"] else windows[-1]]
    return min(containing, key=lambda w: abs((w["start"] + w["end"]) / 2 - t))


def classification_overlay(result: Mapping[str, Any], top_k: int = 5) -> OverlayAt:
    windows = result.get("windows") or []
    whole = Overlay("whole video", label_rows(result["prediction"].items(), top_k))
    if not windows:
        return lambda t: whole
    panels: Dict[int, Overlay] = {
        id(w): Overlay(f"{mmss(w['start'])}–{mmss(w['end'])}", label_rows(w["prediction"].items(), top_k))
        for w in windows}
    return lambda t: panels[id(window_at(windows, t))]


def proposal_overlay(result: Mapping[str, Any], top_n: int = 5) -> OverlayAt:
    ranked = list(enumerate(result["proposals"][:top_n], start=1))

    def at(t: float) -> Overlay:
        now = [(rank, p) for rank, p in ranked if p["segment"][0] <= t <= p["segment"][1]]
        rows = tuple((f"#{rank}  {p['score']:.2f}  {mmss(p['segment'][0])}–{mmss(p['segment'][1])}",
                      float(p["score"])) for rank, p in now)
        title = f"{mmss(t)}  proposals here: {len(now)} of top {len(ranked)}"
        return Overlay(title, rows)

    return at


def result_overlay(result: Mapping[str, Any], top_k: int = 5) -> OverlayAt:
    """The overlay builder for a result of either kind (a result with an error has nothing to show)."""
    if "error" in result:
        raise ValueError(f"{result.get('path', result.get('name'))}: the result is an error "
                         f"({result['error']['type']}: {result['error']['message']}); nothing to draw")
    if "proposals" in result:
        return proposal_overlay(result, top_k)
    return classification_overlay(result, top_k)
