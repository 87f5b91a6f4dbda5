#!/usr/bin/env python3
"""Proposals per second of a proposal module (BMN) on CPU: the network and the post-processing separately.

    python scripts/bench_proposals.py [--module-dir modules/bmn_activitynet] [--input FEATURES.json|.npy]
        [--duration S] [--repeat 5] [--threads N] [--json OUT]

The network time is the exported predictor on one video's features (after a warm-up run); the post-processing
time is candidate selection + Soft-NMS + top-k (`ProposalDetectorModule.proposals`). Proposals per second =
proposals per video / seconds per video. The post-processing time depends on how many start/end candidates
the scores give, so it differs between trained and random weights.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from videohub.measure import median_seconds

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "samples" / "bmn_example_feat.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module-dir", default=str(REPO / "modules" / "bmn_activitynet"))
    ap.add_argument("--input", default=str(SAMPLE), help="a .json feature entry or a .npy (with --duration)")
    ap.add_argument("--duration", type=float, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads of the predictor")
    ap.add_argument("--top_k", type=int, default=100)
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args(argv)

    import paddlehub as hub

    from videohub.tasks.items import feature_items
    from videohub.tasks.proposals import path_kind, resample_features, set_durations

    module = hub.Module(directory=args.module_dir, cpu_threads=args.threads)
    items = feature_items(None, [args.input], path_kind)
    set_durations(items, args.duration)
    x, duration = module.task.features(items[0], {})
    x = resample_features(x, module.feature_shape.positions, module.card.features.samples_per_position)
    t = time.perf_counter()
    outs = module.run_network(x)                      # warm-up (predictor creation + first run)
    first_s = time.perf_counter() - t
    network_s = median_seconds(lambda: module.run_network(x), args.repeat)
    props = module.proposals(*outs, duration, args.top_k)
    post_s = median_seconds(lambda: module.proposals(*outs, duration, args.top_k), args.repeat)
    n = len(props)
    row = {"input": Path(args.input).name, "duration_s": duration, "proposals_per_video": n,
           "first_run_s": round(first_s, 3), "network_s": round(network_s, 4), "postprocess_s": round(post_s, 4),
           "proposals_per_s_network": round(n / network_s, 1), "proposals_per_s_postprocess": round(n / post_s, 1),
           "proposals_per_s_total": round(n / (network_s + post_s), 1), "repeat": args.repeat,
           "threads": args.threads, "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    for k, v in row.items():
        print(f"{k:>28}  {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
