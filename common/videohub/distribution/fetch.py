"""Our side of installing by name (`scripts/pack.py --install NAME`): ask the index server which archive, then
download it and check its size and sha256 against what the server published before anything unpacks it.
The stock PaddleHub client checks neither; this is the install step that does.
"""
from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from videohub.distribution.archive import UnsafeArchiveError
from videohub.distribution.versions import check_condition

BLOCK = 1 << 20


def running_versions() -> Tuple[Optional[str], Optional[str]]:
    """(Paddle, PaddleHub) versions installed here, read from package metadata (nothing is imported)."""
    def version(dist: str) -> Optional[str]:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None
    return version("paddlepaddle") or version("paddlepaddle-gpu"), version("paddlehub")


def _reason(exc: urllib.error.HTTPError) -> str:
    """The `msg` of the index server's JSON error body, else the HTTP reason."""
    try:
        return json.loads(exc.read().decode("utf-8")).get("msg") or str(exc.reason)
    except ValueError:
        return str(exc.reason)


def _get_json(server: str, path: str, params: Dict[str, str], timeout: float) -> Dict[str, Any]:
    url = f"{server.rstrip('/')}/{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise LookupError(f"the module index at {server} answered {exc.code} to {path}: {_reason(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(f"cannot reach the module index at {server}: {getattr(exc, 'reason', exc)}") from None
    except ValueError:
        raise LookupError(f"{server} is not a module index (its {path} answer is not JSON)") from None


def resolve(server: str, name: str, condition: Optional[str] = None, timeout: float = 30.0) -> Dict[str, Any]:
    """The index's item for `name`: its newest version meeting `condition` that runs on this Paddle and
    PaddleHub. LookupError saying what is published when there is none."""
    check_condition(condition)
    paddle_version, hub_version = running_versions()
    params = {"word": name, "type": "module", "version": condition or "", "paddle_version": paddle_version or "",
              "hub_version": hub_version or ""}
    found = _get_json(server, "search", params, timeout)
    for item in found.get("data") or []:
        if item.get("name") == name:
            return item
    versions = (_get_json(server, "info", {"name": name}, timeout).get("data") or {}).get("info", [])
    if not versions:
        raise LookupError(f"no module named {name} at {server}")
    listed = ", ".join(f"{v['version']} (paddle {v['paddle_version']}, paddlehub {v['hub_version']})"
                       for v in versions)
    raise LookupError(f"no version of {name} meets {condition or 'any version'!r} and runs on Paddle "
                      f"{paddle_version} / PaddleHub {hub_version}; published: {listed}")


def download_verified(item: Dict[str, Any], dest_dir: Path, timeout: float = 60.0) -> Path:
    """Download an index item's archive into dest_dir, checking size and sha256 as it arrives; UnsafeArchiveError
    (nothing kept) when they differ from the index or the server refuses the file."""
    if not item.get("sha256") or not isinstance(item.get("size"), int):
        raise UnsafeArchiveError(f"the index publishes no sha256/size for {item.get('name')} "
                                 f"{item.get('version')}; refusing an archive that cannot be checked")
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{item['name']}-{item['version']}.tar.gz"
    part = target.with_name(target.name + ".part")
    digest, got = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(item["url"], timeout=timeout) as r, open(part, "wb") as out:
            while block := r.read(BLOCK):
                got += len(block)
                if got > item["size"]:
                    break
                digest.update(block)
                out.write(block)
    except urllib.error.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise UnsafeArchiveError(f"the server refused {target.name} ({exc.code}): {_reason(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        part.unlink(missing_ok=True)
        raise ConnectionError(f"downloading {item['url']} failed: {getattr(exc, 'reason', exc)}") from None
    if got != item["size"] or digest.hexdigest() != item["sha256"]:
        part.unlink(missing_ok=True)
        raise UnsafeArchiveError(f"{target.name}: downloaded {got} bytes with sha256 {digest.hexdigest()}, the "
                                 f"index says {item['size']} bytes with sha256 {item['sha256']}")
    part.replace(target)
    return target
