"""Feature-sequence modules for PaddleHub: the video tagger (`VideoSequenceModule`: videotag_tsn_lstm) and
the YouTube-8M feature classifiers (`FeatureClassifierModule`), over `videohub.tasks.sequence`."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from paddlehub.module.module import runnable, serving

from videohub.errors import UnsupportedInputError
from videohub.hub import cli
from videohub.hub.base import VideoModuleBase
from videohub.hub.classifier import VideoClassifierModule
from videohub.hub.serving import base64_items, check_fields
from videohub.io.files import expand_input_path
from videohub.io.preprocess import PreparedVideo
from videohub.tasks.classification import Result, format_results
from videohub.tasks.items import Item, VideoInput, feature_items, video_items
from videohub.tasks.sequence import FEATURE_FILE_SUFFIXES, FeatureClassifier, VideoSequenceClassifier


class VideoSequenceModule(VideoClassifierModule):
    """Frame-feature extractor + sequence classifier (VideoTag): `classify`, `extract_features`, `hub run`,
    `hub serving`. Its card declares two networks under `models: {"extractor", "classifier"}`."""

    task_class = VideoSequenceClassifier
    windowed = False  # the tagger's LSTM reads the whole video

    def frame_features(self, prepared: PreparedVideo, use_gpu: bool = False) -> np.ndarray:
        """[T, D] features of one prepared video."""
        return self.task.frame_features(prepared, use_gpu)

    def classify(self, paths: Optional[Sequence[str]] = None, use_gpu: bool = False,
                 threshold: Optional[float] = None, top_k: Optional[int] = None,
                 videos: Optional[Sequence[VideoInput]] = None, batch_size: int = 1, strict: bool = False,
                 preprocess: Optional[str] = None) -> List[Result]:
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
        return self.task.classify_items(video_items(paths, videos), use_gpu=use_gpu, threshold=threshold,
                                        top_k=top_k, batch_size=batch_size, strict=strict, preprocess=preprocess)

    def extract_features(self, paths: Optional[Sequence[str]] = None,
                         videos: Optional[Sequence[VideoInput]] = None, use_gpu: bool = False,
                         strict: bool = False, preprocess: Optional[str] = None) -> List[Result]:
        """Per-frame features of the sampled frames: `[{"path": name, "features": ndarray [T, D]}]`, one per
        input in input order; a failed input gets `{"path": name, "error": {...}}` in its place."""
        return self.task.extract_features(video_items(paths, videos), use_gpu=use_gpu, strict=strict,
                                          preprocess=preprocess)


class FeatureClassifierModule(VideoModuleBase):
    """YouTube-8M feature classifiers: `classify(features=[{"rgb": [T,1024], "audio": [T,128]}], paths=[pkl])`."""

    default_top_k = 20
    default_threshold = 0.0

    def __init__(self, **kwargs: Any):
        super(FeatureClassifierModule, self).__init__(**kwargs)
        self.task = FeatureClassifier(self.card, self.labels, self.runtime, default_top_k=self.default_top_k,
                                      default_threshold=self.default_threshold)

    def classify(self, features: Optional[Sequence[Mapping[str, np.ndarray]]] = None,
                 paths: Optional[Sequence[str]] = None, top_k: Optional[int] = None,
                 threshold: Optional[float] = None, use_gpu: bool = False, strict: bool = False) -> List[Result]:
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
        if features is None and paths is None:
            raise ValueError("give `features` (dicts of [T, D] arrays) or `paths` (YouTube-8M .pkl files)")
        items = feature_items(features, paths, lambda p: "pkl", single_feature=(Mapping,), array_key="path")
        return self.task.classify_items(items, use_gpu=use_gpu, top_k=top_k, threshold=threshold, strict=strict)

    @runnable
    @cli.whole_run_errors
    def run_cmd(self, argvs: List[str]) -> str:
        parser = cli.parser_for(self, "a YouTube-8M .pkl file, a directory of them, or a .txt file listing one per line")
        cli.add_label_arguments(parser, self.default_top_k, self.default_threshold)
        args = cli.parse_label_run(self, parser, argvs)
        paths = expand_input_path(args.input_path, FEATURE_FILE_SUFFIXES)
        cli.require_inputs(paths, args.input_path)
        results = self.classify(paths=paths, top_k=args.top_k, threshold=args.threshold, use_gpu=args.use_gpu,
                                strict=args.strict)
        text = cli.dump_json(results) if args.output == "json" else format_results(results)
        return cli.finish_run(results, text)

    @serving
    def serving_method(self, features: Optional[List[Dict[str, Any]]] = None,
                       pkls: Optional[List[str]] = None, top_k: Optional[int] = None,
                       threshold: Optional[float] = None, use_gpu: bool = False, **kwargs: Any) -> List[Result]:
        """HTTP entry: `features` as dicts of nested lists (add `"dtype": "uint8"` for quantized values) and/or
        `pkls`, base64-encoded YouTube-8M pickles. Server-side paths are not read."""
        if kwargs:
            raise ValueError(f"unknown request fields: {sorted(kwargs)}")
        if features is None and pkls is None:
            raise ValueError("the request needs `features` or `pkls`")
        check_fields(features=features, pkls=pkls)
        items: List[Item] = []
        for i, f in enumerate(features or []):
            item = Item(f"features_{i}", kind="features")
            if isinstance(f, dict):
                dtype = np.uint8 if f.get("dtype") == "uint8" else np.float32
                try:
                    item.value = {k: np.asarray(f[k], dtype=dtype) for k in self.task.modalities if k in f}
                except (TypeError, ValueError) as exc:
                    item.error = UnsupportedInputError(f"features[{i}]: {exc}")
            else:
                item.error = UnsupportedInputError(f"features[{i}] must be an object")
            items.append(item)
        items += base64_items("pkls", pkls, prefix="pkl", kind="pkl")
        return self.task.classify_items(items, use_gpu=use_gpu, top_k=top_k, threshold=threshold)
