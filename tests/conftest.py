"""Shared fixtures. Tests that need `../shared` (real clips, reference outputs) skip cleanly without it."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIDEOHUB_SHARED", REPO.parent / "shared"))
I3D_DIR = REPO / "modules" / "i3d_kinetics400"   # the module with real weights (scripts/fetch_weights.py)


def needs_i3d_weights():
    """Skip marker of tests that run the real I3D module."""
    from videohub.weights import weights_installed

    return pytest.mark.skipif(not weights_installed(I3D_DIR),
                              reason="I3D weights not installed: python scripts/fetch_weights.py i3d_kinetics400")


@pytest.fixture(scope="module")
def i3d_module():
    """The real I3D module, one per test file (its predictors are released with it)."""
    import paddlehub as hub

    return hub.Module(directory=str(I3D_DIR))


def shared_path(*parts: str) -> Path:
    """Path inside ../shared, skipping the calling test when it is not there."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs {p} (the shared data folder beside the checkout)")
    return p


def load_file_module(path: Path, name: str):
    """Import a Python file that is not in a package (a script, a shared tool) as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_script(name: str):
    """scripts/<name>.py as a module (run in-process: paddle is imported once)."""
    return load_file_module(REPO / "scripts" / f"{name}.py", f"{name}_script")


@pytest.fixture(scope="session")
def reference_tool():
    """The numpy-only generator of deterministic reference checkpoints (shared/tools)."""
    return load_file_module(shared_path("tools", "make_reference_checkpoint.py"), "make_reference_checkpoint")


def make_reference_checkpoint(tool, manifest: str, seed: int, out_path: Path,
                              input_specs: list) -> dict:
    """Write the checkpoint for `manifest` to out_path (via the tool's CLI rules) and return its inputs."""
    man = shared_path("data", "state_dicts", manifest)
    inputs_out = out_path.with_suffix(".inputs.npz")
    argv = ["--manifest", str(man), "--seed", str(seed), "--out", str(out_path),
            "--inputs-out", str(inputs_out)]
    if input_specs:
        argv += ["--input-shapes", *input_specs]
    tool.main(argv)
    if inputs_out.exists():
        with np.load(inputs_out) as z:
            return {k: z[k] for k in z.files}
    return {}


def manifest_entries(manifest: str) -> dict:
    """{key: (shape, dtype)} of an official state dict, in its order (shared/data/state_dicts/<manifest>)."""
    out = {}
    for line in shared_path("data", "state_dicts", manifest).read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if not cols[0] or cols[0].startswith("#") or cols[0] == "name":
            continue
        out[cols[0]] = (tuple(int(d) for d in cols[1].split("x")), cols[2] if len(cols) > 2 else "float32")
    return out


def manifest_shapes(manifest: str) -> dict:
    """{key: shape} of an official state dict."""
    return {k: shape for k, (shape, _) in manifest_entries(manifest).items()}


def reference_outputs(model: str) -> dict:
    """{output name: array} of shared/data/reference_outputs/<model>_seed0.npz."""
    ref = np.load(shared_path("data", "reference_outputs", f"{model}_seed0.npz"))
    return {k[len("output_"):]: ref[k] for k in ref.files if k.startswith("output_")}


def seed0_network(tool, out_dir: Path, arch: str, manifest: str, input_specs: list, **arch_kwargs):
    """(network `arch` loaded with the seed-0 checkpoint of `manifest`, that state dict, the reference inputs),
    the checkpoint written to `out_dir` by the shared tool; every checkpoint entry must be consumed."""
    from videohub.models import build_network
    from videohub.models.checkpoint import load_into, read_pdparams

    path = Path(out_dir) / f"{arch}_seed0.pdparams"
    inputs = make_reference_checkpoint(tool, manifest, 0, path, input_specs)
    state = read_pdparams(path)
    net = build_network(arch, **arch_kwargs)
    assert load_into(net, state).ok
    return net, state, inputs


def card_predictor(net, module_dir: Path, out_dir: Path, threads=None):
    """(runtime options, Paddle predictor) of `net` exported with its module card's inputs and run with the
    card's runtime options (oneDNN switch, disabled passes), as the module would run it."""
    from videohub.card import load_card
    from videohub.runtime.engines.paddle_inference import PaddlePredictor
    from videohub.runtime.export import export_network
    from videohub.runtime.verify import card_options

    card = load_card(module_dir)
    model, params = export_network(net, card.inputs, Path(out_dir) / "inference")
    options = card_options(card, threads)
    return options, PaddlePredictor(model, params, options)


def network_entries(net) -> dict:
    """{key: (shape, dtype)} of a network's state dict, in its order (to compare with `manifest_entries`)."""
    return {k: (tuple(t.shape), str(t.dtype).replace("paddle.", "")) for k, t in net.state_dict().items()}


def dygraph_outputs(net, x: np.ndarray) -> dict:
    """{output name: array} of `net` in dygraph on one input."""
    import paddle

    with paddle.no_grad():
        outs = net(paddle.to_tensor(x))
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return {name: o.numpy() for name, o in zip(net.output_names, outs)}


def two_video_predictor_outputs(net, x: np.ndarray, module_dir: Path, out_dir: Path):
    """(runtime options, {output name: array}) of `card_predictor` fed a batch of 2 (the card's inputs have a
    dynamic batch): `x` and the same frames in reverse order, so that rows must not mix."""
    options, pred = card_predictor(net, module_dir, out_dir)
    batch = np.concatenate([x, x[:, :, ::-1].copy()], axis=0)  # row 1: frames reversed
    return options, dict(zip(net.output_names, pred.run(batch)))


def check_two_video_outputs(outs: dict, ref: dict, tol: float) -> None:
    """Every reference output: row 0 within `tol` of it, row 1 (the other video) finite and different."""
    for name, want in ref.items():
        got = outs[name]
        assert got.shape == (2,) + want.shape[1:], name  # dynamic batch
        err = rel_err(got[:1], want)
        print(f"predictor {name}: rel_err {err:.3g}")
        assert err <= tol, (name, err)
        assert np.all(np.isfinite(got[1])) and rel_err(got[1:], want) > 1e-3  # the other row is another video


def rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    """max|a-ref| / max|ref|: the tolerance measure the reference README asks for."""
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(a - ref)) / max(np.max(np.abs(ref)), 1e-12))
