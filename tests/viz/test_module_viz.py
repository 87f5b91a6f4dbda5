"""module.visualize / timeline and `hub run --output_video/--output_timeline/--window/--label_file` on the real
I3D module; the label override and its class-count check."""
from __future__ import annotations

import json

import av
import numpy as np
import pytest
from PIL import Image

from conftest import I3D_DIR as MODULE_DIR, needs_i3d_weights
from synthetic import write_video
from videohub.card import LABEL_DIR, read_labels

pytestmark = needs_i3d_weights()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("clip") / "bar.mp4", num_frames=50, size=(96, 72), pattern="bar")


def test_visualize_matches_classify_and_writes_the_video(i3d_module, clip, tmp_path):
    out, png = tmp_path / "a.mp4", tmp_path / "a.png"
    res = i3d_module.visualize(str(clip), str(out), top_k=3, window=1.0, timeline_path=str(png))
    ref = i3d_module.classify(paths=[str(clip)], top_k=3, window=1.0)[0]
    assert list(res["prediction"]) == list(ref["prediction"])
    assert res["prediction"] == pytest.approx(ref["prediction"], rel=1e-4, abs=1e-6)
    assert [list(w["prediction"]) for w in res["windows"]] == [list(w["prediction"]) for w in ref["windows"]]
    assert res["video"] == {"path": str(out), "frames": 50, "width": 96, "height": 72, "fps": 25.0,
                            "codec": "libx264", "audio": "none (the source has no sound)"}
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert c.streams.video[0].average_rate == 25
    assert len(frames) == 50 and frames[0].shape == (72, 96, 3)
    top_left = [f[:20, :40].astype(int) for f in (frames[10], frames[40])]   # windows [0, 1) and [1, 2)
    assert np.abs(top_left[0] - top_left[1]).mean() > 2                      # the panel changed with the window
    img = Image.open(png)
    assert img.width == 1200 and img.height > 200 and res["timeline"] == str(png)


def test_errors_in_place_and_bad_outputs_refused(i3d_module, tmp_path):
    res = i3d_module.visualize(str(tmp_path / "missing.mp4"), str(tmp_path / "x.mp4"))
    assert res["error"]["type"] == "InputNotFoundError" and not (tmp_path / "x.mp4").exists()
    with pytest.raises(ValueError, match=".mp4, .webm, .gif"):
        i3d_module.visualize(str(tmp_path / "missing.mp4"), str(tmp_path / "x.avi"))
    with pytest.raises(ValueError, match="timeline"):
        i3d_module.timeline(str(tmp_path / "missing.mp4"), str(tmp_path / "x.jpg"))


def test_hub_run_draws_with_renamed_labels(i3d_module, clip, tmp_path, capsys):
    names = [f"class {i} 名" for i in range(400)]
    label_file = tmp_path / "labels.txt"
    label_file.write_text("\n".join(names) + "\n", encoding="utf-8")
    out, png = tmp_path / "r.webm", tmp_path / "r.png"
    try:
        text = i3d_module.run_cmd(["--input_path", str(clip), "--output_video", str(out), "--output_timeline", str(png),
                               "--window", "1", "--top_k", "2", "--max_side", "48", "--output", "json",
                               "--label_file", str(label_file)])
        res = json.loads(text)[0]
        assert set(res["prediction"]) <= set(names) and len(res["windows"]) == 2
        assert (res["video"]["width"], res["video"]["height"]) == (48, 36) and png.stat().st_size > 1000
        with av.open(str(out)) as c:
            assert sum(1 for _ in c.decode(video=0)) == 50
    finally:
        i3d_module.set_labels(LABEL_DIR / "kinetics400.txt")
    assert i3d_module.task.labels == read_labels(LABEL_DIR / "kinetics400.txt")


def test_label_count_is_checked(i3d_module, clip, tmp_path, capsys):
    short = tmp_path / "short.txt"
    short.write_text("a\nb\nc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="gives 3 class names but the i3d_kinetics400 network has 400 classes"):
        i3d_module.set_labels(short)
    with pytest.raises(ValueError, match="labels= gives 2 class names"):
        i3d_module.set_labels(["a", "b"])
    import paddlehub as hub

    with pytest.raises(ValueError, match="has 400 classes"):
        hub.Module(directory=str(MODULE_DIR), labels=["a", "b"])
    renamed = hub.Module(directory=str(MODULE_DIR), labels=[f"c{i}" for i in range(400)])
    assert renamed.labels[5] == "c5" and renamed.task.labels[5] == "c5"
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (folder / name).write_bytes(clip.read_bytes())
    with pytest.raises(SystemExit) as info:   # a folder of inputs cannot become one video
        i3d_module.run_cmd(["--input_path", str(folder), "--output_video", str(tmp_path / "x.mp4")])
    assert info.value.code == 2 and "holds 2 inputs" in capsys.readouterr().err
