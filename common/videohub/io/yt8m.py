"""Pure-numpy input helpers for the YouTube-8M feature models (no paddle import).

* `read_yt8m_pkl` — one YouTube-8M-style pickle (PaddleVideo `data/example.pkl`): a dict with str or bytes
  keys `nframes`, `label`, `feature` (uint8 rgb [T, 1024]), `audio` (uint8 [T, 128]). Read with a restricted
  unpickler (numpy arrays, plain containers, and the `_codecs.encode` that protocol-2 pickles use for bytes).
* `dequantize` — uint8 → float `x * 4/255 + 4/512 - 2` (PaddleVideo FeatureDecoder and the legacy readers of
  AttentionLSTM / Attention Cluster). NeXtVLAD dequantises in its graph instead (`nextvlad_dequantize` gives
  the same arithmetic in numpy, rgb without the +4/512 half step).
* `pad_features` — zero padding to 512 steps with length and mask (PaddleVideo dygraph AttentionLSTM inputs).
* `stride_centre_indices` / `attention_cluster_inputs` — the deterministic 100-frame choice for Attention
  Cluster: the legacy reader draws a random offset inside each of `seg_num` equal strides even at inference;
  here the centre of each stride is used.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np

from videohub.errors import FeatureFileError

QUANT_MIN, QUANT_MAX = -2.0, 2.0

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("collections", "OrderedDict"),
}


class _FeatureUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise FeatureFileError(f"feature pickle refers to {module}.{name}; only numpy data is accepted")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def _key(d: dict, name: str):
    for k in (name, name.encode()):
        if k in d:
            return d[k]
    raise KeyError(name)


def read_yt8m_pkl(source: Union[str, Path, bytes]) -> Dict[str, object]:
    """Return {'nframes': int, 'label': list, 'rgb': uint8 [T,1024], 'audio': uint8 [T,128]} (T = nframes)."""
    data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    try:
        obj = _FeatureUnpickler(io.BytesIO(data), encoding="latin1").load()
    except FeatureFileError:
        raise
    except Exception as exc:
        raise FeatureFileError(f"not a readable YouTube-8M feature pickle: {exc}") from exc
    if not isinstance(obj, dict):
        raise FeatureFileError(f"feature pickle holds a {type(obj).__name__}, expected a dict")
    try:
        rgb = np.asarray(_key(obj, "feature"))
        audio = np.asarray(_key(obj, "audio"))
    except KeyError as exc:
        raise FeatureFileError(f"feature pickle lacks the entry {exc}") from None
    try:
        nframes = int(_key(obj, "nframes"))
    except KeyError:
        nframes = int(rgb.shape[0])
    try:
        label = [int(v) for v in np.atleast_1d(_key(obj, "label"))]
    except KeyError:
        label = []
    if rgb.ndim != 2 or audio.ndim != 2:
        raise FeatureFileError(f"expected 2-D features, got rgb {rgb.shape}, audio {audio.shape}")
    return {"nframes": nframes, "label": label, "rgb": rgb[:nframes], "audio": audio[:nframes]}


def dequantize(x: np.ndarray, max_q: float = QUANT_MAX, min_q: float = QUANT_MIN) -> np.ndarray:
    """uint8 → float32: x * (max-min)/255 + (max-min)/512 + min (PaddleVideo / legacy readers)."""
    rng = max_q - min_q
    return (np.asarray(x, dtype=np.float32) * np.float32(rng / 255.0)
            + np.float32(rng / 512.0 + min_q)).astype(np.float32)


def nextvlad_dequantize(rgb: np.ndarray, audio: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The NeXtVLAD in-graph dequantisation in numpy: rgb x*4/255-2 (no half step), audio x*4/255-2+4/512."""
    s = np.float32(4.0 / 255.0)
    r = np.asarray(rgb, dtype=np.float32) * s + np.float32(-2.0)
    a = np.asarray(audio, dtype=np.float32) * s + np.float32(-2.0 + 4.0 / 512.0)
    return r.astype(np.float32), a.astype(np.float32)


def nextvlad_eigen_param(eigenvals_path: Union[str, Path], feature_size: int = 1024) -> np.ndarray:
    """NeXtVLAD's `eigen_param` initial value: sqrt(eigenvals[:feature_size, 0]) + 1e-4 (float32).

    Trained checkpoints store `eigen_param` themselves (a non-trainable parameter, loaded like the others);
    this is only needed for a checkpoint written without it.
    """
    ev = np.load(eigenvals_path)
    ev = ev[:feature_size, 0] if ev.ndim == 2 else ev[:feature_size]
    return (np.sqrt(ev) + 1e-4).astype(np.float32)


def pad_features(x: np.ndarray, max_len: int = 512) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[T, D] float → (data [1, max_len, D] zero-padded, length [1] int64, mask [1, max_len, D] float32).

    Sequences longer than max_len are truncated (the exported PaddleVideo model has a fixed 512 time axis).
    """
    x = np.asarray(x, dtype=np.float32)
    t = min(int(x.shape[0]), max_len)
    data = np.zeros((1, max_len, x.shape[1]), np.float32)
    data[0, :t] = x[:t]
    mask = np.zeros_like(data)
    mask[0, :t] = 1.0
    return data, np.array([t], np.int64), mask


def attention_lstm_yt8m_inputs(sample: Dict[str, object], max_len: int = 512) -> Tuple[np.ndarray, ...]:
    """The six PaddleVideo AttentionLSTM inputs (rgb_data, rgb_len, rgb_mask, audio_data, audio_len, audio_mask)."""
    r = pad_features(dequantize(sample["rgb"]), max_len)
    a = pad_features(dequantize(sample["audio"]), max_len)
    return (*r, *a)


def stride_centre_indices(n_frames: int, seg_num: int = 100) -> np.ndarray:
    """Index of the centre frame of each of `seg_num` equal strides (frames repeat when n_frames < seg_num)."""
    if n_frames <= 0:
        raise ValueError("no frames")
    stride = float(n_frames) / seg_num
    pos = (np.arange(seg_num, dtype=np.float64) + 0.5) * stride
    return np.minimum(n_frames - 1, pos.astype(np.int64))


def attention_cluster_inputs(sample: Dict[str, object], seg_num: int = 100) -> Tuple[np.ndarray, np.ndarray]:
    """(rgb [1, seg_num, 1024], audio [1, seg_num, 128]) dequantised, frames at the stride centres."""
    idx = stride_centre_indices(int(np.asarray(sample["rgb"]).shape[0]), seg_num)
    rgb = dequantize(np.asarray(sample["rgb"])[idx])[None]
    audio = dequantize(np.asarray(sample["audio"])[idx])[None]
    return rgb, audio
