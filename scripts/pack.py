"""Pack a module into a self-contained archive for `hub install`, and install archives safely.

    python scripts/pack.py NAME [--out DIR]              # -> DIR/NAME-VERSION.tar.gz (default DIR: dist/)
    python scripts/pack.py --install ARCHIVE_OR_DIR [--hub-home DIR]

The archive's first path component is the module folder (what `hub install` expects). It holds the module's
files, the weight files the runtime needs, a copy of the `videohub` core in `NAME/_vendor/videohub`, and a
`requirements.txt` with the core's dependencies. The packed `__init__.py` ends with `vendor_bootstrap.py`,
which puts `_vendor` on sys.path only when no videohub is installed, so the module runs on a machine that never
saw this repository. Entries are sorted with fixed times and owners, so packing twice gives the same bytes.

`--install` is the safe alternative to `hub install`: PaddleHub deletes the installed copy *before* copying
and loading the new one, so a failing install leaves a broken module. Here the new copy is unpacked and
loaded (`hub.Module(directory=...)`, in a subprocess) in `$HUB_HOME/tmp` first, and only then swapped in with
two renames; any failure before that leaves the previous install untouched. It does not pip-install anything.
"""
from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "common" / "videohub"
BOOTSTRAP = Path(__file__).resolve().with_name("vendor_bootstrap.py")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "weights", "_vendor")


def module_info(module_dir: Path) -> Tuple[str, str]:
    """(name, version) from module.py's @moduleinfo, read the way `hub install` reads it (AST, no import)."""
    from paddlehub.module.module import Module

    info = Module.load_module_info(str(module_dir))
    return info.name, str(info.version)


def runtime_weight_files(module_dir: Path) -> List[Path]:
    """The weight files the module may load at run time (its whole weights/ folder, once installed)."""
    from videohub.card import load_card
    from videohub.runtime.files import weights_dir
    from videohub.weights import weights_installed

    card = load_card(module_dir)
    parts = list(card.models) or [None]
    if not weights_installed(module_dir, [p for p in parts if p is not None]):
        raise SystemExit(f"{module_dir.name}: weights are not installed; run "
                         f"`python scripts/fetch_weights.py {module_dir.name}` first")
    # the whole weights folder: besides the exported model, the runtime may read model.pdparams (engine checks)
    return sorted(f for f in weights_dir(module_dir).rglob("*") if f.is_file())


def core_requirements() -> List[str]:
    """videohub's runtime dependencies, from pyproject.toml (one source of truth)."""
    with open(REPO / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def stage(name: str, module_dir: Path, dest: Path) -> Path:
    """Lay out the self-contained module folder under dest/<name>."""
    out = dest / name
    shutil.copytree(module_dir, out, ignore=SKIP)
    for f in runtime_weight_files(module_dir):
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
    return out


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def write_tar_gz(folder: Path, archive: Path) -> None:
    """Deterministic tar.gz of `folder` (sorted entries, fixed owners and times), first component its name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = [folder] + sorted(folder.rglob("*"))
        for p in paths:
            tar.add(p, arcname=str(p.relative_to(folder.parent)), recursive=False, filter=_normalised)
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".part")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue())
    os.replace(tmp, archive)


def pack(name: str, out_dir: Path) -> Path:
    """Build dist archive for modules/<name>; returns its path."""
    module_dir = REPO / "modules" / name
    if not (module_dir / "module.py").is_file():
        raise SystemExit(f"no module {name!r} in {REPO / 'modules'}")
    mod_name, version = module_info(module_dir)
    with tempfile.TemporaryDirectory(prefix="videohub_pack_") as tmp:
        folder = stage(mod_name, module_dir, Path(tmp))
        archive = Path(out_dir) / f"{mod_name}-{version}.tar.gz"
        write_tar_gz(folder, archive)
    return archive


# ---------------------------------------------------------------------------------------------- safe install
def hub_home(explicit: Optional[str] = None) -> Path:
    return Path(explicit or os.environ.get("HUB_HOME") or Path.home() / ".paddlehub")


def unpack_archive(archive: Path, dest: Path) -> Path:
    """Extract (refusing links and paths that leave dest) and return the module folder (first component)."""
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tops = {n.split("/", 1)[0] for n in names if n and n != "."}
        if len(tops) != 1:
            raise SystemExit(f"{archive}: expected one top-level module folder, found {sorted(tops)}")
        tar.extractall(dest, filter="data")
    return dest / tops.pop()


def check_loads(module_dir: Path, home: Path) -> None:
    """Import and construct the module from its folder in a fresh interpreter (weights, card, imports)."""
    code = "import sys, paddlehub as hub; hub.Module(directory=sys.argv[1])"
    env = dict(os.environ, HUB_HOME=str(home), PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", code, str(module_dir)], cwd=module_dir.parent, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"the new copy of {module_dir.name} does not load; the installed one is unchanged:\n"
                         f"{proc.stderr[-3000:]}")


def safe_install(source: Path, home: Path) -> Path:
    """Install an archive or module folder into home/modules/<name>, replacing an old copy only once the new
    one has loaded. Returns the installed folder."""
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    (home / "modules").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="videohub_install_", dir=home / "tmp") as tmp:
        tmp = Path(tmp)
        if source.is_dir():
            name, _ = module_info(source)
            new = tmp / "new" / name
            shutil.copytree(source, new, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            unpacked = unpack_archive(source, tmp / "unpacked")
            name, _ = module_info(unpacked)
            new = tmp / "new" / name
            new.parent.mkdir()
            unpacked.rename(new)
        check_loads(new, home)
        target = home / "modules" / name
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


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Pack a videohub module for `hub install`, or install one safely.")
    ap.add_argument("name", nargs="?", help="module folder name under modules/")
    ap.add_argument("--out", default=str(REPO / "dist"), help="folder for the archive (default: dist/)")
    ap.add_argument("--install", metavar="ARCHIVE_OR_DIR", help="install safely instead of packing")
    ap.add_argument("--hub-home", default=None, help="default: $HUB_HOME or ~/.paddlehub")
    args = ap.parse_args(argv)
    if args.install:
        print(safe_install(Path(args.install).resolve(), hub_home(args.hub_home)))
        return 0
    if not args.name:
        ap.error("give a module NAME to pack, or --install ARCHIVE_OR_DIR")
    print(pack(args.name, Path(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
