"""A real `hub serving` process (default Flask mode and --use_multiprocess/gunicorn): valid and bad requests,
bounded concurrent load, the server still up and its memory bounded. Traffic goes to 127.0.0.1 only."""
import base64
import json
import os
from pathlib import Path

import pytest

from conftest import REPO, load_script
from synthetic import write_video
from videohub.client import ServingError, classify_remote, unpack_response
from videohub.weights import weights_installed

MODULE = "i3d_kinetics400"
MODULE_DIR = REPO / "modules" / MODULE
MAX_REQUEST = 1_000_000   # VIDEOHUB_SERVING_MAX_REQUEST_BYTES for the test server
MAX_VIDEO = 200_000       # VIDEOHUB_SERVING_MAX_VIDEO_BYTES

pytestmark = [pytest.mark.skipif(not weights_installed(MODULE_DIR), reason="I3D weights not installed"),
              pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")]


sl = load_script("serving_load")


def _b64(path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _body(**fields) -> bytes:
    return json.dumps(fields).encode()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("serving_inputs")
    allowed = d / "allowed"
    allowed.mkdir()
    vids = [write_video(allowed / f"bar{k}.mp4", num_frames=16 + 4 * k, size=(64 + 16 * k, 48), pattern="bar")
            for k in range(3)]
    (allowed / "text.mp4").write_text("not a video\n" * 20)
    outside = write_video(d / "outside.mp4", num_frames=16, size=(64, 48), pattern="bar")
    (allowed / "escape.mp4").symlink_to(outside)
    return {"dir": d, "allowed": allowed, "videos": vids, "text": allowed / "text.mp4", "outside": outside}


@pytest.fixture(scope="module")
def reference(inputs):
    """The Python API's predictions for the test videos: what the server must answer."""
    import paddlehub as hub

    m = hub.Module(directory=str(MODULE_DIR))
    return {str(p): r["prediction"] for p, r in
            zip(inputs["videos"], m.classify(paths=[str(p) for p in inputs["videos"]], top_k=3))}


def _server(inputs, tmp_path_factory, **kw):
    env = {"VIDEOHUB_SERVING_ALLOWED_DIRS": str(inputs["allowed"]),
           "VIDEOHUB_SERVING_MAX_REQUEST_BYTES": str(MAX_REQUEST),
           "VIDEOHUB_SERVING_MAX_VIDEO_BYTES": str(MAX_VIDEO), "OMP_NUM_THREADS": "1"}
    return sl.ServingProcess(MODULE, tmp_path_factory.mktemp("hub_home"), env=env, **kw)


@pytest.fixture(scope="module")
def server(inputs, tmp_path_factory):
    with _server(inputs, tmp_path_factory) as s:
        yield s


def _same(pred, ref):
    return list(pred) == list(ref) and all(abs(pred[k] - ref[k]) <= 1e-4 for k in ref)


def test_valid_requests_match_the_python_api(server, inputs, reference):
    good = inputs["videos"][0]
    r = sl.post_raw(server.url, _body(videos=[_b64(good)], top_k=3))
    assert r["http"] == 200 and r["json"]["status"] == "000", r["text"][:500]
    res = unpack_response(r["json"])
    assert res[0]["path"] == "video_0" and _same(res[0]["prediction"], reference[str(good)])
    # the client helper: local paths in, results with the local paths back, errors in place
    out = classify_remote(f"127.0.0.1:{server.port}", MODULE, [good, inputs["text"]], top_k=3)
    assert out[0]["path"] == str(good) and _same(out[0]["prediction"], reference[str(good)])
    assert out[1]["error"]["type"] == "VideoOpenError"
    # a server-side path inside the allow-list
    r = sl.post_raw(server.url, _body(paths=[str(inputs["videos"][1])], top_k=3))
    assert _same(unpack_response(r["json"])[0]["prediction"], reference[str(inputs["videos"][1])])


def test_bad_requests_get_clear_errors(server, inputs):
    url = server.url
    # malformed JSON / not JSON: Flask refuses before the module runs
    r = sl.post_raw(url, b'{"videos": ["abc"')
    assert r["http"] == 400 and "Bad Request" in r["text"]
    r = sl.post_raw(url, b"videos=abc", content_type="text/plain")
    assert r["http"] == 415
    # missing / unknown / wrongly typed fields: status 101 with the reason
    for body, words in [({}, "needs `videos`"), ({"top_k": 3}, "needs `videos`"),
                        ({"video": ["x"]}, "unknown request fields"),
                        ({"videos": "AAAA"}, "must be a list")]:
        r = sl.post_raw(url, _body(**body))
        assert r["http"] == 200 and r["json"]["status"] == "101" and words in r["json"]["msg"], (body, r["text"])
        with pytest.raises(ServingError, match="101"):
            unpack_response(r["json"])
    # unknown module
    r = sl.post_raw(url.replace(MODULE, "no_such_module"), _body(videos=[]))
    assert r["json"]["status"] == "111"
    # per-item problems: the good item still answers
    too_big = base64.b64encode(os.urandom(MAX_VIDEO + 10_000)).decode()
    r = sl.post_raw(url, _body(videos=[_b64(inputs["videos"][0]), "%%%not base64%%%", too_big, "", 7],
                               paths=["/etc/passwd", str(inputs["allowed"] / ".." / "outside.mp4"),
                                      str(inputs["allowed"] / "escape.mp4"),
                                      str(inputs["allowed"] / "missing.mp4")], top_k=1))
    res = unpack_response(r["json"])
    assert "prediction" in res[0]
    kinds = [(x["error"]["type"], x["error"]["message"]) for x in res[1:]]
    assert kinds[0][0] == "UnsupportedInputError" and "base64" in kinds[0][1]
    assert kinds[1][0] == "UnsupportedInputError" and "limit" in kinds[1][1]
    assert kinds[2][0] == "EmptyFileError"
    assert kinds[3][0] == "UnsupportedInputError" and "base64 string" in kinds[3][1]
    for t, msg in kinds[4:7]:  # /etc/passwd, `..` and a symlink out of the allowed folder
        assert t == "UnsupportedInputError" and "outside the folders" in msg
    assert kinds[7][0] == "InputNotFoundError"
    # a body over the request limit: HTTP 413 before the body is read
    huge = _body(videos=["A" * (MAX_REQUEST + 1000)])
    try:
        r = sl.post_raw(url, huge)
        assert r["http"] == 413 and "Too Large" in r["text"], r["text"][:300]
    except OSError:  # the server may close the connection while the client is still sending
        pass
    big = inputs["dir"] / "big.mp4"
    big.write_bytes(os.urandom(MAX_REQUEST))
    with pytest.raises((ServingError, OSError), match="413|Broken pipe|reset"):
        classify_remote(f"127.0.0.1:{server.port}", MODULE, [big])
    assert server.alive()


def test_bounded_concurrent_load(server, inputs, reference):
    """48 requests from 8 threads: 12 valid ones (model runs, ~3 s each on 2 cores) among cheap bad ones."""
    vids = inputs["videos"]
    valid = [_body(videos=[_b64(vids[i % 3])], top_k=3) for i in range(12)]
    bad = [_body(videos=["!!"]), _body(paths=["/etc/hostname"]), _body(top_k=1)]
    bodies, expect = [], []
    for i in range(48):
        if i % 4 == 0:
            bodies.append(valid[i // 4])
            expect.append(("ok", str(vids[(i // 4) % 3])))
        else:
            bodies.append(bad[i % 3])
            expect.append(("bad", i % 3))

    def check(i, reply):
        kind, what = expect[i]
        j = reply.get("json") or {}
        if kind == "ok":
            return sl.valid_reply(reply, 1) and _same(unpack_response(j)[0]["prediction"], reference[what])
        if j.get("status") == "101":
            return "needs `videos`" in j.get("msg", "")
        res = j.get("results") or []
        return len(res) == 1 and res[0]["error"]["type"] == "UnsupportedInputError"

    rss = [server.rss()]
    stats = []
    for half in (bodies[:24], bodies[24:]):
        offset = 0 if half is bodies[:24] else 24
        s = sl.run_load(server.url, half, 8, lambda i, r, o=offset: check(i + o, r))
        stats.append(s)
        rss.append(server.rss())
        assert s["ok"] == len(half), [half_i + offset for half_i in s["failed"]]
    assert server.alive()
    # memory: the second round may not add more than a fixed margin over the first (no unbounded growth)
    assert rss[2] - rss[1] < 200 * 2**20, [x / 2**20 for x in rss]
    print(f"\nload: {[round(s['requests_per_s'], 2) for s in stats]} req/s, "
          f"p50 {[round(s['p50_s'], 2) for s in stats]} s, RSS MB {[round(x / 2**20) for x in rss]}")


def test_multiprocess_mode(inputs, reference, tmp_path_factory):
    """--use_multiprocess (gunicorn, 2 workers): the same answers and errors, the server stops cleanly."""
    vids = inputs["videos"]
    with _server(inputs, tmp_path_factory, multiprocess=True, workers=2) as s:
        bodies = [_body(videos=[_b64(vids[i % 2])], top_k=3) for i in range(4)] + [_body(videos=["!!"])] * 4
        stats = sl.run_load(s.url, bodies, 4, lambda i, r: (
            sl.valid_reply(r, 1) and _same(unpack_response(r["json"])[0]["prediction"], reference[str(vids[i % 2])])
            if i < 4 else r["json"]["results"][0]["error"]["type"] == "UnsupportedInputError"))
        assert stats["ok"] == len(bodies), stats["failed"]
        r = sl.post_raw(s.url, b"{not json")
        assert r["http"] == 400
        r = sl.post_raw(s.url, _body(videos=["A" * (MAX_REQUEST + 1000)]))
        assert r["http"] == 413
        assert s.alive()
        pid = s.proc.pid
    assert s.proc.poll() is not None and not Path(f"/proc/{pid}").exists() or s.proc.returncode is not None
