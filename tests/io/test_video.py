"""Reader: sparse decoding equals sequential decoding; every bad input raises its specific error."""
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from synthetic import decoded_index, write_pyav_video, write_video, write_video_with_sound
from videohub import errors
from videohub.card import PreprocessSpec, SamplerSpec
from videohub.io.preprocess import prepare_video
from videohub.io.files import input_file, list_videos
from videohub.io.reader import FALLBACK_ORDER, backends, open_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("v") / "clip.mp4", num_frames=50, size=(64, 48))


@pytest.mark.parametrize("backend", [b for b in FALLBACK_ORDER if b in backends()])
def test_info_and_sparse_frames(clip, backend):
    with open_video(clip, backend) as r:
        assert (r.info.num_frames, r.info.width, r.info.height) == (50, 64, 48)
        assert r.info.fps == pytest.approx(25.0)
        assert r.info.duration == pytest.approx(2.0)
        wanted = [49, 3, 3, 20, 0, 48]  # any order, repeats
        frames = r.get_frames(wanted)
    assert [decoded_index(f) for f in frames] == wanted
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in frames)


def test_transform_runs_per_frame_after_decode(clip):
    with open_video(clip) as r:
        frames = r.get_frames([1, 2], transform=lambda f: f[::2, ::2])
    assert frames[0].shape == (24, 32, 3)


def test_opencv_seek_matches_sequential_decoding_on_a_long_gop(tmp_path):
    path = write_video(tmp_path / "long.avi", num_frames=58, fourcc="MJPG", size=(32, 32))
    with open_video(path) as r:
        seq = r.get_frames(list(range(58)))
    with open_video(path) as r:
        sparse = r.get_frames([57, 1, 30, 2])
    for i, f in zip([57, 1, 30, 2], sparse):
        np.testing.assert_array_equal(f, seq[i])


def test_missing_directory_empty_text_url(tmp_path):
    with pytest.raises(errors.InputNotFoundError):
        open_video(tmp_path / "nope.mp4")
    with pytest.raises(errors.NotAFileError):
        open_video(tmp_path)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(errors.EmptyFileError):
        open_video(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("This is not an mp4 file\n" * 20)
    with pytest.raises(errors.VideoOpenError):
        open_video(text)
    with pytest.raises(errors.UnsupportedInputError):
        open_video("http://127.0.0.1:9/clip.mp4")


def test_uploaded_bytes_errors_name_the_input_not_the_temporary_file():
    seen = []
    with pytest.raises(errors.VideoOpenError) as info:
        with input_file("video_0", data=b"these bytes are not a video") as path:
            seen.append(path)
            with open_video(path, "opencv"):
                pass
    assert seen and seen[0] not in str(info.value) and "video_0" in str(info.value)


def test_truncated_video_is_an_error_not_a_silent_substitute(tmp_path):
    whole = write_video(tmp_path / "whole.avi", num_frames=60, fourcc="MJPG", size=(64, 48))
    data = whole.read_bytes()
    spec = PreprocessSpec(sampler=SamplerSpec(type="segments", num_segments=8), scale_mode="short_side",
                          scale_size=48, crop="center", crop_size=32, min_frames=8)
    outcomes = []
    for fraction in (0.02, 0.3, 0.6, 0.9):
        cut = tmp_path / f"cut_{fraction}.avi"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(errors.VideoHubError) as info:
            prepare_video(str(cut), spec)
        outcomes.append(type(info.value).__name__)
    assert set(outcomes) <= {"VideoOpenError", "TruncatedVideoError", "NoVideoFramesError"}
    assert "TruncatedVideoError" in outcomes


def test_audio_only_file_has_no_video_frames(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "audio_only.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        samples = np.zeros((1, 16000), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    for backend in ("opencv", "pyav"):
        with pytest.raises((errors.NoVideoFramesError, errors.VideoOpenError)):
            open_video(path, backend)


def test_too_few_frames_for_the_model(tmp_path):
    one = write_video(tmp_path / "one.mp4", num_frames=1)
    spec = PreprocessSpec(sampler=SamplerSpec(type="segments", num_segments=8), scale_mode="short_side",
                          scale_size=48, crop="center", crop_size=32, min_frames=8)
    with pytest.raises(errors.TooFewFramesError, match="1 frames"):
        prepare_video(str(one), spec)
    five = write_video(tmp_path / "five.mp4", num_frames=5)
    with pytest.raises(errors.TooFewFramesError):
        prepare_video(str(five), spec)


def test_list_videos_filters_and_sorts(tmp_path):
    for name in ("b.mp4", "a.AVI", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.mp4").mkdir()
    assert [Path(p).name for p in list_videos(tmp_path)] == ["a.AVI", "b.mp4"]


def _avi_with_empty_slots(path, shown_at=(0, 3, 6, 9, 12, 15, 18, 21, 24, 29)):
    """An AVI of 30 frame slots at 10 fps holding pictures only at `shown_at` (picture k is flat grey k*25):
    FFmpeg's AVI muxer fills the timestamp gaps with empty "drop" chunks, as old capture tools did."""
    pytest.importorskip("av")
    frames = [np.full((48, 64, 3), k * 25, np.uint8) for k in range(len(shown_at))]
    return write_pyav_video(path, frames, rate=10, pts=list(shown_at), time_base=Fraction(1, 10))


def test_empty_frame_slots_are_not_truncation_and_backends_agree(tmp_path):
    """An AVI with empty frame slots holds 10 pictures over 3 s: every backend counts the pictures (from the
    frame index, not the 30 header slots), returns picture k for index k, and spans the real duration; the
    same file cut short is still reported as truncated."""
    path = _avi_with_empty_slots(tmp_path / "slots.avi")
    wanted = [0, 1, 3, 4, 7, 9]
    for backend in ("opencv", "pyav", "decord"):
        with open_video(path, backend) as r:
            assert r.info.num_frames == 10 and r.info.duration == pytest.approx(3.0)
            frames = r.get_frames(wanted)
            assert [int(round(f.mean() / 25)) for f in frames] == wanted, backend
            assert [int(round(f.mean() / 25)) for f in r.get_frames([2, 9])] == [2, 9]  # later calls too
    cut = tmp_path / "slots_cut.avi"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises((errors.TruncatedVideoError, errors.VideoOpenError)):
        with open_video(cut) as r:
            r.get_frames([0, 29])


@pytest.mark.parametrize("suffix,video_codec,audio_codec", [
    (".mkv", "mpeg4", "aac"), (".webm", "libvpx-vp9", "libopus"), (".mp4", "mpeg4", "aac"), (".mov", "mpeg4", "pcm_s16le")])
def test_sound_before_and_past_the_pictures_is_not_truncation(tmp_path, suffix, video_codec, audio_codec):
    """Pictures from 0.5 s to 1.5 s, sound from 0 to 3 s: the container's length (3 s, every stream) says
    nothing of the pictures' end; the file is whole. Cut short, a Matroska/WebM file is still refused."""
    src = write_video_with_sound(tmp_path / f"v{suffix}", audio_codec, video_start=0.5, video_end=1.5,
                                 seconds=3.0, video_codec=video_codec, video_options={"crf": "20", "b": "0"})
    with open_video(str(src)) as reader:
        assert reader.info.num_frames == 25 and reader.info.duration == pytest.approx(1.0, abs=0.05)
    if suffix in (".mkv", ".webm"):
        cut = tmp_path / f"cut{suffix}"
        data = src.read_bytes()
        cut.write_bytes(data[: len(data) // 3])
        with pytest.raises(errors.TruncatedVideoError):
            open_video(str(cut)).close()

