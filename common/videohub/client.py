"""Client for a module behind `hub serving`: send video files as base64, get the Python API's results back.

    from videohub.client import classify_remote
    classify_remote("127.0.0.1:8866", "i3d_kinetics400", ["a.mp4"], top_k=3)

Uses only the standard library, so it runs on a machine without Paddle.
"""
from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from typing import Any, Dict, List, Sequence, Union


class ServingError(RuntimeError):
    """The server refused the whole request (non-"000" status, HTTP error, or a reply that is not JSON)."""

    def __init__(self, message: str, status: str = "", http_status: int = 0):
        super().__init__(message)
        self.status, self.http_status = status, http_status


def predict_url(url_or_host: str, module: str) -> str:
    """`host:port`, `http://host:port` or a full `.../predict/<module>` URL -> the module's predict URL."""
    url = url_or_host if "://" in url_or_host else f"http://{url_or_host}"
    if "/predict/" in url:
        return url
    return f"{url.rstrip('/')}/predict/{module}"


def encode_files(paths: Sequence[Union[str, os.PathLike]]) -> List[str]:
    """Base64 text of each file's bytes (what the `videos` field takes)."""
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(base64.b64encode(f.read()).decode("ascii"))
    return out


def unpack_response(payload: Dict[str, Any]) -> Any:
    """PaddleHub's `{"status", "msg", "results"}` -> the results. The default and multiprocess modes put them in
    `results`; the `--use_gpu` front-end puts them in `msg` (and the error text in `results`). Labels come
    back ranked as the Python API gives them."""
    status = str(payload.get("status", ""))
    msg, results = payload.get("msg"), payload.get("results")
    if status != "000":
        text = msg if isinstance(msg, str) and msg else results
        raise ServingError(f"server error {status}: {text}", status=status)
    for found in (results, msg):
        if isinstance(found, list):
            return [ranked(r) for r in found]
    raise ServingError(f"reply has no results list: {str(payload)[:300]}", status=status)


def ranked(result: Dict[str, Any]) -> Dict[str, Any]:
    """Flask's JSON sorts object keys alphabetically; put a result's labels back in descending probability."""
    pred = result.get("prediction") if isinstance(result, dict) else None
    if not isinstance(pred, dict):
        return result
    return dict(result, prediction=dict(sorted(pred.items(), key=lambda kv: -kv[1])))


def post_json(url: str, body: Dict[str, Any], timeout: float = 300.0) -> Dict[str, Any]:
    """POST a JSON body; returns the decoded JSON reply. HTTP errors become ServingError with the reply text."""
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        hint = " (request body larger than the server's limit)" if exc.code == 413 else ""
        raise ServingError(f"HTTP {exc.code}{hint}: {detail}", http_status=exc.code) from exc
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ServingError(f"reply is not JSON: {raw[:300]!r}") from exc


def classify_remote(url_or_host: str, module: str, paths: Sequence[Union[str, os.PathLike]],
                    timeout: float = 300.0, **kwargs: Any) -> List[Dict[str, Any]]:
    """Classify local video files on a server: one result per path, in order, each as the Python API gives it
    (`{"path", "prediction"}` or `{"path", "error"}`), with `path` set back to the local path. `kwargs` go into
    the request (`top_k`, `threshold`, ...)."""
    paths = [str(p) for p in paths]
    results = unpack_response(post_json(predict_url(url_or_host, module),
                                        {"videos": encode_files(paths), **kwargs}, timeout))
    if len(results) != len(paths):
        raise ServingError(f"sent {len(paths)} videos, got {len(results)} results")
    return [dict(r, path=p) for r, p in zip(results, paths)]
