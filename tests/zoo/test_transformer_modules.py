"""TimeSformer and VideoSwin modules end to end: a seed-0 checkpoint imported with `fetch_weights.py --from` into a
temporary copy of the module, its exported predictor against the original implementation's outputs, `classify` on
a real clip; and the cards' pipelines against PaddleVideo's, rebuilt here from the step list in the reference
JSON's `preprocess` field (independent code: PyAV decoding, paddle's bilinear `interpolate`, the sampler formulas
written out)."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from conftest import REPO, load_script, make_reference_checkpoint, rel_err, shared_path
from test_kinetics_modules import _bare_copy
from videohub.card import load_card
from videohub.io.preprocess import prepare_video

MODELS = {  # module -> (reference model, manifest, reference input specs)
    "timesformer_kinetics400": ("timesformer_vitb", "timesformer_vitb_state_dict.tsv", ["imgs=1x3x8x224x224"]),
    "videoswin_kinetics400": ("videoswin_s", "videoswin_s_state_dict.tsv", ["imgs=1x3x32x224x224"]),
}
TOL = 1e-4
PIXEL_TOL = 1e-4  # the card's tensor vs PaddleVideo's steps: float rounding only


def _archery():
    return shared_path("data", "samples", "paddlevideo_example_archery.avi")


def _decode_all(path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.fixture(scope="module", params=list(MODELS))
def installed(request, reference_tool, tmp_path_factory):
    import paddlehub as hub

    module = request.param
    model, manifest, specs = MODELS[module]
    root = tmp_path_factory.mktemp(module)
    ckpt = root / f"{model}_seed0.pdparams"
    inputs = make_reference_checkpoint(reference_tool, manifest, 0, ckpt, specs)
    module_dir = _bare_copy(module, root / "modules")
    assert load_script("fetch_weights").main([module, "--from", str(ckpt), "--modules-dir", str(root / "modules")]) == 0
    return module, hub.Module(directory=str(module_dir)), inputs


def test_imported_module_matches_the_original_and_classifies_a_clip(installed):
    module, m, inputs = installed
    ref = np.load(shared_path("data", "reference_outputs", f"{MODELS[module][0]}_seed0.npz"))
    outs = m.predictor().run(inputs["imgs"])
    expected = {k[len("output_"):]: ref[k] for k in ref.files if k.startswith("output_")}
    assert len(outs) == len(expected)
    for out, name in zip(outs, expected):  # the export keeps the network's output order
        err = rel_err(out, expected[name])
        assert err < TOL, f"{module}/{name}: rel err {err:.3g}"
    result = m.classify(paths=[str(_archery())])[0]
    assert "error" not in result and len(result["prediction"]) == 5, result
    probs = list(result["prediction"].values())
    assert probs == sorted(probs, reverse=True) and all(0.0 <= p <= 1.0 for p in probs)


def test_timesformer_pipeline_is_paddlevideos():
    spec = load_card(REPO / "modules" / "timesformer_kinetics400").preprocess
    frames = _decode_all(_archery())
    n = len(frames)
    import av

    with av.open(str(_archery())) as c:
        fps = float(c.streams.video[0].average_rate)
    clip_size = 32 * 8 / 30 * fps
    idx = np.clip(np.linspace(0, clip_size - 1, 8), 0, n - 1).astype(np.int64)
    x = ((frames[idx].astype(np.float64) / 255.0 - 0.45) / 0.225).astype(np.float32)   # Normalization
    x = paddle.to_tensor(x.transpose(3, 0, 1, 2))                                        # Image2Array cthw
    c, t, h, w = x.shape
    if min(h, w) != 224:                                                                # JitterScale
        size = (224, int(np.floor(w / h * 224))) if h < w else (int(np.floor(h / w * 224)), 224)
        x = paddle.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
    x = x.numpy()
    h, w = x.shape[-2:]
    step = (max(h, w) - 224) // 2                                                       # UniformCrop
    views = [x[..., o:o + 224, :] if h > w else x[..., :, o:o + 224] for o in (0, 2 * step, step)]
    views = [v[..., (v.shape[-2] - 224) // 2:(v.shape[-2] - 224) // 2 + 224,
               (v.shape[-1] - 224) // 2:(v.shape[-1] - 224) // 2 + 224] for v in views]
    expected = np.stack(views)                                                          # [3 views, 3, 8, 224, 224]
    got = prepare_video(str(_archery()), spec)
    # the SlowFast-style sampler clips to n (PaddleVideo's SlowFast does), the reader reads n as n - 1
    assert np.minimum(got.indices.reshape(-1), n - 1).tolist() == idx.tolist()
    assert got.array.shape == expected.shape
    assert float(np.abs(got.array - expected).max()) < PIXEL_TOL


@pytest.mark.parametrize("variant", [None, "test"])
def test_videoswin_pipeline_is_paddlevideos(variant):
    import cv2

    card = load_card(REPO / "modules" / "videoswin_kinetics400")
    spec = card.preprocess_for(variant)
    frames = _decode_all(_archery())
    n = len(frames)
    clips, short = (1, 256) if variant is None else (4, 224)
    avg = (n - 64 + 1) / clips                                                          # Sampler, test mode
    starts = (np.arange(clips) * avg + avg / 2).astype(np.int64) if avg > 0 else np.zeros(clips, np.int64)
    idx = (starts[:, None] + 2 * np.arange(32)[None, :]) % n
    views = []
    for clip in idx:
        h, w = frames.shape[1:3]
        factor = short / min(h, w)                                                      # Scale, do_round
        size = (int(w * factor + 0.5), int(h * factor + 0.5))
        scaled = np.stack([cv2.resize(frames[i], size, interpolation=cv2.INTER_LINEAR) for i in clip])
        H, W = scaled.shape[1:3]
        if variant is None:                                                             # CenterCrop
            x0, y0 = int(round((W - 224) / 2)), int(round((H - 224) / 2))
            crops = [scaled[:, y0:y0 + 224, x0:x0 + 224]]
        else:                                                                           # UniformCrop
            step = (max(H, W) - 224) // 2
            crops = [scaled[:, (H - 224) // 2:(H - 224) // 2 + 224, o:o + 224] if W >= H
                     else scaled[:, o:o + 224, (W - 224) // 2:(W - 224) // 2 + 224] for o in (0, 2 * step, step)]
        mean, std = np.array([123.675, 116.28, 103.53], np.float32), np.array([58.395, 57.12, 57.375], np.float32)
        views += [((c.astype(np.float32) - mean) * (1.0 / std)).transpose(3, 0, 1, 2) for c in crops]
    expected = np.stack(views)
    got = prepare_video(str(_archery()), spec)
    assert got.indices.tolist() == idx.tolist()
    assert got.array.shape == expected.shape
    assert float(np.abs(got.array - expected).max()) < PIXEL_TOL
