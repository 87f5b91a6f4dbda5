"""What a module archive must look like before anything unpacks, indexes or serves it.

A module archive is a tar (gzip-compressed or not) whose members all lie in one folder named after the module
(what `hub install` expects). The member check refuses, naming the first offending member:
absolute paths, `..` or empty/`.` path components and backslashes; symbolic links, hard links, devices and FIFOs
(our archives never need a link, so none is allowed, whether it would escape or not); setuid/setgid/sticky bits;
members outside the one top-level folder. PaddleHub's own extraction checks none of this, so an archive that
fails here is never published, served or installed.
"""
from __future__ import annotations

import ast
import hashlib
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Dict, Optional, Tuple, Union

from videohub.distribution.versions import version_key

PathLike = Union[str, Path]
MODULEINFO_FIELDS = ("name", "version", "summary", "author", "author_email", "type")


class UnsafeArchiveError(ValueError):
    """An archive that must not be unpacked, published or served; the message is one line naming why."""


@dataclass(frozen=True)
class ArchiveFacts:
    """What an archive that passed the member check declares (read from its module.py and card.json)."""
    name: str
    version: str
    summary: str = ""
    author: str = ""
    author_email: str = ""
    type: str = ""
    weights: bool = False                                   # weights/meta.json is in the archive
    requires: Dict[str, str] = field(default_factory=dict)  # card.json `requires` (paddle/hub version ranges)


def sha256_file(path: PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def member_problem(member: tarfile.TarInfo) -> Optional[str]:
    """Why one member may not be unpacked, or None."""
    name = member.name
    if "\\" in name:
        return "has a backslash in its path"
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        return "has an absolute path"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "has a '..' path component"
    if any(p in ("", ".") for p in parts):
        return "has an empty or '.' path component"
    if member.issym() or member.islnk():
        return f"is a {'symbolic' if member.issym() else 'hard'} link (to {member.linkname!r})"
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or folder (device, FIFO or other special file)"
    if member.mode & 0o7000:
        return "has setuid, setgid or sticky permission bits"
    return None


def read_moduleinfo(source: str, where: str = "module.py") -> Dict[str, str]:
    """The literal keyword arguments of the `@moduleinfo(...)` decorator, read from the source without running
    it (as PaddleHub's `Module.load_module_info` does)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UnsafeArchiveError(f"{where} does not parse: {exc.msg} (line {exc.lineno})") from None
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for deco in node.decorator_list:
            func = getattr(deco, "func", None)
            if getattr(func, "id", getattr(func, "attr", None)) != "moduleinfo":
                continue
            return {kw.arg: kw.value.value for kw in deco.keywords
                    if kw.arg in MODULEINFO_FIELDS and isinstance(kw.value, ast.Constant)}
    raise UnsafeArchiveError(f"{where} has no @moduleinfo class")


def _member_text(tar: tarfile.TarFile, member: Optional[tarfile.TarInfo]) -> Optional[str]:
    if member is None:
        return None
    with tar.extractfile(member) as f:
        return f.read().decode("utf-8")


def _facts(top: str, moduleinfo: Dict[str, str], card: Optional[Dict[str, Any]], weights: bool) -> ArchiveFacts:
    name, version = moduleinfo.get("name"), str(moduleinfo.get("version", ""))
    if name != top:
        raise UnsafeArchiveError(f"its folder is {top!r} but module.py declares the module {name!r}")
    try:
        version_key(version)
    except ValueError as exc:
        raise UnsafeArchiveError(f"module.py: {exc}") from None
    requires = (card or {}).get("requires", {})
    if not isinstance(requires, dict) or not all(isinstance(v, str) for v in requires.values()):
        raise UnsafeArchiveError("card.json: `requires` must map paddle_version/hub_version to '[min, max]'")
    info = {k: str(moduleinfo.get(k, "")) for k in MODULEINFO_FIELDS if k not in ("name", "version")}
    return ArchiveFacts(name=name, version=version, weights=weights, requires=dict(requires), **info)


def _scan(tar: tarfile.TarFile) -> Tuple[str, ArchiveFacts]:
    tops, named = set(), {}
    for member in tar:  # reads the whole stream: a truncated or corrupt archive fails here
        problem = member_problem(member)
        if problem:
            raise UnsafeArchiveError(f"member {member.name!r} {problem}")
        tops.add(member.name.split("/", 1)[0])
        if len(tops) > 1:
            raise UnsafeArchiveError(f"more than one top-level folder ({', '.join(sorted(tops))})")
        named[member.name] = member
    if not tops:
        raise UnsafeArchiveError("it is empty")
    top = tops.pop()
    module_py = named.get(f"{top}/module.py")
    if module_py is None or not module_py.isfile():
        raise UnsafeArchiveError(f"it has no {top}/module.py")
    card_text = _member_text(tar, named.get(f"{top}/card.json"))
    try:
        card = json.loads(card_text) if card_text is not None else None
    except json.JSONDecodeError as exc:
        raise UnsafeArchiveError(f"card.json is not JSON ({exc})") from None
    moduleinfo = read_moduleinfo(_member_text(tar, module_py), f"{top}/module.py")
    return top, _facts(top, moduleinfo, card, f"{top}/weights/meta.json" in named)


def check_archive(path: PathLike) -> ArchiveFacts:
    """Run the member check over the whole archive and read what it declares; UnsafeArchiveError (one line,
    starting with the file name) when it must not be used."""
    path = Path(path)
    try:
        with tarfile.open(path, "r:*") as tar:
            return _scan(tar)[1]
    except UnsafeArchiveError as exc:
        raise UnsafeArchiveError(f"{path.name}: {exc}") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise UnsafeArchiveError(f"{path.name}: not a readable module archive ({type(exc).__name__}: {exc})") \
            from None


def safe_extract(path: PathLike, dest: PathLike) -> Tuple[ArchiveFacts, Path]:
    """Check the archive, then unpack it into `dest` (with tarfile's "data" filter as a second guard).
    Returns its facts and the unpacked module folder."""
    facts = check_archive(path)
    with tarfile.open(path, "r:*") as tar:
        tar.extractall(dest, filter="data")
    return facts, Path(dest) / facts.name
