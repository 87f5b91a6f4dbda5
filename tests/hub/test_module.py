"""The hub module contract on i3d_kinetics400: classify, errors in place, hub install/run, hub.Module, serving."""
import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import I3D_DIR, SHARED, needs_i3d_weights
from synthetic import write_video
from videohub.errors import InputNotFoundError, WeightsNotFoundError
from videohub.io.reader import open_video

MODULE_DIR = I3D_DIR
ARCHERY = SHARED / "data" / "samples" / "paddlevideo_example_archery.avi"

pytestmark = needs_i3d_weights()


@pytest.fixture(scope="module")
def module(i3d_module):
    return i3d_module


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    good = write_video(d / "moving bar ü.mp4", num_frames=40, size=(96, 72), pattern="bar")
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("not a video\n" * 50)
    (d / "folder.mp4").mkdir()
    short = write_video(d / "short.mp4", num_frames=3, size=(96, 72))
    return {"good": good, "missing": d / "missing.mp4", "empty": d / "empty.mp4", "text": d / "text.mp4",
            "dir": d / "folder.mp4", "short": short}


def test_results_in_input_order_with_errors_in_place(module, videos):
    order = ["good", "missing", "empty", "text", "dir", "short", "good"]
    results = module.classify(paths=[str(videos[k]) for k in order], top_k=3, batch_size=2)
    assert [r["path"] for r in results] == [str(videos[k]) for k in order]
    expected_errors = {"missing": "InputNotFoundError", "empty": "EmptyFileError", "text": "VideoOpenError",
                       "dir": "NotAFileError", "short": "TooFewFramesError"}
    for key, r in zip(order, results):
        if key in expected_errors:
            assert r["error"]["type"] == expected_errors[key] and r["error"]["message"]
            assert "prediction" not in r
        else:
            probs = list(r["prediction"].values())
            assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    assert results[0]["prediction"] == pytest.approx(results[-1]["prediction"])
    json.dumps(results)  # JSON-serialisable


def test_strict_raises_and_threshold_filters(module, videos):
    with pytest.raises(InputNotFoundError):
        module.classify(paths=[str(videos["missing"])], strict=True)
    res = module.classify(paths=[str(videos["good"])], top_k=400, threshold=0.05)[0]["prediction"]
    assert res and all(p >= 0.05 for p in res.values())


def test_bytes_and_frame_arrays_are_inputs_too(module, videos):
    data = Path(videos["good"]).read_bytes()
    frames = np.zeros((16, 72, 96, 3), np.uint8)
    frames[:, :, 40:60] = 255
    results = module.classify(videos=[data, frames, b"", "text"], top_k=2)
    assert [r["path"] for r in results] == ["video_0", "video_1", "video_2", "video_3"]
    assert "prediction" in results[0] and "prediction" in results[1]
    assert results[2]["error"]["type"] == "EmptyFileError"
    assert results[3]["error"]["type"] == "UnsupportedInputError"
    by_path = module.classify(paths=[str(videos["good"])], top_k=2)[0]["prediction"]
    assert results[0]["prediction"] == pytest.approx(by_path, rel=1e-5)


def test_batching_does_not_change_results(module, videos):
    paths = [str(videos["good"])] * 3
    one = module.classify(paths=paths, top_k=5, batch_size=1)
    three = module.classify(paths=paths, top_k=5, batch_size=3)
    for a, b in zip(one, three):
        assert a["prediction"] == pytest.approx(b["prediction"], rel=1e-4, abs=1e-6)


def test_serving_method_base64_and_path_allow_list(module, videos, tmp_path, monkeypatch):
    good = base64.b64encode(Path(videos["good"]).read_bytes()).decode()
    monkeypatch.delenv("VIDEOHUB_SERVING_ALLOWED_DIRS", raising=False)
    out = module.serving_method(videos=[good, "%%%not base64%%%"], paths=[str(videos["good"])], top_k=1)
    assert "prediction" in out[0]
    assert out[1]["error"]["type"] == "UnsupportedInputError" and "base64" in out[1]["error"]["message"]
    assert out[2]["error"]["type"] == "UnsupportedInputError" and "off" in out[2]["error"]["message"]
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    shutil.copy(videos["good"], allowed / "ok.mp4")
    (allowed / "link.mp4").symlink_to(videos["good"])  # points outside the allowed folder
    monkeypatch.setenv("VIDEOHUB_SERVING_ALLOWED_DIRS", str(allowed))
    out = module.serving_method(paths=[str(allowed / "ok.mp4"), str(allowed / ".." / "x.mp4"),
                                       str(allowed / "link.mp4")], top_k=1)
    assert "prediction" in out[0]
    assert out[1]["error"]["type"] == "UnsupportedInputError"
    assert out[2]["error"]["type"] == "UnsupportedInputError"
    with pytest.raises(ValueError):
        module.serving_method()


def test_module_without_weights_says_how_to_get_them(tmp_path):
    import paddlehub as hub

    bare = tmp_path / "i3d_kinetics400"
    shutil.copytree(MODULE_DIR, bare, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    with pytest.raises(WeightsNotFoundError, match="fetch_weights.py i3d_kinetics400"):
        hub.Module(directory=str(bare))


def _hub(args, home, cwd, timeout=300):
    env = dict(os.environ, HUB_HOME=str(home), PYTHONWARNINGS="ignore")
    hub_bin = Path(sys.executable).parent / "hub"
    return subprocess.run([str(hub_bin), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_hub_install_run_and_module_by_name(tmp_path, videos):
    home, cwd = tmp_path / "hub_home", tmp_path / "cwd"
    cwd.mkdir()
    proc = _hub(["install", str(MODULE_DIR)], home, cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (home / "modules" / "i3d_kinetics400" / "weights" / "inference.pdiparams").exists()
    clip = ARCHERY if ARCHERY.exists() else videos["good"]
    drawn, timeline = tmp_path / "drawn.webm", tmp_path / "timeline.png"
    proc = _hub(["run", "i3d_kinetics400", "--input_path", str(clip), "--output", "json", "--top_k", "2",
                 "--output_video", str(drawn), "--output_timeline", str(timeline)], home, cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    payload = json.loads(proc.stdout[proc.stdout.index("["):])
    assert payload[0]["path"] == str(clip) and len(payload[0]["prediction"]) == 2
    assert payload[0]["video"]["path"] == str(drawn) and payload[0]["timeline"] == str(timeline)
    with open_video(drawn, "pyav") as reader, open_video(clip, "pyav") as source:
        assert (reader.info.num_frames, reader.info.width, reader.info.height) == (
            source.info.num_frames, source.info.width, source.info.height)
    assert timeline.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if ARCHERY.exists():
        assert next(iter(payload[0]["prediction"])) == "archery"
    # a list file with a bad entry: both reported, exit status 1
    listing = tmp_path / "list.txt"
    listing.write_text(f"{clip}\n{videos['missing']}\n")
    proc = _hub(["run", "i3d_kinetics400", "--input_path", str(listing), "--top_k", "1"], home, cwd)
    assert proc.returncode == 1
    assert "InputNotFoundError" in proc.stdout and str(clip) in proc.stdout
    # hub.Module(name=...) from the installed copy
    code = ("import json, paddlehub as hub; m = hub.Module(name='i3d_kinetics400'); "
            f"print(json.dumps(m.classify(paths=[{str(clip)!r}], top_k=1)))")
    env = dict(os.environ, HUB_HOME=str(home), PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out[0]["path"] == str(clip) and len(out[0]["prediction"]) == 1


def test_a_raising_call_leaves_paddle_in_dygraph_mode(module, videos):
    import paddle

    with pytest.raises(InputNotFoundError):
        module.classify(paths=[str(videos["missing"])], strict=True)
    assert paddle.in_dynamic_mode()


def test_whole_run_failure_is_one_line_and_status_2(module, videos, capsys, monkeypatch):
    """`--use_gpu True` on a paddle without CUDA ends the whole run: one line, exit 2, traceback on request."""
    from videohub.runtime.engines.paddle_inference import gpu_available

    if gpu_available():
        pytest.skip("this machine has a CUDA device")
    argv = ["--input_path", str(videos["good"]), "--use_gpu", "True"]
    with pytest.raises(SystemExit) as exit_info:
        module.run_cmd(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "hub run i3d_kinetics400: RuntimeError: use_gpu=True but this paddle has no CUDA device" in err
    assert "Traceback" not in err
    monkeypatch.setenv("VIDEOHUB_DEBUG", "1")
    with pytest.raises(SystemExit):
        module.run_cmd(argv)
    assert "Traceback" in capsys.readouterr().err
