"""Distributing modules by name: the archives `scripts/pack.py` builds, the module index that
`scripts/hub_index.py serve` answers PaddleHub's client from, and the checks every step shares. Standard library
only, so the index server runs without Paddle; it imports no other part of the core.

* `archive.py` — the member check (one implementation, used when packing, indexing, serving and installing):
  one top-level module folder, only regular files and folders, no absolute path, no `..`, no link of any kind;
  `check_archive` reads an archive's `@moduleinfo` and card facts without unpacking it, `safe_extract` unpacks
  only what passed;
* `index.py` — `index.json` (one entry per archive: name, version, summary, author, type, file, sha256, size,
  paddle/hub version ranges, weights included), versions and conditions as PaddleHub reads them, and the
  answers to the client's `search` and `info` requests;
* `server.py` — the WSGI application: publishes only archives whose bytes still match the index and pass the
  member check, and refuses to send a file whose sha256 differs from the index;
* `fetch.py` — the client side of our safe install (`pack.py --install NAME`): resolve a name at the server,
  download, check size and sha256 against what the server published.
"""
