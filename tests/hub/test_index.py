"""Install by name from our own module index, end to end: `scripts/pack.py --all` builds archives and index.json,
`scripts/hub_index.py serve` runs as a real server process on 127.0.0.1, and the unmodified PaddleHub client
(`hub` CLI, `hub.Module(name=...)`) in a temporary HUB_HOME talks to it after `hub config server==URL`.

Modules are packed without weights except i3d_kinetics400 (its exported model only, so the archives stay small);
the tests share one server and one HUB_HOME and run in file order: search, install by name, pinned version, safe
upgrade, `hub run`, auto-install, a newer version that does not load, a tampered archive, a path-escaping one.
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, load_script, shared_path
from videohub.distribution.archive import read_moduleinfo, sha256_file
from videohub.weights import weights_installed

NAME = "i3d_kinetics400"
MODULE_DIR = REPO / "modules" / NAME
HUB = str(Path(sys.executable).parent / "hub")
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "common"), os.environ.get("PYTHONPATH", "")]),
           PYTHONWARNINGS="ignore")

pytestmark = pytest.mark.skipif(not weights_installed(MODULE_DIR), reason="I3D weights not installed")
pack = load_script("pack")


def _run(cmd, home, cwd, timeout=600):
    return subprocess.run(cmd, cwd=cwd, env=dict(ENV, HUB_HOME=str(home)), capture_output=True, text=True,
                          timeout=timeout)


def _installed_version(home, name=NAME) -> str:
    return read_moduleinfo((home / "modules" / name / "module.py").read_text())["version"]


def _copy_module(name: str, dest: Path, version: str = None, extra_code: str = "") -> Path:
    """A copy of modules/<name> without weights (optionally another version, or code appended to module.py)."""
    out = dest / name
    shutil.copytree(REPO / "modules" / name, out, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    module_py = out / "module.py"
    text = module_py.read_text()
    if version:
        text = text.replace(f'version="{read_moduleinfo(text)["version"]}"', f'version="{version}"')
    module_py.write_text(text + extra_code)
    return out


def _with_exported_model(module_dir: Path) -> None:
    """Only what Paddle Inference needs (`--engine paddle`): the exported model and its record."""
    (module_dir / "weights").mkdir()
    for f in ("inference.json", "inference.pdiparams", "meta.json"):
        shutil.copy2(MODULE_DIR / "weights" / f, module_dir / "weights" / f)


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """dist/ with every module (1.x), then i3d 1.1.0 published beside 1.0.0. nextvlad's card asks for a Paddle
    that does not exist, to show that the index honours the version ranges."""
    root = tmp_path_factory.mktemp("index")
    mods, newer, out = root / "modules", root / "modules_1.1", root / "dist"
    for module in sorted(p.name for p in (REPO / "modules").iterdir() if (p / "module.py").is_file()):
        _copy_module(module, mods)
    _with_exported_model(mods / NAME)
    card = json.loads((mods / "nextvlad_youtube8m" / "card.json").read_text())
    card["requires"] = {"paddle_version": "[99.0.0, 99.0.0]"}
    (mods / "nextvlad_youtube8m" / "card.json").write_text(json.dumps(card))
    assert pack.main(["--all", "--modules-dir", str(mods), "--out", str(out)]) == 0
    _with_exported_model(_copy_module(NAME, newer, version="1.1.0"))
    assert pack.main([NAME, "--modules-dir", str(newer), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def server(dist, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "hub_index.py"), "serve", str(dist),
                                 "--host", "127.0.0.1", "--port", "0"], env=ENV, stdout=subprocess.PIPE,
                                stderr=err, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("serving 17 archive(s)"), first + log.read_text()
        yield {"url": first.split(" at ")[1].strip(), "log": log, "dist": dist}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def home(server, tmp_path_factory):
    home, cwd = tmp_path_factory.mktemp("hub_home"), tmp_path_factory.mktemp("cwd")
    proc = _run([HUB, "config", f"server=={server['url']}"], home, cwd)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"server: {server['url']}" in (home / "conf" / "config.yaml").read_text()
    return {"home": home, "cwd": cwd, **server}


def _search(server, **params):
    query = {"type": "module", "paddle_version": "3.3.1", "hub_version": "2.4.0", **params}
    status, body = _get(f"{server['url']}/search?{urllib.parse.urlencode(query)}")
    return status, json.loads(body)


# ---------------------------------------------------------------------------------------------- the index
def test_index_lists_every_archive_with_its_checksum(dist):
    index = json.loads((dist / "index.json").read_text())
    entries = {(e["name"], e["version"]): e for e in index["modules"]}
    names = {p.name for p in (REPO / "modules").iterdir() if (p / "module.py").is_file()}
    assert {n for n, _ in entries} == names and len(entries) == len(names) + 1
    for e in entries.values():
        archive = dist / e["file"]
        assert e["sha256"] == sha256_file(archive) and e["size"] == archive.stat().st_size
        assert e["summary"] and e["author"] and e["type"].startswith("video/")
    assert entries[(NAME, "1.0.0")]["weights"] and entries[(NAME, "1.1.0")]["weights"]
    assert not entries[("videotag_tsn_lstm", "2.0.0")]["weights"]
    assert entries[(NAME, "1.0.0")]["paddle_version"] == "[3.0.0, 99.0.0]"
    assert entries[("nextvlad_youtube8m", "2.0.0")]["paddle_version"] == "[99.0.0, 99.0.0]"


def test_server_answers_the_clients_protocol(server):
    status, found = _search(server, word="video")
    names = [d["name"] for d in found["data"]]
    assert status == 200 and found["status"] == 0 and "videotag_tsn_lstm" in names and NAME not in names
    assert all(d["type"] == "Module" and d["url"].startswith(server["url"] + "/archives/") for d in found["data"])
    newest = _search(server, word=NAME)[1]["data"]
    assert [(d["name"], d["version"]) for d in newest] == [(NAME, "1.1.0")]
    for condition, version in (("1.0.0", "1.0.0"), ("==1.0", "1.0.0"), (">=1.0,<1.1", "1.0.0"), (">1.0", "1.1.0")):
        assert [d["version"] for d in _search(server, word=NAME, version=condition)[1]["data"]] == [version]
    assert _search(server, word=NAME, version="2.0.0")[1]["data"] == []
    assert _search(server, word=NAME, paddle_version="2.1.0")[1]["data"] == []   # needs Paddle 3
    assert _search(server, word=NAME, hub_version="2.3.0")[1]["data"] == []
    assert _search(server, word="nextvlad")[1]["data"] == []                     # its card asks for Paddle 99
    status, info = _get(f"{server['url']}/info?name=nextvlad_youtube8m")
    assert json.loads(info)["data"]["info"][0]["paddle_version"] == "[99.0.0, 99.0.0]"
    assert [v["version"] for v in json.loads(_get(f"{server['url']}/info?name={NAME}")[1])["data"]["info"]] \
        == ["1.0.0", "1.1.0"]
    assert _search(server, word=NAME, version="one")[0] == 400
    status, body = _get(newest[0]["url"])
    assert status == 200 and len(body) == newest[0]["size"]
    assert _get(f"{server['url']}/archives/..%2Findex.json")[0] == 404


# ---------------------------------------------------------------------------------------------- stock client
def test_hub_search_and_install_by_name(home):
    proc = _run([HUB, "search", "video"], home["home"], home["cwd"])
    assert proc.returncode == 0 and "videotag_tsn_lstm" in proc.stdout and NAME not in proc.stdout, proc.stdout
    proc = _run([HUB, "install", "videotag_tsn_lstm"], home["home"], home["cwd"])
    assert proc.returncode == 0 and "Successfully installed videotag_tsn_lstm-2.0.0" in proc.stdout + proc.stderr, \
        proc.stderr[-2000:]
    installed = home["home"] / "modules" / "videotag_tsn_lstm"
    assert (installed / "card.json").is_file() and not (installed / "weights").exists()


def test_pinned_version_then_safe_upgrade(home):
    proc = _run([HUB, "install", f"{NAME}==1.0.0"], home["home"], home["cwd"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = _run([HUB, "show", NAME], home["home"], home["cwd"])
    assert any("Version" in line and "|1.0.0 " in line for line in proc.stdout.splitlines()), proc.stdout
    # the stock `hub install NAME` keeps an installed version; our install step upgrades, loading it first
    proc = _run([sys.executable, str(REPO / "scripts" / "pack.py"), "--install", NAME], home["home"], home["cwd"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _installed_version(home["home"]) == "1.1.0" and weights_installed(home["home"] / "modules" / NAME)


def test_hub_run_the_module_installed_by_name(home):
    assert _installed_version(home["home"]) == "1.1.0"
    clip = shared_path("data", "samples", "paddlevideo_example_archery.avi")
    proc = _run([HUB, "run", NAME, "--input_path", str(clip), "--engine", "paddle", "--output", "json",
                 "--top_k", "1"], home["home"], home["cwd"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("["):])
    assert list(result[0]["prediction"]) == ["archery"]


def test_module_by_name_installs_itself(home):
    code = ("import paddlehub as hub\n"
            "try:\n"
            "    hub.Module(name='bmn_activitynet')\n"
            "except Exception as exc:\n"
            "    print('ERROR', type(exc).__name__, exc)\n")
    proc = _run([sys.executable, "-c", code], home["home"], home["cwd"])
    installed = home["home"] / "modules" / "bmn_activitynet"
    assert (installed / "module.py").is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    # packed without weights: it installs, and constructing it says how to put them into this very folder
    assert "ERROR WeightsNotFoundError" in proc.stdout
    assert f"fetch_weights.py bmn_activitynet --modules-dir {installed.parent}" in proc.stdout


# ---------------------------------------------------------------------------------------------- refusals
def _still_working(home):
    code = f"import paddlehub as hub; m = hub.Module(name={NAME!r}); print('LOADED', m.version)"
    proc = _run([sys.executable, "-c", code], home["home"], home["cwd"])
    assert "LOADED 1.1.0" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]


def _one_line_error(proc):
    lines = [l for l in proc.stderr.splitlines() if l.strip() and "Warning" not in l and "warn" not in l]
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_newer_version_that_does_not_load_leaves_the_old_one(home, tmp_path):
    broken = _copy_module(NAME, tmp_path, version="1.2.0", extra_code="\nraise ImportError('broken on purpose')\n")
    assert pack.main([NAME, "--modules-dir", str(broken.parent), "--out", str(home["dist"])]) == 0
    proc = _run([sys.executable, str(REPO / "scripts" / "pack.py"), "--install", NAME], home["home"], home["cwd"])
    assert proc.returncode == 1 and "does not load" in proc.stderr and "broken on purpose" in proc.stderr
    assert _installed_version(home["home"]) == "1.1.0"
    assert not list((home["home"] / "tmp").glob("videohub_*"))  # staging cleaned up
    # nor does a version packed without weights replace one that has them
    weightless = pack.pack(NAME, tmp_path / "out", _copy_module(NAME, tmp_path / "w", version="1.2.1").parent)
    with pytest.raises(SystemExit, match="has no weights and the installed one has"):
        pack.safe_install(weightless, home["home"])
    assert _installed_version(home["home"]) == "1.1.0"


def _crafted_archive(path: Path, outside: Path, kind: str) -> Path:
    """An archive named like i3d that writes outside the install folder when unpacked without checks."""
    def add(tar, name, data=b"pwned\n", **fields):
        info = tarfile.TarInfo(name)
        for k, v in fields.items():
            setattr(info, k, v)
        info.size = len(data) if info.type == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)

    with tarfile.open(path, "w:gz") as tar:
        add(tar, f"{NAME}/module.py", (MODULE_DIR / "module.py").read_bytes())
        if kind == "absolute":
            add(tar, str(outside / "absolute.txt"))
        elif kind == "dotdot":
            add(tar, f"{NAME}/../../{outside.name}/dotdot.txt")
        else:
            add(tar, f"{NAME}/link", type=tarfile.SYMTYPE, linkname=str(outside))
            add(tar, f"{NAME}/link/through_link.txt")
    return path


def test_tampered_and_path_escaping_archives_are_refused(home, tmp_path):
    dist, outside = home["dist"], tmp_path / "outside"
    outside.mkdir()
    # 1. an escaping archive listed in the index with its true checksum: never published
    evil = _crafted_archive(dist / f"{NAME}-1.3.0.tar.gz", outside, "absolute")
    index = json.loads((dist / "index.json").read_text())
    index["modules"].append({**index["modules"][-1], "name": NAME, "version": "1.3.0", "file": evil.name,
                             "sha256": sha256_file(evil), "size": evil.stat().st_size})
    (dist / "index.json").write_text(json.dumps(index))
    assert _search(home, word=NAME, version="1.3.0")[1]["data"] == []
    assert _get(f"{home['url']}/archives/{evil.name}")[0] == 404
    assert f"not published: {evil.name}: member '{outside}/absolute.txt' has an absolute path" \
        in home["log"].read_text()
    # 2. a published archive whose bytes were swapped after indexing: the server will not send it
    published = dist / f"{NAME}-1.2.0.tar.gz"
    _crafted_archive(published, outside, "symlink")
    assert _get(f"{home['url']}/archives/{published.name}")[0] == 409
    line = _one_line_error(_run([sys.executable, str(REPO / "scripts" / "pack.py"), "--install",
                                 f"{NAME}==1.2.0"], home["home"], home["cwd"]))
    assert "refused" in line and "sha256" in line and "nothing was installed" in line
    proc = _run([HUB, "install", f"{NAME}==1.2.0"], home["home"], home["cwd"])  # the stock client gets nothing
    assert proc.returncode != 0 and _installed_version(home["home"]) == "1.1.0"
    # 3. our install step refuses each kind of crafted archive with one line; nothing lands outside
    for kind, why in (("absolute", "has an absolute path"), ("dotdot", "has a '..' path component"),
                      ("symlink", "is a symbolic link")):
        crafted = _crafted_archive(tmp_path / f"{kind}.tar.gz", outside, kind)
        line = _one_line_error(_run([sys.executable, str(REPO / "scripts" / "pack.py"), "--install", str(crafted)],
                                    home["home"], home["cwd"]))
        assert why in line, line
    assert list(outside.iterdir()) == []
    assert _installed_version(home["home"]) == "1.1.0"
    _still_working(home)
