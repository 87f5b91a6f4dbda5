"""The three install paths in temporary HUB_HOMEs: a directory, an archive from scripts/pack.py (installed and
run outside the repo with the repo's videohub hidden), and a git source through hubconf.py; reinstalling is
idempotent; a failed install through `pack.py --install` leaves the previous one working."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO, load_script
from synthetic import write_video
from videohub.weights import weights_installed

NAME = "i3d_kinetics400"
MODULE_DIR = REPO / "modules" / NAME

pytestmark = pytest.mark.skipif(not weights_installed(MODULE_DIR), reason="I3D weights not installed")


pack = load_script("pack")


def _run(cmd, home, cwd, env_extra=None, timeout=600):
    env = dict(os.environ, HUB_HOME=str(home), PYTHONWARNINGS="ignore", **(env_extra or {}))
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _hub(args, home, cwd):
    return _run([str(Path(sys.executable).parent / "hub"), *args], home, cwd)


def _hidden_python(code: str, home: Path, cwd: Path):
    """Python with this venv's packages but without site processing, so .pth files, among them the editable
    install of videohub (/work/main/common), are not read: the repo is not importable."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"), "HUB_HOME": str(home),
           "PYTHONPATH": sysconfig.get_paths()["purelib"], "PYTHONNOUSERSITE": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-S", "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def _loads_by_name(home, cwd):
    code = f"import paddlehub as hub; m = hub.Module(name={NAME!r}); print('LOADED', m.directory)"
    return _run([sys.executable, "-c", code], home, cwd)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return pack.pack(NAME, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("clip") / "bar clip ü.mp4", num_frames=20, size=(64, 48),
                       pattern="bar")


def test_archive_layout(archive):
    import tarfile

    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {n.split("/")[0] for n in names} == {NAME}
    for must in ("module.py", "card.json", "__init__.py", "requirements.txt", "weights/inference.pdiparams",
                 "weights/meta.json", "_vendor/videohub/__init__.py", "_vendor/videohub/hub/classifier.py",
                 "_vendor/videohub/labels/kinetics400.txt"):
        assert f"{NAME}/{must}" in names, must
    assert not any("__pycache__" in n for n in names)


def test_archive_installs_and_runs_where_the_repo_is_not(archive, clip, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(archive, outside)
    home = tmp_path / "hub_home"
    probe = _hidden_python("import importlib.util as u; print(u.find_spec('videohub'))", home, outside)
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr  # the setup really hides the repo
    install = (f"import sys; from paddlehub.commands.utils import execute; "
               f"sys.argv = ['hub', 'install', {str(outside / archive.name)!r}]; execute()")
    for _ in range(2):  # reinstalling is idempotent
        proc = _hidden_python(install, home, outside)
        assert proc.returncode == 0 and "Successfully installed" in proc.stdout + proc.stderr, proc.stderr[-2000:]
    installed = home / "modules" / NAME
    roots = (str(REPO / "common"), str(REPO / "modules"))  # the repo's code (its .venv is the interpreter)
    code = (f"import json, sys, paddlehub as hub; m = hub.Module(name={NAME!r}); "
            f"r = m.classify(paths=[{str(clip)!r}], top_k=2); import videohub; "
            "print(json.dumps({'videohub': videohub.__file__, 'result': r, 'repo_modules': "
            f"[k for k, v in sys.modules.items() if str(getattr(v, '__file__', '') or '').startswith({roots!r})]}}))")
    proc = _hidden_python(code, home, outside)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["videohub"] == str(installed / "_vendor" / "videohub" / "__init__.py")
    assert out["repo_modules"] == []
    assert out["result"][0]["path"] == str(clip) and len(out["result"][0]["prediction"]) == 2


def test_directory_install_is_idempotent(tmp_path):
    home, cwd = tmp_path / "hub_home", tmp_path / "cwd"
    cwd.mkdir()
    for _ in range(2):
        proc = _hub(["install", str(MODULE_DIR)], home, cwd)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    installed = home / "modules" / NAME
    assert weights_installed(installed) and not (installed / "_vendor").exists()
    proc = _loads_by_name(home, cwd)
    assert proc.returncode == 0 and "LOADED" in proc.stdout, proc.stderr[-2000:]


def _broken_copy(tmp_path) -> Path:
    broken = tmp_path / "broken" / NAME
    shutil.copytree(MODULE_DIR, broken, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    (broken / "module.py").write_text((broken / "module.py").read_text() + "\nraise ImportError('broken on purpose')\n")
    return broken


def test_failed_install_keeps_the_previous_one(archive, tmp_path):
    home, cwd = tmp_path / "hub_home", tmp_path / "cwd"
    cwd.mkdir()
    target = pack.safe_install(archive, home)
    assert target == home / "modules" / NAME and weights_installed(target)
    before = sorted(p.relative_to(target) for p in target.rglob("*") if "__pycache__" not in p.parts)
    target = pack.safe_install(archive, home)  # idempotent
    assert sorted(p.relative_to(target) for p in target.rglob("*") if "__pycache__" not in p.parts) == before
    broken = _broken_copy(tmp_path)
    with pytest.raises(SystemExit, match="does not load.*unchanged"):
        pack.safe_install(broken, home)
    assert "broken on purpose" not in (target / "module.py").read_text() and weights_installed(target)
    assert not any((home / "tmp").iterdir())  # staging cleaned up
    proc = _loads_by_name(home, cwd)
    assert proc.returncode == 0 and "LOADED" in proc.stdout, proc.stderr[-2000:]
    # PaddleHub's own `hub install` removes the old copy before loading the new one: the broken one stays
    _hub(["install", str(broken)], home, cwd)
    assert "broken on purpose" in (target / "module.py").read_text() and not (target / "weights").exists()


def test_git_source_through_hubconf(tmp_path):
    """hub.Module(name=, source=<this repo>): PaddleHub clones the repo to $HUB_HOME/sources/<md5(url)>. Weights
    are not in git, so a fresh clone's module refuses to load saying how to get them; with the weights fetched
    into the clone (copied here, as fetch_weights.py would write them) it installs and loads."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout")
    home, cwd = tmp_path / "hub_home", tmp_path / "cwd"
    cwd.mkdir()
    code = ("import sys, paddlehub as hub\n"
            "try:\n"
            f"    m = hub.Module(name={NAME!r}, source={str(REPO)!r})\n"
            "    print('LOADED', m.directory)\n"
            "except Exception as exc:\n"
            "    print('FAILED', type(exc).__name__, exc)\n")
    proc = _run([sys.executable, "-c", code], home, cwd)
    assert "FAILED WeightsNotFoundError" in proc.stdout and "fetch_weights.py" in proc.stdout, \
        proc.stdout[-2000:] + proc.stderr[-2000:]
    clones = list((home / "sources").iterdir())
    assert len(clones) == 1 and (clones[0] / "hubconf.py").exists()
    shutil.copytree(MODULE_DIR / "weights", clones[0] / "modules" / NAME / "weights", dirs_exist_ok=True)
    shutil.rmtree(home / "modules" / NAME, ignore_errors=True)  # the copy installed without weights
    proc = _run([sys.executable, "-c", code], home, cwd)
    assert f"LOADED {home / 'modules' / NAME}" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (home / "modules" / NAME / "_source_info.yaml").exists()
