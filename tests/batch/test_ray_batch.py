"""Batch jobs on a real local Ray cluster (`ray start` head + worker node on 127.0.0.1): every input gets
exactly one row, equal to the single-process `classify` result; a killed driver and a killed actor lose nothing
once the same command is rerun; reruns skip what is done and `--retry-errors` redoes only the failures."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batch_fixtures import MODULE, RayCluster, install_module, make_library, subprocess_env, wait_for
from conftest import REPO
from videohub.batch.job import JobConfig, run_job

pytest.importorskip("ray", reason="Ray is not installed (requirements.txt pins ray[data])")

# A few hundred tiny clips (64x48, 10 frames: ~0.1 s each through the model), 5 bad inputs, one path listed
# twice; VIDEOHUB_BATCH_TEST_CLIPS sets another size (the whole file took 105 s with 300 on 2 cores).
GOOD = int(os.environ.get("VIDEOHUB_BATCH_TEST_CLIPS", "300"))
BATCH = 4          # inputs per worker call and per shard


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory) -> Path:
    return install_module(tmp_path_factory.mktemp("batch_module"))


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> dict:
    return make_library(tmp_path_factory.mktemp("library"), GOOD)


@pytest.fixture(scope="module")
def reference(module_dir, library) -> dict:
    """path -> the single-process `classify` result of the hub module."""
    import paddlehub as hub

    module = hub.Module(directory=str(module_dir))
    results = {r["path"]: r for r in module.classify(paths=library["inputs"], progress=False)}
    del module
    gc.collect()
    return results


@pytest.fixture(scope="module")
def cluster():
    c = RayCluster()
    try:
        yield c
    finally:
        c.stop()


def batch_command(module_dir, library, output, cluster) -> list:
    return [sys.executable, str(REPO / "scripts" / "batch.py"), str(module_dir), "--inputs", str(library["list"]),
            "--output", str(output), "--ray", cluster.address, "--workers", "2", "--batch-size", str(BATCH),
            "--no-progress"]


def shard_count(output: Path) -> int:
    return len(list((output / "shards").glob("part-*.parquet")))


def rows_written(output: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (output / "shards").glob("part-*.parquet"))


def check_complete(output: Path, library: dict, reference: dict) -> None:
    """One row per distinct input, each equal to the single-process result (prediction or error type)."""
    table = pq.read_table(output / "shards")
    paths = table.column("path").to_pylist()
    assert len(paths) == len(set(paths)), "duplicate rows"
    assert sorted(paths) == sorted(set(library["inputs"]))
    for row in table.to_pylist():
        ref = reference[row["path"]]
        assert row["module"] == MODULE and row["weights_sha256"] and row["module_version"] == "1.0.0"
        if "error" in ref:
            assert row["status"] == "error" and row["error_type"] == ref["error"]["type"], row["path"]
            assert row["error_message"]
        else:
            assert row["status"] == "ok", (row["path"], row["error_type"], row["error_message"])
            assert row["labels"] == list(ref["prediction"]), row["path"]
            assert row["scores"] == pytest.approx(list(ref["prediction"].values()), rel=1e-4, abs=1e-6)
            assert row["size"] == Path(row["path"]).stat().st_size and row["mtime"] > 0


def test_reference_results_tell_videos_apart(reference, library):
    """The generated weights give different videos different scores (else the comparison proves little)."""
    top = {round(next(iter(r["prediction"].values())), 6) for r in reference.values() if "prediction" in r}
    assert len(top) >= GOOD // 3
    errors = {p: reference[p]["error"]["type"] for p in library["bad"].values()}
    assert errors[library["bad"]["missing"]] == "InputNotFoundError"
    assert errors[library["bad"]["empty"]] == "EmptyFileError"
    assert errors[library["bad"]["folder"]] == "NotAFileError"


def test_killed_driver_and_killed_actor_lose_nothing(module_dir, library, reference, cluster, tmp_path):
    output = tmp_path / "results"
    cmd = batch_command(module_dir, library, output, cluster)
    total = len(set(library["inputs"]))

    # 1. the driver is killed after a few shards: what it wrote stays, nothing half-written
    log1 = open(tmp_path / "driver1.log", "wb")
    driver = subprocess.Popen(cmd, stdout=log1, stderr=subprocess.STDOUT, env=subprocess_env())
    wait_for(lambda: shard_count(output) >= 2 or driver.poll() is not None, 240, "the first shards")
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    assert driver.returncode == -signal.SIGKILL, (tmp_path / "driver1.log").read_text(errors="replace")[-3000:]
    done_before = rows_written(output)
    assert 0 < done_before < total
    assert pq.read_table(output / "shards").num_rows == done_before  # every shard whole and readable

    # 2. rerun; one actor's process is killed (SIGKILL) while batches are still pending: Ray restarts it and
    #    retries its batch, the run completes
    log2 = open(tmp_path / "driver2.log", "wb")
    driver = subprocess.Popen(cmd, stdout=log2, stderr=subprocess.STDOUT, env=subprocess_env())
    wait_for(lambda: rows_written(output) > done_before or driver.poll() is not None, 240, "the rerun's first rows")
    actors = wait_for(cluster.actor_processes, 60, "the batch actors")
    rows_at_kill = rows_written(output)
    actors[0].kill()
    driver.wait(300)
    log = (tmp_path / "driver2.log").read_text(errors="replace")
    assert driver.returncode == 1, log[-3000:]  # 1: some inputs failed (the bad ones), each with its row
    assert rows_at_kill < total, "the actor was killed after the work was done"
    assert f"processed {total - done_before} of {total - done_before} pending inputs" in log, log[-3000:]
    check_complete(output, library, reference)

    # 3. the same command again does nothing (no Ray needed); --retry-errors redoes only the failures (here
    #    in this process, without Ray: the same results folder and run key)
    again = run_job(JobConfig(module=str(module_dir), inputs=str(library["list"]), output=str(output),
                              ray=cluster.address, workers=2, batch_size=BATCH, progress=False))
    assert again["processed"] == 0 and again["skipped_done"] == total and again["duplicate_inputs"] == 1
    retry = run_job(JobConfig(module=str(module_dir), inputs=str(library["list"]), output=str(output),
                              batch_size=BATCH, retry_errors=True, progress=False))
    assert retry["processed"] == len(library["bad"]) and retry["ok"] == 0
    assert retry["superseded_rows_removed"] == len(library["bad"])
    check_complete(output, library, reference)
    manifest = (output / "manifest.json").read_text()
    assert '"complete": true' in manifest


def test_local_job_reads_file_uris_and_fsspec_urls_and_redoes_rows_when_options_change(module_dir, library,
                                                                                       reference, tmp_path):
    import fsspec

    clips = [p for p in library["inputs"] if p not in library["bad"].values()][:3]
    with fsspec.open("memory://library/remote clip.mp4", "wb") as f:
        f.write(Path(clips[0]).read_bytes())
    listing = tmp_path / "uris.txt"
    uris = [Path(clips[1]).as_uri(), Path(clips[2]).as_uri(), "memory://library/remote clip.mp4",
            "memory://library/absent.mp4", "nosuchscheme://x/y.mp4"]
    listing.write_text("\n".join(uris) + "\n")
    output = tmp_path / "results"
    first = run_job(JobConfig(module=str(module_dir), inputs=str(listing), output=str(output), progress=False))
    rows = {r["path"]: r for r in pq.read_table(output / "shards").to_pylist()}
    assert sorted(rows) == sorted(uris) and first["processed"] == len(uris)
    for uri, clip in zip(uris[:3], [clips[1], clips[2], clips[0]]):
        assert rows[uri]["labels"] == list(reference[clip]["prediction"])
        assert rows[uri]["scores"] == pytest.approx(list(reference[clip]["prediction"].values()), rel=1e-4)
    assert rows[uris[0]]["size"] == Path(clips[1]).stat().st_size and rows[uris[2]]["size"] is None
    assert rows[uris[3]]["error_type"] == "InputNotFoundError"
    assert rows[uris[4]]["error_type"] == "UnsupportedInputError"

    # other options make other results: every row is redone and the old rows are gone
    again = run_job(JobConfig(module=str(module_dir), inputs=str(listing), output=str(output), top_k=2,
                              progress=False))
    assert again["processed"] == len(uris) and again["superseded_rows_removed"] == len(uris)
    table = pq.read_table(output / "shards")
    assert table.num_rows == len(uris)
    assert all(len(r["labels"]) == 2 for r in table.to_pylist() if r["status"] == "ok")
