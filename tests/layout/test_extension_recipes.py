"""The three recipes of the README's "Contributing": a model, an engine and a video backend, each added from
this file (no core file edited), and the layering of the core checked from its source."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import paddle
import pytest

from conftest import REPO, load_script
from videohub.card import load_card
from videohub.io.frame_index import FrameIndex
from videohub.io.reader import VideoInfo, VideoReader, backends, open_video, register_backend
from videohub.models import build_network, register_architecture, register_converter
from videohub.models.checkpoint import read_pdparams
from videohub.runtime import ranking
from videohub.runtime.choice import resolve_engine
from videohub.runtime.files import weights_dir
from videohub.runtime.predictor import (BasePredictor, Engine, RuntimeOptions, create_predictor, engines,
                                        register_engine)
from videohub.runtime.session import ModelRuntime
from videohub.tasks.classification import VideoClassifier
from videohub.tasks.items import video_items
from videohub.weights import install_weights

CLASSES = 3


# ---------------------------------------------------------------------------------------------- a model
@register_architecture("recipe_colour_net")
class ColourNet(paddle.nn.Layer):
    """[N, T, 3, H, W] -> mean colour -> linear -> logits."""

    def __init__(self, num_classes: int = CLASSES):
        super().__init__()
        self.fc = paddle.nn.Linear(3, num_classes)

    def forward(self, x):
        return self.fc(x.mean(axis=[1, 3, 4]))


@register_converter("recipe_npz")
def convert_npz(path: Path) -> dict:
    """The recipe's "official" checkpoint: an .npz with its own key names."""
    with np.load(path) as z:
        return {"fc.weight": z["W"].astype(np.float32), "fc.bias": z["b"].astype(np.float32)}


def card_dict(engines_entry: dict) -> dict:
    return {"name": "recipe_module", "task": "video/classification",
            "architecture": {"name": "recipe_colour_net", "num_classes": CLASSES},
            "inputs": [{"name": "x", "shape": [-1, 4, 3, 16, 16]}],
            "preprocess": {"sampler": {"type": "segments", "num_segments": 4}, "scale_size": 16, "crop": "center",
                           "crop_size": 16, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "layout": "TCHW"},
            "activation": "softmax", "labels": "labels.txt", "weights": {"converter": "recipe_npz"},
            "engines": engines_entry}


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("recipe_module")
    (d / "card.json").write_text(json.dumps(card_dict({
        "verified": {"recipe_numpy": ["fp32"], "paddle": ["fp32"]}})))
    (d / "labels.txt").write_text("red\ngreen\nblue\n")
    ckpt = d / "official.npz"
    np.savez(ckpt, W=np.eye(3, dtype=np.float32) * 4.0, b=np.zeros(3, np.float32))  # the brightest channel wins
    install_weights(load_card(d), d, ckpt)
    return d


def colour_clip(channel: int, frames: int = 8) -> np.ndarray:
    video = np.full((frames, 24, 32, 3), 20, np.uint8)
    video[..., channel] = 230
    return video


def test_a_model_registered_from_a_test_file_installs_and_classifies(module_dir):
    meta = json.loads((weights_dir(module_dir) / "meta.json").read_text())
    assert meta["source"]["converter"] == "recipe_npz"
    state = read_pdparams(weights_dir(module_dir) / "model.pdparams")
    np.testing.assert_allclose(state["fc.weight"], np.eye(3) * 4.0)  # the converter's keys reached the network
    assert isinstance(build_network("recipe_colour_net"), ColourNet)
    card = load_card(module_dir)
    task = VideoClassifier(card, ["red", "green", "blue"], ModelRuntime(card, module_dir, engine="paddle"))
    results = task.classify_items(video_items(videos=[colour_clip(2), colour_clip(0)]), top_k=1)
    assert [next(iter(r["prediction"])) for r in results] == ["blue", "red"]


# ---------------------------------------------------------------------------------------------- an engine
class NumpyColourPredictor(BasePredictor):
    """A numpy reference engine for the recipe network: reads the module's dygraph weights."""

    def __init__(self, model_path: Path, params_path: Path, options: RuntimeOptions):
        super().__init__()
        state = read_pdparams(model_path.parent / "model.pdparams")
        self.w, self.b = state["fc.weight"].astype(np.float64), state["fc.bias"].astype(np.float64)
        self.input_names, self.output_names = ["x"], ["logits"]

    def _run(self, arrays: List[np.ndarray]) -> List[np.ndarray]:
        return [(arrays[0].astype(np.float64).mean(axis=(1, 3, 4)) @ self.w + self.b).astype(np.float32)]


register_engine(Engine("recipe_numpy", NumpyColourPredictor, precisions=("fp32",), version_package="numpy"))


def test_an_engine_registered_from_a_test_file_is_verified_chosen_and_run(module_dir):
    assert "recipe_numpy" in engines()
    card = load_card(module_dir)
    choice = resolve_engine(card, module_dir)  # verified against dygraph on first use, timed, the faster chosen
    verdicts = json.loads((weights_dir(module_dir) / "engines.json").read_text())
    assert verdicts["recipe_numpy/fp32"]["passed"] and verdicts["recipe_numpy/fp32"]["max_error"] < 1e-5
    timings = ranking.recorded_timings(module_dir, None)
    assert set(timings) == {"recipe_numpy/fp32", "paddle/fp32"}
    assert f"{choice.engine}/{choice.precision}" == min(timings, key=timings.get)
    ranking.record_timings(module_dir, None, {"recipe_numpy/fp32": 0.001, "paddle/fp32": 0.002})
    runtime = ModelRuntime(card, module_dir)
    assert isinstance(runtime.predictor(), NumpyColourPredictor)
    paddle_out = create_predictor(module_dir / "weights" / "inference.json",
                                  module_dir / "weights" / "inference.pdiparams").run(
        np.random.default_rng(0).random((2, 4, 3, 16, 16), dtype=np.float32))
    assert paddle_out[0].shape == (2, CLASSES)
    with pytest.raises(ValueError, match="expected 1 inputs"):  # the shared input check applies to every engine
        runtime.predictor().run()


# ---------------------------------------------------------------------------------------------- a backend
@register_backend("recipe_npy_frames")
class NpyFramesReader(VideoReader):
    """A "video" that is an .npy array of RGB frames [T, H, W, 3] at 10 fps."""

    @classmethod
    def index_of(cls, path: str) -> FrameIndex:
        t, h, w, _ = np.load(path, mmap_mode="r").shape
        return FrameIndex.regular(path, t, 10.0, w, h, codec="rgb24", container="npy")

    def __init__(self, path: str, index: FrameIndex):
        super().__init__(path, index)
        self._frames = np.load(path, mmap_mode="r")
        self.info = VideoInfo(path, index.num_frames, index.rate, index.width, index.height, self.name)

    def _decode_sorted(self, indices, transform):
        return {int(i): (transform or (lambda f: f))(np.array(self._frames[i])) for i in indices}


def test_a_backend_registered_from_a_test_file_opens_and_classifies(module_dir, tmp_path):
    assert "recipe_npy_frames" in backends()
    path = tmp_path / "clip.npy"
    np.save(path, colour_clip(1, frames=12))
    with open_video(path, backend="recipe_npy_frames") as reader:
        assert reader.info.num_frames == 12 and reader.name == "recipe_npy_frames"
    card = load_card(module_dir)
    task = VideoClassifier(card, ["red", "green", "blue"], ModelRuntime(card, module_dir, engine="paddle"),
                           backend="recipe_npy_frames")
    assert next(iter(task.classify_items(video_items([str(path)]), top_k=1)[0]["prediction"])) == "green"


# ---------------------------------------------------------------------------------------------- layering
def test_core_has_no_cycles_no_upward_edges_no_hidden_imports(capsys):
    graph = load_script("import_graph")
    status = graph.main([])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "cycles: 0" in out and "upward edges: 0" in out and "function-local core imports: 0" in out


def test_layering_check_catches_a_cycle_and_an_upward_edge(tmp_path):
    graph = load_script("import_graph")
    root = tmp_path / "videohub"
    (root / "io").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "io" / "__init__.py").write_text("")
    (root / "io" / "a.py").write_text("from videohub.hub import b\n")
    (root / "hub").mkdir()
    (root / "hub" / "__init__.py").write_text("")
    (root / "hub" / "b.py").write_text("def f():\n    from videohub.io import a\n")
    edges, local, _ = graph.read_imports(root)
    assert graph.cycles(edges) == [["videohub.hub.b", "videohub.io.a"]]
    assert graph.upward(edges) == ["videohub.io.a (io) imports videohub.hub.b (hub)"]
    assert local == ["videohub.hub.b:2 imports videohub.io.a inside a function"]
    assert (REPO / "common" / "videohub" / "io" / "backends" / "__init__.py").read_text().count("register_backend")
