"""From files to network inputs.

* `files.py` — checking input paths, expanding `--input_path`, temporary files for uploaded bytes;
* `reader.py` — the `VideoReader` interface, `open_video` and the backend registry; `backends/` — one file per
  video backend (OpenCV, PyAV, decord). To add a backend, write one file there (see its docstring);
* `sampling.py` — which frames (segments, dense clips, windows); `transforms.py` — pure per-frame/array steps;
* `preprocess.py` — a card's `PreprocessSpec` applied to a reader or an array; `capture.py` — live streams;
* `yt8m.py` — YouTube-8M feature files.
"""
