"""Export a dygraph network to a Paddle inference model (the source every engine runs)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, Tuple, Union

import paddle

from videohub.card import InputSpec


def export_network(net: paddle.nn.Layer, inputs: Sequence[InputSpec], prefix: Union[str, Path]) -> Tuple[Path, Path]:
    """`paddle.jit.to_static` + `paddle.jit.save`; returns the `.json` and `.pdiparams` paths.

    Dynamic dimensions are the -1 entries of the card's input shapes (batch always; frames where the
    network allows it).
    """
    specs = [paddle.static.InputSpec([None if d < 0 else d for d in i.shape], i.dtype, i.name) for i in inputs]
    net.eval()
    static = paddle.jit.to_static(net, input_spec=specs, full_graph=True)
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    paddle.jit.save(static, str(prefix))
    model, params = prefix.with_suffix(".json"), prefix.with_suffix(".pdiparams")
    if not model.exists():  # legacy IR export (FLAGS_enable_pir_api=0)
        model = prefix.with_suffix(".pdmodel")
    return model, params
