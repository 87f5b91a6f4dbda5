"""Versions, version conditions and version ranges, read the way PaddleHub 2.4's client reads them.

* a module version is dotted numbers (`1.0.0`; `1.0` is the same version);
* a condition is what `hub install NAME==1.0.0` or `hub.Module(name=..., version=">=1.1")` sends: an optional
  operator (`>=`, `>`, `<=`, `<`, `==`, `=`; none means `==`) and a version; several may be joined with commas;
* a range is the index's `paddle_version`/`hub_version` text `[min, max]`, both ends included, a minimum starting
  with `-` meaning no lower limit and a maximum of `99.0.0` meaning no upper limit (`paddlehub.utils.utils.
  convert_version`); an empty range allows everything.
"""
from __future__ import annotations

import operator
import re
from typing import Callable, List, Optional, Tuple

VersionKey = Tuple[int, ...]
_VERSION = re.compile(r"^\d+(\.\d+)*$")
_LEADING = re.compile(r"^\d+(\.\d+)*")
_OPERATORS = ((">=", operator.ge), ("<=", operator.le), ("==", operator.eq), (">", operator.gt),
              ("<", operator.lt), ("=", operator.eq))
NO_UPPER_LIMIT = "99.0.0"


def version_key(text: str) -> VersionKey:
    """`1.2.0` -> (1, 2): comparable, trailing zeros dropped. ValueError for anything but dotted numbers."""
    text = str(text).strip()
    if not _VERSION.match(text):
        raise ValueError(f"version {text!r} is not dotted numbers such as 1.0.0")
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def release_key(text: str) -> VersionKey:
    """The release part of an installed package's version (`3.3.1`, `3.0.0rc1`, `2.4.0-dev` -> numbers)."""
    m = _LEADING.match(str(text).strip())
    if not m:
        raise ValueError(f"cannot read a release number from version {text!r}")
    return version_key(m.group(0))


def parse_condition(condition: Optional[str]) -> List[Tuple[Callable[[VersionKey, VersionKey], bool], VersionKey]]:
    """`>=1.0,<2` -> [(ge, (1,)), (lt, (2,))]; None or empty -> [] (any version). ValueError when unreadable."""
    clauses = []
    for clause in (condition or "").replace(" ", "").split(","):
        if not clause:
            continue
        for symbol, compare in _OPERATORS:
            if clause.startswith(symbol):
                clause, op = clause[len(symbol):], compare
                break
        else:
            op = operator.eq
        clauses.append((op, version_key(clause)))
    return clauses


def matches(version: str, condition: Optional[str]) -> bool:
    """Whether `version` meets `condition` (None or empty: any version)."""
    key = version_key(version)
    return all(op(key, bound) for op, bound in parse_condition(condition))


def check_condition(condition: Optional[str]) -> None:
    """ValueError when a condition cannot be read (before any version is compared)."""
    parse_condition(condition)


def parse_range(text: Optional[str]) -> Tuple[Optional[VersionKey], Optional[VersionKey]]:
    """`[3.0.0, 99.0.0]` -> ((3,), None); ends that do not limit are None. ValueError when malformed."""
    if not text or not text.strip():
        return None, None
    body = text.replace(" ", "")
    if not (body.startswith("[") and body.endswith("]")):
        raise ValueError(f"version range {text!r} is not written [min, max]")
    ends = body[1:-1].split(",")
    if len(ends) > 2:
        raise ValueError(f"version range {text!r} has more than two ends")
    low = None if ends[0].startswith("-") else version_key(ends[0])
    high = version_key(ends[1]) if len(ends) == 2 and ends[1] != NO_UPPER_LIMIT else None
    return low, high


def in_range(version: Optional[str], text: Optional[str]) -> bool:
    """Whether an installed release (e.g. Paddle's `3.3.1`) lies in a range; an unknown version is not checked."""
    if not version:
        return True
    low, high = parse_range(text)
    key = release_key(version)
    return (low is None or key >= low) and (high is None or key <= high)
