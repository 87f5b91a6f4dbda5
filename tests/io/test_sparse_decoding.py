"""Sparse decoding seeks only where a key frame lets it skip frames, and returns the same frames either way."""
from __future__ import annotations

import numpy as np
import pytest

from synthetic import decoded_index, index_frame, write_pyav_video
from videohub.io.reader import SEEK_THRESHOLD, open_video

NUM_FRAMES = 200


@pytest.fixture(scope="module", params=[1000, 50], ids=["one_gop", "key_every_50"])
def video(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("gop") / f"g{request.param}.mp4"
    frames = [index_frame(i, 64, 48) for i in range(NUM_FRAMES)]
    return write_pyav_video(path, frames, codec_options={"g": str(request.param), "sc_threshold": "1000000000"}), request.param


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_far_frames_read_on_unless_a_key_frame_lies_between(video, backend, monkeypatch):
    path, gop = video
    wanted = [5, 5 + SEEK_THRESHOLD + 20, 5 + 2 * (SEEK_THRESHOLD + 20), 190]  # gaps beyond the threshold
    with open_video(str(path), backend) as reader:
        assert [float(t) for t in reader.index.keyframes] == pytest.approx(
            [i / 25.0 for i in range(0, NUM_FRAMES, min(gop, NUM_FRAMES))])
        seeks = []
        real_seek = reader._seek
        monkeypatch.setattr(reader, "_seek", lambda seconds: (seeks.append(seconds), real_seek(seconds))[1])
        frames = reader.get_frames(wanted)
    assert [decoded_index(f) for f in frames] == wanted
    if gop > NUM_FRAMES:  # one key frame: after the first frame, every seek would decode from frame 0 again
        assert len(seeks) <= 1
    elif reader.seek_backoff_frames:  # OpenCV: a seek to key frame k decodes from key frame k - 50, never past
        assert [s for s in seeks if s is not None] == []  # the frames already decoded: reading on is cheaper
    else:  # a key frame in each gap: seeking skips the frames before it
        assert len(seeks) >= 2
        assert all(s is None or s in reader.index.keyframes for s in seeks)
    with open_video(str(path), backend) as reader:  # the frames a sequential decode gives at those places
        every = reader.get_frames(np.arange(NUM_FRAMES))
    for i, f in zip(wanted, frames):
        assert np.array_equal(f, every[i])


def test_a_seek_that_backs_off_is_taken_only_where_it_starts_past_the_cursor(video, monkeypatch):
    """OpenCV's seek starts decoding at the key frame before the asked one minus 16 frames: with a key frame
    every 50, a gap of two groups is worth a seek (it decodes from the key frame before), one group is not."""
    path, gop = video
    if gop > NUM_FRAMES:
        pytest.skip("needs several key frames")
    with open_video(str(path), "opencv") as reader:
        assert reader.seek_backoff_frames == 16
        seeks = []
        real_seek = reader._seek
        monkeypatch.setattr(reader, "_seek", lambda seconds: (seeks.append(seconds), real_seek(seconds))[1])
        frames = reader.get_frames([5, 125, 190])
    assert [decoded_index(f) for f in frames] == [5, 125, 190]
    # None: back to the start after the end check; 125: starts at key frame 50 > cursor 6; 190: at 100 < 126
    assert seeks == [None, pytest.approx(100 / 25.0)]

