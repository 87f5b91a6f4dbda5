"""Several inferences at once (`RuntimeOptions.streams`): at most that many run together, each gives what one at
a time gives, and the batch pipeline uses them for many inputs with the same results in the same order."""
import threading
import time

import numpy as np
import pytest

from synthetic import write_video
from tiny_module import export_tiny_net, record_passing_verdicts, tiny_card
from videohub.runtime import predictor as predictors
from videohub.runtime.files import inference_files
from videohub.runtime.predictor import BasePredictor, RuntimeOptions, build_predictor, throughput_streams
from videohub.runtime.session import ModelRuntime
from videohub.tasks.classification import VideoClassifier
from videohub.tasks.concurrency import ordered_map
from videohub.tasks.items import Item

CONCURRENT = ["onnxruntime", "openvino"]


class _Sleeper(BasePredictor):
    input_names, output_names = ["x"], ["y"]

    def __init__(self, streams):
        super().__init__(streams)
        self.running = self.most = 0
        self._count = threading.Lock()

    def _run(self, arrays):
        with self._count:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self._count:
            self.running -= 1
        return arrays


@pytest.mark.parametrize("streams", [1, 2, 3])
def test_at_most_streams_runs_at_once(streams):
    p = _Sleeper(streams)
    threads = [threading.Thread(target=p.run, args=(np.zeros(2),)) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert p.most == streams


def test_throughput_streams_follow_the_threads():
    assert [throughput_streams(n) for n in (1, 2, 4, 8)] == [1, 2, 4, 4]


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    for engine in CONCURRENT:
        if predictors.missing_engine(engine):
            pytest.skip(predictors.missing_engine(engine))
    d = tmp_path_factory.mktemp("streamed")
    export_tiny_net(d)
    record_passing_verdicts(d, CONCURRENT)
    return d


@pytest.mark.parametrize("engine", CONCURRENT)
def test_concurrent_runs_give_the_one_at_a_time_outputs_in_order(module_dir, engine):
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(1 + i % 2, 4, 3, 16, 16)).astype(np.float32) for i in range(10)]
    model, params = inference_files(module_dir)
    one = build_predictor(engine, "fp32", model, params, RuntimeOptions(cpu_threads=2))
    two = build_predictor(engine, "fp32", model, params, RuntimeOptions(cpu_threads=2, streams=2))
    assert (one.streams, two.streams) == (1, 2)
    expected = [one.run(x)[0] for x in inputs]
    got = [out[0] for _, out, exc in ordered_map(two.run, inputs, workers=3) if exc is None]
    assert len(got) == len(inputs)
    for want, have in zip(expected, got):
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected[0][0], expected[2][0])  # the inputs differ, so order is checked


@pytest.mark.parametrize("engine", CONCURRENT)
def test_the_pipeline_runs_batches_at_once_with_the_same_results(module_dir, engine, tmp_path):
    card = tiny_card("streamed", {engine: ["fp32"]}, std=255.0)
    clips = [str(write_video(tmp_path / f"c{i}.mp4", num_frames=12 + 3 * i, size=(32, 24))) for i in range(5)]
    paths = clips[:2] + [str(tmp_path / "missing.mp4")] + clips[2:] + clips[:1]
    runtime = ModelRuntime(card, module_dir, cpu_threads=2, engine=engine)
    task = VideoClassifier(card, list("abcd"), runtime, default_top_k=4)
    task.inference_streams = 1
    one_by_one = task.classify_items([Item(p, path=p) for p in paths], batch_size=1)
    task.inference_streams = 2
    at_once = task.classify_items([Item(p, path=p) for p in paths], batch_size=1)
    assert [r["path"] for r in at_once] == paths
    assert at_once[2]["error"]["type"] == "InputNotFoundError"
    assert sum("prediction" in r for r in at_once) == len(paths) - 1
    assert len({tuple(r["prediction"].values()) for r in at_once if "prediction" in r}) >= 3  # clips differ
    for a, b in zip(one_by_one, at_once):
        assert a.keys() == b.keys()
        if "prediction" in a:
            assert b["prediction"] == pytest.approx(a["prediction"], rel=1e-5, abs=1e-6)
    assert at_once[0]["prediction"] == at_once[-1]["prediction"]
    assert sorted(opts.streams for _, opts in runtime._predictors) == [1, 2]  # the streams predictor ran
    # one input: the one-at-a-time predictor on every thread, whatever `inference_streams` says
    assert task.model_streams(False, batches=1) == 1 and task.model_streams(False, batches=3) == 2
