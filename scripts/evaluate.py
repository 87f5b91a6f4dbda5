#!/usr/bin/env python3
"""Evaluate module outputs against ground truth. One subcommand per task:

    python scripts/evaluate.py proposals --ground-truth GT.json --proposals PRED.json [--subset validation]
        [--max-proposals 100] [--json]

`proposals`: ActivityNet temporal action proposals (the official AR@AN / AUC of `ANETproposal`, in
`videohub.train.metrics`). GT.json is ActivityNet ground truth (`{"database": {video: {"subset",
"annotations": [{"segment": [t0, t1]}]}}}`; a bare `{video: {...}}` mapping such as PaddleVideo's
`bmn_activitynet_infer_legacy.json` is read as the database). PRED.json is a proposal file
(`{"results": {video: [{"segment", "score"}]}}`, what `hub run bmn_activitynet` prints). Video ids must
match between the two files (ActivityNet's own ground truth has no `v_` prefix).

    python scripts/evaluate.py classify --model MODULE_DIR|RUN/last.pdckpt --data LIST|CLASS_FOLDERS
        [--preprocess VARIANT] [--set preprocess.KEY=VALUE ...] [--batch-size N] [--json]
    python scripts/evaluate.py yt8m --model modules/attention_lstm_youtube8m --data PKL_FOLDER|PKL_LIST [--json]

`classify`: top-1/top-5 and mean class accuracy over labelled videos (`path label` lines or a folder per
class), multi-view (the card's views averaged) and, when there are several views, single-view (the first).
`yt8m`: GAP (top 20) / Hit@1 / PERR over YouTube-8M-style feature pickles (labels from the pickles).
Both run the module's dygraph network (`weights/model.pdparams`) or a training checkpoint
(`videohub.train.metrics`, `videohub.train.trainer.evaluate`).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, List, Mapping, Optional


def read_ground_truth(path: str) -> Mapping[str, Any]:
    """ActivityNet ground truth; a bare `{video: {"subset", "annotations"}}` mapping becomes its database."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, dict) and "database" not in data and data and all(
            isinstance(v, dict) and "annotations" in v for v in data.values()):
        return {"database": data}
    return data


def print_metrics(metrics: Mapping[str, Any], as_json: bool, key_width: int) -> None:
    """JSON, or one `name  percent` line per metric (counts and per-class tables printed as they are)."""
    if as_json:
        print(json.dumps(metrics, indent=1))
        return
    for key, value in metrics.items():
        print(f"{key:>{key_width}}  {value if isinstance(value, (int, dict)) else f'{100.0 * value:6.2f}'}")


def evaluate_proposals_cmd(args: argparse.Namespace) -> int:
    from videohub.train.metrics import evaluate_proposals

    with open(args.proposals, encoding="utf-8") as f:
        proposals = json.load(f)
    an = [n for n in (1, 5, 10, 100) if n <= args.max_proposals]
    try:
        scores = evaluate_proposals(read_ground_truth(args.ground_truth), proposals,
                                    max_avg_nr_proposals=args.max_proposals, subset=args.subset, an=an)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_metrics(scores, args.json, 7)
    return 0


def evaluate_model_cmd(args: argparse.Namespace) -> int:
    from videohub.train import trainer as training

    net, card, classes = training.load_trained(args.model)
    overrides = training.parse_overrides(args.set)
    bad = [k for k in overrides if not k.startswith("preprocess.")]
    if bad:
        print(f"error: only preprocess.* settings apply to evaluation, got {bad}", file=sys.stderr)
        return 2
    if args.preprocess:
        card = training.card_with_preprocess(card, args.preprocess)
    card = training.card_with_overrides(card, overrides)
    dataset = training.open_dataset(card, args.data, len(classes), root=args.root)
    if args.task == "yt8m" and not dataset.multi_label:
        print("error: yt8m needs a card with `feature_inputs` (feature pickles)", file=sys.stderr)
        return 2
    result = training.evaluate(net, card, dataset, args.batch_size)["metrics"]
    print_metrics(result, args.json, 20)
    return 0


def _model_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text)
    p.add_argument("--model", required=True, help="a module folder (weights/model.pdparams) or a .pdckpt checkpoint")
    p.add_argument("--data", required=True, help="`path label` list or class folders; feature pickles for yt8m")
    p.add_argument("--root", help="folder the list's relative paths start from (default: the list's folder)")
    p.add_argument("--preprocess", help="a named preprocessing variant of the card (e.g. tencrop)")
    p.add_argument("--set", nargs="+", default=[], metavar="preprocess.KEY=VALUE", help="preprocessing overrides")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print JSON instead of a percent table")
    p.set_defaults(run=evaluate_model_cmd)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="task", required=True)
    p = sub.add_parser("proposals", help="temporal action proposals: AR@1/5/10/100 and AUC (ActivityNet)")
    p.add_argument("--ground-truth", required=True, help="ActivityNet ground-truth JSON")
    p.add_argument("--proposals", required=True, help="ActivityNet proposal JSON (`results`)")
    p.add_argument("--subset", default="validation", help="ground-truth subset to evaluate (default validation)")
    p.add_argument("--max-proposals", type=int, default=100,
                   help="proposal budget per video (the AN axis ends here; default 100)")
    p.add_argument("--json", action="store_true", help="print fractions as JSON instead of a percent table")
    p.set_defaults(run=evaluate_proposals_cmd)
    _model_parser(sub, "classify", "video classification: top-1/top-5, mean class accuracy (single/multi-view)")
    _model_parser(sub, "yt8m", "YouTube-8M feature classifiers: GAP / Hit@1 / PERR")
    args = ap.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
