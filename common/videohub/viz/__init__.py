"""Seeing results: annotated videos, timeline pictures, fonts. Plain Python over `io` and `tasks` results (no
PaddleHub; `tasks` never imports this part). The module bases of `videohub.hub` call it
(`module.visualize`, `module.timeline`, `hub run --output_video/--output_timeline`).

* `fonts` — the one font every picture is drawn with (Noto Sans SC from the pinned `pylopdf-fonts-zh-cn`:
  Latin and the Chinese VideoTag tags, never tofu boxes; missing package = a clear error, no fallback);
* `draw` — the Okabe-Ito palette, mm:ss times, and the label panel drawn onto frames (pure functions over
  uint8 RGB arrays; a panel changes only the pixels of its box);
* `overlays` — what a result shows at a given time: a classification's labels (per window when windowed),
  a proposal result's current proposals. A new kind of result gets one function here;
* `encode` — `VideoWriter`: H.264 `.mp4` (faststart), VP9 `.webm`, `.gif`, chosen by suffix, through PyAV;
* `soundtrack` — the source's sound in the written video: copied where the container holds its codec, else
  encoded (AAC / Opus), interleaved with the pictures;
* `render` — `annotate_video`: decode a video frame by frame (original size, or `max_side`), draw, encode;
* `timeline` — the PNG timeline: label probabilities over time, proposals as bars, ground truth.
"""
