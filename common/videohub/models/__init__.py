"""Networks, one family per file, and the registries that make them buildable by name.

To add a model: write `videohub/models/<family>.py` with the network and a builder decorated
`@register_architecture("<name>")` (plus `@register_converter("<name>")` if its official checkpoint needs
converting), then a module card naming the architecture (`"architecture": {"name": "<name>", ...}`). The files
of this package are discovered on first use; nothing else needs editing. No behaviour is chosen from
substrings of model names.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any, Callable, Dict

import numpy as np
import paddle

StateDict = Dict[str, np.ndarray]

_BUILDERS: Dict[str, Callable[..., paddle.nn.Layer]] = {}
_CONVERTERS: Dict[str, Callable[[Path], StateDict]] = {}


def register_architecture(name: str) -> Callable:
    """Class/function decorator registering a network builder under `name`."""

    def wrap(builder: Callable[..., paddle.nn.Layer]) -> Callable[..., paddle.nn.Layer]:
        if _BUILDERS.get(name, builder) is not builder:
            raise ValueError(f"architecture {name!r} registered twice")
        _BUILDERS[name] = builder
        return builder

    return wrap


def register_converter(name: str) -> Callable:
    """Decorator registering `fn(checkpoint_path) -> state dict` under `name` (a card's `weights.converter`)."""

    def wrap(fn: Callable[[Path], StateDict]) -> Callable[[Path], StateDict]:
        if _CONVERTERS.get(name, fn) is not fn:
            raise ValueError(f"converter {name!r} registered twice")
        _CONVERTERS[name] = fn
        return fn

    return wrap


def _discover() -> None:
    """Import every file of this package (each registers its networks and converters)."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def available_architectures() -> list:
    _discover()
    return sorted(_BUILDERS)


def converter(name: str) -> Callable[[Path], StateDict]:
    """The checkpoint converter registered as `name`."""
    _discover()
    if name not in _CONVERTERS:
        raise ValueError(f"unknown converter {name!r}; known: {', '.join(sorted(_CONVERTERS))}")
    return _CONVERTERS[name]


def build_network(name: str, **kwargs: Any) -> paddle.nn.Layer:
    """Build the network `name` in eval mode, with parameter names isolated from other instances."""
    _discover()
    if name not in _BUILDERS:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    with paddle.utils.unique_name.guard():
        net = _BUILDERS[name](**kwargs)
    net.eval()
    return net
