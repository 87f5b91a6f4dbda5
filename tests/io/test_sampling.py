import numpy as np
import pytest

from videohub.io import sampling


def test_segments_center_formula_matches_paddlevideo_example():
    # archery clip, 131 frames, 8 segments (PP-TSM / TSM predictor): reference §3
    assert sampling.segment_indices(131, 8).tolist() == [7, 23, 39, 55, 71, 87, 103, 119]


def test_segments_left_formula_matches_paddlevideo_example():
    idx = sampling.segment_indices(131, 25, select_left=True).tolist()
    assert idx[:4] == [2, 7, 13, 18] and idx[-1] == 128 and len(idx) == 25


@pytest.mark.parametrize("n,t", [(131, 8), (300, 300), (1000, 7), (17, 8), (9, 8)])
def test_segments_center_general(n, t):
    avg = n // t
    expected = [((avg - 1) // 2 + i * avg) % n for i in range(t)]
    assert sampling.segment_indices(n, t).tolist() == expected


def test_segments_short_video_falls_back_to_i_and_wraps():
    assert sampling.segment_indices(5, 8).tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert sampling.segment_indices(5, 8, select_left=True).tolist() == [0] * 8


def test_segments_seg_len_consecutive_frames():
    # StNet-style 5 consecutive frames per segment
    idx = sampling.segment_indices(100, 4, seg_len=5).reshape(4, 5)
    assert (np.diff(idx, axis=1) == 1).all()
    assert idx[:, 0].tolist() == [12, 37, 62, 87]


def test_dense_clip_centered_and_resampled_in_time():
    idx = sampling.dense_clip_indices(131, 25.0, 64)
    assert idx.shape == (1, 64)
    assert (np.diff(idx[0]) == 1).all() and idx[0, 0] == 33  # (131 - 64) / 2 = 33.5, floored
    # a 50 fps video sampled at 25 fps takes every second frame
    idx50 = sampling.dense_clip_indices(500, 50.0, 64, target_fps=25.0)
    assert (np.diff(idx50[0]) == 2).all()


def test_dense_clip_loops_short_videos_and_spreads_clips():
    idx = sampling.dense_clip_indices(10, 25.0, 16)
    assert idx[0].tolist() == [i % 10 for i in range(16)]
    many = sampling.dense_clip_indices(300, 25.0, 32, num_clips=3)
    assert many[0, 0] == 0 and many[-1, -1] == 299 and many.shape == (3, 32)


def test_time_windows_cover_duration():
    w = sampling.time_windows(10.0, 4.0, 3.0)
    assert w[0] == (0.0, 4.0) and w[-1] == (6.0, 10.0)
    assert all(b - a == pytest.approx(4.0) for a, b in w)
    assert sampling.time_windows(2.0, 4.0, 1.0) == [(0.0, 2.0)]
    assert sampling.indices_in_window(25.0, 1.0, 2.0, 100).tolist() == list(range(25, 50))
