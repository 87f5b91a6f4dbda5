"""Sequence models over per-frame features: shared by the video tagger (`videotag_tsn_lstm`: a frame-feature
extractor, then a sequence classifier) and the YouTube-8M feature classifiers (features given directly).

* `VideoSequenceModule` (PaddleHub `meta`): a module of two exported networks declared in its card under
  `models: {"extractor": {...}, "classifier": {...}}`. `extract_features(paths)` runs the extractor over the
  sampled frames and returns one `[T, D]` array per video; `classify(paths)` feeds those features to the
  classifier.
* `FeatureClassifierModule` (PaddleHub `meta`): one exported network over YouTube-8M style features, from
  pickles (`paths`) or arrays (`features`).

How a feature sample becomes the classifier's inputs is declared in the card (`feature_inputs`):
`{"format": F, "modalities": {"rgb": 1024, "audio": 128}, ...}` with F one of
  "padded_masks"  PaddleVideo AttentionLSTM: per modality data [1, max_len, D] zero padded, length [1], mask;
  "stride_centre" Attention Cluster: per modality the frames at the centres of `seg_num` equal strides;
  "sequence"      one fluid LoD sequence as a batch of one: per modality [1, T, D], then lengths [1]
                  (`"quantized": true`: values on the uint8 scale, for NeXtVLAD, which dequantises in its graph).
Features given as uint8 are quantized YouTube-8M features; float features are taken as already dequantized
(`x * 4/255 + 4/512 - 2`), and are mapped back to the uint8 scale (without rounding) where a network wants it.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from paddlehub.module.module import runnable, serving

from videohub import features as yt8m
from videohub.errors import (EmptyFileError, InputNotFoundError, NotAFileError, UnsupportedInputError,
                             error_record)
from videohub.hub import (VideoClassifierModule, VideoInput, _Item, _parse_bool, expand_input_path,
                          finish_run, format_results)
from videohub.pipeline import PreparedVideo
from videohub.runtime import Predictor, activate, create_predictor
from videohub.weights import inference_files

Sample = Dict[str, np.ndarray]  # modality name -> [T, D] features


# ---------------------------------------------------------------------------------------------- inputs
def _dequantized(x: np.ndarray) -> np.ndarray:
    return yt8m.dequantize(x) if x.dtype == np.uint8 else x.astype(np.float32)


def _uint8_scale(x: np.ndarray) -> np.ndarray:
    """Values on the quantized scale as float32: uint8 as is, dequantized floats mapped back exactly."""
    if x.dtype == np.uint8:
        return x.astype(np.float32)
    return ((x.astype(np.float64) - (4.0 / 512.0 - 2.0)) * (255.0 / 4.0)).astype(np.float32)


def check_sample(sample: Any, modalities: Mapping[str, int]) -> Sample:
    """A dict of [T, D] arrays, one per declared modality (same T); raises UnsupportedInputError otherwise."""
    if not isinstance(sample, Mapping):
        raise UnsupportedInputError(f"features must be a dict {{{', '.join(modalities)}}} of [T, D] arrays, "
                                    f"got a {type(sample).__name__}")
    out: Sample = {}
    for name, dim in modalities.items():
        if name not in sample:
            raise UnsupportedInputError(f"features lack the modality {name!r} (needs {', '.join(modalities)})")
        x = np.asarray(sample[name])
        if x.ndim != 2 or x.shape[1] != dim or x.shape[0] < 1:
            raise UnsupportedInputError(f"features[{name!r}] has shape {x.shape}; expected [T >= 1, {dim}]")
        if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
            raise UnsupportedInputError(f"features[{name!r}] is {x.dtype}; expected uint8 (quantized) or float")
        out[name] = x
    lengths = {x.shape[0] for x in out.values()}
    if len(lengths) != 1:
        raise UnsupportedInputError(f"the modalities have different lengths {sorted(lengths)}")
    return out


def feature_inputs(sample: Sample, spec: Mapping[str, Any]) -> List[np.ndarray]:
    """The classifier's input arrays for one checked sample, as the card's `feature_inputs` declares."""
    fmt, names = spec["format"], list(spec["modalities"])
    if fmt == "padded_masks":
        return [a for n in names for a in yt8m.pad_features(_dequantized(sample[n]), int(spec["max_len"]))]
    if fmt == "stride_centre":
        idx = yt8m.stride_centre_indices(sample[names[0]].shape[0], int(spec["seg_num"]))
        return [_dequantized(sample[n][idx])[None] for n in names]
    if fmt == "sequence":
        scale = _uint8_scale if spec.get("quantized") else _dequantized
        arrays = [scale(sample[n])[None] for n in names]
        return arrays + [np.array([arrays[0].shape[1]], np.int64)]
    raise ValueError(f"unknown feature_inputs format {fmt!r}")


class _FeatureHead:
    """Runs the (classifier) network on feature samples; mixed into the two module bases."""

    classifier_part: Optional[str] = None

    def part_predictor(self, part: Optional[str], use_gpu: bool = False) -> Predictor:
        """One predictor per (network, runtime configuration)."""
        if part is None:
            return self.predictor(use_gpu)
        opts = self.runtime_options(use_gpu)
        cache = self.__dict__.setdefault("_part_predictors", {})
        if (part, opts) not in cache:
            cache[(part, opts)] = create_predictor(*inference_files(self.directory, part), opts)
        return cache[(part, opts)]

    def _feature_spec(self) -> Mapping[str, Any]:
        return self.card.raw["feature_inputs"]

    def _classify_sample(self, sample: Sample, use_gpu: bool) -> np.ndarray:
        """Class probabilities [C] of one sample."""
        inputs = feature_inputs(sample, self._feature_spec())
        out = self.part_predictor(self.classifier_part, use_gpu).run(*inputs)
        return activate(out[self.card.score_output], self.card.activation)[0]


# ---------------------------------------------------------------------------------------------- videos
class VideoSequenceModule(_FeatureHead, VideoClassifierModule):
    """Frame-feature extractor + sequence classifier (VideoTag). The extractor takes the sampled frames
    `[1, T, 3, H, W]` (in chunks of `models.extractor.chunk_frames` frames, so memory stays bounded) and gives
    `[1, T, D]`; its features are the first modality of `feature_inputs`."""

    classifier_part = "classifier"
    extractor_part = "extractor"

    def frame_features(self, prepared: PreparedVideo, use_gpu: bool = False) -> np.ndarray:
        """[T, D] features of one prepared video."""
        frames = prepared.arrays[0]
        chunk = int(self.card.models[self.extractor_part].get("chunk_frames", 0)) or frames.shape[1]
        predictor = self.part_predictor(self.extractor_part, use_gpu)
        parts = [predictor.run(np.ascontiguousarray(frames[:, s:s + chunk]))[0]
                 for s in range(0, frames.shape[1], chunk)]
        return np.concatenate(parts, axis=1)[0]

    def _run_batch(self, batch: List[Tuple[_Item, PreparedVideo]], use_gpu: bool) -> List[np.ndarray]:
        modality = next(iter(self._feature_spec()["modalities"]))
        return [self._classify_sample({modality: self.frame_features(pv, use_gpu)}, use_gpu) for _, pv in batch]

    def classify(self, paths: Optional[Sequence[str]] = None, use_gpu: bool = False,
                 threshold: Optional[float] = None, top_k: Optional[int] = None,
                 videos: Optional[Sequence[VideoInput]] = None, batch_size: int = 1, strict: bool = False,
                 preprocess: Optional[str] = None) -> List[Dict[str, Any]]:
        """Tag videos; one result per input, in input order (PaddleHub videotag's argument order).

        Args:
            paths: video file paths.
            use_gpu: run on the GPU predictors (honoured on every call).
            threshold: drop tags whose probability is below it (card default: 0.5 for videotag).
            top_k: at most this many tags per video.
            videos: encoded video bytes or uint8 RGB frame arrays [T, H, W, 3].
            batch_size, strict, preprocess: as in `VideoClassifierModule.classify`.
        Returns:
            `[{"path": name, "prediction": {tag: prob}}]`, or `{"path": name, "error": {...}}` in place.
        """
        return self._classify_items(self._items(paths, videos), use_gpu=use_gpu, threshold=threshold,
                                    top_k=top_k, batch_size=batch_size, strict=strict, preprocess=preprocess)

    def extract_features(self, paths: Optional[Sequence[str]] = None,
                         videos: Optional[Sequence[VideoInput]] = None, use_gpu: bool = False,
                         strict: bool = False, preprocess: Optional[str] = None) -> List[Dict[str, Any]]:
        """Per-frame features of the sampled frames: `[{"path": name, "features": ndarray [T, D]}]`, one per
        input in input order; a failed input gets `{"path": name, "error": {...}}` in its place."""
        spec = self.card.preprocess_for(preprocess)
        results: List[Dict[str, Any]] = []
        for item, prepared, exc in self._prepared_stream(self._items(paths, videos), spec):
            if exc is not None:
                if strict:
                    raise exc
                results.append({"path": item.name, "error": error_record(exc)})
                continue
            results.append({"path": item.name, "features": self.frame_features(prepared, use_gpu)})
        return results


# ---------------------------------------------------------------------------------------------- features
def _read_feature_file(path: str) -> Sample:
    if not os.path.exists(path):
        raise InputNotFoundError(f"no such file: {path!r}")
    if not os.path.isfile(path):
        raise NotAFileError(f"{path!r} is not a regular file")
    if os.path.getsize(path) == 0:
        raise EmptyFileError(f"{path!r} is empty (0 bytes)")
    sample = yt8m.read_yt8m_pkl(path)
    return {"rgb": sample["rgb"], "audio": sample["audio"]}


def list_feature_files(input_path: str) -> List[str]:
    """CLI `--input_path`: a .pkl file, a directory of .pkl files, or a .txt file listing one path per line."""
    p = Path(input_path)
    if p.is_dir():
        return sorted(str(f) for f in p.iterdir() if f.suffix.lower() == ".pkl" and f.is_file())
    return expand_input_path(input_path)


class FeatureClassifierModule(_FeatureHead, VideoClassifierModule):
    """YouTube-8M feature classifiers: `classify(features=[{"rgb": [T,1024], "audio": [T,128]}], paths=[pkl])`."""

    default_top_k = 20
    default_threshold = 0.0

    def _samples(self, features: Optional[Sequence[Any]], paths: Optional[Sequence[str]]
                 ) -> List[Tuple[str, Optional[Sample], Optional[BaseException]]]:
        if features is None and paths is None:
            raise ValueError("give `features` (dicts of [T, D] arrays) or `paths` (YouTube-8M .pkl files)")
        if isinstance(features, Mapping):
            features = [features]
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        modalities = self._feature_spec()["modalities"]
        out = []
        for i, f in enumerate(features or []):
            try:
                out.append((f"features_{i}", check_sample(f, modalities), None))
            except Exception as exc:
                out.append((f"features_{i}", None, exc))
        for p in paths or []:
            try:
                out.append((str(p), check_sample(_read_feature_file(str(p)), modalities), None))
            except Exception as exc:  # every failure becomes that input's error record
                out.append((str(p), None, exc))
        return out

    def _classify_samples(self, samples, use_gpu: bool, top_k: Optional[int], threshold: Optional[float],
                          strict: bool) -> List[Dict[str, Any]]:
        top_k = self.default_top_k if top_k is None else top_k
        threshold = self.default_threshold if threshold is None else threshold
        results = []
        for name, sample, exc in samples:
            if exc is not None:
                if strict:
                    raise exc
                results.append({"path": name, "error": error_record(exc)})
                continue
            probs = self._classify_sample(sample, use_gpu)
            results.append({"path": name, "prediction": self._prediction(probs, top_k, threshold)})
        return results

    def classify(self, features: Optional[Sequence[Mapping[str, np.ndarray]]] = None,
                 paths: Optional[Sequence[str]] = None, top_k: Optional[int] = None,
                 threshold: Optional[float] = None, use_gpu: bool = False, strict: bool = False
                 ) -> List[Dict[str, Any]]:
        """Multi-label scores (sigmoid) of YouTube-8M feature samples; one result per input, features first,
        then paths, each in the order given.

        Args:
            features: dicts `{"rgb": [T, 1024], "audio": [T, 128]}`, uint8 (quantized) or float (dequantized).
            paths: YouTube-8M pickles (`nframes`, `feature`, `audio`; str or bytes keys).
            top_k: at most this many classes (default 20); threshold: drop scores below it (default 0).
        Returns:
            `[{"path": name, "prediction": {"class_<id>": prob}}]`, `name` = the path or `features_<i>`;
            a failed input gets `{"path": name, "error": {...}}` in its place.
        """
        return self._classify_samples(self._samples(features, paths), use_gpu, top_k, threshold, strict)

    @runnable
    def run_cmd(self, argvs: List[str]):
        parser = argparse.ArgumentParser(prog=f"hub run {self.name}", description=f"{self.summary or self.name}")
        parser.add_argument("--input_path", required=True,
                            help="a YouTube-8M .pkl file, a directory of them, or a .txt file listing one per line")
        parser.add_argument("--use_gpu", type=_parse_bool, default=False, help="True or False")
        parser.add_argument("--top_k", type=int, default=self.default_top_k)
        parser.add_argument("--threshold", type=float, default=self.default_threshold)
        parser.add_argument("--output", choices=("text", "json"), default="text")
        parser.add_argument("--strict", type=_parse_bool, default=False)
        args = parser.parse_args(argvs)
        paths = list_feature_files(args.input_path)
        if not paths:
            print(f"no .pkl files found in {args.input_path}", file=sys.stderr)
            raise SystemExit(2)
        results = self.classify(paths=paths, top_k=args.top_k, threshold=args.threshold, use_gpu=args.use_gpu,
                                strict=args.strict)
        text = json.dumps(results, ensure_ascii=False, indent=1) if args.output == "json" \
            else format_results(results)
        return finish_run(results, text)

    @serving
    def serving_method(self, features: Optional[List[Dict[str, Any]]] = None,
                       pkls: Optional[List[str]] = None, top_k: Optional[int] = None,
                       threshold: Optional[float] = None, use_gpu: bool = False, **kwargs: Any
                       ) -> List[Dict[str, Any]]:
        """HTTP entry: `features` as dicts of nested lists (add `"dtype": "uint8"` for quantized values) and/or
        `pkls`, base64-encoded YouTube-8M pickles. Server-side paths are not read."""
        if kwargs:
            raise ValueError(f"unknown request fields: {sorted(kwargs)}")
        if features is None and pkls is None:
            raise ValueError("the request needs `features` or `pkls`")
        modalities = self._feature_spec()["modalities"]
        samples = []
        for i, f in enumerate(features or []):
            try:
                if not isinstance(f, dict):
                    raise UnsupportedInputError(f"features[{i}] must be an object")
                dtype = np.uint8 if f.get("dtype") == "uint8" else np.float32
                samples.append((f"features_{i}", check_sample(
                    {k: np.asarray(f[k], dtype=dtype) for k in modalities if k in f}, modalities), None))
            except Exception as exc:
                samples.append((f"features_{i}", None, exc))
        for i, text in enumerate(pkls or []):
            try:
                data = base64.b64decode(text, validate=True)
                s = yt8m.read_yt8m_pkl(data)
                samples.append((f"pkl_{i}", check_sample({"rgb": s["rgb"], "audio": s["audio"]}, modalities), None))
            except (binascii.Error, ValueError, TypeError) as exc:
                samples.append((f"pkl_{i}", None, exc))
        return self._classify_samples(samples, use_gpu, top_k, threshold, strict=False)
