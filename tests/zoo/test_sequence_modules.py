"""The modules of the Paddle 1.x models: videotag_tsn_lstm, stnet_kinetics400 and the YouTube-8M feature modules.

Each module gets the deterministic seed-0 checkpoint(s) of its reference manifest, imported with
`scripts/fetch_weights.py NAME --from ... --modules-dir <temp copy>` (never into the repo's modules/*/weights);
its exported predictors must reproduce the original implementations' outputs, and its public API must keep
input order and report bad inputs in place.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, load_script, make_reference_checkpoint, rel_err, shared_path
from synthetic import write_video
from videohub.tasks.scores import sigmoid

# module -> {part or None: (manifest, reference, input specs)}
CHECKPOINTS = {
    "attention_lstm_youtube8m": {None: (
        "attention_lstm_yt8m_state_dict.tsv", "attention_lstm_yt8m",
        ["rgb_data=1x512x1024:uniform2:valid=170", "rgb_len=1:len=170", "rgb_mask=1x512x1024:mask=170",
         "audio_data=1x512x128:uniform2:valid=170", "audio_len=1:len=170", "audio_mask=1x512x128:mask=170"])},
    "attention_cluster_youtube8m": {None: (
        "legacy_attention_cluster_state_dict.tsv", "legacy_attention_cluster",
        ["rgb=1x100x1024:uniform2", "audio=1x100x128:uniform2"])},
    "nextvlad_youtube8m": {None: (
        "legacy_nextvlad_state_dict.tsv", "legacy_nextvlad", ["rgb=170x1024:uint8", "audio=170x128:uint8"])},
    "stnet_kinetics400": {None: (
        "legacy_stnet_r50_state_dict.tsv", "legacy_stnet_r50", ["image=1x8x15x256x256"])},
    "videotag_tsn_lstm": {
        "extractor": ("videotag_tsn_r101_legacy_state_dict.tsv", "videotag_tsn_r101", ["image=1x8x3x224x224"]),
        "classifier": ("videotag_attention_lstm_legacy_state_dict.tsv", "videotag_attention_lstm",
                       ["rgb=300x2048:abs"])},
}
# the exported predictors' inputs from the reference inputs (LoD sequences become a batch of one + lengths)
FEED = {
    "attention_lstm_yt8m": lambda i: [i[k] for k in ("rgb_data", "rgb_len", "rgb_mask", "audio_data",
                                                        "audio_len", "audio_mask")],
    "legacy_attention_cluster": lambda i: [i["rgb"], i["audio"]],
    "legacy_nextvlad": lambda i: [i["rgb"][None].astype(np.float32), i["audio"][None].astype(np.float32),
                                  np.array([i["rgb"].shape[0]], np.int64)],
    "legacy_stnet_r50": lambda i: [i["image"]],
    "videotag_tsn_r101": lambda i: [i["image"]],
    "videotag_attention_lstm": lambda i: [i["rgb"][None], np.array([i["rgb"].shape[0]], np.int64)],
}
OUTPUT_ORDER = {  # reference output names in the exported model's output order
    "attention_lstm_yt8m": ["output"], "legacy_attention_cluster": ["output", "logit"],
    "legacy_nextvlad": ["output", "logits"], "legacy_stnet_r50": ["output", "logits_fc_0"],
    "videotag_tsn_r101": ["output"], "videotag_attention_lstm": ["output", "logit"],
}
YT8M = ["attention_lstm_youtube8m", "attention_cluster_youtube8m", "nextvlad_youtube8m"]
SQUAT = "paddlehub_videotag_1_squat.mp4"


def _fetch_weights_main():
    return load_script("fetch_weights").main


@pytest.fixture(scope="module")
def installed(reference_tool, tmp_path_factory):
    """module name -> (module dir with imported seed-0 weights, {part: reference inputs}); built on demand."""
    root = tmp_path_factory.mktemp("modules")
    ckpts = tmp_path_factory.mktemp("ckpt")
    cache = {}
    fetch = _fetch_weights_main()

    def get(name):
        if name not in cache:
            shutil.copytree(REPO / "modules" / name, root / name,
                            ignore=shutil.ignore_patterns("weights", "__pycache__"))
            inputs, sources = {}, []
            for part, (manifest, ref, specs) in CHECKPOINTS[name].items():
                path = ckpts / f"{ref}_seed0.pdparams"
                inputs[part] = make_reference_checkpoint(reference_tool, manifest, 0, path, specs)
                sources.append(str(path) if part is None else f"{part}={path}")
            assert fetch([name, "--from", *sources, "--modules-dir", str(root)]) == 0
            for part, (_, ref, _) in CHECKPOINTS[name].items():
                (ckpts / f"{ref}_seed0.pdparams").unlink()
            cache[name] = (root / name, inputs)
        return cache[name]

    return get


def _load(module_dir):
    import paddlehub as hub

    return hub.Module(directory=str(module_dir))


@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_exported_predictors_match_the_reference_outputs(name, installed):
    module_dir, inputs = installed(name)
    module = _load(module_dir)
    for part, (_, ref_name, _) in CHECKPOINTS[name].items():
        with np.load(shared_path("data", "reference_outputs", f"{ref_name}_seed0.npz")) as z:
            ref = {k: z[k] for k in z.files}
        predictor = module.predictor() if part is None else module.predictor(part=part)
        outs = predictor.run(*FEED[ref_name](inputs[part]))
        for out, key in zip(outs, OUTPUT_ORDER[ref_name]):
            expected = ref[f"output_{key}"]
            assert out.shape == expected.shape, (name, key)
            abs_err = float(np.max(np.abs(out.astype(np.float64) - expected)))
            assert abs_err <= 1e-5 or rel_err(out, expected) <= 1e-4, (name, part, key, abs_err)


def test_multi_network_weights_layout(installed):
    from videohub.card import load_card
    from videohub.runtime.files import inference_files
    from videohub.weights import read_meta, weights_installed

    module_dir, _ = installed("videotag_tsn_lstm")
    card = load_card(module_dir)
    assert weights_installed(module_dir, ("extractor", "classifier"))
    assert not weights_installed(module_dir)  # no single weights/inference.* for a two-network module
    assert all(f.is_file() for p in ("extractor", "classifier") for f in inference_files(module_dir, p))
    meta = read_meta(module_dir)
    assert set(meta["parts"]) == {"extractor", "classifier"} and meta["card"]["models"].keys() == card.models.keys()
    assert meta["parts"]["classifier"]["architecture"]["name"] == "videotag_attention_lstm"


def test_module_without_weights_names_every_part(tmp_path):
    import paddlehub as hub
    from videohub.errors import WeightsNotFoundError

    bare = tmp_path / "videotag_tsn_lstm"
    shutil.copytree(REPO / "modules" / "videotag_tsn_lstm", bare, ignore=shutil.ignore_patterns("weights"))
    with pytest.raises(WeightsNotFoundError, match="extractor=FILE classifier=FILE"):
        hub.Module(directory=str(bare))


def test_fetch_weights_refuses_a_missing_part(tmp_path):
    fetch = _fetch_weights_main()
    shutil.copytree(REPO / "modules" / "videotag_tsn_lstm", tmp_path / "videotag_tsn_lstm",
                    ignore=shutil.ignore_patterns("weights"))
    only = tmp_path / "tsn.pdparams"
    only.write_bytes(pickle.dumps({}))
    assert fetch(["videotag_tsn_lstm", "--from", str(only), "--modules-dir", str(tmp_path)]) == 1


# ---------------------------------------------------------------------------------------------- YouTube-8M
@pytest.mark.parametrize("name", YT8M)
def test_yt8m_classify_pkl_and_arrays_in_order(name, installed, tmp_path):
    from videohub.io import yt8m as features
    from videohub.tasks.sequence import feature_inputs

    module = _load(installed(name)[0])
    pkl = shared_path("data", "samples", "yt8m_example.pkl")
    sample = features.read_yt8m_pkl(pkl)
    text = tmp_path / "bad.pkl"
    text.write_text("not a pickle")
    quantized = {"rgb": sample["rgb"], "audio": sample["audio"]}
    dequantized = {k: features.dequantize(v) for k, v in quantized.items()}
    results = module.classify(features=[quantized, {"rgb": sample["rgb"]}, dequantized],
                              paths=[str(pkl), str(tmp_path / "missing.pkl"), str(text), str(tmp_path)],
                              top_k=5)
    assert [r["path"] for r in results] == ["features_0", "features_1", "features_2", str(pkl),
                                           str(tmp_path / "missing.pkl"), str(text), str(tmp_path)]
    assert [r.get("error", {}).get("type") for r in results] == [
        None, "UnsupportedInputError", None, None, "InputNotFoundError", "FeatureFileError", "NotAFileError"]
    # the scores are the sigmoid of the exported network's logits on the card's inputs
    spec = module.card.raw["feature_inputs"]
    out = module.predictor().run(*feature_inputs(quantized, spec))[module.card.score_output][0]
    probs = out if module.card.activation == "none" else sigmoid(out.astype(np.float64))
    top = np.argsort(-probs, kind="stable")[:5]
    assert list(results[0]["prediction"]) == [f"class_{i}" for i in top]
    assert list(results[0]["prediction"].values()) == pytest.approx(probs[top], rel=1e-5)
    assert all(0.0 <= p <= 1.0 for p in results[0]["prediction"].values())
    # float features are read as dequantized: the same scores as the uint8 ones
    assert results[2]["prediction"] == pytest.approx(results[0]["prediction"], rel=1e-4, abs=1e-6)
    assert results[3]["prediction"] == pytest.approx(results[0]["prediction"], rel=1e-6)
    assert module.classify(features=quantized, threshold=1.1)[0]["prediction"] == {}
    json.dumps(results)


def test_yt8m_serving_and_hub_run(installed, tmp_path):
    import base64

    module = _load(installed("nextvlad_youtube8m")[0])
    pkl = shared_path("data", "samples", "yt8m_example.pkl")
    blob = base64.b64encode(pkl.read_bytes()).decode()
    from videohub.io import yt8m as features
    s = features.read_yt8m_pkl(pkl)
    out = module.serving_method(pkls=[blob, "%%"], features=[{"rgb": s["rgb"].tolist(), "audio": s["audio"].tolist(),
                                                             "dtype": "uint8"}], top_k=3)
    assert [r["path"] for r in out] == ["features_0", "pkl_0", "pkl_1"]
    assert out[0]["prediction"] == pytest.approx(out[1]["prediction"]) and "error" in out[2]
    with pytest.raises(ValueError):
        module.serving_method(paths=["/etc/passwd"])
    listing = tmp_path / "list.txt"
    listing.write_text(f"{pkl}\n{tmp_path / 'missing.pkl'}\n")
    with pytest.raises(SystemExit) as info:
        module.run_cmd(["--input_path", str(listing), "--top_k", "2", "--output", "json"])
    assert info.value.code == 1


def test_yt8m_feature_input_formats():
    from videohub.tasks.sequence import check_sample, feature_inputs
    from videohub.errors import UnsupportedInputError

    rng = np.random.default_rng(0)
    q = {"rgb": rng.integers(0, 256, (7, 4), dtype=np.uint8), "audio": rng.integers(0, 256, (7, 2), dtype=np.uint8)}
    mods = {"rgb": 4, "audio": 2}
    seq = feature_inputs(check_sample(q, mods), {"format": "sequence", "modalities": mods, "quantized": True})
    assert [a.shape for a in seq] == [(1, 7, 4), (1, 7, 2), (1,)] and int(seq[2][0]) == 7
    np.testing.assert_array_equal(seq[0][0], q["rgb"].astype(np.float32))
    deq = {k: v.astype(np.float32) * 4 / 255 + 4 / 512 - 2 for k, v in q.items()}
    seq_f = feature_inputs(check_sample(deq, mods), {"format": "sequence", "modalities": mods, "quantized": True})
    np.testing.assert_allclose(seq_f[0], seq[0], atol=1e-3)  # float -> the uint8 scale, no rounding
    cl = feature_inputs(q, {"format": "stride_centre", "modalities": mods, "seg_num": 3})
    np.testing.assert_allclose(cl[0][0], deq["rgb"][[1, 3, 5]], atol=1e-6)
    pm = feature_inputs(q, {"format": "padded_masks", "modalities": mods, "max_len": 10})
    assert [a.shape for a in pm] == [(1, 10, 4), (1,), (1, 10, 4), (1, 10, 2), (1,), (1, 10, 2)]
    for bad in ({"rgb": q["rgb"]}, {"rgb": q["rgb"], "audio": q["audio"][:3]},
                {"rgb": q["rgb"].astype(np.int32), "audio": q["audio"]}, [q["rgb"]]):
        with pytest.raises(UnsupportedInputError):
            check_sample(bad, mods)


# ---------------------------------------------------------------------------------------------- StNet
def test_superimage_views_stack_segments_along_channels():
    from videohub.card import load_card
    from videohub.io.preprocess import stack_views

    spec = load_card(REPO / "modules" / "stnet_kinetics400").preprocess
    views = [np.arange(10 * 3 * 2 * 2, dtype=np.float32).reshape(10, 3, 2, 2)]  # 2 segments x 5 frames
    rows = stack_views(views, spec)
    assert rows.shape == (1, 2, 15, 2, 2)
    np.testing.assert_array_equal(rows[0, 1, 3:6], views[0][6])
    np.testing.assert_array_equal(rows[0, 0, 12:15], views[0][4])


def test_stnet_classifies_a_video(installed, tmp_path):
    module = _load(installed("stnet_kinetics400")[0])
    clip = write_video(tmp_path / "bar.mp4", num_frames=30, size=(96, 72), pattern="bar")
    res = module.classify(paths=[str(clip), str(tmp_path / "none.mp4")], top_k=3)
    assert len(res[0]["prediction"]) == 3 and res[1]["error"]["type"] == "InputNotFoundError"
    from videohub.io.preprocess import prepare_video
    pv = prepare_video(str(clip), module.card.preprocess)
    assert pv.array.shape == (1, 25, 15, 256, 256)
    probs = module.predictor().run(pv.array)[0][0]
    top = np.argsort(-probs, kind="stable")[:3]
    assert list(res[0]["prediction"].values()) == pytest.approx(probs[top], rel=1e-5)


# ---------------------------------------------------------------------------------------------- videotag
def test_videotag_sampling_is_the_original_one():
    from videohub.card import load_card
    from videohub.io.preprocess import sample_indices

    spec = load_card(REPO / "modules" / "videotag_tsn_lstm").preprocess
    assert spec.sampler.num_segments == 300 and spec.resize_backend == "pil"
    idx = sample_indices(spec.sampler, 1000, 30.0)[0]  # average_dur 3: (3-1)//2 + 3i
    assert list(idx[:3]) == [1, 4, 7] and idx[-1] == 898
    idx = sample_indices(spec.sampler, 120, 30.0)[0]  # shorter than 300 frames: i modulo n
    assert list(idx[:3]) == [0, 1, 2] and idx[120] == 0 and idx[299] == 299 % 120


def test_videotag_duplicate_labels_do_not_overwrite(installed):
    module = _load(installed("videotag_tsn_lstm")[0])
    first, second = [i for i, label in enumerate(module.labels) if label == "滑板"]
    probs = np.zeros(len(module.labels), np.float32)
    probs[first], probs[second] = 0.7, 0.9
    pred = module.task.prediction(probs, top_k=10, threshold=0.5)
    assert pred == {"滑板": pytest.approx(0.9), f"滑板 ({first})": pytest.approx(0.7)}


def test_videotag_classify_and_features_end_to_end(installed, tmp_path):
    from videohub.runtime.engines.paddle_inference import gpu_available

    module = _load(installed("videotag_tsn_lstm")[0])
    squat = str(shared_path("data", "samples", SQUAT))
    text = tmp_path / "text.mp4"
    text.write_text("not a video\n" * 20)
    paths = [squat, str(tmp_path / "missing.mp4"), str(text), squat]
    results = module.classify(paths, False, 0.0, 5, preprocess="frames8")
    assert [r["path"] for r in results] == paths
    assert results[1]["error"]["type"] == "InputNotFoundError" and results[2]["error"]["type"] == "VideoOpenError"
    pred = results[0]["prediction"]
    assert len(pred) == 5 and list(pred.values()) == sorted(pred.values(), reverse=True)
    assert results[3]["prediction"] == pytest.approx(pred)
    feats = module.extract_features(paths=paths[:2], preprocess="frames8")
    assert [f["path"] for f in feats] == paths[:2] and "error" in feats[1]
    assert feats[0]["features"].shape == (8, 2048)
    # classify == the classifier's sigmoid output on the extracted features
    out = module.predictor(part="classifier").run(feats[0]["features"][None], np.array([8], np.int64))[0][0]
    top = np.argsort(-out, kind="stable")[:5]
    assert list(pred.values()) == pytest.approx(out[top], rel=1e-5)
    # the chunked extractor gives what one run over all frames gives
    from videohub.io.preprocess import prepare_video
    pv = prepare_video(squat, module.card.preprocess_for("frames8"))
    whole = module.predictor(part="extractor").run(pv.array)[0][0]
    assert rel_err(feats[0]["features"], whole) < 1e-5
    if not gpu_available():  # use_gpu is honoured on every call, not only the first
        with pytest.raises(RuntimeError, match="use_gpu"):
            module.classify(paths[:1], True, preprocess="frames8")
        assert module.classify(paths[:1], False, 0.0, 1, preprocess="frames8")[0]["prediction"]


def test_videotag_hub_install_and_run(installed, tmp_path):
    module_dir, _ = installed("videotag_tsn_lstm")
    squat = str(shared_path("data", "samples", SQUAT))
    home, cwd = tmp_path / "hub_home", tmp_path / "cwd"
    cwd.mkdir()
    env = dict(os.environ, HUB_HOME=str(home), PYTHONWARNINGS="ignore")
    hub_bin = str(Path(sys.executable).parent / "hub")
    proc = subprocess.run([hub_bin, "install", str(module_dir)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listing = tmp_path / "list.txt"
    listing.write_text(f"{squat}\n{tmp_path / 'missing.mp4'}\n")
    proc = subprocess.run([hub_bin, "run", "videotag_tsn_lstm", "--input_path", str(listing), "--preprocess",
                           "frames8", "--threshold", "0", "--top_k", "3", "--output", "json"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    payload = json.loads(proc.stdout[proc.stdout.index("["):])
    assert [r["path"] for r in payload] == [squat, str(tmp_path / "missing.mp4")]
    assert len(payload[0]["prediction"]) == 3 and payload[1]["error"]["type"] == "InputNotFoundError"


def test_videotag_visualize_draws_the_chinese_tags(installed, tmp_path):
    """The annotated squat clip shows the tags as text: its panel is the one drawn with the tags, not the one
    drawn with tofu boxes in their place."""
    import av

    from videohub.io.reader import open_video
    from videohub.viz.draw import paint_overlay
    from videohub.viz.overlays import classification_overlay

    module = _load(installed("videotag_tsn_lstm")[0])
    squat = str(shared_path("data", "samples", SQUAT))
    res = module.visualize(squat, str(tmp_path / "tags.mp4"), top_k=3, threshold=0.0, preprocess="frames8")
    assert len(res["prediction"]) == 3 and res["video"]["frames"] == 300
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in tag) for tag in res["prediction"])
    with av.open(str(tmp_path / "tags.mp4")) as c:
        written = next(f for i, f in enumerate(c.decode(video=0)) if i == 100).to_ndarray(format="rgb24")
    with open_video(squat) as reader:
        source = reader.get_frames([100])[0]
    tofu = {"\U000F0000" * len(tag): p for tag, p in res["prediction"].items()}
    real, (x0, y0, x1, y1) = paint_overlay(source, classification_overlay(res, 3)(0.0))
    boxes, _ = paint_overlay(source, classification_overlay({"prediction": tofu}, 3)(0.0))
    region = (slice(y0, y1), slice(x0, x1))
    err_real = np.abs(written[region].astype(int) - real[region]).mean()
    err_tofu = np.abs(written[region].astype(int) - boxes[region]).mean()
    assert err_real < err_tofu and err_real < 6
