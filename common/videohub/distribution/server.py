"""The index server as a WSGI application (run by `scripts/hub_index.py serve`, or by any WSGI server).

    GET /search?word=&type=module&version=&paddle_version=&hub_version=   PaddleHub's search (see index.py)
    GET /info?name=NAME                                                    every version of NAME, with ranges
    GET /archives/FILE                                                     an archive, only when verified
    GET /index.json                                                        the published entries, with URLs

What is published: the entries of `index.json` whose archive is in the folder, passes the member check, declares
the same module and version, and has the size and sha256 the index records; the others are left out and logged.
The index is re-read when `index.json` changes, so publishing a version needs no restart. Every download hashes
the file again and is refused (HTTP 409) when it no longer matches the index: PaddleHub's client unpacks
whatever it receives, so the server is where a swapped or corrupted archive has to stop.
"""
from __future__ import annotations

import hashlib
import json
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import parse_qs, quote, unquote

from videohub.distribution.archive import PathLike, UnsafeArchiveError
from videohub.distribution.index import (INDEX_FILE, Entry, archive_entry, client_item, read_index, search,
                                         versions_of)

BLOCK = 1 << 20
Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def verify_listed(folder: Path, listed: Entry) -> Entry:
    """The archive's own entry when it matches what the index lists for it, else UnsafeArchiveError."""
    name = str(listed.get("file", ""))
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise UnsafeArchiveError(f"index entry names the file {name!r}, which is not a file of this folder")
    path = folder / name
    if not path.is_file():
        raise UnsafeArchiveError(f"{name}: listed in the index but missing")
    actual = archive_entry(path)
    for key in ("name", "version", "size", "sha256"):
        if str(actual[key]) != str(listed.get(key)):
            raise UnsafeArchiveError(f"{name}: its {key} is {actual[key]!r}, the index says {listed.get(key)!r}")
    return actual


class PublishedIndex:
    """The verified entries of a folder's index.json, re-read (and re-verified) when the file changes."""

    def __init__(self, folder: PathLike, log: Log = _stderr):
        self.folder = Path(folder).resolve()
        self.log = log
        self._lock = threading.Lock()
        self._stamp: Optional[Tuple[int, int, int]] = None
        self._entries: List[Entry] = []

    def entries(self) -> List[Entry]:
        path = self.folder / INDEX_FILE
        st = path.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if stamp != self._stamp:
                self._entries = self._load()
                self._stamp = stamp
            return self._entries

    def _load(self) -> List[Entry]:
        published = []
        for listed in read_index(self.folder)["modules"]:
            try:
                published.append(verify_listed(self.folder, listed))
            except UnsafeArchiveError as exc:
                self.log(f"not published: {exc}")
        self.log(f"publishing {len(published)} archive(s) from {self.folder / INDEX_FILE}")
        return published

    def archive(self, file_name: str) -> Optional[Entry]:
        return next((e for e in self.entries() if e["file"] == file_name), None)


class IndexApp:
    """WSGI application answering PaddleHub's client from a folder of archives and its index.json.
    `base_url`: the address clients reach this server at (default: the request's Host), for archive URLs."""

    def __init__(self, folder: PathLike, base_url: Optional[str] = None, log: Log = _stderr):
        self.index = PublishedIndex(folder, log)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.log = log

    # -------------------------------------------------------------------------------------------- plumbing
    def __call__(self, environ: Dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            if environ.get("REQUEST_METHOD", "GET") != "GET":
                return self._json(start_response, 405, {"status": 1, "msg": "only GET is served"})
            if path.rstrip("/") == "/search" or path == "/":
                return self._search(start_response, query, environ)
            if path.rstrip("/") == "/info":
                return self._info(start_response, query, environ)
            if path == "/" + INDEX_FILE:
                return self._published(start_response, environ)
            if path.startswith("/archives/"):
                return self._archive(start_response, unquote(path[len("/archives/"):]))
            return self._json(start_response, 404, {"status": 1, "msg": f"no such resource: {path}"})
        except (OSError, ValueError) as exc:  # a missing or unreadable index.json: say so, keep serving
            self.log(f"error answering {path}: {exc}")
            return self._json(start_response, 500, {"status": 1, "msg": str(exc)})

    @staticmethod
    def _json(start_response: Callable, code: int, payload: Dict[str, Any]) -> List[bytes]:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
                  500: "Internal Server Error"}[code]
        start_response(f"{code} {reason}", [("Content-Type", "application/json; charset=utf-8"),
                                            ("Content-Length", str(len(body)))])
        return [body]

    def _url(self, environ: Dict[str, Any], entry: Entry) -> str:
        if self.base_url:
            base = self.base_url
        else:
            host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
            base = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('SCRIPT_NAME', '')}"
        return f"{base}/archives/{quote(entry['file'])}"

    # -------------------------------------------------------------------------------------------- routes
    def _search(self, start_response: Callable, q: Dict[str, str], environ: Dict[str, Any]) -> List[bytes]:
        if q.get("type") and q["type"].lower() != "module":
            return self._json(start_response, 200, {"status": 0, "msg": "", "data": []})
        try:
            found = search(self.index.entries(), q.get("word"), q.get("version"), q.get("paddle_version"),
                           q.get("hub_version"))
        except ValueError as exc:
            return self._json(start_response, 400, {"status": 1, "msg": str(exc), "data": []})
        data = [client_item(e, self._url(environ, e)) for e in found]
        return self._json(start_response, 200, {"status": 0, "msg": "", "data": data})

    def _info(self, start_response: Callable, q: Dict[str, str], environ: Dict[str, Any]) -> List[bytes]:
        versions = versions_of(self.index.entries(), q.get("name", ""))
        keys = ("version", "paddle_version", "hub_version", "sha256", "size")
        info = [{**{k: e[k] for k in keys}, "url": self._url(environ, e)} for e in versions]
        return self._json(start_response, 200, {"status": 0, "msg": "", "data": {"info": info} if info else {}})

    def _published(self, start_response: Callable, environ: Dict[str, Any]) -> List[bytes]:
        data = [client_item(e, self._url(environ, e)) for e in self.index.entries()]
        return self._json(start_response, 200, {"status": 0, "msg": "", "data": data})

    def _archive(self, start_response: Callable, file_name: str) -> Iterable[bytes]:
        entry = self.index.archive(file_name)
        if entry is None:
            return self._json(start_response, 404, {"status": 1, "msg": f"{file_name} is not published here"})
        f = open(self.index.folder / file_name, "rb")
        digest = hashlib.file_digest(f, "sha256").hexdigest()  # the bytes about to be sent, from the same handle
        if digest != entry["sha256"]:
            f.close()
            msg = (f"{file_name} has sha256 {digest} but the index says {entry['sha256']}: "
                   "refusing to serve it (the archive changed after it was indexed)")
            self.log(msg)
            return self._json(start_response, 409, {"status": 1, "msg": msg})
        size = f.seek(0, 2)
        f.seek(0)
        start_response("200 OK", [("Content-Type", "application/gzip"), ("Content-Length", str(size)),
                                  ("X-Content-SHA256", digest)])
        return _blocks(f)


def _blocks(f) -> Iterable[bytes]:
    with f:
        while block := f.read(BLOCK):
            yield block
