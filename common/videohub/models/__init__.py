"""Network definitions and the architecture registry.

Each architecture is registered under one explicit name; a module card names the architecture it uses
(`"architecture": {"name": "i3d", ...}`) and the remaining keys are passed to the builder. No behaviour is
chosen from substrings of model names.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Callable, Dict

import paddle

_BUILDERS: Dict[str, Callable[..., paddle.nn.Layer]] = {}

# Modules that define architectures; imported lazily so that `import videohub` stays cheap.
_ARCH_MODULES = (
    "videohub.models.i3d",
    "videohub.models.resnet",      # TSN / TSM / PP-TSM / PP-TSN / videotag TSN-R101 (one ResNet family)
    "videohub.models.stnet",
    "videohub.models.slowfast",
    "videohub.models.bmn",
    "videohub.models.yt8m",        # AttentionLSTM (dygraph + fluid), Attention Cluster, NeXtVLAD, videotag LSTM
)


def register_architecture(name: str) -> Callable:
    """Class/function decorator registering a network builder under `name`."""

    def wrap(builder: Callable[..., paddle.nn.Layer]) -> Callable[..., paddle.nn.Layer]:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"architecture {name!r} registered twice")
        _BUILDERS[name] = builder
        return builder

    return wrap


def _load_all() -> None:
    for mod in _ARCH_MODULES:
        if importlib.util.find_spec(mod) is not None:  # families land one by one
            importlib.import_module(mod)


def available_architectures() -> list:
    _load_all()
    return sorted(_BUILDERS)


def build_network(name: str, **kwargs: Any) -> paddle.nn.Layer:
    """Build the network `name` in eval mode, with parameter names isolated from other instances."""
    _load_all()
    if name not in _BUILDERS:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    with paddle.utils.unique_name.guard():
        net = _BUILDERS[name](**kwargs)
    net.eval()
    return net
