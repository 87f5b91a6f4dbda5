#!/usr/bin/env bash
# Create (or reuse) the virtual environment .venv and install the pinned stack plus videohub (editable).
# Sourced by quickstart.sh and test.sh; safe to run again.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$REPO/.venv/bin/python" ]; then
  echo "[setup] creating $REPO/.venv with $($PYTHON --version)"
  "$PYTHON" -m venv "$REPO/.venv"
fi
# shellcheck disable=SC1091
. "$REPO/.venv/bin/activate"
stamp="$REPO/.venv/.videohub-installed"
if [ ! -f "$stamp" ] || [ "$REPO/requirements.txt" -nt "$stamp" ] || [ "$REPO/constraints.txt" -nt "$stamp" ]; then
  echo "[setup] installing requirements (pinned; a few minutes on a fresh machine)"
  python -m pip install -q --upgrade pip
  python -m pip install -q -r "$REPO/requirements.txt" -c "$REPO/constraints.txt"
  touch "$stamp"
fi
python -m pip install -q --no-deps -e "$REPO"
