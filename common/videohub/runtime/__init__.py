"""Running exported networks: one `Predictor` interface over several inference engines.

* `predictor.py` — the `Predictor` protocol, `RuntimeOptions`, the engine registry (`register_engine`) and
  `create_predictor`;
* `engines/` — one file per engine (Paddle Inference, ONNX Runtime, OpenVINO). To add an engine, write
  `engines/<name>.py` with a `BasePredictor` subclass and `register_engine(Engine(...))`; nothing else
  needs editing;
* `files.py` — where a module keeps its exported model and the caches made from it;
* `export.py` — dygraph → Paddle inference model; `onnx.py` — its paddle2onnx / int8 conversions;
* `program.py` — the ops and attributes of an exported Paddle program, read from the file (graph-decided
  workarounds: the oneDNN passes of `engines/paddle_inference.py`, the ONNX attribute fix of `onnx.py`);
* `verify.py` — an engine's outputs (all of them) checked against the dygraph network, verdicts in
  `weights/engines.json`;
* `ranking.py` — which verified engine is fastest on this CPU (timed, cached per CPU model);
* `choice.py` — which engine and precision run a module; `session.py` — one module's predictors, cached;
* `cost.py` — forward GFLOP counted from the ONNX form; `peak.py` — this CPU's measured peak GFLOP/s.
"""
