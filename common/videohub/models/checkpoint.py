"""Reading checkpoints and loading them into networks with an exact key check.

Official PaddleVideo `.pdparams` files are pickles of `{structured_key: ndarray}` (plus one
`StructuredToParameterName@@` entry); legacy fluid files are pickles keyed by parameter name. Both are read
here with a restricted unpickler that only admits numpy arrays, so a checkpoint can never run code.
"""
from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Tuple, Union

import numpy as np

from videohub.models import register_converter

# numpy globals a plain array pickle refers to (numpy 1.x wrote `numpy.core`, numpy 2 `numpy._core`).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("collections", "OrderedDict"),
}


class CheckpointError(ValueError):
    """A checkpoint file is unreadable or does not fit the network."""


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise CheckpointError(
                f"checkpoint refers to {module}.{name}; only numpy arrays are accepted in weight files")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def safe_unpickle(data: Union[bytes, io.BufferedIOBase]) -> object:
    """Unpickle bytes or a binary stream holding only dicts/lists/numpy arrays."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    return _ArrayOnlyUnpickler(stream).load()


def sha256_file(*paths: Union[str, Path], chunk: int = 1 << 20) -> str:
    """sha256 of a file's contents (of several files' contents one after the other, in order)."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(chunk), b""):
                h.update(block)
    return h.hexdigest()


def read_pdparams(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    """Read a dygraph or fluid `.pdparams` file into `{key: float ndarray}` without paddle."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    with open(path, "rb") as f:
        try:
            obj = safe_unpickle(f)
        except CheckpointError:
            raise
        except Exception as exc:  # truncated download, HTML error page, ...
            raise CheckpointError(f"{path} is not a readable .pdparams pickle: {exc}") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, expected a dict of arrays")
    out = {}
    for k, v in obj.items():
        if k == "StructuredToParameterName@@":
            continue
        if not isinstance(v, np.ndarray):
            raise CheckpointError(f"{path}: entry {k!r} is a {type(v).__name__}, expected an array")
        out[str(k)] = v
    return out


def strip_prefix(state: Mapping[str, np.ndarray], prefixes: Iterable[str] = ("Student.",)) -> Dict[str, np.ndarray]:
    """Drop distillation prefixes such as `Student.`; teacher entries (other prefixes) are left as they are."""
    prefixes = tuple(prefixes)
    if not any(k.startswith(prefixes) for k in state):
        return dict(state)
    out = {}
    for k, v in state.items():
        for p in prefixes:
            if k.startswith(p):
                out[k[len(p):]] = v
                break
    return out


@dataclass
class KeyReport:
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 10) -> str:
        parts = []
        for title, items in (("missing from the checkpoint", self.missing),
                             ("not used by the network", self.unexpected)):
            if items:
                shown = ", ".join(items[:limit]) + (f" … (+{len(items) - limit})" if len(items) > limit else "")
                parts.append(f"{len(items)} keys {title}: {shown}")
        if self.mismatched:
            shown = ", ".join(f"{k} {a}≠{b}" for k, a, b in self.mismatched[:limit])
            parts.append(f"{len(self.mismatched)} shape mismatches (network≠checkpoint): {shown}")
        return "; ".join(parts) or "all keys match"


def network_state_shapes(net, use_structured_name: bool = True) -> Dict[str, tuple]:
    """Names (structured, or parameter names for fluid-style loading) and shapes a network expects."""
    shapes = {}
    for key, tensor in net.state_dict().items():
        name = key if use_structured_name else tensor.name
        shapes[name] = tuple(tensor.shape)
    return shapes


def compare_keys(expected: Mapping[str, tuple], state: Mapping[str, np.ndarray]) -> KeyReport:
    report = KeyReport()
    for k, shape in expected.items():
        if k not in state:
            report.missing.append(k)
        elif tuple(state[k].shape) != tuple(shape):
            report.mismatched.append((k, tuple(shape), tuple(state[k].shape)))
    report.unexpected = [k for k in state if k not in expected]
    return report


def load_into(net, state: Mapping[str, np.ndarray], use_structured_name: bool = True,
              allow_unexpected: Iterable[str] = ()) -> KeyReport:
    """Load `state` into `net`, requiring every key to be consumed with the right shape.

    `use_structured_name=False` matches by parameter name (fluid checkpoints, whose layers carry ParamAttr
    names). Raises CheckpointError naming the keys that differ.
    """
    import paddle

    expected = network_state_shapes(net, use_structured_name)
    # paddle.nn.LSTM registers each weight twice (`x.weight_ih_l0` and `x.0.cell_fw.weight_ih`); checkpoints
    # hold either or both names, so the aliases are not required.
    report = compare_keys(expected, state)
    allowed = set(allow_unexpected)
    report.missing = [k for k in report.missing if ".cell_fw." not in k and ".cell_bw." not in k]
    report.unexpected = [k for k in report.unexpected if k not in allowed]
    if not report.ok:
        raise CheckpointError(f"checkpoint does not fit the network: {report.describe()}")
    tensors = {k: paddle.to_tensor(np.asarray(v)) for k, v in state.items() if k in expected}
    if use_structured_name:
        net.set_state_dict(tensors)
    else:
        net.set_state_dict(tensors, use_structured_name=False)
    # set_state_dict warns instead of failing; verify that values really arrived.
    got = {(k if use_structured_name else t.name): t for k, t in net.state_dict().items()}
    for k, v in tensors.items():
        if k in got and not np.array_equal(got[k].numpy(), v.numpy()):
            raise CheckpointError(f"value of {k} did not load")
    return report


@register_converter("pdparams")
def convert_pdparams(path: Path) -> Dict[str, np.ndarray]:
    """PaddleVideo dygraph checkpoints: used as they are (distillation `Student.` prefix stripped)."""
    return strip_prefix(read_pdparams(path))
