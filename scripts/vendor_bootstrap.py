
# --- added by scripts/pack.py: this archive bundles the `videohub` core in _vendor/. It is used only when no
# videohub is installed (an installed one always wins), so the module also runs where this repo never was.
import importlib.util as _vh_util
import os as _vh_os
import sys as _vh_sys

if _vh_util.find_spec("videohub") is None:
    _vh_sys.path.append(_vh_os.path.join(_vh_os.path.dirname(_vh_os.path.abspath(__file__)), "_vendor"))
del _vh_util, _vh_os, _vh_sys
