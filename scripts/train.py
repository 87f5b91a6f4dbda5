#!/usr/bin/env python3
"""Train or fine-tune a module's network on labelled videos (or YouTube-8M feature pickles).

The module card gives the architecture and the preprocessing; `--set key=value` overrides training settings
(`epochs`, `batch_size`, `lr`, `schedule`, `freeze_backbone`, ... see videohub.training.TrainConfig) and the
card's preprocessing (`preprocess.crop_size=112`, `preprocess.sampler.clip_len=16`).

    # fine-tune I3D on a folder-per-class dataset, new head, then export a module
    python scripts/train.py --module modules/i3d_kinetics400 --train data/train --val data/val \\
        --out runs/i3d_mine --set epochs=10 batch_size=4 lr=0.001 --export-module modules/i3d_mine
    # resume the same run after an interruption
    python scripts/train.py --module modules/i3d_kinetics400 --train data/train --val data/val \\
        --out runs/i3d_mine --set epochs=10 batch_size=4 lr=0.001 --resume auto
    # several GPUs (one process per GPU; each takes every n-th batch)
    python -m paddle.distributed.launch --gpus 0,1,2,3 scripts/train.py --module ... --train ... --out ...
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--module", required=True, help="base module folder (card.json, weights/model.pdparams)")
    ap.add_argument("--train", required=True, help="a `path label` list, a folder per class, or feature pickles")
    ap.add_argument("--val", help="held-out data, same forms as --train")
    ap.add_argument("--root", help="folder the list's relative paths start from (default: the list's folder)")
    ap.add_argument("--labels", help="class names, one per line (default: folder names, or the module's labels "
                                     "when the class count is the module's)")
    ap.add_argument("--num-classes", type=int, help="class count (default: from --labels or the class folders)")
    ap.add_argument("--init", default="module",
                    help="'module' (its weights/model.pdparams), 'none' (from scratch), or a .pdparams file")
    ap.add_argument("--new-head", choices=("auto", "yes", "no"), default="auto",
                    help="re-initialise the classifier layer (auto: when the label set differs from the module's)")
    ap.add_argument("--out", required=True, help="run folder: checkpoints, train_log.jsonl, result.json")
    ap.add_argument("--resume", help="a checkpoint to continue, or 'auto' (the run folder's last.pdckpt if any)")
    ap.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="override settings")
    ap.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    ap.add_argument("--export-module", help="write a module folder (its name = the folder name) with the result")
    args = ap.parse_args(argv)

    import paddle

    from videohub.train import trainer as training
    from videohub.card import load_card, load_labels
    from videohub.runtime.engines.paddle_inference import gpu_available

    use_gpu = args.device == "gpu" or (args.device == "auto" and gpu_available())
    paddle.set_device(f"gpu:{paddle.distributed.ParallelEnv().dev_id}" if use_gpu else "cpu")
    module = Path(args.module)
    base_card = load_card(module)
    settings, card_overrides = training.split_overrides(training.parse_overrides(args.set))
    card = training.card_with_overrides(base_card, card_overrides)
    cfg = training.make_config(card, settings)

    classes = class_names(args, card, module)
    base_classes = load_labels(base_card, module)
    new_head = (args.new_head == "yes") or (args.new_head == "auto" and classes != base_classes)
    init = {"module": module / "weights" / "model.pdparams", "none": None}.get(args.init, args.init)
    net, info = training.build_model(card, len(classes), init, new_head, cfg.seed)
    print(f"network {card.arch_name}: {len(classes)} classes, init {info['init']}, new head {info['new_head']}")

    train_set = training.open_dataset(card, args.train, len(classes), train=True, cfg=cfg, root=args.root)
    val_set = training.open_dataset(card, args.val, len(classes), cfg=cfg, root=args.root) if args.val else None
    trainer = training.Trainer(net, card, cfg, train_set, args.out, val_set, train_set.multi_label,
                               extra={"classes": classes, "base_module": base_card.name, "init": info["init"],
                                      "new_head": info["new_head"]})
    resume = Path(args.out) / "last.pdckpt" if args.resume == "auto" else args.resume
    if resume and Path(resume).exists():
        trainer.resume(resume)
    elif args.resume and args.resume != "auto":
        print(f"error: no checkpoint {resume}", file=sys.stderr)
        return 2
    history = trainer.fit()
    evals = [h["eval"] for h in history if "eval" in h]
    result = {"steps": trainer.state.global_step, "final_loss": next((h["loss"] for h in reversed(history)
                                                                     if "loss" in h), None),
              "eval": evals[-1] if evals else None, "config": dataclasses.asdict(cfg)}
    if trainer.rank == 0:
        (Path(args.out) / "result.json").write_text(json.dumps(result, indent=1))
        if args.export_module:
            out = training.export_module(net, card, classes, args.export_module, reported=result["eval"] or {},
                                         training={"base": base_card.name, "init": info["init"],
                                                   "steps": trainer.state.global_step, "config": result["config"]})
            print(f"exported module {out.name} to {out}")
    print(json.dumps({k: result[k] for k in ("steps", "final_loss", "eval")}))
    return 0


def class_names(args, card, module: Path) -> list:
    """--labels, else the class folders, else the module's labels (same class count), else class_<i>."""
    from videohub.card import load_labels
    from videohub.train.datasets import scan_class_folders

    if args.labels:
        names = [ln.strip() for ln in Path(args.labels).read_text(encoding="utf-8").splitlines() if ln.strip()]
    elif Path(args.train).is_dir() and "feature_inputs" not in card.raw:
        names = scan_class_folders(args.train)[1]
    else:
        n = args.num_classes or int(card.architecture.get("num_classes"))
        module_labels = load_labels(card, module)
        names = module_labels if len(module_labels) == n else [f"class_{i}" for i in range(n)]
    if args.num_classes and args.num_classes != len(names):
        raise SystemExit(f"error: --num-classes {args.num_classes} but {len(names)} class names")
    return names


if __name__ == "__main__":
    sys.exit(main())
