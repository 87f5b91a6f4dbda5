#!/usr/bin/env python3
"""Classify videos with a module's dygraph network or a training checkpoint, preprocessing from the card.

    python scripts/predict.py --model modules/i3d_kinetics400 --input_path video.mp4 [--top_k 5]
    python scripts/predict.py --model runs/mine/last.pdckpt --input_path videos/ --output json
    python scripts/predict.py --model modules/tsn_kinetics400 --input_path v.mp4 --set preprocess.crop=center

A checkpoint carries its card (with the training-time preprocessing) and class names. Installed modules are
run with `hub run` (Paddle Inference); this script is for checkpoints before export and for checking that
the dygraph network and the exported module agree.
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="a module folder (weights/model.pdparams) or a .pdckpt checkpoint")
    ap.add_argument("--input_path", required=True, help="a video, a folder of videos, or a .txt list of paths")
    ap.add_argument("--top_k", type=int, default=5)
    ap.add_argument("--preprocess", help="a named preprocessing variant of the card")
    ap.add_argument("--set", nargs="+", default=[], metavar="preprocess.KEY=VALUE", help="preprocessing overrides")
    ap.add_argument("--output", choices=("text", "json"), default="text")
    args = ap.parse_args(argv)

    import numpy as np
    import paddle

    from videohub.train import trainer as training
    from videohub.errors import VideoHubError, error_record
    from videohub.io.files import expand_input_path
    from videohub.tasks.classification import format_results
    from videohub.io.preprocess import prepare_video

    net, card, classes = training.load_trained(args.model)
    if args.preprocess:
        card = training.card_with_preprocess(card, args.preprocess)
    card = training.card_with_overrides(card, training.parse_overrides(args.set))
    results = []
    for path in expand_input_path(args.input_path):
        try:
            prepared = prepare_video(path, card.preprocess)
        except VideoHubError as exc:
            results.append({"path": path, "error": error_record(exc)})
            continue
        with paddle.no_grad():
            probs = training.class_scores(card, net(*[paddle.to_tensor(a) for a in prepared.arrays])).mean(axis=0)
        order = np.argsort(-probs, kind="stable")[:args.top_k]
        results.append({"path": path, "prediction": {classes[i]: float(probs[i]) for i in order}})
    print(json.dumps(results, indent=1, ensure_ascii=False) if args.output == "json" else format_results(results))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
