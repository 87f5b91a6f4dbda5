"""Pack modules into self-contained archives with a module index, and install archives safely.

    python scripts/pack.py --all [--out DIR] [--modules-dir DIR]   # every module -> DIR/NAME-VERSION.tar.gz
    python scripts/pack.py NAME [--out DIR] [--modules-dir DIR]    # one module (default DIR: dist/)
    python scripts/pack.py --install NAME[==VERSION] [--index URL] [--hub-home DIR]   # by name, from an index
    python scripts/pack.py --install ARCHIVE_OR_DIR [--hub-home DIR]

Packing writes DIR/index.json afresh from every archive in DIR (older versions stay published), leaving out any
archive that fails the member check (`videohub.distribution`); `scripts/hub_index.py serve DIR` serves it.

The archive's first path component is the module folder (what `hub install` expects). It holds the module's
files, its weights/ folder when the weights are installed (without them the module installs and, when
constructed, says how to fetch or import them), a copy of the `videohub` core in `NAME/_vendor/videohub`, and a
`requirements.txt` with the core's dependencies. The packed `__init__.py` ends with `vendor_bootstrap.py`, which
puts `_vendor` on sys.path only when no videohub is installed, so the module runs on a machine that never saw
this repository. Entries are sorted with fixed times and owners, so packing twice gives the same bytes.

`--install` is the safe alternative to `hub install`. By name it asks the index server (`--index`, default the
server set with `hub config server==URL`) for the newest version that meets the condition and runs on this
Paddle/PaddleHub, downloads it and checks size and sha256 against the index. Every archive then passes the member
check (no absolute paths, `..` or links) before it is unpacked. PaddleHub deletes the installed copy *before*
copying and loading the new one, so a failing install leaves a broken module; here the new copy is unpacked and
loaded (`hub.Module(directory=...)`, in a subprocess) in `$HUB_HOME/tmp` first, and only then swapped in with two
renames; any failure before that leaves the previous install untouched (one line on stderr, exit status 1).
An archive without weights installs only where the installed copy has none either. It does not pip-install.
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import List, Optional, Tuple

import yaml

from videohub.distribution.archive import UnsafeArchiveError, read_moduleinfo, safe_extract
from videohub.distribution.fetch import download_verified, resolve
from videohub.distribution.index import build_index, write_index
from videohub.distribution.versions import version_key

REPO = Path(__file__).resolve().parents[1]
MODULES = REPO / "modules"
CORE = REPO / "common" / "videohub"
BOOTSTRAP = Path(__file__).resolve().with_name("vendor_bootstrap.py")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "weights", "_vendor")
NAME_CONDITION = re.compile(r"^(?P<name>[A-Za-z0-9_\-]+)(?P<condition>(==|>=|<=|>|<|=).+)?$")


def module_info(module_dir: Path) -> Tuple[str, str]:
    """(name, version) from module.py's @moduleinfo, read the way `hub install` reads it (AST, no import)."""
    info = read_moduleinfo((Path(module_dir) / "module.py").read_text(encoding="utf-8"), str(module_dir))
    return info["name"], str(info["version"])


def runtime_weight_files(module_dir: Path) -> List[Path]:
    """The weight files the module may load at run time (its whole weights/ folder, once installed); none when
    its weights are not installed."""
    from videohub.card import load_card
    from videohub.runtime.files import weights_dir
    from videohub.weights import weights_installed

    if not weights_installed(module_dir, list(load_card(module_dir).models)):
        return []
    # the whole weights folder: besides the exported model, the runtime may read model.pdparams (engine checks)
    return sorted(f for f in weights_dir(module_dir).rglob("*") if f.is_file())


def core_requirements() -> List[str]:
    """videohub's runtime dependencies, from pyproject.toml (one source of truth)."""
    with open(REPO / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def stage(name: str, module_dir: Path, dest: Path) -> Tuple[Path, bool]:
    """Lay out the self-contained module folder under dest/<name>; returns it and whether weights are in it."""
    out = dest / name
    shutil.copytree(module_dir, out, ignore=SKIP)
    weights = runtime_weight_files(module_dir)
    for f in weights:
        target = out / f.relative_to(module_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    shutil.copytree(CORE, out / "_vendor" / "videohub", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    init = out / "__init__.py"
    init.write_text((init.read_text() if init.exists() else "") + BOOTSTRAP.read_text())
    reqs = core_requirements()
    own = module_dir / "requirements.txt"
    if own.exists():
        reqs += [l.strip() for l in own.read_text().splitlines() if l.strip() and not l.startswith("#")]
    (out / "requirements.txt").write_text("\n".join(dict.fromkeys(reqs)) + "\n")
    return out, bool(weights)


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def write_tar_gz(folder: Path, archive: Path) -> None:
    """Deterministic tar.gz of `folder` (sorted entries, fixed owners and times), first component its name;
    streamed, so memory does not grow with the weights."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".part")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for p in [folder] + sorted(folder.rglob("*")):
            if p.is_symlink():
                raise SystemExit(f"{p}: links are not packed (the member check refuses them)")
            tar.add(p, arcname=str(p.relative_to(folder.parent)), recursive=False, filter=_normalised)
    os.replace(tmp, archive)


def pack(name: str, out_dir: Path, modules_dir: Path = MODULES) -> Path:
    """Build the archive of modules_dir/<name> in out_dir; returns its path."""
    module_dir = Path(modules_dir) / name
    if not (module_dir / "module.py").is_file():
        raise SystemExit(f"no module {name!r} in {modules_dir}")
    mod_name, version = module_info(module_dir)
    with tempfile.TemporaryDirectory(prefix="videohub_pack_") as tmp:
        folder, with_weights = stage(mod_name, module_dir, Path(tmp))
        archive = Path(out_dir) / f"{mod_name}-{version}.tar.gz"
        write_tar_gz(folder, archive)
    print(f"{archive} ({'with' if with_weights else 'without'} weights)")
    return archive


def publish(out_dir: Path) -> List[str]:
    """Write out_dir/index.json from its archives; returns the reasons of the archives left out."""
    index, refused = build_index(out_dir)
    print(f"{write_index(out_dir, index)}: {len(index['modules'])} archive(s)")
    for reason in refused:
        print(f"left out of the index: {reason}", file=sys.stderr)
    return refused


# ---------------------------------------------------------------------------------------------- safe install
def hub_home(explicit: Optional[str] = None) -> Path:
    return Path(explicit or os.environ.get("HUB_HOME") or Path.home() / ".paddlehub")


def configured_server(home: Path) -> str:
    """The server `hub config server==URL` wrote into $HUB_HOME/conf/config.yaml (PaddleHub's own default
    when none was set)."""
    conf = home / "conf" / "config.yaml"
    data = yaml.safe_load(conf.read_text()) if conf.is_file() else None
    return (data or {}).get("server") or "http://paddlepaddle.org.cn/paddlehub"


def has_weights(module_dir: Path) -> bool:
    return (module_dir / "weights" / "meta.json").is_file()


def check_loads(module_dir: Path, home: Path) -> bool:
    """Import and construct the module from its folder in a fresh interpreter (weights, card, imports).
    True when it loads; False when its only complaint is that it has no weights (an archive packed without)."""
    code = ("import sys, paddlehub as hub\n"
            "try:\n"
            "    hub.Module(directory=sys.argv[1])\n"
            "except Exception as exc:\n"
            "    if type(exc).__name__ != 'WeightsNotFoundError':\n"
            "        raise\n"
            "    print(exc)\n"
            "    sys.exit(3)\n")
    env = dict(os.environ, HUB_HOME=str(home), PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", code, str(module_dir)], cwd=module_dir.parent, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode == 3 and not has_weights(module_dir):
        return False
    if proc.returncode != 0:
        raise SystemExit(f"the new copy of {module_dir.name} does not load; the installed one is unchanged:\n"
                         f"{proc.stderr[-3000:]}")
    return True


def safe_install(source: Path, home: Path) -> Path:
    """Install an archive or module folder into home/modules/<name>, replacing an old copy only once the new
    one has loaded. Returns the installed folder. UnsafeArchiveError for an archive that fails the member check."""
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    (home / "modules").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="videohub_install_", dir=home / "tmp") as tmp:
        tmp = Path(tmp)
        if source.is_dir():
            name, _ = module_info(source)
            new = tmp / "new" / name
            shutil.copytree(source, new, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            facts, unpacked = safe_extract(source, tmp / "unpacked")
            name = facts.name
            new = tmp / "new" / name
            new.parent.mkdir()
            unpacked.rename(new)
        target = home / "modules" / name
        if not check_loads(new, home):
            if has_weights(target):
                raise SystemExit(f"the new copy of {name} has no weights and the installed one has; the installed "
                                 f"one is unchanged (put the weights into the new version, or `hub uninstall "
                                 f"{name}` first)")
            print(f"note: {name} is installed without weights; constructing it says how to get them",
                  file=sys.stderr)
        old = tmp / "previous"
        if target.exists():
            target.rename(old)  # same file system (both under HUB_HOME): atomic
        try:
            new.rename(target)
        except BaseException:
            if old.exists():
                old.rename(target)
            raise
    return target


def install_by_name(spec: str, home: Path, server: str) -> Path:
    """`NAME` or `NAME==1.0.0` (any condition): resolve at the index, download, verify, install safely."""
    m = NAME_CONDITION.match(spec)
    if not m:
        raise ValueError(f"{spec!r} is neither an existing archive or folder nor NAME[==VERSION]")
    name, condition = m.group("name"), m.group("condition")
    item = resolve(server, name, condition)
    target = home / "modules" / name
    if (target / "module.py").is_file():
        installed = module_info(target)[1]
        newer_or_same = version_key(installed) >= version_key(item["version"])
        if version_key(installed) == version_key(item["version"]) or (condition is None and newer_or_same):
            print(f"{name} {installed} is already installed in {target} (newest published: {item['version']})")
            return target
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="videohub_download_", dir=home / "tmp") as tmp:
        archive = download_verified(item, Path(tmp))
        return safe_install(archive, home)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Pack videohub modules with an index, or install one safely.")
    ap.add_argument("name", nargs="?", help="module folder name under --modules-dir")
    ap.add_argument("--all", action="store_true", help="pack every module under --modules-dir")
    ap.add_argument("--out", default=str(REPO / "dist"), help="folder for the archives and index.json (dist/)")
    ap.add_argument("--modules-dir", default=str(MODULES), help="where the module folders are (modules/)")
    ap.add_argument("--install", metavar="NAME_OR_ARCHIVE", help="install safely instead of packing")
    ap.add_argument("--index", default=None, help="module index URL for --install NAME "
                                                  "(default: the server of `hub config`)")
    ap.add_argument("--hub-home", default=None, help="default: $HUB_HOME or ~/.paddlehub")
    args = ap.parse_args(argv)
    if args.install:
        home = hub_home(args.hub_home)
        source = Path(args.install)
        try:
            if source.exists():
                print(safe_install(source.resolve(), home))
            else:
                print(install_by_name(args.install, home, args.index or configured_server(home)))
        except (UnsafeArchiveError, LookupError, ConnectionError, ValueError) as exc:
            print(f"error: {exc}; nothing was installed or changed", file=sys.stderr)
            return 1
        return 0
    if bool(args.name) == args.all:
        ap.error("give one module NAME or --all to pack, or --install NAME_OR_ARCHIVE")
    modules_dir, out = Path(args.modules_dir), Path(args.out)
    names = sorted(p.name for p in modules_dir.iterdir() if (p / "module.py").is_file()) if args.all else [args.name]
    for name in names:
        pack(name, out, modules_dir)
    return 1 if publish(out) else 0


if __name__ == "__main__":
    sys.exit(main())
