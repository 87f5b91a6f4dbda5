"""videohub: the shared core of the video model hub. Its parts, lower layers first (a layer imports only
the ones above it in this list):

* `errors`, `card` — per-input error types; model cards (the one declaration of a model);
* `io/` — files, video readers (one file per backend in `io/backends/`), sampling, transforms, preprocessing;
* `models/` — networks (one file per family, registered by name) and their checkpoint converters;
* `runtime/` — one `Predictor` interface, engines (one file each in `runtime/engines/`), export, verification,
  engine choice, `ModelRuntime`;
* `weights` — obtaining, converting, exporting and recording a module's weights;
* `tasks/` — classification, sequence classification, proposals, windows: plain Python over a runtime;
* `viz/` — seeing results: annotated videos, timeline pictures, the font (reads `io`, draws `tasks` results);
* `hub/` — the thin PaddleHub adapter (module bases, `hub run`, `hub serving`);
* `batch/` — batch jobs over whole libraries, locally or on Ray, resumable, one result row per input;
* `train/` — fine-tuning, datasets, metrics; `client` — calling a `hub serving` server; `measure` — benchmark helpers;
* `distribution/` — apart from the rest (standard library only): module archives, their member check, the module
  index and the server PaddleHub's client installs from by name (`scripts/pack.py`, `scripts/hub_index.py`).
"""
__version__ = "0.1.0"
