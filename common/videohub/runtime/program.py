"""The ops of an exported Paddle program, read from the file (no Paddle runtime): which graph shapes a model has
(the oneDNN pass workarounds of `engines/paddle_inference.py`) and its attribute values (what the ONNX conversion
must carry over, `onnx.py`)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from paddle.base.proto import framework_pb2


@dataclass(frozen=True)
class ProgramOp:
    """One op of an exported program: its type (PIR spelling, e.g. "add", "reshape"), the values it reads
    (data input first) and writes, and its attributes by name."""
    type: str
    inputs: Tuple[str, ...]
    outputs: Tuple[str, ...]
    attrs: Dict[str, Any] = field(default_factory=dict, compare=False)  # PIR exports only


# Legacy ProgramDesc op types under their PIR names, so one set of graph rules reads both export formats.
_LEGACY_OP_TYPES = {"elementwise_add": "add", "reshape2": "reshape", "transpose2": "transpose",
                    "matmul_v2": "matmul"}
_DATA_SLOTS = ("X", "Input")  # a legacy op's data input, listed first


def program_ops(model_path: Union[str, Path]) -> List[ProgramOp]:
    """The ops of an exported model, `.json` (PIR) or legacy `.pdmodel` (ProgramDesc), nested blocks included."""
    model_path = Path(model_path)
    if model_path.suffix == ".json":
        with open(model_path, encoding="utf-8") as f:
            return list(_pir_ops(json.load(f)["program"]))
    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(model_path.read_bytes())
    ops = []
    for block in desc.blocks:
        for op in block.ops:
            slots = sorted(op.inputs, key=lambda v: v.parameter not in _DATA_SLOTS)
            ops.append(ProgramOp(_LEGACY_OP_TYPES.get(op.type, op.type),
                                 tuple(a for v in slots for a in v.arguments),
                                 tuple(a for v in op.outputs for a in v.arguments)))
    return ops


def _pir_ops(node) -> Iterator[ProgramOp]:
    """Ops of a PIR JSON program: {"#": "1.conv2d", "I": [{"%": 7}, ...], "O": [{"%": 8}],
    "A": [{"N": "epsilon", "AT": {"#": "0.a_f32", "D": 1e-05}}, ...]}, in nested regions."""
    if isinstance(node, list):
        for item in node:
            yield from _pir_ops(item)
        return
    if not isinstance(node, dict):
        return
    if "O" in node and isinstance(node.get("#"), str):
        outs = node["O"] if isinstance(node["O"], list) else [node["O"]]
        yield ProgramOp(node["#"].split(".", 1)[-1].rstrip("_"),
                        tuple(str(v.get("%")) for v in node.get("I") or [] if isinstance(v, dict)),
                        tuple(str(v.get("%")) for v in outs if isinstance(v, dict)),
                        {a["N"]: a["AT"].get("D") for a in node.get("A") or []
                         if isinstance(a, dict) and "N" in a and isinstance(a.get("AT"), dict)})
    for key in ("regions", "blocks", "ops"):
        if key in node:
            yield from _pir_ops(node[key])


class ProgramGraph:
    """Producers and consumers of each value of a program."""

    def __init__(self, ops: Sequence[ProgramOp]):
        self.ops = list(ops)
        self._producer = {v: op for op in ops for v in op.outputs}
        self._consumers: Dict[str, List[ProgramOp]] = {}
        for op in ops:
            for v in op.inputs:
                self._consumers.setdefault(v, []).append(op)

    def source(self, op: ProgramOp, through: Sequence[str] = ()) -> Optional[ProgramOp]:
        """The op producing `op`'s data input, looking through ops of the types in `through`."""
        src = self._producer.get(op.inputs[0]) if op.inputs else None
        while src is not None and src.type in through:
            src = self._producer.get(src.inputs[0]) if src.inputs else None
        return src

    def users(self, op: ProgramOp, through: Sequence[str] = ()) -> List[ProgramOp]:
        """The ops reading `op`'s first output, looking through ops of the types in `through`."""
        found, todo = [], list(self._consumers.get(op.outputs[0], [])) if op.outputs else []
        while todo:
            user = todo.pop()
            if user.type in through and user.outputs:
                todo.extend(self._consumers.get(user.outputs[0], []))
            else:
                found.append(user)
        return found
