"""Serve a folder of module archives as a PaddleHub module server, so that the stock client installs by name.

    python scripts/pack.py --all --out dist/                        # archives + dist/index.json
    python scripts/hub_index.py serve dist/ --host 127.0.0.1 --port 8867 [--base-url URL]
    hub config server==http://127.0.0.1:8867
    hub install videotag_tsn_lstm ; hub search video ; hub install i3d_kinetics400==1.0.0

    python scripts/hub_index.py index dist/      # (re)write dist/index.json from the archives in dist/

The client needs this running server (or the same WSGI application, `videohub.distribution.server.IndexApp`,
under another WSGI server): its `search` request carries the word, version condition and Paddle/PaddleHub
versions, which static files cannot answer. Standard library only; Paddle is not imported.
`--port 0` picks a free port; the first line printed gives the address.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import List, Optional
from wsgiref.simple_server import WSGIServer, make_server

from videohub.distribution.index import build_index, write_index
from videohub.distribution.server import IndexApp


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow download does not hold up searches


def index_folder(folder: Path) -> int:
    """Write folder/index.json; report archives left out (exit status 1 when any was)."""
    index, refused = build_index(folder)
    path = write_index(folder, index)
    print(f"{path}: {len(index['modules'])} archive(s)")
    for reason in refused:
        print(f"left out: {reason}", file=sys.stderr)
    return 1 if refused else 0


def serve(folder: Path, host: str, port: int, base_url: Optional[str]) -> int:
    app = IndexApp(folder, base_url)
    count = len(app.index.entries())  # verify and report before the first client asks
    with make_server(host, port, app, server_class=ThreadingWSGIServer) as httpd:
        print(f"serving {count} archive(s) from {folder} at http://{host}:{httpd.server_port}", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="answer PaddleHub's client from FOLDER/index.json")
    s.add_argument("folder", type=Path)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8867)
    s.add_argument("--base-url", default=None,
                   help="address clients reach this server at, for archive URLs (default: the request's Host)")
    i = sub.add_parser("index", help="write FOLDER/index.json from the archives in FOLDER")
    i.add_argument("folder", type=Path)
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder", file=sys.stderr)
        return 2
    if args.command == "index":
        return index_folder(args.folder)
    if not (args.folder / "index.json").is_file():
        print(f"error: {args.folder / 'index.json'} does not exist; build it with "
              f"`python scripts/pack.py --all --out {args.folder}`", file=sys.stderr)
        return 2
    return serve(args.folder, args.host, args.port, args.base_url)


if __name__ == "__main__":
    sys.exit(main())
