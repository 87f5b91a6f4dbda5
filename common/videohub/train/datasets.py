"""Labelled data for training and evaluation.

Sources:
* a file list of `path label [label ...]` lines (PaddleVideo / mmaction2 style; paths relative to the list's
  folder or to `root`; several labels make a multi-label list, e.g. for tagging; `#` starts a comment);
* a folder per class (`root/<class name>/<video>`; classes in sorted order);
* YouTube-8M-style feature pickles (`videohub.io.yt8m.read_yt8m_pkl`), labels from the pickles.

`VideoDataset` decodes with the sparse reader and the card's preprocessing (`videohub.io.preprocess`); in training
mode the crop and the frame placement are randomised (`videohub.train.augment`). Items are tuples
`(*network_inputs, target)`; each network input is [V, ...] (V views; 1 in training), the target an int64
class id or a float32 multi-hot vector. `EpochBatchSampler` gives the deterministic, resumable, rank-sharded
batch order used with `paddle.io.DataLoader`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import paddle

from videohub.io import yt8m as features
from videohub.train import augment
from videohub.card import PreprocessSpec
from videohub.io.preprocess import (check_length, prepare_video, sample_indices, scale_transform, split_pathways,
                               stack_views)
from videohub.io.files import list_videos
from videohub.io.reader import DEFAULT_BACKEND, open_video
from videohub.tasks.sequence import check_sample, feature_inputs

PathLike = Union[str, Path]


@dataclass(frozen=True)
class Sample:
    path: str
    labels: Tuple[int, ...]


# ---------------------------------------------------------------------------------------------- sources
def read_file_list(list_path: PathLike, root: Optional[PathLike] = None) -> List[Sample]:
    """`path label [label ...]` per line (whitespace separated, so paths must not contain spaces)."""
    list_path = Path(list_path)
    base = Path(root) if root is not None else list_path.parent
    samples = []
    with open(list_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            path, *labels = line.split()
            if not labels:
                raise ValueError(f"{list_path}:{n}: expected `path label [label ...]`, got {line!r}")
            try:
                ids = tuple(int(v) for v in labels)
            except ValueError:
                raise ValueError(f"{list_path}:{n}: labels must be integer class ids, got {labels}") from None
            p = Path(path)
            samples.append(Sample(str(p if p.is_absolute() else base / p), ids))
    if not samples:
        raise ValueError(f"{list_path} lists no samples")
    return samples


def scan_class_folders(root: PathLike) -> Tuple[List[Sample], List[str]]:
    """`root/<class>/<video>` -> (samples, class names); class ids follow the sorted folder names."""
    root = Path(root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not classes:
        raise ValueError(f"{root} has no class folders")
    samples = [Sample(p, (cid,)) for cid, name in enumerate(classes) for p in list_videos(root / name)]
    if not samples:
        raise ValueError(f"no videos under the class folders of {root}")
    return samples, classes


def load_samples(source: PathLike, root: Optional[PathLike] = None) -> Tuple[List[Sample], Optional[List[str]]]:
    """A file list (.txt) or a folder-per-class root; the class names only come with folders."""
    p = Path(source)
    if p.is_dir():
        return scan_class_folders(p)
    return read_file_list(p, root), None


def is_multi_label(samples: Sequence[Sample]) -> bool:
    return any(len(s.labels) != 1 for s in samples)


def multi_hot(labels: Sequence[int], num_classes: int) -> np.ndarray:
    out = np.zeros(num_classes, np.float32)
    for v in labels:
        if not 0 <= v < num_classes:
            raise ValueError(f"label {v} outside [0, {num_classes})")
        out[v] = 1.0
    return out


def _target(labels: Sequence[int], num_classes: int, multi_label: bool) -> np.ndarray:
    if multi_label:
        return multi_hot(labels, num_classes)
    if len(labels) != 1 or not 0 <= labels[0] < num_classes:
        raise ValueError(f"single-label target needs one class id in [0, {num_classes}), got {list(labels)}")
    return np.asarray(labels[0], np.int64)


# ---------------------------------------------------------------------------------------------- datasets
class VideoDataset(paddle.io.Dataset):
    """Videos -> (*inputs, target) with the card's preprocessing; random crop/flip/placement when `train`."""

    def __init__(self, samples: Sequence[Sample], spec: PreprocessSpec, num_classes: int,
                 multi_label: bool = False, train: bool = False, aug: Optional[augment.AugmentSpec] = None,
                 seed: int = 0, backend: str = DEFAULT_BACKEND):
        super().__init__()
        self.samples, self.spec, self.num_classes = list(samples), spec, int(num_classes)
        self.multi_label, self.train = bool(multi_label), bool(train)
        self.aug = aug or augment.AugmentSpec()
        self.seed, self.epoch, self.backend = int(seed), 0, backend
        for s in self.samples:  # fail on bad labels now, not in a worker in the middle of an epoch
            _target(s.labels, self.num_classes, self.multi_label)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def inputs(self, index: int) -> List[np.ndarray]:
        path = self.samples[index].path
        if not self.train:
            return prepare_video(path, self.spec, self.backend).arrays
        rng = augment.sample_rng(self.seed, self.epoch, index)
        with open_video(path, self.backend) as reader:
            info = reader.info
            check_length(info, self.spec)
            if self.aug.temporal_jitter:
                idx = augment.train_indices(self.spec.sampler, info.num_frames, info.fps, rng)
            else:
                idx = sample_indices(self.spec.sampler, info.num_frames, info.fps)[:1]
            frames = np.stack(reader.get_frames(idx.reshape(-1), scale_transform(self.spec)))
        view = augment.augment_clip(frames, self.spec, self.aug, rng)
        return split_pathways(stack_views([view], self.spec), self.spec)

    def __getitem__(self, index: int):
        s = self.samples[index]
        return (*self.inputs(index), _target(s.labels, self.num_classes, self.multi_label))


def pad_time(arrays: List[np.ndarray], length: int) -> List[np.ndarray]:
    """Zero-pad (or cut) the time axis of [1, T, D] arrays to `length` so samples batch; [1] arrays (lengths)
    are kept, so the network still sees the true number of steps."""
    out = []
    for a in arrays:
        if a.ndim == 3:
            pad = np.zeros((1, length, a.shape[2]), a.dtype)
            pad[:, :min(length, a.shape[1])] = a[:, :length]
            a = pad
        out.append(a)
    return out


class FeatureDataset(paddle.io.Dataset):
    """YouTube-8M-style pickles -> (*inputs, multi-hot target), the inputs made as the card's
    `feature_inputs` declares (`videohub.tasks.sequence.feature_inputs`, the modules' own code). Variable-length
    "sequence" inputs are padded to `pad_len` steps (their lengths input keeps the true count)."""

    def __init__(self, paths: Sequence[PathLike], card, num_classes: Optional[int] = None, pad_len: int = 300):
        super().__init__()
        if "feature_inputs" not in card.raw:
            raise ValueError(f"{card.name} declares no `feature_inputs`; it does not take feature pickles")
        self.paths, self.spec = [str(p) for p in paths], dict(card.raw["feature_inputs"])
        self.num_classes = int(num_classes or card.architecture["num_classes"])
        self.pad_len = int(pad_len)
        self.multi_label = True

    def set_epoch(self, epoch: int) -> None:  # no randomness; kept for the trainer's interface
        pass

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        pkl = features.read_yt8m_pkl(self.paths[index])
        sample = check_sample({"rgb": pkl["rgb"], "audio": pkl["audio"]}, self.spec["modalities"])
        arrays = feature_inputs(sample, self.spec)  # each [1, ...]: one "view"
        if self.spec["format"] == "sequence":
            arrays = pad_time(arrays, self.pad_len)
        return (*arrays, multi_hot(pkl["label"], self.num_classes))


# ---------------------------------------------------------------------------------------------- batching
class EpochBatchSampler(paddle.io.BatchSampler):
    """Batches of indices: a permutation drawn from (seed, epoch) when shuffling, sharded over distributed
    ranks (rank r takes every world-th batch), starting at batch `start` (resume in the middle of an epoch)."""

    def __init__(self, size: int, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False,
                 rank: int = 0, world_size: int = 1):
        # paddle's BatchSampler.__init__ insists on a dataset or sampler; this class needs neither.
        self.size, self.batch_size, self.shuffle, self.seed = int(size), int(batch_size), shuffle, int(seed)
        self.drop_last, self.rank, self.world_size = drop_last, int(rank), int(world_size)
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def all_batches(self) -> List[List[int]]:
        order = (np.random.default_rng([self.seed, self.epoch, 7]).permutation(self.size) if self.shuffle
                 else np.arange(self.size))
        n = self.size // self.batch_size if self.drop_last else math.ceil(self.size / self.batch_size)
        batches = [order[i * self.batch_size:(i + 1) * self.batch_size].tolist() for i in range(n)]
        return batches[self.rank::self.world_size]

    def __iter__(self):
        yield from self.all_batches()[self.start:]

    def __len__(self) -> int:
        return len(self.all_batches()) - self.start


def make_loader(dataset: paddle.io.Dataset, batch_size: int, shuffle: bool, seed: int = 0,
                num_workers: int = 0, drop_last: bool = False) -> Tuple[paddle.io.DataLoader, EpochBatchSampler]:
    """A DataLoader over `dataset` with worker processes and its (epoch-aware) batch sampler."""
    rank, world = paddle.distributed.get_rank(), paddle.distributed.get_world_size()
    sampler = EpochBatchSampler(len(dataset), batch_size, shuffle, seed, drop_last, rank, world)
    loader = paddle.io.DataLoader(dataset, batch_sampler=sampler, num_workers=int(num_workers),
                                  return_list=True, use_shared_memory=False)
    return loader, sampler
