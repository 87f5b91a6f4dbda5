"""Model cards: one declarative JSON file per module (`modules/<name>/card.json`).

The card names the architecture, the inputs the exported network takes, the preprocessing (sampling,
scaling, cropping, normalisation, layout), the postprocessing, the labels and where the weights come from.
Inference, export, benchmarking and training all read the same card, so there is one source of truth.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: Tuple[int, ...]  # -1 marks a dynamic dimension
    dtype: str = "float32"


@dataclass(frozen=True)
class SamplerSpec:
    type: str  # "segments" | "dense" | "slowfast" | "uniform_clips"
    num_segments: int = 8
    seg_len: int = 1
    select_left: bool = False
    clip_len: int = 64
    frame_interval: float = 1.0
    target_fps: Optional[float] = None
    num_clips: int = 1


@dataclass(frozen=True)
class PreprocessSpec:
    sampler: SamplerSpec
    scale_mode: str = "short_side"        # see transforms.scale_frame
    scale_size: int = 256
    resize_backend: str = "cv2"            # "cv2" or "pil"
    resize_dtype: str = "uint8"            # "float32": resize without rounding (normalise-then-resize pipelines)
    crop: str = "center"                   # "center" | "three" | "ten" | "multicrop" | "multicrop_center" | "full_res" | "none"
    crop_size: int = 224
    mean: Tuple[float, ...] = (0.485, 0.456, 0.406)
    std: Tuple[float, ...] = (0.229, 0.224, 0.225)
    pixel_divisor: float = 255.0           # pixels are divided by it before mean/std
    layout: str = "TCHW"                   # per view: "TCHW" (2D nets) or "CTHW" (3D nets)
    views: str = "batch"                   # how several views enter the net: "batch", "time" (TSN), "superimage" (StNet)
    min_frames: int = 1                    # fewer decodable frames than this -> TooFewFramesError
    pathways: str = "single"               # "single" input, or "slowfast": [slow, fast] (PaddleVideo PackOutput)
    alpha: int = 8                         # slowfast: the slow pathway takes T // alpha of the T frames


@dataclass(frozen=True)
class ExtractorSpec:
    """The per-frame feature extractor that turns a video into a feature-input network's features: another
    hub module's method returning `[T, D]` per video, and that D (checked against the network's input)."""
    module: Optional[str] = None           # a hub module name; None: no extractor declared
    method: str = "extract_features"
    feature_dim: Optional[int] = None      # D of the [T, D] features it yields
    note: str = ""


@dataclass(frozen=True)
class FeatureSpec:
    """Networks whose input is a feature sequence, not frames (card key `features`). The size comes from the
    input shape, `[-1, D, T]` for layout "DT" (BMN) or `[-1, T, D]` for "TD"."""
    layout: str = "DT"
    resample: str = "linear"               # how a [T', D] sequence is brought to the network's T positions
    samples_per_position: int = 3          # interpolated points averaged per position (BSN's pooling)
    trained_on: str = ""                   # which features the weights were trained on
    extractor: ExtractorSpec = field(default_factory=ExtractorSpec)


def features_from_dict(data: Dict[str, Any]) -> FeatureSpec:
    data = dict(data)
    extractor = _from_dict(ExtractorSpec, data.pop("extractor", None) or {})
    return _from_dict(FeatureSpec, {**data, "extractor": extractor})


@dataclass(frozen=True)
class ModelCard:
    name: str
    task: str
    architecture: Dict[str, Any]
    inputs: Tuple[InputSpec, ...]
    preprocess: Optional[PreprocessSpec]   # None for modules whose inputs are features, not videos
    activation: str                        # "softmax" | "sigmoid" | "none" (already probabilities)
    score_output: int                      # which predictor output holds the class scores
    labels: str                            # "kinetics400" (shared list) or a file name in the module folder
    onednn: bool = True                    # oneDNN is wrong or crashes for some exports; the card says so
    view_average: str = "probabilities"    # how a video's views are fused: "probabilities" or "logits" (then activated)
    disabled_passes: Tuple[str, ...] = ()  # Paddle Inference IR passes to switch off (narrow workarounds)
    variants: Dict[str, PreprocessSpec] = field(default_factory=dict)  # e.g. "tencrop": the accuracy-table views
    weights: Dict[str, Any] = field(default_factory=dict)
    reported: Dict[str, Any] = field(default_factory=dict)
    raw: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Modules made of several exported networks (e.g. a frame-feature extractor and a sequence classifier)
    # declare them under `models: {part: {architecture, inputs, weights}}`; `part(name)` is the card of one.
    models: Dict[str, Dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    features: Optional[FeatureSpec] = None  # feature-sequence inputs (BMN); None for video and YouTube-8M cards
    # Inference engines verified for this model on real clips: {"verified": {engine: [precisions]}}; which of them
    # runs first is measured on each CPU (see videohub.runtime.choice and videohub.runtime.ranking).
    engines: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def part(self, name: Optional[str]) -> "ModelCard":
        """The card of one network of a multi-network module (`None`: this card, single-network modules)."""
        if name is None:
            return self
        if name not in self.models:
            raise ValueError(f"{self.name} has no network {name!r}; it has {', '.join(self.models) or 'one'}")
        spec = self.models[name]
        return replace(self, architecture=dict(spec["architecture"]), inputs=_inputs(spec["inputs"]),
                       weights=dict(spec.get("weights", {})), models={})

    def preprocess_for(self, variant: Optional[str] = None) -> PreprocessSpec:
        """The default preprocessing, or a named variant from `preprocess_variants`."""
        if variant in (None, "", "default"):
            return self.preprocess
        if variant not in self.variants:
            known = ", ".join(["default", *self.variants])
            raise ValueError(f"{self.name} has no preprocessing variant {variant!r}; choose from {known}")
        return self.variants[variant]

    @property
    def num_classes(self) -> Optional[int]:
        """The class count the network was built with (its architecture's, or the part that declares one)."""
        for arch in [self.architecture, *(m.get("architecture", {}) for m in self.models.values())]:
            if arch.get("num_classes"):
                return int(arch["num_classes"])
        return None

    @property
    def arch_name(self) -> str:
        return self.architecture["name"]

    @property
    def arch_kwargs(self) -> Dict[str, Any]:
        return {k: v for k, v in self.architecture.items() if k != "name"}


def _from_dict(cls, data: Dict[str, Any]):
    known = set(cls.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    return cls(**data)


def preprocess_from_dict(pre: Dict[str, Any]) -> PreprocessSpec:
    pre = dict(pre)
    sampler = _from_dict(SamplerSpec, pre.pop("sampler"))
    for key in ("mean", "std"):
        if key in pre:
            pre[key] = tuple(pre[key])
    return _from_dict(PreprocessSpec, {"sampler": sampler, **pre})


def _merge(base: Dict[str, Any], overrides: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(base)
    for k, v in overrides.items():
        out[k] = _merge(base.get(k, {}), v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def card_from_dict(data: Dict[str, Any]) -> ModelCard:
    """Parse a card. `preprocess_variants` maps a name to overrides of `preprocess` (nested dicts merge)."""
    # Feature-input modules (YouTube-8M) have no video preprocessing; multi-network modules declare their
    # architectures and inputs under `models` instead of at the top level.
    preprocess = preprocess_from_dict(data["preprocess"]) if data.get("preprocess") else None
    variants = {name: preprocess_from_dict(_merge(data["preprocess"], over))
                for name, over in data.get("preprocess_variants", {}).items()}
    inputs = _inputs(data.get("inputs", []))
    return ModelCard(
        name=data["name"], task=data["task"], architecture=dict(data.get("architecture", {})), inputs=inputs,
        preprocess=preprocess, activation=data.get("activation", "softmax"),
        score_output=int(data.get("score_output", 0)), labels=data.get("labels", "none"),
        onednn=bool(data.get("onednn", True)), disabled_passes=tuple(data.get("disabled_passes", ())),
        view_average=data.get("view_average", "probabilities"),
        variants=variants, weights=dict(data.get("weights", {})),
        reported=dict(data.get("reported", {})), raw=data, models=dict(data.get("models", {})),
        engines=dict(data.get("engines", {})),
        features=features_from_dict(data["features"]) if data.get("features") else None)


def _inputs(items: List[Dict[str, Any]]) -> Tuple[InputSpec, ...]:
    return tuple(InputSpec(i["name"], tuple(i["shape"]), i.get("dtype", "float32")) for i in items)


def load_card(path: Union[str, Path]) -> ModelCard:
    """Read `card.json` (or the card inside a module folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "card.json"
    with open(p, encoding="utf-8") as f:
        return card_from_dict(json.load(f))


LABEL_DIR = Path(__file__).resolve().parent / "labels"


def load_labels(card: ModelCard, module_dir: Optional[Union[str, Path]] = None) -> List[str]:
    """Class names in class-id order. Shared lists live in `videohub/labels/<name>.txt`; a file name ending
    in .txt is looked up in the module folder. Lines may be `<id> <name>` or just `<name>`. `class_ids` names
    the classes `class_<id>` (datasets whose label names are not available, e.g. YouTube-8M's 3862 classes);
    `none` (or no `labels` entry) is for models without classes (temporal proposals)."""
    if card.labels == "none":
        return []
    if card.labels == "class_ids":
        return [f"class_{i}" for i in range(int(card.architecture["num_classes"]))]
    if card.labels.endswith(".txt"):
        if module_dir is None:
            raise ValueError("a module-local label file needs the module folder")
        path = Path(module_dir) / card.labels
    else:
        path = LABEL_DIR / f"{card.labels}.txt"
    return read_labels(path)


def read_labels(path: Union[str, Path]) -> List[str]:
    """Class names from a label file: one per line, `<id> <name>` (ids in order from 0) or just `<name>`."""
    labels = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            line = line.rstrip("\n").rstrip("\r")
            if not line:
                continue
            head, _, rest = line.partition(" ")
            if rest and head.isdigit():
                if int(head) != len(labels):
                    raise ValueError(f"{path}: line {i + 1} has id {head}, expected {len(labels)}")
                line = rest
            labels.append(line)
    return labels
