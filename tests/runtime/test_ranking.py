"""The engine that runs first is the fastest verified one measured on this CPU (videohub.runtime.ranking), cached
per CPU model beside engines.json; an explicit engine= still wins. Timings are injected where a choice is checked,
so the tests do not depend on what is fastest on the machine that runs them."""
import json

import numpy as np
import pytest

from tiny_module import export_tiny_net, record_passing_verdicts, tiny_card
from videohub.runtime import choice, predictor, ranking
from videohub.runtime.files import weights_dir

ENGINES = {"onnxruntime": ["fp32"], "openvino": ["fp32"], "paddle": ["fp32"]}


@pytest.fixture
def module(tmp_path):
    """A module folder with an exported network and passing verdicts for every declared engine."""
    for engine in ("onnxruntime", "openvino"):
        if predictor.missing_engine(engine):
            pytest.skip(predictor.missing_engine(engine))
    export_tiny_net(tmp_path)
    record_passing_verdicts(tmp_path, ("onnxruntime", "openvino"))
    return tiny_card("ranked", ENGINES), tmp_path


@pytest.mark.parametrize("fastest", ["onnxruntime", "openvino", "paddle"])
def test_the_fastest_measured_engine_runs_first(module, fastest):
    card, d = module
    ranking.record_timings(d, 2, {f"{e}/fp32": (0.1 if e == fastest else 0.3) for e in ENGINES})
    assert choice.resolve_engine(card, d, threads=2, verify=False).engine == fastest
    other = next(e for e in ENGINES if e != fastest)
    assert choice.resolve_engine(card, d, other, threads=2, verify=False).engine == other  # explicit wins


def test_timings_are_per_cpu_model_and_thread_count(module, monkeypatch):
    card, d = module
    ranking.record_timings(d, 2, {"openvino/fp32": 0.1, "onnxruntime/fp32": 0.3, "paddle/fp32": 0.3})
    assert ranking.recorded_timings(d, 1) == {}
    monkeypatch.setattr(ranking, "cpu_model", lambda: "Another CPU x64")
    assert ranking.recorded_timings(d, 2) == {}
    # untimed and not allowed to measure: the card's order
    assert choice.resolve_engine(card, d, threads=2, verify=False).engine == "onnxruntime"


def test_timings_of_an_engine_that_is_gone_are_ignored(module, monkeypatch):
    card, d = module
    ranking.record_timings(d, 2, {"openvino/fp32": 0.1, "onnxruntime/fp32": 0.2, "paddle/fp32": 0.3})
    real = predictor.import_optional

    def without_openvino(name):
        if name.split(".")[0] == "openvino":
            raise ImportError("No module named 'openvino' (simulated)")
        return real(name)

    monkeypatch.setattr(predictor, "import_optional", without_openvino)
    assert ranking.recorded_timings(d, 2) == {"onnxruntime/fp32": 0.2, "paddle/fp32": 0.3}
    assert choice.resolve_engine(card, d, threads=2, verify=False).engine == "onnxruntime"


def test_timings_of_the_same_cpu_name_with_other_instruction_sets_are_not_used(module, monkeypatch):
    """A module folder copied from an AVX-512 host to an AVX2 one (both "AMD EPYC" in a VM) times again there."""
    card, d = module
    monkeypatch.setattr(predictor, "cpu_flags", lambda: frozenset({"avx2", "fma", "avx512f", "avx512_bf16"}))
    ranking.record_timings(d, 2, {"openvino/fp32": 0.1, "onnxruntime/fp32": 0.2, "paddle/fp32": 0.3})
    assert ranking.recorded_timings(d, 2)["openvino/fp32"] == 0.1
    monkeypatch.setattr(predictor, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert ranking.recorded_timings(d, 2) == {}
    assert choice.resolve_engine(card, d, threads=2, verify=False).engine == "onnxruntime"  # the card's order


def test_first_use_times_each_engine_and_caches_it(module):
    card, d = module
    candidates = [("paddle", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32")]
    order = ranking.fastest_first(card, d, candidates, threads=1)
    entry = json.loads((weights_dir(d) / ranking.TIMINGS_FILE).read_text())[ranking.timings_key(1)]
    seconds = {k: v["seconds"] for k, v in entry["timings"].items()}
    assert set(seconds) == {"paddle/fp32", "onnxruntime/fp32", "openvino/fp32"} and min(seconds.values()) > 0
    assert [f"{e}/{p}" for e, p in order] == sorted(seconds, key=seconds.get)
    assert ranking.recorded_timings(d, 1) == pytest.approx(seconds)
    export_tiny_net(d, seed=1)  # new weights
    assert ranking.recorded_timings(d, 1) == {}
    assert np.isfinite(list(seconds.values())).all()
