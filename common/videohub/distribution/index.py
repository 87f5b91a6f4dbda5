"""The module index (`index.json` beside the archives) and the answers to PaddleHub's `search` and `info`.

    {"format": 1, "modules": [{"name": "i3d_kinetics400", "version": "1.0.0", "summary": "...", "author": "...",
      "author_email": "", "type": "video/classification", "file": "i3d_kinetics400-1.0.0.tar.gz",
      "sha256": "...", "size": 123, "weights": true,
      "paddle_version": "[3.0.0, 99.0.0]", "hub_version": "[2.4.0, 99.0.0]"}, ...]}

Every entry is read from its archive (`archive.check_archive`), never typed by hand; an archive that fails the
member check is left out. The version ranges come from the module's card (`"requires": {"paddle_version":
"[min, max]", "hub_version": "[min, max]"}`), else `DEFAULT_REQUIRES`: the core needs Paddle 3 (PIR `.json`
inference models) and PaddleHub 2.4's module API.

The client (`paddlehub/server/server_source.py`) sends `GET /search?word=&type=module&version=&paddle_version=
&hub_version=` and reads `{"status": 0, "data": [{name, version, url, paddle_version, hub_version, type,
summary}]}`; `hub install NAME` installs the first item whose name equals NAME and whose version meets its
condition, so `search` returns for each matching name the newest version that meets the condition and runs on
the client's Paddle and PaddleHub. `GET /info?name=` lists every version with its ranges (the client explains
a mismatch with it).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from videohub.distribution.archive import PathLike, UnsafeArchiveError, check_archive, sha256_file
from videohub.distribution.versions import check_condition, in_range, matches, parse_range, version_key

INDEX_FILE = "index.json"
INDEX_FORMAT = 1
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
DEFAULT_REQUIRES = {"paddle_version": "[3.0.0, 99.0.0]", "hub_version": "[2.4.0, 99.0.0]"}
Entry = Dict[str, Any]


def archive_entry(path: PathLike) -> Entry:
    """The index entry of one archive (member check, module.py and card.json facts, sha256, size)."""
    path = Path(path)
    facts = check_archive(path)
    requires = {**DEFAULT_REQUIRES, **facts.requires}
    unknown = set(requires) - set(DEFAULT_REQUIRES)
    if unknown:
        raise UnsafeArchiveError(f"{path.name}: card.json `requires` has unknown keys {sorted(unknown)}")
    for text in requires.values():
        try:
            parse_range(text)
        except ValueError as exc:
            raise UnsafeArchiveError(f"{path.name}: card.json `requires`: {exc}") from None
    return {"name": facts.name, "version": facts.version, "summary": facts.summary, "author": facts.author,
            "author_email": facts.author_email, "type": facts.type, "file": path.name,
            "sha256": sha256_file(path), "size": path.stat().st_size, "weights": facts.weights, **requires}


def archives_in(folder: PathLike) -> List[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES))


def build_index(folder: PathLike) -> Tuple[Dict[str, Any], List[str]]:
    """(index of every archive in `folder` that passes the member check, reasons for the ones left out)."""
    entries: Dict[Tuple[str, str], Entry] = {}
    refused: List[str] = []
    for path in archives_in(folder):
        try:
            entry = archive_entry(path)
        except UnsafeArchiveError as exc:
            refused.append(str(exc))
            continue
        key = (entry["name"], str(version_key(entry["version"])))
        if key in entries:
            refused.append(f"{path.name}: {entry['name']} {entry['version']} is already in "
                           f"{entries[key]['file']}")
            continue
        entries[key] = entry
    modules = sorted(entries.values(), key=lambda e: (e["name"], version_key(e["version"])))
    return {"format": INDEX_FORMAT, "modules": modules}, refused


def write_index(folder: PathLike, index: Dict[str, Any]) -> Path:
    """Write `folder/index.json` atomically (a server reading it never sees half a file)."""
    target = Path(folder) / INDEX_FILE
    tmp = target.with_name(f".{INDEX_FILE}.{os.getpid()}")
    tmp.write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def read_index(folder: PathLike) -> Dict[str, Any]:
    path = Path(folder) / INDEX_FILE
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    if index.get("format") != INDEX_FORMAT or not isinstance(index.get("modules"), list):
        raise ValueError(f"{path} is not a module index of format {INDEX_FORMAT}")
    return index


# ---------------------------------------------------------------------------------------------- protocol
def _word_matcher(word: Optional[str]) -> Callable[[str], bool]:
    """PaddleHub's `hub search` sends a regular expression (`.*` by default); a word that is not a valid one
    is searched for literally. Case does not matter."""
    if not word:
        return lambda text: True
    try:
        pattern = re.compile(word, re.IGNORECASE)
    except re.error:
        pattern = re.compile(re.escape(word), re.IGNORECASE)
    return lambda text: bool(pattern.search(text))


def runs_here(entry: Entry, paddle_version: Optional[str], hub_version: Optional[str]) -> bool:
    return in_range(paddle_version, entry["paddle_version"]) and in_range(hub_version, entry["hub_version"])


def search(entries: List[Entry], word: Optional[str] = None, version: Optional[str] = None,
           paddle_version: Optional[str] = None, hub_version: Optional[str] = None) -> List[Entry]:
    """Per module whose name or summary matches `word`: its newest version that meets `version` and runs on
    the given Paddle/PaddleHub. Modules named exactly `word` come first, then by name. ValueError when the
    version condition cannot be read."""
    check_condition(version)
    found = _word_matcher(word)
    newest: Dict[str, Entry] = {}
    for e in entries:
        if not (found(e["name"]) or found(e["summary"])):
            continue
        if not (matches(e["version"], version) and runs_here(e, paddle_version, hub_version)):
            continue
        best = newest.get(e["name"])
        if best is None or version_key(e["version"]) > version_key(best["version"]):
            newest[e["name"]] = e
    exact = (word or "").lower()
    return sorted(newest.values(), key=lambda e: (e["name"].lower() != exact, e["name"]))


def versions_of(entries: List[Entry], name: str) -> List[Entry]:
    """Every published version of one module, oldest first."""
    return sorted((e for e in entries if e["name"] == name), key=lambda e: version_key(e["version"]))


def client_item(entry: Entry, url: str) -> Dict[str, Any]:
    """An entry as the client reads it: `type` is PaddleHub's resource type ("Module"), the module's own type
    is `category`; sha256, size and weights are extra fields the stock client ignores and ours checks."""
    keys = ("name", "version", "summary", "author", "author_email", "sha256", "size", "weights",
            "paddle_version", "hub_version")
    return {**{k: entry[k] for k in keys}, "type": "Module", "category": entry["type"], "url": url}
