"""Input streaming and the results folder, without a model: folders, globs, list files and URIs; shards
written whole; superseded rows removed when the index is rebuilt (also after a crash between the two)."""
from __future__ import annotations

import os
import types

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from videohub.batch.inputs import batched, iter_inputs, local_path, remote_item, scheme_of
from videohub.batch.store import FolderLocked, ResultStore, row_schema


def test_inputs_stream_from_folders_globs_lists_and_uris(tmp_path):
    for rel in ["b/2.mp4", "b/1.MKV", "a/z.avi", "a/notes.txt", "top.mp4"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    walked = iter_inputs(str(tmp_path))
    assert isinstance(walked, types.GeneratorType)  # streamed, not a list
    assert [os.path.relpath(p, tmp_path) for p in walked] == ["a/z.avi", "b/1.MKV", "b/2.mp4", "top.mp4"]
    assert sorted(os.path.relpath(p, tmp_path) for p in iter_inputs(str(tmp_path / "b" / "*.mp4"))) == ["b/2.mp4"]
    assert list(iter_inputs(tmp_path.as_uri())) == list(iter_inputs(str(tmp_path)))
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\n\n/x/a.mp4\n  file:///x/b%20c.mp4  \ns3://bucket/k.mp4\n")
    assert list(iter_inputs(str(listing))) == ["/x/a.mp4", "file:///x/b%20c.mp4", "s3://bucket/k.mp4"]
    assert local_path("file:///x/b%20c.mp4") == "/x/b c.mp4" and local_path("s3://bucket/k.mp4") is None
    assert scheme_of("C://not/a/scheme") is None and scheme_of("gs://b/k") == "gs"
    assert list(iter_inputs("/no/such/file.mp4")) == ["/no/such/file.mp4"]  # its row will say why
    assert [len(b) for b in batched(iter(range(7)), 3)] == [3, 3, 1]
    assert type(remote_item("nosuchscheme://a/b.mp4").error).__name__ == "UnsupportedInputError"


def _rows(paths, status="ok", key="k1"):
    """Rows of the classify schema (the columns not given are null)."""
    return pa.Table.from_pylist([{"path": p, "status": status, "run_key": key, "labels": ["a"], "scores": [0.5],
                                  "error_type": None if status == "ok" else "VideoOpenError"} for p in paths],
                                schema=row_schema("classify"))


def test_store_keeps_the_newest_row_of_each_path(tmp_path):
    store = ResultStore(tmp_path / "out", "classify").lock()
    with pytest.raises(FolderLocked):
        ResultStore(tmp_path / "out", "classify").lock()
    store.write_shard(_rows(["a", "b", "c"], status="error"))
    store.write_shard(_rows(["d"]))
    # a crash after the retry's shard was written but before the old rows were removed: both are on disk
    store.write_shard(_rows(["b", "c"], key="k1"))
    assert pq.read_table(store.shards_dir).num_rows == 6
    assert store.rebuild_index() == 2
    table = store.read_rows()
    assert sorted(table.column("path").to_pylist()) == ["a", "b", "c", "d"]
    assert store.lookup(["a", "b", "x"]) == {"a": ("error", "k1"), "b": ("ok", "k1")}
    assert store.counts("k1") == {"rows": 4, "ok": 3, "errors": 1, "errors_by_type": {"VideoOpenError": 1},
                                  "rows_of_other_versions": 0}
    assert store.first_seen(["a", "b", "a"]) == ["a", "b"] and store.first_seen(["b", "e"]) == ["e"]
    assert not list(store.shards_dir.glob(".*"))  # no temporary files left
    store.close()
