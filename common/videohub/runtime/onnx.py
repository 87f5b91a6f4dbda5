"""The ONNX form of an exported model, shared by the ONNX engines: paddle2onnx conversion (`weights/inference.onnx`)
and the int8 model (`weights/inference.int8.onnx`, ONNX Runtime static QDQ quantisation) made from a calibration
set. Both are cache files with a record of the sha256 of what they were made from, so a changed source
rebuilds them.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from videohub.runtime.files import cache_is_fresh, sha256_of, write_cache
from videohub.runtime.predictor import EngineUnavailable, import_optional
from videohub.runtime.program import ProgramOp, program_ops

ONNX_OPSET = 13
# Paddle attributes that PIR exports store as float64 (`a_f64`) and paddle2onnx 2.1.0 does not read: it leaves the
# ONNX attribute uninitialised (Paddle2ONNX issue #1646; fix in PR #1647, unreleased). Found by listing the a_f64
# attributes of every module's export. Paddle op -> (its attribute, ONNX op, ONNX attribute).
FLOAT64_ATTRIBUTES = {"leaky_relu": ("negative_slope", "LeakyRelu", "alpha")}
_P2O_OUTPUT = re.compile(r"^p2o\.pd_op\.(?P<op>\w+?)\.(?P<index>\d+)\.\d+$")  # p2o.pd_op.leaky_relu.3.0


def onnx_path(model_path: Union[str, Path], precision: str = "fp32") -> Path:
    """`weights/inference.json` -> `weights/inference.onnx` (fp32/bf16) or `weights/inference.int8.onnx`."""
    model_path = Path(model_path)
    stem = model_path.with_suffix("")
    return stem.with_name(stem.name + (".int8.onnx" if precision == "int8" else ".onnx"))


def ensure_onnx(model_path: Union[str, Path], params_path: Union[str, Path]) -> Path:
    """The paddle2onnx conversion of an exported model, cached beside it and rebuilt when stale."""
    paddle2onnx = import_optional("paddle2onnx")
    out = onnx_path(model_path)
    expected = {"source_sha256": sha256_of(model_path, params_path), "paddle2onnx": paddle2onnx.__version__,
                "opset": ONNX_OPSET, "restored_attributes": sorted(FLOAT64_ATTRIBUTES)}
    if cache_is_fresh(out, expected):
        return out

    def write(tmp: Path) -> None:
        # onnxoptimizer, not the default polygraphy: paddle2onnx lets polygraphy pip-install packages at run time.
        with _stdout_to_stderr():  # paddle2onnx prints progress on stdout, which `hub run --output json` owns
            paddle2onnx.export(str(model_path), str(params_path), save_file=str(tmp), opset_version=ONNX_OPSET,
                               enable_onnx_checker=True, optimize_tool="onnxoptimizer")
        restore_float64_attributes(tmp, program_ops(model_path))

    return write_cache(out, write, {**expected, "source": Path(model_path).name, "created": time.time()})


def restore_float64_attributes(onnx_file: Union[str, Path], ops: Sequence[ProgramOp]) -> int:
    """Write the Paddle program's values of `FLOAT64_ATTRIBUTES` into the converted ONNX model (in place); the
    n-th Paddle op of a type is the ONNX node whose output paddle2onnx names `p2o.pd_op.<type>.<n>.0`. Returns
    how many attributes were written."""
    onnx = import_optional("onnx")
    by_type = {t: [op for op in ops if op.type == t] for t in FLOAT64_ATTRIBUTES}
    model = onnx.load(str(onnx_file))
    written = 0
    for node in model.graph.node:
        for paddle_type, (attr, onnx_type, onnx_attr) in FLOAT64_ATTRIBUTES.items():
            if node.op_type != onnx_type:
                continue
            match = next(filter(None, (_P2O_OUTPUT.match(o) for o in node.output)), None)
            if match is None or match["op"] != paddle_type or int(match["index"]) >= len(by_type[paddle_type]):
                raise ValueError(f"{onnx_file}: cannot tell which Paddle {paddle_type} op the ONNX node {node.name} "
                                 f"(outputs {list(node.output)}) comes from, so its {onnx_attr} cannot be checked")
            value = float(by_type[paddle_type][int(match["index"])].attrs[attr])
            for a in node.attribute:
                if a.name == onnx_attr:
                    a.f = value
                    break
            else:
                node.attribute.append(onnx.helper.make_attribute(onnx_attr, value))
            written += 1
    onnx.save(model, str(onnx_file))
    return written


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what is written to file descriptor 1 (Python and C++ alike) to stderr for a while."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def arrays_sha256(batches: Sequence[Sequence[np.ndarray]]) -> str:
    h = hashlib.sha256()
    for batch in batches:
        for a in batch:
            a = np.ascontiguousarray(a)
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes())
    return h.hexdigest()


def ensure_int8_onnx(fp32_onnx: Path, calibration: Optional[Sequence[Sequence[np.ndarray]]] = None) -> Path:
    """The int8 model (ONNX Runtime static quantisation, QDQ, per-channel int8 weights, uint8 activations,
    min/max calibration). Made from `calibration` (a list of input tuples); without one, only a cached model
    made from the current fp32 model is accepted."""
    out = onnx_path(fp32_onnx.with_suffix(".json"), "int8")
    source = {"source_sha256": sha256_of(fp32_onnx)}
    if calibration is None:
        if cache_is_fresh(out, source):
            return out
        raise EngineUnavailable("int8 needs a model quantised from a calibration set; make it once with "
                                "`python scripts/bench_engines.py MODULE --calibrate CLIP [CLIP ...]`")
    expected = {**source, "calibration_sha256": arrays_sha256(calibration)}
    if cache_is_fresh(out, expected):
        return out
    quant = import_optional("onnxruntime.quantization")
    ort = import_optional("onnxruntime")
    ort.set_default_logger_severity(3)  # calibration sessions warn about each unused paddle2onnx initialiser
    names = [i.name for i in ort.InferenceSession(str(fp32_onnx), providers=["CPUExecutionProvider"]).get_inputs()]

    class Reader(quant.CalibrationDataReader):
        def __init__(self):
            self._it = iter([dict(zip(names, batch)) for batch in calibration])

        def get_next(self):
            return next(self._it, None)

    def write(tmp: Path) -> None:
        # Only convolutions (the FLOPs): a quantised bias Add after the last conv breaks OpenVINO's compiler.
        quant.quantize_static(str(fp32_onnx), str(tmp), Reader(), quant_format=quant.QuantFormat.QDQ,
                              per_channel=True, activation_type=quant.QuantType.QUInt8,
                              weight_type=quant.QuantType.QInt8, op_types_to_quantize=["Conv"],
                              calibrate_method=quant.CalibrationMethod.MinMax)

    return write_cache(out, write, {**expected, "onnxruntime": ort.__version__,
                                     "calibration_inputs": len(calibration), "created": time.time()})


def onnx_model(model_path: Union[str, Path], params_path: Union[str, Path], precision: str) -> Path:
    """The ONNX file an ONNX engine runs for `precision`: the conversion, or its int8 quantisation."""
    onnx_file = ensure_onnx(model_path, params_path)
    return ensure_int8_onnx(onnx_file) if precision == "int8" else onnx_file
