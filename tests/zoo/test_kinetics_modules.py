"""The PaddleVideo Kinetics-400 modules (TSN, TSM, PP-TSM, PP-TSN, SlowFast, PP-TSMv2, MoViNet) end to end.

Each module gets a deterministic checkpoint from `shared/tools/make_reference_checkpoint.py`, imported with
`scripts/fetch_weights.py <module> --from FILE` into a temporary copy of the module; the **exported** predictor,
run with the card's runtime options (oneDNN, disabled passes), must match the original implementation's output
(seed 0) and the dygraph network (another seed). The cards' predict pipelines must reproduce PaddleVideo's inputs
for the archery clip.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import paddle
import pytest

from conftest import REPO, load_script, make_reference_checkpoint, rel_err, shared_path
from videohub.io import transforms
from videohub.card import load_card
from videohub.models.checkpoint import read_pdparams, sha256_file
from videohub.errors import WeightsNotFoundError
from videohub.models import build_network
from videohub.io.preprocess import prepare_video, sample_indices
from videohub.weights import build_loaded_network

# module -> (reference model name, manifest, input specs of the reference inputs)
MODELS = {
    "tsn_kinetics400": ("tsn_r50", "tsn_r50_state_dict.tsv", ["imgs=1x8x3x224x224"]),
    "tsm_kinetics400": ("tsm_r50", "tsm_r50_state_dict.tsv", ["imgs=1x8x3x224x224"]),
    "pptsm_kinetics400": ("pptsm_r50", "pptsm_r50_state_dict.tsv", ["imgs=1x8x3x224x224"]),
    "pptsn_kinetics400": ("pptsn_r50", "pptsn_r50_state_dict.tsv", ["imgs=1x8x3x224x224"]),
    "slowfast_kinetics400": ("slowfast_r50", "slowfast_r50_state_dict.tsv",
                             ["slow_input=1x3x4x224x224", "fast_input=1x3x32x224x224"]),
    "pptsmv2_kinetics400": ("pptsmv2_lcnetv2", "pptsmv2_lcnetv2_state_dict.tsv", ["imgs=1x8x3x224x224"]),
    "movinet_kinetics400": ("movinet_a0", "movinet_a0_state_dict.tsv", ["imgs=1x50x3x172x172"]),
}
# Second-seed inputs also exercise the dynamic dimensions each card exports: batch and any T for TSN and
# PP-TSN, T = 2 x num_seg for PP-TSM (its dense test views feed 240 = 30 x 8 frames at once).
SEED1_SPECS = {
    "tsn_kinetics400": ["imgs=2x3x3x224x224"],
    "tsm_kinetics400": ["imgs=1x8x3x224x224"],
    "pptsm_kinetics400": ["imgs=1x16x3x224x224"],
    "pptsn_kinetics400": ["imgs=1x5x3x224x224"],
    "slowfast_kinetics400": ["slow_input=1x3x4x224x224", "fast_input=1x3x32x224x224"],
    "pptsmv2_kinetics400": ["imgs=2x8x3x224x224"],
    "movinet_kinetics400": ["imgs=1x16x3x172x172"],
}
TOL = 1e-4


def _archery() -> Path:
    return shared_path("data", "samples", "paddlevideo_example_archery.avi")


def _stats() -> dict:
    return json.loads(shared_path("data", "preprocess", "reference_preprocess_stats.json").read_text())


def _sha1(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def fetch_weights():
    """scripts/fetch_weights.py as a module (run in-process: paddle is imported once)."""
    return load_script("fetch_weights")


def _bare_copy(module: str, root: Path) -> Path:
    """A copy of modules/<module> without weights, in `root/<module>` (tests never write into the repo)."""
    dst = root / module
    shutil.copytree(REPO / "modules" / module, dst, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    return dst


@pytest.fixture(scope="module")
def installed(reference_tool, fetch_weights, tmp_path_factory):
    """(module, seed) -> (module folder, checkpoint path, inputs): checkpoint generated, then imported with
    `fetch_weights.py --from` into a temporary copy of the module. Each pair is built once."""
    cache = {}

    def get(module: str, seed: int):
        if (module, seed) not in cache:
            root = tmp_path_factory.mktemp(f"{module}_seed{seed}")
            _, manifest, specs = MODELS[module]
            ckpt = root / f"{module}_seed{seed}.pdparams"
            inputs = make_reference_checkpoint(reference_tool, manifest, seed, ckpt,
                                               specs if seed == 0 else SEED1_SPECS[module])
            module_dir = _bare_copy(module, root / "modules")
            rc = fetch_weights.main([module, "--from", str(ckpt), "--modules-dir", str(root / "modules")])
            assert rc == 0
            cache[(module, seed)] = (module_dir, ckpt, inputs)
        return cache[(module, seed)]

    return get


def _hub_module(module_dir: Path):
    import paddlehub as hub

    return hub.Module(directory=str(module_dir))


_MODULES: dict = {}


def _loaded(module_dir: Path):
    """One hub module (and so one predictor) per installed folder."""
    if module_dir not in _MODULES:
        _MODULES[module_dir] = _hub_module(module_dir)
    return _MODULES[module_dir]


def _run_predictor(module_dir: Path, inputs: dict) -> list:
    """The module's own predictor (card runtime options) on the inputs, fed in the card's input order."""
    m = _loaded(module_dir)
    names = [i.name for i in m.card.inputs]
    return m.predictor().run(*[inputs[n] for n in names])


@pytest.mark.parametrize("module", list(MODELS))
def test_exported_predictor_matches_reference_outputs(module, installed):
    model, _, _ = MODELS[module]
    module_dir, ckpt, inputs = installed(module, 0)
    ref = np.load(shared_path("data", "reference_outputs", f"{model}_seed0.npz"))
    expected = {k[len("output_"):]: ref[k] for k in ref.files if k.startswith("output_")}
    card = load_card(module_dir)
    net = build_network(card.arch_name, **card.arch_kwargs)  # for its output names
    outs = _run_predictor(module_dir, inputs)
    assert len(outs) == len(net.output_names) == len(expected)
    for name, out in zip(net.output_names, outs):
        assert out.shape == expected[name].shape, name
        err = rel_err(out, expected[name])
        assert err < TOL, f"{module}/{name}: rel err {err:.3g}"
    # fetch_weights --from recorded the imported file in the card
    imported = json.loads((module_dir / "card.json").read_text())["weights"]["imported"]
    assert imported == {"file": ckpt.name, "bytes": ckpt.stat().st_size, "sha256": sha256_file(ckpt)}


@pytest.mark.parametrize("module", list(MODELS))
def test_exported_predictor_matches_dygraph_on_another_seed(module, installed):
    module_dir, ckpt, inputs = installed(module, 1)
    card = load_card(module_dir)
    net = build_loaded_network(card, read_pdparams(ckpt))
    with paddle.no_grad():
        refs = net(*[paddle.to_tensor(inputs[name]) for name in net.input_names])
    refs = refs if isinstance(refs, (tuple, list)) else [refs]
    outs = _run_predictor(module_dir, inputs)
    assert len(outs) == len(refs)
    for name, out, ref in zip(net.output_names, outs, refs):
        assert out.shape == tuple(ref.shape), name
        err = rel_err(out, ref.numpy())
        assert err < TOL, f"{module}/{name}: rel err {err:.3g}"


# ------------------------------------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("module", ["tsm_kinetics400", "pptsm_kinetics400", "pptsmv2_kinetics400"])
def test_tsm_family_predict_input_equals_paddlevideo(module):
    # PP-TSMv2's infer helper is PaddleVideo's ppTSM_Inference_helper with the same num_seg 8, short_size 256 and
    # target_size 224 (reference_outputs/pptsmv2_lcnetv2_seed0.json, `preprocess`), so PP-TSM's reference input
    # tensor of the archery clip is its expected input too.
    entry = _stats()["ppTSM_or_TSM_helper(example.avi)"]
    ref = np.load(shared_path("data", "preprocess", "ref_pptsm_input_example_avi_f16.npy"))
    pv = prepare_video(str(_archery()), load_card(REPO / "modules" / module).preprocess)
    assert pv.indices.reshape(-1).tolist() == entry["frames_idx"]
    assert pv.array.shape == tuple(entry["shape"]) == ref.shape
    np.testing.assert_array_equal(pv.array.astype(np.float16), ref)
    assert _sha1(pv.array) == entry["sha1_float32"]


def test_movinet_pipeline_is_pptsm_helper_at_its_sizes():
    """MoViNet's infer helper is ppTSM_Inference_helper with num_seg 50, short_size 192, target_size 172 (its
    reference JSON): the card runs the same steps as PP-TSM (whose output equals PaddleVideo's tensor above)
    at those sizes."""
    pptsm = load_card(REPO / "modules" / "pptsm_kinetics400").preprocess
    movinet = load_card(REPO / "modules" / "movinet_kinetics400").preprocess
    assert (movinet.sampler.num_segments, movinet.scale_size, movinet.crop_size) == (50, 192, 172)
    same = ("scale_mode", "resize_backend", "crop", "mean", "std", "pixel_divisor", "layout", "views")
    assert {k: getattr(movinet, k) for k in same} == {k: getattr(pptsm, k) for k in same}
    assert movinet.sampler.type == pptsm.sampler.type and movinet.sampler.select_left == pptsm.sampler.select_left
    pv = prepare_video(str(_archery()), movinet)
    assert pv.array.shape == (1, 50, 3, 172, 172)


@pytest.mark.parametrize("module", ["tsn_kinetics400", "pptsn_kinetics400"])
def test_tsn_family_predict_input_equals_paddlevideo(module):
    entry = _stats()["ppTSN_or_TSN_helper(example.avi)"]
    pv = prepare_video(str(_archery()), load_card(REPO / "modules" / module).preprocess)
    assert pv.indices.reshape(-1).tolist() == entry["frames_idx"]
    assert pv.array.shape == tuple(entry["shape"])
    assert _sha1(pv.array) == entry["sha1_float32"]
    assert float(pv.array.mean()) == pytest.approx(entry["mean"], rel=1e-6)


def test_slowfast_predict_input_is_paddlevideo_up_to_its_random_crop():
    """PaddleVideo's SlowFast predictor crops 256x256 at a random x; the card uses MultiCrop's deterministic
    middle view. Everything else (indices, scale, normalisation, slow pathway) must be exact: the reference
    tensors must equal our scaled frames cropped at exactly one x offset."""
    stats = _stats()
    card = load_card(REPO / "modules" / "slowfast_kinetics400")
    spec = card.preprocess
    pv = prepare_video(str(_archery()), spec)
    slow_ref, fast_ref = (stats[f"SlowFast_helper(example.avi) {k}"] for k in ("slow", "fast"))
    assert [a.shape for a in pv.arrays] == [tuple(slow_ref["shape"]), tuple(fast_ref["shape"])]
    # DecodeSampler(32, sampling_rate 2, target_fps 30), test mode, clip 0 of 1, on 25 fps / 131 frames
    n, fps = pv.info.num_frames, pv.info.fps
    expected = np.clip(np.linspace(0, 32 * 2 * fps / 30 - 1, 32).astype(np.int64), 0, n)
    assert pv.indices.reshape(-1).tolist() == expected.tolist()
    # PackOutput: slow = fast frames linspace(0, 31, 4) = [0, 10, 20, 31]
    np.testing.assert_array_equal(pv.arrays[0], pv.arrays[1][:, :, [0, 10, 20, 31]])

    frames = np.stack([transforms.scale_frame(f, spec.scale_mode, spec.scale_size, spec.resize_backend)
                       for f in _decode(_archery(), pv.indices.reshape(-1))])
    assert frames.shape[1:3] == (256, 341)  # JitterScale(256): 320x240 -> 341x256
    matches = []
    for x in range(frames.shape[2] - 256 + 1):
        crop = transforms.normalize(frames[:, :, x:x + 256], spec.mean, spec.std)
        fast = transforms.to_layout(crop, "CTHW")[None]
        if abs(float(fast.mean()) - fast_ref["mean"]) < 1e-5 and _sha1(fast) == fast_ref["sha1_float32"]:
            slow = np.ascontiguousarray(fast[:, :, [0, 10, 20, 31]])
            assert _sha1(slow) == slow_ref["sha1_float32"]
            matches.append(x)
    assert len(matches) == 1, matches
    # our deterministic crop is MultiCrop's middle test view: x = ceil((341 - 256) / 2)
    np.testing.assert_array_equal(
        pv.arrays[1], transforms.to_layout(transforms.normalize(frames[:, :, 43:299], spec.mean, spec.std),
                                           "CTHW")[None])


def _decode(path: Path, indices: np.ndarray) -> list:
    from videohub.io.reader import open_video

    with open_video(str(path)) as reader:
        return reader.get_frames(indices)


def test_test_variants_views():
    """The accuracy-table pipelines: TSN/PP-TSN 25 x TenCrop on the aspect-kept scale, PP-TSM dense 10 clips x
    3 crops (GroupFullResSample), SlowFast 10 clips x 3 crops (MultiCrop)."""
    clip = str(_archery())
    for module in ("tsn_kinetics400", "pptsn_kinetics400"):
        spec = load_card(REPO / "modules" / module).preprocess_for("test")
        assert (spec.scale_mode, spec.crop, spec.views) == ("short_side_round", "ten", "time")
    pv = prepare_video(clip, load_card(REPO / "modules" / "tsn_kinetics400").preprocess_for("test"))
    assert pv.array.shape == (1, 250, 3, 224, 224)

    dense = load_card(REPO / "modules" / "pptsm_kinetics400").preprocess_for("dense")
    pv = prepare_video(clip, dense)
    assert pv.array.shape == (1, 240, 3, 224, 224)
    n = pv.info.num_frames  # PaddleVideo dense test: starts linspace(0, n - 64, 10), stride 64 // 8
    starts = np.linspace(0, max(1, 1 + n - 64) - 1, num=10, dtype=int)
    assert pv.indices.tolist() == [[(s + 8 * j) % n for j in range(8)] for s in starts]

    sf = load_card(REPO / "modules" / "slowfast_kinetics400").preprocess_for("test")
    idx = sample_indices(sf.sampler, 300, 30.0)
    assert idx.shape == (10, 32) and idx[0, 0] == 0 and idx[-1, -1] <= 299
    frames = np.zeros((2, 256, 341, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(341, dtype=np.uint8)[None, None, :]
    xs = [int(v[0, 0, 0, 0]) for v in transforms.multi_crop(frames, 256)]
    assert xs == [0, 43, 85]  # MultiCrop test mode: 0, ceil(85 / 2), 341 - 256
    xs = [int(v[0, 0, 0, 0]) for v in transforms.full_res_crop(frames[:, :, :, :], 224)]
    assert xs == [0, 116, 58]  # GroupFullResSample: 0, 4 * step, 2 * step with step = 117 // 4


# ------------------------------------------------------------------------------------------- weights
@pytest.mark.parametrize("module", list(MODELS))
def test_module_without_weights_names_fetch_weights(module, tmp_path):
    bare = _bare_copy(module, tmp_path)
    with pytest.raises(WeightsNotFoundError, match=f"fetch_weights.py {module}"):
        _hub_module(bare)


def test_download_failure_is_clear(fetch_weights, tmp_path, capsys):
    module_dir = _bare_copy("tsm_kinetics400", tmp_path / "modules")
    card = json.loads((module_dir / "card.json").read_text())
    assert card["weights"]["source"]["url"].startswith("https://videotag.bj.bcebos.com/")
    card["weights"]["source"] = {"kind": "url", "url": "http://127.0.0.1:9/x.pdparams", "filename": "x.pdparams"}
    (module_dir / "card.json").write_text(json.dumps(card))
    rc = fetch_weights.main(["tsm_kinetics400", "--modules-dir", str(tmp_path / "modules"),
                             "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "could not download http://127.0.0.1:9/x.pdparams" in err and "--from FILE" in err
    assert not (module_dir / "weights").exists()


def test_import_rejects_checkpoint_with_wrong_keys(fetch_weights, installed, tmp_path, capsys):
    import pickle

    _, ckpt, _ = installed("tsm_kinetics400", 0)
    state = read_pdparams(ckpt)
    dropped = "backbone.res3a.conv1._conv.weight"
    state.pop(dropped)
    state["head.extra.weight"] = np.zeros(3, np.float32)
    bad = tmp_path / "bad.pdparams"
    with open(bad, "wb") as f:
        pickle.dump(state, f, protocol=4)
    module_dir = _bare_copy("tsm_kinetics400", tmp_path / "modules")
    before = (module_dir / "card.json").read_text()
    rc = fetch_weights.main(["tsm_kinetics400", "--from", str(bad), "--modules-dir", str(tmp_path / "modules")])
    err = capsys.readouterr().err
    assert rc == 1 and dropped in err and "head.extra.weight" in err
    assert (module_dir / "card.json").read_text() == before  # nothing recorded for a refused file
    assert not (module_dir / "weights" / "meta.json").exists()


# ------------------------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("module", ["tsm_kinetics400", "slowfast_kinetics400", "pptsmv2_kinetics400",
                                    "movinet_kinetics400"])
def test_classify_real_clip_with_generated_checkpoint(module, installed):
    """Random-weight checkpoints say nothing about the label; this checks the path from a real file through
    the card's pipeline and the exported predictor (two inputs for SlowFast) to five labels."""
    module_dir, _, _ = installed(module, 0)
    m = _loaded(module_dir)
    out = m.classify(paths=[str(_archery())])
    assert len(out) == 1 and "error" not in out[0], out
    pred = out[0]["prediction"]
    assert len(pred) == 5 and all(isinstance(v, float) for v in pred.values())
    assert list(pred.values()) == sorted(pred.values(), reverse=True)
    pv = prepare_video(str(_archery()), m.card.preprocess)
    scores = m.predictor().run(*pv.arrays)[m.card.score_output]
    assert np.isfinite(scores).all()
    probs = scores[0] if m.card.activation == "none" else np.exp(scores[0] - scores[0].max())
    top = [m.labels[i] for i in np.argsort(-probs, kind="stable")[:5]]
    assert list(pred) == top
