"""bmn_activitynet: `detect` from features or videos, hub run / serving, the extractor check, the evaluation script.

The module gets the deterministic seed-0 BMN checkpoint, imported with `scripts/fetch_weights.py bmn_activitynet
--from FILE --modules-dir <temp copy>` (never into the repo's modules/*/weights). Its proposals must be what the
post-processing gives on the reference outputs of that checkpoint, valid ActivityNet proposals, with errors in
place; videos go through a declared extractor whose feature size is checked.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, load_script, make_reference_checkpoint, shared_path
from synthetic import write_video
from videohub.tasks.proposals import bmn_proposals
from videohub.train.metrics import evaluate_proposals

NAME = "bmn_activitynet"
EXAMPLE_SECONDS = 124.23  # duration_second of the example features (bmn_example_feat.json)


def _script(name: str):
    return load_script(name).main


@pytest.fixture(scope="module")
def installed(reference_tool, tmp_path_factory):
    """(module dir with the seed-0 weights, the reference input [1, 400, 100])."""
    root = tmp_path_factory.mktemp("modules")
    ckpt = tmp_path_factory.mktemp("ckpt") / "bmn_seed0.pdparams"
    inputs = make_reference_checkpoint(reference_tool, "bmn_state_dict.tsv", 0, ckpt, ["feat_input=1x400x100"])
    shutil.copytree(REPO / "modules" / NAME, root / NAME, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    assert _script("fetch_weights")([NAME, "--from", str(ckpt), "--modules-dir", str(root)]) == 0
    ckpt.unlink()
    return root / NAME, inputs["feat_input"]


@pytest.fixture(scope="module")
def module(installed):
    import paddlehub as hub

    return hub.Module(directory=str(installed[0]))


@pytest.fixture(scope="module")
def example_results(module):
    """detect on the example JSON and the same features as .npy (with its duration): two network runs."""
    js = shared_path("data", "samples", "bmn_example_feat.json")
    npy = shared_path("data", "samples", "bmn_example_feat.npy")
    return module.detect(paths=[str(js), str(npy)], duration=[None, EXAMPLE_SECONDS])


def assert_valid_proposals(result, duration, top_k=100):
    props = result["proposals"]
    assert result["duration"] == pytest.approx(duration)
    assert 1 <= len(props) <= top_k
    scores = [p["score"] for p in props]
    assert scores == sorted(scores, reverse=True)
    for p in props:
        assert set(p) == {"segment", "score"} and len(p["segment"]) == 2
        t0, t1 = p["segment"]
        assert 0.0 <= t0 < t1 <= duration + 1e-9
        assert 0.0 <= p["score"] <= 1.0


# ---------------------------------------------------------------------------------------------- features
def test_module_class_and_card(module):
    from videohub.hub import ProposalDetectorModule
    from videohub.tasks.proposals import feature_shape

    assert isinstance(module, ProposalDetectorModule)
    shape = feature_shape(module.card)
    assert (shape.dim, shape.positions, shape.layout) == (400, 100, "DT")
    assert module.labels == []


def test_proposals_are_the_postprocessed_reference_outputs(module):
    """The module's network + post-processing on the reference input equals `bmn_proposals` on the outputs
    the reference implementation gave for the same checkpoint and input."""
    with np.load(shared_path("data", "reference_outputs", "bmn_seed0.npz")) as z:
        ref = {k: z[k] for k in z.files}
    x = ref["input_feat_input"][0]                                   # [400, 100], the network's layout
    bm, start, end = module.run_network(x.T)
    assert bm.shape == (2, 100, 100) and start.shape == end.shape == (100,)
    np.testing.assert_allclose(bm, ref["output_pred_bm"][0], atol=1e-5)
    np.testing.assert_allclose(start, ref["output_pred_start"][0], atol=1e-5)
    got = module.detect(features=[x], duration=10.0, top_k=20)[0]
    want = bmn_proposals(ref["output_pred_bm"], ref["output_pred_start"], ref["output_pred_end"], 10.0, top_k=20)
    assert got["name"] == "features_0"
    assert [p["score"] for p in got["proposals"][:5]] == pytest.approx([p["score"] for p in want[:5]], rel=1e-4)
    assert [p["segment"] for p in got["proposals"][:5]] == [p["segment"] for p in want[:5]]


def test_detect_example_json_and_npy(example_results):
    js, npy = example_results
    assert js["path"].endswith("bmn_example_feat.json") and npy["path"].endswith("bmn_example_feat.npy")
    assert Path(js["feature_file"]).name == "bmn_example_feat.npy"
    assert_valid_proposals(js, EXAMPLE_SECONDS)
    assert len(js["proposals"]) == 100
    assert js["proposals"] == npy["proposals"]


def test_example_results_are_activitynet_proposals(example_results):
    """The printed file is an ActivityNet proposal file the official metric reads."""
    from videohub.tasks.proposals import activitynet_json

    both = activitynet_json(example_results)  # two inputs with one stem: the second keeps its full path
    assert list(both["results"]) == ["bmn_example_feat", example_results[1]["path"]]
    doc = json.loads(json.dumps(activitynet_json(example_results[:1])))
    assert doc["version"] == "VERSION 1.3" and set(doc["results"]) == {"bmn_example_feat"}
    gt = {"database": {"bmn_example_feat": {"subset": "validation",
                                            "annotations": [{"segment": [0.01, 124.2], "label": "x"}]}}}
    scores = evaluate_proposals(gt, doc)
    assert set(scores) == {"AR@1", "AR@5", "AR@10", "AR@100", "AUC"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_errors_in_place_and_order(module, tmp_path):
    npy = shared_path("data", "samples", "bmn_example_feat.npy")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    no_feat = tmp_path / "nofeat.json"
    no_feat.write_text(json.dumps({"feat_path": "absent.npy", "duration_second": 3.0}))
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    res = module.detect(features=[np.zeros((100, 300), np.float32), np.full((100, 400), np.nan)],
                        paths=[str(tmp_path / "missing.npy"), str(npy), str(bad_json), str(no_feat), str(pickled),
                               str(tmp_path)])
    types = [r.get("error", {}).get("type") for r in res]
    assert [r.get("name", r.get("path")) for r in res] == [
        "features_0", "features_1", str(tmp_path / "missing.npy"), str(npy), str(bad_json), str(no_feat),
        str(pickled), str(tmp_path)]
    assert types == ["FeatureShapeError", "FeatureShapeError", "InputNotFoundError", "MissingDurationError",
                     "FeatureFileError", "InputNotFoundError", "FeatureFileError", "NotAFileError"]
    assert all(set(r) == {"name" if "name" in r else "path", "error"} for r in res)
    assert "400-d" in res[0]["error"]["message"]
    bad = module.detect(features=[np.zeros((100, 400), np.float32)], duration=-1)
    assert bad[0]["error"]["type"] == "UnsupportedInputError"
    with pytest.raises(ValueError):
        module.detect(features=[np.zeros((100, 400))], paths=["a.npy"], duration=[1.0])
    from videohub.tasks.proposals import MissingDurationError
    with pytest.raises(MissingDurationError):
        module.detect(paths=[str(npy)], strict=True)


def test_serving_npy_bytes(module, example_results):
    from io import BytesIO

    buf = BytesIO()
    np.save(buf, np.load(shared_path("data", "samples", "bmn_example_feat.npy")))
    blob = base64.b64encode(buf.getvalue()).decode()
    out = module.serving_method(features=[blob, "%%"], videos=[base64.b64encode(b"").decode()],
                                duration=EXAMPLE_SECONDS)
    assert [r["name"] for r in out] == ["features_0", "features_1", "videos_0"]
    assert out[0]["proposals"] == example_results[0]["proposals"]
    assert out[1]["error"]["type"] == "UnsupportedInputError"
    assert out[2]["error"]["type"] == "EmptyFileError"
    with pytest.raises(ValueError):
        module.serving_method(paths=["/etc/passwd"])


def test_hub_run_prints_activitynet_json(installed, tmp_path):
    js = shared_path("data", "samples", "bmn_example_feat.json")
    home, cwd = tmp_path / "hub_home", tmp_path / "cwd"
    cwd.mkdir()
    env = dict(os.environ, HUB_HOME=str(home), PYTHONWARNINGS="ignore")
    hub_bin = str(Path(sys.executable).parent / "hub")
    proc = subprocess.run([hub_bin, "install", str(installed[0])], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    png = tmp_path / "timeline.png"
    proc = subprocess.run([hub_bin, "run", NAME, "--input_path", str(js), "--top_k", "20",
                           "--timeline", str(png)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert doc["version"] == "VERSION 1.3" and list(doc["results"]) == ["bmn_example_feat"]
    assert_valid_proposals({"duration": EXAMPLE_SECONDS, "proposals": doc["results"]["bmn_example_feat"]},
                           EXAMPLE_SECONDS, top_k=20)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hub_run_exits_1_on_a_failed_input(module, tmp_path, capsys):
    npy = shared_path("data", "samples", "bmn_example_feat.npy")
    with pytest.raises(SystemExit) as info:
        module.run_cmd(["--input_path", str(npy)])              # a .npy without --duration
    assert info.value.code == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["results"] == {} and doc["errors"]["bmn_example_feat"]["type"] == "MissingDurationError"


# ---------------------------------------------------------------------------------------------- videos
def test_declared_extractor_of_another_size_is_refused(module, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", num_frames=20)
    res = module.detect(paths=[str(clip)])[0]
    assert res["error"]["type"] == "ExtractorMismatchError"
    msg = res["error"]["message"]
    assert "400-d" in msg and "2048-d" in msg and "videotag_tsn_lstm" in msg


def test_callable_extractors_checked_and_resampled(installed, tmp_path):
    import paddlehub as hub

    clip = write_video(tmp_path / "clip.mp4", num_frames=20)
    calls = []

    def wrong_size(path):
        calls.append(path)
        return np.ones((12, 64), np.float32)

    m = hub.Module(directory=str(installed[0]), extractor=wrong_size)
    res = m.detect(paths=[str(clip)])[0]
    assert res["error"]["type"] == "ExtractorMismatchError" and "64-d" in res["error"]["message"]
    assert calls == [str(clip)]

    rng = np.random.default_rng(0)
    m.extractor = None
    assert m.detect(paths=[str(clip)])[0]["error"]["type"] == "NoExtractorError"
    from videohub.tasks.proposals import make_extractor
    m.extractor = make_extractor(lambda path: rng.random((37, 400)).astype(np.float32), 400)
    res = m.detect(paths=[str(clip), str(tmp_path / "none.mp4")], top_k=5)
    assert_valid_proposals(res[0], 20 / 25.0, top_k=5)       # the clip's own duration: 20 frames at 25 fps
    assert res[0]["extractor"] == "<lambda>"
    assert res[1]["error"]["type"] == "InputNotFoundError"


def test_resample_features_is_linear():
    from videohub.tasks.proposals import orient_features, resample_features

    x = np.arange(40, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], np.float32)   # [40, 2] ramps
    y = resample_features(x, 10)
    # feature i sits at (i + 0.5) / 40; bin k's mean over a linear ramp is its value at the bin centre
    centres = (np.arange(10) + 0.5) / 10 * 40 - 0.5
    np.testing.assert_allclose(y[1:-1, 0], centres[1:-1], atol=1e-5)
    np.testing.assert_allclose(y[:, 1], -2 * y[:, 0], atol=1e-5)
    up = resample_features(np.arange(4, dtype=np.float32)[:, None], 8)
    assert up.shape == (8, 1) and np.all(np.diff(up[:, 0]) >= 0) and up[0, 0] >= 0 and up[-1, 0] <= 3
    same = np.random.default_rng(1).random((100, 3)).astype(np.float32)
    assert resample_features(same, 100) is same
    np.testing.assert_array_equal(resample_features(np.ones((1, 3)), 5), np.ones((5, 3)))
    assert orient_features(np.zeros((400, 100)), 400).shape == (100, 400)
    assert orient_features(np.zeros((7, 400)), 400).shape == (7, 400)


# ---------------------------------------------------------------------------------------------- evaluation
def test_evaluate_script_on_hand_made_ground_truth(tmp_path, capsys):
    """Two videos, one ground-truth segment each. Video a: a perfect proposal (tIoU 1, matched at all 10
    thresholds). Video b: tIoU 0.625 (matched at 0.5, 0.55, 0.6). With one proposal per video every AN
    column has recall (10 + 3) / 20 = 0.65, and AUC = 0.65 * (100 - 1) / 100 = 0.6435."""
    gt = {"database": {
        "a": {"subset": "validation", "annotations": [{"segment": [10.0, 20.0], "label": "x"}]},
        "b": {"subset": "validation", "annotations": [{"segment": [0.0, 10.0], "label": "x"}]},
        "c": {"subset": "training", "annotations": [{"segment": [0.0, 1.0], "label": "x"}]}}}
    pred = {"results": {"a": [{"segment": [10.0, 20.0], "score": 0.9}],
                        "b": [{"segment": [3.75, 10.0], "score": 0.8}]}}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    main = _script("evaluate")
    argv = ["proposals", "--ground-truth", str(tmp_path / "gt.json"), "--proposals", str(tmp_path / "pred.json")]
    assert main(argv + ["--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    for k in ("AR@1", "AR@5", "AR@10", "AR@100"):
        assert scores[k] == pytest.approx(0.65)
    assert scores["AUC"] == pytest.approx(0.6435)
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "AR@100" in table and "64.35" in table
    # a bare {video: {...}} mapping is read as the database; an empty subset is an error
    (tmp_path / "bare.json").write_text(json.dumps(gt["database"]))
    assert main(["proposals", "--ground-truth", str(tmp_path / "bare.json"), "--proposals",
                 str(tmp_path / "pred.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["AUC"] == pytest.approx(0.6435)
    assert main(argv + ["--subset", "testing"]) == 2


def test_visualize_draws_the_current_proposals(module, tmp_path):
    """The example features drawn onto a clip (their duration: the clip's), and the timeline with ground truth."""
    import av

    feats = np.load(shared_path("data", "samples", "bmn_example_feat.npy"))
    clip = write_video(tmp_path / "clip.mp4", num_frames=50, size=(128, 96))
    res = module.visualize(str(clip), str(tmp_path / "p.mp4"), features=feats, top_n=3,
                           timeline_path=str(tmp_path / "p.png"), ground_truth=[[0.5, 1.5]])
    assert res["proposals"] == module.detect(features=[feats], duration=2.0)[0]["proposals"]
    assert res["video"]["frames"] == 50 and res["duration"] == pytest.approx(2.0)
    with av.open(str(tmp_path / "p.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 50 and frames[0].shape == (96, 128, 3)
    from videohub.viz.overlays import proposal_overlay

    at = proposal_overlay(res, 3)
    t0, t1 = res["proposals"][0]["segment"]
    assert at((t0 + t1) / 2).rows[0][0].startswith("#1 ")     # the best proposal is drawn while it lasts
    assert at(2.5).rows == ()                                   # past the end, none
    assert (tmp_path / "p.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="needs the video"):
        module.visualize(str(shared_path("data", "samples", "bmn_example_feat.json")), str(tmp_path / "x.mp4"))
