"""Bad and odd inputs, each made here: every one gets its documented outcome, in one batch whose good inputs still
succeed, and nothing crashes the process. scripts/check_videos.py classifies the same files."""
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, load_script
from synthetic import write_pyav_video, write_video
from videohub.weights import weights_installed

MODULE_DIR = REPO / "modules" / "i3d_kinetics400"
pytestmark = pytest.mark.skipif(not weights_installed(MODULE_DIR), reason="I3D weights not installed")
av = pytest.importorskip("av")

PRED = "prediction"


def _pyav_video(path, n=20, size=(64, 48), pts=None, rotate=None, faststart=False, gray=False):
    """A moving bar, mpeg4 in mp4 via PyAV; `pts` (ms) for variable frame rate, `rotate` clockwise degrees."""
    frames = []
    for i in range(n):
        img = np.zeros((size[1], size[0], 3), np.uint8)
        img[:, (i * 3) % size[0]:(i * 3) % size[0] + max(size[0] // 8, 1)] = (128, 128, 128) if gray \
            else (255, 200, 50)
        frames.append(img)
    return write_pyav_video(path, frames, pts=pts, time_base=Fraction(1, 1000), rotate=rotate,
                            options={"movflags": "faststart"} if faststart else None)


def _audio_only(path):
    with av.open(str(path), "w") as c:
        st = c.add_stream("aac", rate=16000)
        for k in range(10):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 16000, k * 1024
            for pkt in st.encode(fr):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    return path


def _cut(src, dst, fraction):
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[:int(len(data) * fraction)])
    return dst


# name -> (how to make it in folder d, expected outcome: "prediction" or the error type)
def _cases(d):
    good = write_video(d / "good.mp4", num_frames=20, size=(64, 48), pattern="bar")
    fast = _pyav_video(d / "faststart.mp4", n=40, faststart=True)
    (d / "folder.mp4").mkdir()
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("this is not a video\n" * 100)
    return {
        "good": (good, PRED),
        "missing": (d / "missing.mp4", "InputNotFoundError"),
        "directory": (d / "folder.mp4", "NotAFileError"),
        "empty file": (d / "empty.mp4", "EmptyFileError"),
        "text named .mp4": (d / "text.mp4", "VideoOpenError"),
        "mp4 cut at 3% (moov at end)": (_cut(good, d / "cut03.mp4", 0.03), "VideoOpenError"),
        "mp4 cut at 60% (moov at end)": (_cut(good, d / "cut60.mp4", 0.6), "VideoOpenError"),
        "faststart mp4 cut at 50%": (_cut(fast, d / "fcut50.mp4", 0.5), "TruncatedVideoError"),
        "faststart mp4 cut at 95%": (_cut(fast, d / "fcut95.mp4", 0.95), "TruncatedVideoError"),
        # the frame index sees the audio stream and no video stream, whatever the backend
        "audio only": (_audio_only(d / "audio_only.mp4"), "NoVideoFramesError"),
        "one frame": (write_video(d / "one.mp4", num_frames=1), "TooFewFramesError"),
        "5 frames (< min_frames 9)": (write_video(d / "five.mp4", num_frames=5), "TooFewFramesError"),
        "10 frames (< 64-frame clip)": (write_video(d / "ten.mp4", num_frames=10, pattern="bar"), PRED),
        "16x16": (write_video(d / "tiny.mp4", num_frames=20, size=(16, 16), pattern="bar"), PRED),
        "portrait 48x96": (write_video(d / "portrait.mp4", num_frames=20, size=(48, 96), pattern="bar"), PRED),
        "grayscale": (write_video(d / "gray.avi", num_frames=20, fourcc="MJPG", color=False, pattern="bar"), PRED),
        "variable frame rate": (_pyav_video(d / "vfr.mp4", n=30, pts=[int(1000 * (t + 0.5 * np.sin(t)))
                                                                       for t in np.arange(30) * 0.07]), PRED),
        "rotation metadata 90": (_pyav_video(d / "rotated.mp4", n=20, rotate=90), PRED),
        "unicode and spaces": (write_video(d / "vidéo de test ü 動画.mp4", num_frames=20, pattern="bar"), PRED),
        "http URL": ("http://127.0.0.1:9/video.mp4", "UnsupportedInputError"),
    }


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return _cases(tmp_path_factory.mktemp("bad inputs"))


@pytest.fixture(scope="module")
def module():
    import paddlehub as hub

    return hub.Module(directory=str(MODULE_DIR))


def test_every_input_gets_its_documented_outcome_in_one_batch(module, cases):
    names = list(cases)
    results = module.classify(paths=[str(cases[n][0]) for n in names], top_k=2, batch_size=2)
    assert len(results) == len(names)
    got = {}
    for n, r in zip(names, results):
        assert r["path"] == str(cases[n][0])
        got[n] = PRED if PRED in r else r["error"]["type"]
        if PRED in r:
            assert len(r[PRED]) == 2 and all(0.0 <= p <= 1.0 for p in r[PRED].values())
        else:
            assert r["error"]["message"]
    assert got == {n: expect for n, (_, expect) in cases.items()}
    print("\n" + "\n".join(f"| {n} | {got[n]} |" for n in names))


def test_rotation_metadata_is_applied(cases):
    """A 64x48 video rotated 90 degrees clockwise by its metadata decodes upright as 48 wide x 64 high, the same
    with OpenCV and PyAV; asked of decord (which cannot), another backend reads it and says why."""
    from videohub.errors import VideoOpenError
    from videohub.io.backends.opencv_reader import opencv_rotation
    from videohub.io.reader import open_video

    path = str(cases["rotation metadata 90"][0])
    assert opencv_rotation(path) == 90
    frames = {}
    for backend in ("opencv", "pyav"):
        with open_video(path, backend) as r:
            assert (r.info.width, r.info.height) == (48, 64)
            frames[backend] = r.get_frames([3])[0].astype(int)
    assert frames["opencv"].shape == (64, 48, 3)
    # The bar is a vertical stripe in the stored frame, so it must be horizontal once upright.
    assert np.abs(frames["opencv"] - frames["pyav"]).mean() < 8
    rows = frames["opencv"].mean(axis=(1, 2))
    assert rows.max() - rows.min() > 40 and frames["opencv"].mean(axis=(0, 2)).std() < rows.std() / 4
    pytest.importorskip("decord")
    with open_video(path, "decord") as r:
        assert r.name == "opencv" and "rotation" in r.fallback and (r.info.width, r.info.height) == (48, 64)
    with pytest.raises(VideoOpenError, match="rotation"):
        open_video(path, "decord", fallback=False)


def test_4k_input_memory_is_bounded(tmp_path):
    """Peak RSS growth of classifying a 4096x2160 video, in a fresh process after a warm-up on a small one."""
    big = write_video(tmp_path / "uhd.mp4", num_frames=10, size=(4096, 2160), pattern="bar")
    small = write_video(tmp_path / "small.mp4", num_frames=10, size=(64, 48), pattern="bar")
    code = ("import json, resource, paddlehub as hub\n"
            f"m = hub.Module(directory={str(MODULE_DIR)!r})\n"
            f"m.classify(paths=[{str(small)!r}])\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"r = m.classify(paths=[{str(big)!r}], top_k=1)\n"
            "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(json.dumps({'growth_mb': (after - before) / 1024, 'result': r}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert PRED in out["result"][0]
    # a decoded 4K RGB frame is 26 MB; 64 of them would be 1.7 GB. Sparse decoding + per-frame scaling keeps it
    # to a few frames.
    assert out["growth_mb"] < 300, out
    print(f"\n4K peak RSS growth: {out['growth_mb']:.0f} MB")


def test_check_videos_reports_each_file_without_crashing(cases, tmp_path):
    cv = load_script("check_videos")
    by_name = {n: cv.check_video(str(p)) for n, (p, _) in cases.items()}
    status = {n: r["status"] for n, r in by_name.items()}
    assert status["good"] == "ok"
    for n in ("missing", "directory", "empty file", "text named .mp4", "mp4 cut at 3% (moov at end)",
              "http URL"):
        assert status[n] == "unreadable", (n, by_name[n])
    assert status["audio only"] == "zero_frames"
    assert cv.check_video(str(cases["audio only"][0]), "pyav")["status"] == "zero_frames"
    assert status["faststart mp4 cut at 50%"] == "truncated"
    for n, word in [("16x16", "tiny"), ("portrait 48x96", "portrait"), ("grayscale", "grayscale"),
                    ("variable frame rate", "variable frame rate"),
                    ("one frame", "short")]:
        assert status[n] == "odd" and any(word in x for x in by_name[n]["reasons"]), (n, by_name[n])
    # the CLI over the folder: JSON out, exit status 1 because bad files are there
    folder = Path(cases["good"][0]).parent
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "check_videos.py"), str(folder), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    listed = {r["path"]: r["status"] for r in json.loads(proc.stdout)}
    assert listed[str(cases["good"][0])] == "ok" and listed[str(cases["empty file"][0])] == "unreadable"


def test_check_videos_agrees_with_classify(module, cases):
    """check_videos opens each file as classify does: a usable file classifies, each refusal is the same."""
    cv = load_script("check_videos")
    expected_status = {PRED: ("ok", "odd"), "TruncatedVideoError": ("truncated",),
                       "NoVideoFramesError": ("zero_frames",), "TooFewFramesError": ("ok", "odd")}
    names = [n for n in cases if n != "http URL"]
    results = module.classify(paths=[str(cases[n][0]) for n in names], top_k=1)
    for n, r in zip(names, results):
        outcome = PRED if PRED in r else r["error"]["type"]
        status = cv.check_video(str(cases[n][0]))["status"]
        assert status in expected_status.get(outcome, ("unreadable",)), (n, outcome, status)
