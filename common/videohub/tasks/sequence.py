"""Sequence models over per-frame features: the video tagger (VideoTag: a frame-feature extractor, then a
sequence classifier) and the YouTube-8M feature classifiers (features given directly).

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

from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from videohub.card import ModelCard
from videohub.errors import UnsupportedInputError, error_record
from videohub.io import yt8m
from videohub.io.files import check_local_file
from videohub.io.preprocess import PreparedVideo
from videohub.runtime.session import ModelRuntime
from videohub.tasks.classification import Result, VideoClassifier
from videohub.tasks.items import Item
from videohub.tasks.scores import activate, top_labels

Sample = Dict[str, np.ndarray]  # modality name -> [T, D] features
FEATURE_FILE_SUFFIXES = (".pkl",)


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


def read_sample(item: Item) -> Sample:
    """The YouTube-8M sample of a `.pkl` item (a file or uploaded bytes) or the features it holds."""
    item.check()
    if item.kind == "features":
        return item.value
    s = yt8m.read_yt8m_pkl(item.data if item.data is not None else check_local_file(item.path))
    return {"rgb": s["rgb"], "audio": s["audio"]}


class FeatureHead:
    """Runs the (classifier) network of a module on feature samples."""

    def __init__(self, card: ModelCard, runtime: ModelRuntime, part: Optional[str] = None):
        self.card, self.runtime, self.part = card, runtime, part
        self.spec: Mapping[str, Any] = card.raw["feature_inputs"]

    def probabilities(self, sample: Sample, use_gpu: bool = False) -> np.ndarray:
        """Class probabilities [C] of one checked sample."""
        out = self.runtime.predictor(use_gpu, self.part).run(*feature_inputs(sample, self.spec))
        return activate(out[self.card.score_output], self.card.activation)[0]


# ---------------------------------------------------------------------------------------------- videos
class VideoSequenceClassifier(VideoClassifier):
    """Frame-feature extractor + sequence classifier (VideoTag). The extractor takes the sampled frames
    `[1, T, 3, H, W]` (in chunks of `models.extractor.chunk_frames` frames, so memory stays bounded) and gives
    `[1, T, D]`; its features are the first modality of `feature_inputs`."""

    extractor_part = "extractor"
    classifier_part = "classifier"

    def __init__(self, card: ModelCard, labels: Sequence[str], runtime: ModelRuntime, **kwargs: Any):
        super().__init__(card, labels, runtime, **kwargs)
        self.head = FeatureHead(card, runtime, self.classifier_part)

    def frame_features(self, prepared: PreparedVideo, use_gpu: bool = False) -> np.ndarray:
        """[T, D] features of one prepared video."""
        frames = prepared.arrays[0]
        chunk = int(self.card.models[self.extractor_part].get("chunk_frames", 0)) or frames.shape[1]
        predictor = self.runtime.predictor(use_gpu, self.extractor_part)
        parts = [predictor.run(np.ascontiguousarray(frames[:, s:s + chunk]))[0]
                 for s in range(0, frames.shape[1], chunk)]
        return np.concatenate(parts, axis=1)[0]

    def run_batch(self, prepared: List[PreparedVideo], use_gpu: bool = False, streams: int = 1) -> List[np.ndarray]:
        """Features, then the sequence head, video by video (`streams` is always 1 here: a module of several
        networks gets no concurrent inferences, `ModelRuntime.throughput_streams`)."""
        modality = next(iter(self.head.spec["modalities"]))
        return [self.head.probabilities({modality: self.frame_features(pv, use_gpu)}, use_gpu) for pv in prepared]

    def extract_features(self, items: List[Item], *, use_gpu: bool = False, strict: bool = False,
                         preprocess: Optional[str] = None) -> List[Result]:
        """Per-frame features of the sampled frames: `[{"path": name, "features": ndarray [T, D]}]`, one per
        input in input order; a failed input gets `{"path": name, "error": {...}}` in its place."""
        spec = self.card.preprocess_for(preprocess)
        results: List[Result] = []
        for item, prepared, exc in self.prepared_stream(items, spec):
            if exc is not None:
                if strict:
                    raise exc
                results.append({"path": item.name, "error": error_record(exc)})
                continue
            results.append({"path": item.name, "features": self.frame_features(prepared, use_gpu)})
        return results


# ---------------------------------------------------------------------------------------------- features
class FeatureClassifier:
    """YouTube-8M feature classifiers over `{"rgb": [T, 1024], "audio": [T, 128]}` samples."""

    def __init__(self, card: ModelCard, labels: Sequence[str], runtime: ModelRuntime, *,
                 default_top_k: int = 20, default_threshold: float = 0.0):
        self.card, self.labels, self.runtime = card, list(labels), runtime
        self.head = FeatureHead(card, runtime)
        self.default_top_k, self.default_threshold = int(default_top_k), float(default_threshold)

    @property
    def modalities(self) -> Mapping[str, int]:
        return self.head.spec["modalities"]

    def classify_items(self, items: List[Item], *, use_gpu: bool = False, top_k: Optional[int] = None,
                       threshold: Optional[float] = None, strict: bool = False) -> List[Result]:
        top_k = self.default_top_k if top_k is None else int(top_k)
        threshold = self.default_threshold if threshold is None else float(threshold)
        results = []
        for item in items:
            try:
                probs = self.head.probabilities(check_sample(read_sample(item), self.modalities), use_gpu)
            except Exception as exc:  # every failure becomes that input's error record
                if strict:
                    raise
                results.append({"path": item.name, "error": error_record(exc)})
                continue
            results.append({"path": item.name, "prediction": top_labels(probs, self.labels, top_k, threshold)})
        return results
