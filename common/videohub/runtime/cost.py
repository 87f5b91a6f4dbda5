"""Forward cost of an exported network in GFLOP (a multiply-add counts 2), counted from its ONNX form: the
convolutions, matrix products and LSTM gates (Conv, grouped Conv, ConvTranspose, MatMul, Gemm, LSTM), which hold
all but a few per cent of a video network's arithmetic; element-wise ops, pooling and normalisation are not
counted.

Shapes come from OpenVINO's static shape inference for the given input shapes; a network whose shapes stay
dynamic there (e.g. TimeSformer's class token, expanded to a shape computed at run time) is run once on zeros
in ONNX Runtime and the shapes are read from that run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np

from videohub.runtime.predictor import import_optional

Shape = Sequence[int]
# OpenVINO op type -> the ONNX op whose cost formula applies (weights laid out alike, groups apart).
_OPENVINO_OPS = {"Convolution": "Conv", "GroupConvolution": "GroupConv", "ConvolutionBackpropData": "ConvTranspose",
                 "MatMul": "MatMul", "LSTMSequence": "LSTM"}
_WEIGHT_INPUT = {"LSTMSequence": 4}  # OpenVINO ops whose weights are not their second input
COUNTED_ONNX_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm", "LSTM")


def multiply_adds(op: str, a: Shape, w: Shape, out: Shape, transpose_a: bool = False) -> int:
    """Multiply-adds of one op from its data input `a`, second input `w` and output shapes.
    Conv: w = [Cout, Cin/groups, k...]; GroupConv (OpenVINO): w = [groups, Cout/g, Cin/g, k...];
    ConvTranspose: w = [Cin, Cout/groups, k...]; MatMul/Gemm: the reduced dimension of `a`; LSTM: a = the
    sequence (time and batch first, in either order), w = [directions, 4 x hidden, input] (input and recurrent
    gates)."""
    if op == "Conv":
        return int(np.prod(out)) * int(np.prod(w[1:]))
    if op == "GroupConv":
        return int(np.prod(out)) * int(np.prod(w[2:]))
    if op == "ConvTranspose":
        return int(np.prod(a)) * int(np.prod(w[1:]))
    if op == "LSTM":
        directions, gates, inputs = w[0], w[1], w[2]
        return int(a[0]) * int(a[1]) * int(directions) * int(gates) * (int(inputs) + int(gates) // 4)
    if op in ("MatMul", "Gemm"):
        k = a[0] if len(a) == 1 else (a[-2] if transpose_a else a[-1])
        return int(np.prod(out)) * int(k)
    raise ValueError(f"no cost formula for {op}")


def forward_gflops(onnx_file: Union[str, Path], input_shapes: Sequence[Shape]) -> float:
    """GFLOP of one forward pass of `onnx_file` on inputs of `input_shapes` (in the model's input order)."""
    macs = _openvino_macs(onnx_file, input_shapes)
    if macs is None:
        macs = _onnxruntime_macs(onnx_file, input_shapes)
    return 2 * macs / 1e9


def _openvino_macs(onnx_file: Union[str, Path], input_shapes: Sequence[Shape]) -> Optional[int]:
    """Multiply-adds from OpenVINO's shape inference; None when a counted op's shapes stay dynamic."""
    try:
        ov = import_optional("openvino")
    except ImportError:
        return None
    model = ov.Core().read_model(str(onnx_file))
    model.reshape({i: list(s) for i, s in enumerate(input_shapes)})
    total = 0
    for node in model.get_ordered_ops():
        op = _OPENVINO_OPS.get(node.get_type_name())
        if op is None:
            continue
        shapes = [node.get_input_partial_shape(0), node.get_input_partial_shape(_WEIGHT_INPUT.get(node.get_type_name(), 1)),
                  node.get_output_partial_shape(0)]
        if any(s.is_dynamic for s in shapes):
            return None
        a, w, out = (list(s.to_shape()) for s in shapes)
        total += multiply_adds(op, a, w, out, transpose_a=op == "MatMul" and node.get_transpose_a())
    return total


def _onnxruntime_macs(onnx_file: Union[str, Path], input_shapes: Sequence[Shape]) -> int:
    """Multiply-adds from the shapes of one ONNX Runtime run on zeros (the counted ops' tensors made outputs)."""
    onnx = import_optional("onnx")
    ort = import_optional("onnxruntime")
    model = onnx.load(str(onnx_file))
    weights: Dict[str, Shape] = {t.name: list(t.dims) for t in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type in COUNTED_ONNX_OPS]
    wanted = {name for n in nodes for name in (n.input[0], n.input[1], n.output[0]) if name not in weights}
    existing = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.ValueInfoProto(name=name) for name in sorted(wanted - existing))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.zeros(s, dtype=_numpy_type(i.type)) for i, s in zip(session.get_inputs(), input_shapes)}
    names = [o.name for o in session.get_outputs()]
    shapes = {**weights, **{n: list(v.shape) for n, v in zip(names, session.run(names, feeds))}}
    total = 0
    for n in nodes:
        attrs = {a.name: a.i for a in n.attribute}
        total += multiply_adds(n.op_type, shapes[n.input[0]], shapes[n.input[1]], shapes[n.output[0]],
                               transpose_a=bool(attrs.get("transA", 0)))
    return total


def _numpy_type(ort_type: str):
    return {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}.get(ort_type, np.float32)
