import hashlib
import json

import numpy as np
import pytest

from conftest import shared_path
from videohub.io import transforms
from videohub.card import PreprocessSpec, SamplerSpec
from videohub.io.preprocess import prepare_video

PPTSM_PREDICT = PreprocessSpec(sampler=SamplerSpec(type="segments", num_segments=8), scale_mode="fixed_ratio",
                               scale_size=256, resize_backend="pil", crop="center", crop_size=224, layout="TCHW")
TSN_PREDICT = PreprocessSpec(sampler=SamplerSpec(type="segments", num_segments=25, select_left=True),
                             scale_mode="fixed_ratio", scale_size=256, resize_backend="cv2", crop="ten",
                             crop_size=224, layout="TCHW", views="time")


def test_fixed_ratio_and_short_side_sizes():
    assert transforms.fixed_ratio_size(320, 240, 256) == (341, 256)
    assert transforms.fixed_ratio_size(144, 256, 256) == (256, 341)  # portrait keeps 4:3 portrait
    assert transforms.short_side_size(340, 256, 256) == (340, 256)
    assert transforms.short_side_size(454, 256, 128) == (227, 128)
    assert transforms.short_side_size(1920, 1080, 256) == (455, 256)
    assert transforms.short_side_size(1920, 1080, 256, do_round=True) == (455, 256)


def test_center_crop_rounds_half_to_even_like_paddlevideo():
    frames = np.arange(1 * 256 * 341 * 3, dtype=np.int64).reshape(1, 256, 341, 3)
    crop = transforms.center_crop(frames, 224)
    # (341-224)/2 = 58.5 -> 58, (256-224)/2 = 16
    assert crop[0, 0, 0, 0] == frames[0, 16, 58, 0]
    with pytest.raises(ValueError):
        transforms.center_crop(frames[:, :100], 224)


def test_ten_crop_order_and_flip():
    frames = np.random.default_rng(0).integers(0, 255, (2, 240, 320, 3), dtype=np.uint8)
    views = transforms.ten_crop(frames, 224)
    assert len(views) == 10
    np.testing.assert_array_equal(views[1], views[0][:, :, ::-1])
    np.testing.assert_array_equal(views[0], frames[:, :224, :224])
    np.testing.assert_array_equal(views[8], frames[:, 8:232, 48:272])  # centre = 2 * step


def test_normalize_divides_then_standardises():
    x = np.full((1, 2, 2, 3), 255, np.uint8)
    out = transforms.normalize(x, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    np.testing.assert_allclose(out, 2.0)
    assert out.dtype == np.float32


@pytest.mark.parametrize("layout", ["TCHW", "CTHW", "THWC"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_normalizing_in_the_network_layout_is_bit_exact(layout, dtype):
    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 256, (5, 9, 11, 3)) + (0.37 if dtype == np.float32 else 0)).astype(dtype)
    crop = frames[:, 1:8, 2:9]  # a view, as the crops are
    mean, std, divisor = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 255.0
    want = transforms.to_layout(transforms.normalize(crop, mean, std, divisor), layout)
    got = transforms.normalized_layout(crop, mean, std, divisor, layout)
    assert got.dtype == np.float32 and got.shape == want.shape and got.flags.c_contiguous
    assert np.array_equal(got, want)


def test_pptsm_predict_input_equals_paddlevideo_reference():
    """The PP-TSM/TSM predictor input for the archery clip, float16-exact (bit-exact in float32)."""
    clip = shared_path("data", "samples", "paddlevideo_example_archery.avi")
    ref = np.load(shared_path("data", "preprocess", "ref_pptsm_input_example_avi_f16.npy"))
    stats = json.loads(shared_path("data", "preprocess", "reference_preprocess_stats.json").read_text())
    entry = stats["ppTSM_or_TSM_helper(example.avi)"]
    for backend in ("opencv", "pyav", "decord"):
        pv = prepare_video(str(clip), PPTSM_PREDICT, backend)
        assert pv.array.shape == tuple(entry["shape"]) == ref.shape
        assert pv.indices.reshape(-1).tolist() == entry["frames_idx"]
        np.testing.assert_array_equal(pv.array.astype(np.float16), ref)
        assert hashlib.sha1(pv.array.tobytes()).hexdigest() == entry["sha1_float32"]


def test_tsn_predict_input_equals_paddlevideo_reference():
    clip = shared_path("data", "samples", "paddlevideo_example_archery.avi")
    stats = json.loads(shared_path("data", "preprocess", "reference_preprocess_stats.json").read_text())
    entry = stats["ppTSN_or_TSN_helper(example.avi)"]
    pv = prepare_video(str(clip), TSN_PREDICT)
    assert pv.indices.reshape(-1).tolist() == entry["frames_idx"]
    assert pv.array.shape == tuple(entry["shape"])
    assert hashlib.sha1(pv.array.tobytes()).hexdigest() == entry["sha1_float32"]
