"""Annotated videos decoded back: frame count, size and rate as documented, and the overlay exactly where drawn."""
from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from synthetic import index_frame, write_video_with_sound
from videohub.io.preprocess import ArrayReader
from videohub.io.reader import open_video
from videohub.viz.draw import Overlay, paint_overlay
from videohub.viz.encode import VideoWriter, output_size, rate_fraction
from videohub.viz.overlays import classification_overlay, proposal_overlay, window_at
from videohub.viz.render import annotate_video


def frames_of(n: int, w: int, h: int) -> np.ndarray:
    """Frame i: its index as stripes on a mid-grey ground (the panel darkens every pixel it covers)."""
    out = np.stack([np.maximum(index_frame(i, w, h), 100) for i in range(n)])
    return out


def decode(path):
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(st)]
        return frames, st.average_rate, c.streams.audio


WINDOWED = {"path": "clip", "prediction": {"archery": 0.7, "bowling": 0.3},
            "windows": [{"start": 0.0, "end": 1.0, "prediction": {"archery": 0.9, "bowling": 0.1}},
                        {"start": 1.0, "end": 2.0, "prediction": {"bowling": 0.5, "archery": 0.5}}]}


def test_rates_sizes_and_formats():
    assert rate_fraction(25.0) == 25 and rate_fraction(23.976023976) == Fraction(24000, 1001)
    assert rate_fraction(29.97002997) == Fraction(30000, 1001)
    assert output_size(320, 240) == (320, 240) and output_size(1920, 1080, 640) == (640, 360)
    assert output_size(144, 256, 128) == (72, 128)
    with pytest.raises(ValueError, match=".mp4, .webm, .gif"):
        VideoWriter("x.avi", (64, 48), 25)


@pytest.mark.parametrize("suffix,codec,fps", [(".mp4", "h264", Fraction(24000, 1001)), (".webm", "vp9", 25),
                                              (".gif", "gif", 25)])
def test_written_video_reads_back_with_the_overlay_in_its_box(tmp_path, suffix, codec, fps):
    src = frames_of(50, 160, 120)
    out = tmp_path / f"annotated{suffix}"
    facts = annotate_video(ArrayReader(src, fps=float(fps)), out, classification_overlay(WINDOWED, top_k=2))
    assert facts["frames"] == 50 and (facts["width"], facts["height"]) == (160, 120) and facts["audio"] == "none"
    frames, rate, audio = decode(out)
    assert len(frames) == 50 and frames[0].shape == (120, 160, 3) and len(audio) == 0
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == codec
    if suffix != ".gif":                      # GIF stores centiseconds per frame: 25 fps is 4/100 s
        assert rate == fps
    tolerance = 6 if suffix == ".gif" else 12  # mean error of the lossy codecs outside the panel
    for i in (3, 30, 49):
        t = i / float(fps)
        expected, (x0, y0, x1, y1) = paint_overlay(src[i], classification_overlay(WINDOWED, 2)(t))
        got = frames[i].astype(int)
        outside = np.ones(got.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.abs(got - src[i])[outside].mean() < tolerance            # untouched outside the box
        assert np.abs(got - src[i])[~outside].mean() > 40                   # drawn inside it
        assert np.abs(got - expected)[~outside].mean() < 2 * tolerance      # ... with this window's panel


def test_labels_follow_the_windows(tmp_path):
    src = np.full((50, 96, 128, 3), 120, np.uint8)
    out = tmp_path / "w.mp4"
    annotate_video(ArrayReader(src, fps=25.0), out, classification_overlay(WINDOWED, top_k=2))
    frames, _, _ = decode(out)
    first, second = (paint_overlay(src[0], classification_overlay(WINDOWED, 2)(t))[0].astype(int)
                     for t in (0.5, 1.5))
    assert np.abs(first - second).mean() > 1           # the two windows' panels differ
    for i, frame in enumerate(frames):
        want = first if i < 25 else second
        other = second if i < 25 else first
        assert np.abs(frame.astype(int) - want).mean() < np.abs(frame.astype(int) - other).mean(), i


def test_window_choice_and_proposal_overlay():
    windows = [{"start": 0.0, "end": 4.0}, {"start": 2.0, "end": 6.0}, {"start": 4.0, "end": 8.0}]
    assert [window_at(windows, t)["start"] for t in (0.5, 2.9, 3.1, 5.5, 7.9, 9.0)] == [0, 0, 2, 4, 4, 4]
    result = {"duration": 10.0, "proposals": [{"segment": [0.0, 4.0], "score": 0.8},
                                              {"segment": [3.0, 9.0], "score": 0.5},
                                              {"segment": [5.0, 6.0], "score": 0.1}]}
    at = proposal_overlay(result, top_n=2)
    assert [r[0].split()[0] for r in at(3.5).rows] == ["#1", "#2"]
    assert [r[0].split()[0] for r in at(5.5).rows] == ["#2"]          # #3 is not among the top 2
    assert at(9.5).rows == () and "0 of top 2" in at(9.5).title


def test_file_input_odd_size_and_max_side(tmp_path):
    """A real file through a backend: odd sizes get one padded column, max_side scales down."""
    from synthetic import write_pyav_video

    src = write_pyav_video(tmp_path / "odd.mp4", list(frames_of(30, 97, 71)), rate=30)
    with open_video(src) as reader:
        facts = annotate_video(reader, tmp_path / "o.mp4", lambda t: Overlay("x"))
    frames, rate, _ = decode(tmp_path / "o.mp4")
    assert (facts["width"], facts["height"]) == (97, 71) and frames[0].shape == (72, 98, 3)
    assert len(frames) == 30 and rate == 30
    with open_video(src) as reader:
        annotate_video(reader, tmp_path / "s.webm", lambda t: Overlay("x"), max_side=48)
    frames, _, _ = decode(tmp_path / "s.webm")
    assert frames[0].shape == (36, 48, 3) and len(frames) == 30


def test_a_failed_write_leaves_no_file(tmp_path):
    def broken(t):
        raise RuntimeError("overlay failed")

    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError):
        annotate_video(ArrayReader(frames_of(10, 64, 48)), out, broken)
    assert not out.exists()


def decoded_sound(path):
    """(mono float samples, sample rate, codec) of a file's first audio stream."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        to_mono = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = [m.to_ndarray().reshape(-1) for f in c.decode(stream) for m in to_mono.resample(f)]
        return np.concatenate(chunks).astype(np.float64), rate, stream.codec_context.codec.canonical_name


def dominant_hz(samples, rate) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


@pytest.mark.parametrize("container,audio_codec,suffix,how,out_codec", [
    ("mp4", "aac", ".mp4", "copied (aac)", "aac"),
    ("mkv", "pcm_s16le", ".mp4", "encoded (aac from pcm_s16le)", "aac"),
    ("mp4", "aac", ".webm", "encoded (libopus from aac)", "opus"),
])
def test_the_sound_goes_along_from_the_first_picture_on(tmp_path, container, audio_codec, suffix, how, out_codec):
    src = write_video_with_sound(tmp_path / f"src.{container}", audio_codec, video_start=0.5)
    with open_video(src) as reader:
        assert reader.index.start == pytest.approx(0.5, abs=0.05)
        facts = annotate_video(reader, tmp_path / f"out{suffix}", lambda t: Overlay("x"))
    assert facts["audio"] == how
    sound, rate, codec = decoded_sound(tmp_path / f"out{suffix}")
    assert codec == out_codec
    # 1.5 s of pictures: the sound from the source's 0.5 s on (the 440 Hz part), as long as the pictures
    assert sound.size / rate == pytest.approx(1.5, abs=0.1)
    assert dominant_hz(sound[int(0.1 * rate):int(0.4 * rate)], rate) == pytest.approx(440, abs=15)
    assert np.abs(sound[int(0.1 * rate):]).mean() > 0.1  # the tone (amplitude 0.5), not silence


def test_gif_and_a_silent_source_say_there_is_no_sound(tmp_path):
    src = write_video_with_sound(tmp_path / "src.mp4", "aac", video_start=0.0, seconds=0.4)
    with open_video(src) as reader:
        assert annotate_video(reader, tmp_path / "o.gif", lambda t: Overlay("x"))["audio"] == "none (GIF holds no sound)"
    with open_video(src) as reader:
        assert annotate_video(reader, tmp_path / "o.mp4", lambda t: Overlay("x"), keep_audio=False)["audio"] == "none"
    from synthetic import write_pyav_video

    silent = write_pyav_video(tmp_path / "silent.mp4", list(frames_of(10, 64, 48)))
    with open_video(silent) as reader:
        facts = annotate_video(reader, tmp_path / "s.mp4", lambda t: Overlay("x"))
    assert facts["audio"] == "none (the source has no sound)" and len(decode(tmp_path / "s.mp4")[2]) == 0


def test_webm_is_written_in_a_process_that_loaded_every_video_backend_first(tmp_path):
    """decord bundles an older libvpx: loaded before PyAV's libraries, it makes the VP9 encoder fail to open.
    A fresh process that discovers every backend first (as `open_video` does) still writes `.webm`."""
    out = tmp_path / "after_backends.webm"
    code = ("import sys, numpy as np\n"
            "from videohub.io.reader import backends\n"
            "assert 'decord' in backends()\n"
            "from videohub.viz.encode import VideoWriter\n"
            "with VideoWriter(sys.argv[1], (64, 48), 25) as w:\n"
            "    for i in range(5):\n"
            "        w.write(np.full((48, 64, 3), 50 * i, np.uint8))\n")
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, timeout=120)
    assert len(decode(out)[0]) == 5

