"""Training, fine-tuning, evaluation and export, driven by the module cards.

* Configuration: `TrainConfig` defaults <- a named recipe (`RECIPES`) <- the card's optional `"train"` section
  <- command-line overrides (`key=value`). Keys `preprocess.<field>` / `preprocess.sampler.<field>` override the
  card's preprocessing for training, evaluation and the exported module alike (one source of truth).
* Networks: built from the card (`videohub.models.build_network`), initialised from a module's
  `weights/model.pdparams`, another checkpoint, or nothing (`init="none"`, training from scratch). For a new
  label set the classifier layer the network declares in `head_keys` is re-initialised (normal, std 0.01,
  bias 0, as PaddleVideo's heads); everything else must load with an exact key check.
* The loop: Momentum/RMSProp/Adam with L2 weight decay, per-step LR schedules (step decay at fractions of
  the run, cosine with linear warm-up), optional label smoothing, gradient clipping, backbone and BN
  freezing, mixed precision on GPU only (`paddle.amp`), checkpoints with model + optimizer + scheduler +
  epoch/step, and resume. Randomness is derived from (seed, step) for paddle (dropout) and from
  (seed, epoch, index) for the data, so a resumed run repeats the uninterrupted one.
* Multi-GPU: `python -m paddle.distributed.launch --gpus 0,1,2,3 scripts/train.py ...`; each rank takes every
  world-th batch, the model is wrapped in `paddle.DataParallel`, rank 0 writes checkpoints and logs.
"""
from __future__ import annotations

import copy
import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import paddle
import paddle.nn.functional as F

from videohub import weights
from videohub.card import ModelCard, card_from_dict, load_card, load_labels
from videohub.models import build_network
from videohub.models.checkpoint import CheckpointError, load_into, read_pdparams, strip_prefix
from videohub.tasks.scores import activate
from videohub.train import augment, datasets, metrics
from videohub.train.datasets import make_loader

PathLike = Union[str, Path]

# The original recipes (PaddleVideo configs). Fractions are of the whole run, so they scale with `epochs`.
RECIPES: Dict[str, Dict[str, Any]] = {
    # TSN / TSM: SGD momentum 0.9, L2 1e-4, LR x0.1 at 1/3 and 2/3 of the epochs
    "tsn": {"optimizer": "momentum", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "schedule": "step",
            "milestones": (1 / 3, 2 / 3), "gamma": 0.1},
    # PP-TSM / PP-TSN: warm-up (10 of 80 epochs from lr/2) then cosine; label smoothing 0.1
    "pptsm": {"optimizer": "momentum", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "schedule": "cosine",
              "warmup_fraction": 10 / 80, "warmup_start_lr": 0.005, "label_smoothing": 0.1},
    # YouTube-8M AttentionLSTM: RMSProp, L2 8e-4, step decay
    "attention_lstm": {"optimizer": "rmsprop", "lr": 0.000125, "weight_decay": 8e-4, "schedule": "step",
                       "milestones": (0.5,), "gamma": 0.1, "grad_clip": 0.0},
}


@dataclass(frozen=True)
class TrainConfig:
    recipe: str = "tsn"
    epochs: int = 10
    batch_size: int = 8
    optimizer: str = "momentum"           # "momentum" | "rmsprop" | "adam"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4            # L2, on all trainable parameters
    schedule: str = "step"                # "step" | "cosine" | "constant"
    milestones: Tuple[float, ...] = (1 / 3, 2 / 3)
    gamma: float = 0.1
    warmup_fraction: float = 0.0          # of the whole run, linear from warmup_start_lr
    warmup_start_lr: float = 0.0
    label_smoothing: float = 0.0
    grad_clip: float = 0.0                # global norm; 0 = off
    amp: bool = True                      # mixed precision, on GPU only
    freeze_backbone: bool = False         # train the classifier layer only (backbone BN statistics frozen too)
    freeze_bn: bool = False               # keep every BN layer in inference mode (running statistics)
    num_workers: int = 0
    seed: int = 0
    log_every: int = 1
    eval_every: int = 1                   # epochs
    checkpoint_every_steps: int = 0       # also write last.pdckpt every N steps (0: at epoch ends only)
    max_steps: int = 0                    # stop after this many steps in total (0: run all epochs)
    crop: str = "multiscale"              # training crop: "multiscale" | "random" | "center"
    scales: Tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)
    max_distort: int = 1
    flip: bool = True
    temporal_jitter: bool = True

    def augment_spec(self) -> augment.AugmentSpec:
        return augment.AugmentSpec(self.crop, tuple(self.scales), self.max_distort, self.flip, self.temporal_jitter)


# ---------------------------------------------------------------------------------------------- configuration
def parse_value(text: str) -> Any:
    """`--set` values: JSON (numbers, true/false, lists) or else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.lower()
        return {"true": True, "false": False}.get(low, text)


def parse_overrides(items: Sequence[str]) -> Dict[str, Any]:
    """["epochs=3", "preprocess.crop_size=112"] -> {"epochs": 3, "preprocess.crop_size": 112}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"overrides are key=value, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def _coerce(name: str, value: Any) -> Any:
    default = TrainConfig.__dataclass_fields__[name].default
    if isinstance(default, tuple):
        return tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    return type(default)(value)


def make_config(card: ModelCard, overrides: Optional[Dict[str, Any]] = None) -> TrainConfig:
    """Defaults <- recipe <- card["train"] <- overrides (only TrainConfig keys; see `split_overrides`)."""
    overrides = dict(overrides or {})
    card_train = dict(card.raw.get("train", {}))
    recipe = overrides.get("recipe", card_train.get("recipe", TrainConfig.recipe))
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
    merged = {**RECIPES[recipe], **card_train, **overrides, "recipe": recipe}
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ValueError(f"unknown training settings {unknown}; known: {sorted(known)}")
    return TrainConfig(**{k: _coerce(k, v) for k, v in merged.items()})


def split_overrides(overrides: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(training settings, card overrides under `preprocess.`)."""
    card = {k: v for k, v in overrides.items() if k.startswith("preprocess.")}
    return {k: v for k, v in overrides.items() if k not in card}, card


def card_with_overrides(card: ModelCard, overrides: Dict[str, Any]) -> ModelCard:
    """A copy of the card with dotted `preprocess...` keys replaced. When `preprocess.crop_size` changes, the
    declared input shapes follow: their trailing two (spatial) dimensions equal to the old crop size become
    the new one."""
    raw = copy.deepcopy(card.raw)
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = raw
        for p in parents:
            if not isinstance(node.get(p), dict):
                raise ValueError(f"card has no section {'.'.join(parents)!r} for {dotted!r}")
            node = node[p]
        node[leaf] = value
    old, new = card.preprocess.crop_size, raw["preprocess"].get("crop_size", card.preprocess.crop_size)
    if new != old:
        for spec in raw["inputs"]:
            spec["shape"] = list(spec["shape"][:-2]) + [new if d == old else d for d in spec["shape"][-2:]]
    return card_from_dict(raw)


# ---------------------------------------------------------------------------------------------- networks
def head_keys(net: paddle.nn.Layer) -> List[str]:
    """State-dict keys of the classifier layer(s) the network declares in `head_keys`."""
    declared = getattr(net, "head_keys", None)
    if not declared:
        raise ValueError(f"{type(net).__name__} declares no `head_keys`; it cannot get a new head")
    keys = [k for k in net.state_dict() if any(k == h or k.startswith(h + ".") for h in declared)]
    if not keys:
        raise ValueError(f"{type(net).__name__}.head_keys {declared} match no parameters")
    return keys


def reinit_head(net: paddle.nn.Layer, seed: int) -> List[str]:
    """Weights ~ N(0, 0.01), biases 0 (PaddleVideo heads), from a seeded numpy generator."""
    rng = np.random.default_rng([int(seed), 1])
    state = net.state_dict()
    keys = head_keys(net)
    for k in keys:
        t = state[k]
        value = np.zeros(t.shape, np.float32) if k.endswith("bias") else rng.normal(0, 0.01, t.shape)
        t.set_value(value.astype(np.float32))
    return keys


def build_model(card: ModelCard, num_classes: Optional[int] = None, init: Optional[PathLike] = None,
                new_head: bool = False, seed: int = 0) -> Tuple[paddle.nn.Layer, Dict[str, Any]]:
    """The card's network with `num_classes` outputs, initialised from `init` (a .pdparams state dict) or
    at random (`init=None`). With `new_head` the classifier layer is re-initialised and the checkpoint's
    classifier entries are ignored; every other key must fit."""
    kwargs = card.arch_kwargs
    if num_classes is not None:
        kwargs["num_classes"] = int(num_classes)
    paddle.seed(int(seed))
    net = build_network(card.arch_name, **kwargs)
    info: Dict[str, Any] = {"init": str(init) if init else "random", "new_head": bool(new_head)}
    if new_head:
        info["head_keys"] = reinit_head(net, seed)
    if init is not None:
        state = strip_prefix(read_pdparams(init))
        if new_head:
            current = net.state_dict()
            state = {k: v for k, v in state.items() if k not in info["head_keys"]}
            state.update({k: current[k].numpy() for k in info["head_keys"]})
        load_into(net, state)
        info["loaded_keys"] = len(state)
    return net, info


def is_batch_norm(layer: paddle.nn.Layer) -> bool:
    return isinstance(layer, (paddle.nn.layer.norm._BatchNormBase, paddle.nn.BatchNorm))


def set_trainable(net: paddle.nn.Layer, freeze_backbone: bool) -> List[paddle.Tensor]:
    """Mark the parameters to train (all, or the classifier layer only); returns them."""
    head = set(head_keys(net)) if freeze_backbone else None
    trainable = []
    for name, p in net.named_parameters():
        train = head is None or name in head
        p.stop_gradient = not train
        if train and getattr(p, "trainable", True):
            trainable.append(p)
    return trainable


def train_mode(net: paddle.nn.Layer, cfg: TrainConfig) -> None:
    """net.train(), with BN layers left in inference mode where the config freezes them."""
    net.train()
    if cfg.freeze_bn or cfg.freeze_backbone:
        for layer in net.sublayers():
            if is_batch_norm(layer):
                layer.eval()


def network_logits(net: paddle.nn.Layer, outputs: Any) -> paddle.Tensor:
    """The pre-activation class scores from a forward pass (networks with several outputs declare which)."""
    if isinstance(outputs, paddle.Tensor):
        return outputs
    index = getattr(net, "logits_output", None)
    if index is None:
        raise ValueError(f"{type(net).__name__} returns {len(outputs)} outputs but declares no `logits_output`")
    return outputs[index]


def class_scores(card: ModelCard, outputs: Any) -> np.ndarray:
    """What the module reports: the card's `score_output` after the card's activation."""
    out = outputs if isinstance(outputs, paddle.Tensor) else outputs[card.score_output]
    return activate(out.numpy().astype(np.float32), card.activation)


def loss_fn(logits: paddle.Tensor, target: paddle.Tensor, multi_label: bool,
            label_smoothing: float = 0.0) -> paddle.Tensor:
    logits = logits.astype("float32")
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, target.astype("float32"))
    logp = F.log_softmax(logits, axis=-1)
    nll = -paddle.take_along_axis(logp, target.reshape([-1, 1]).astype("int64"), axis=1).squeeze(1)
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * logp.mean(axis=-1)
    return nll.mean()


# ---------------------------------------------------------------------------------------------- optimisation
def make_schedule(cfg: TrainConfig, total_steps: int) -> paddle.optimizer.lr.LRScheduler:
    """Per-step schedule over a run of `total_steps`."""
    total_steps = max(int(total_steps), 1)
    warmup = int(round(cfg.warmup_fraction * total_steps))
    if cfg.schedule == "step":
        bounds = sorted({max(1, int(round(f * total_steps))) for f in cfg.milestones})
        sched = paddle.optimizer.lr.PiecewiseDecay(bounds, [cfg.lr * cfg.gamma ** i for i in range(len(bounds) + 1)])
    elif cfg.schedule == "cosine":
        sched = paddle.optimizer.lr.CosineAnnealingDecay(cfg.lr, T_max=max(total_steps - warmup, 1))
    elif cfg.schedule == "constant":
        sched = paddle.optimizer.lr.PiecewiseDecay([total_steps], [cfg.lr, cfg.lr])
    else:
        raise ValueError(f"unknown schedule {cfg.schedule!r}")
    if warmup:
        sched = paddle.optimizer.lr.LinearWarmup(sched, warmup, cfg.warmup_start_lr, cfg.lr)
    return sched


def make_optimizer(params: List[paddle.Tensor], cfg: TrainConfig, sched) -> paddle.optimizer.Optimizer:
    decay = paddle.regularizer.L2Decay(cfg.weight_decay) if cfg.weight_decay else None
    clip = paddle.nn.ClipGradByGlobalNorm(cfg.grad_clip) if cfg.grad_clip else None
    if cfg.optimizer == "momentum":
        return paddle.optimizer.Momentum(sched, cfg.momentum, parameters=params, weight_decay=decay, grad_clip=clip)
    if cfg.optimizer == "rmsprop":
        return paddle.optimizer.RMSProp(sched, parameters=params, weight_decay=decay, grad_clip=clip, centered=True)
    if cfg.optimizer == "adam":
        return paddle.optimizer.Adam(sched, parameters=params, weight_decay=decay, grad_clip=clip)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def amp_enabled(cfg: TrainConfig) -> bool:
    """Mixed precision only where it helps and works: a CUDA build running on a GPU."""
    return bool(cfg.amp) and paddle.device.is_compiled_with_cuda() and paddle.device.get_device().startswith("gpu")


def _flatten_views(batch: Sequence[paddle.Tensor]) -> Tuple[List[paddle.Tensor], int]:
    """Inputs [B, V, ...] -> [B*V, ...] (V views per video)."""
    views = int(batch[0].shape[1])
    return [paddle.flatten(x, 0, 1) for x in batch], views


# ---------------------------------------------------------------------------------------------- the loop
@dataclass
class RunState:
    epoch: int = 0            # the epoch in progress (0-based)
    step_in_epoch: int = 0    # batches of that epoch already done
    global_step: int = 0


class Trainer:
    """Runs `cfg` on `net` over `train_set`; writes logs and checkpoints into `out_dir`."""

    def __init__(self, net: paddle.nn.Layer, card: ModelCard, cfg: TrainConfig, train_set, out_dir: PathLike,
                 val_set=None, multi_label: bool = False, extra: Optional[Dict[str, Any]] = None,
                 log: Callable[[str], None] = print):
        self.net, self.card, self.cfg, self.multi_label = net, card, cfg, multi_label
        self.train_set, self.val_set = train_set, val_set
        self.out_dir = Path(out_dir)
        self.extra = dict(extra or {})  # saved with checkpoints (class names, init info, ...)
        self.rank, self.world = paddle.distributed.get_rank(), paddle.distributed.get_world_size()
        self.log_text = log if self.rank == 0 else (lambda _msg: None)
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.loader, self.sampler = make_loader(train_set, cfg.batch_size, True, cfg.seed, cfg.num_workers)
        self.steps_per_epoch = len(self.sampler.all_batches())
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.sched = make_schedule(cfg, self.total_steps)
        self.opt = make_optimizer(set_trainable(net, cfg.freeze_backbone), cfg, self.sched)
        self.amp = amp_enabled(cfg)
        self.scaler = paddle.amp.GradScaler(init_loss_scaling=1024) if self.amp else None
        self.model = net
        if self.world > 1:
            paddle.distributed.init_parallel_env()
            self.model = paddle.DataParallel(net)
        self.state = RunState()
        self.history: List[Dict[str, Any]] = []

    # -------------------------------------------------------------- checkpoints
    def checkpoint(self) -> Dict[str, Any]:
        return {"model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(), "state": asdict(self.state), "config": asdict(self.cfg),
                "card": self.card.raw, "history": self.history, "extra": self.extra,
                "scaler": self.scaler.state_dict() if self.scaler else None}

    def save(self, name: str) -> Optional[Path]:
        if self.rank != 0:
            return None
        path = self.out_dir / name
        tmp = path.with_suffix(".part")
        paddle.save(self.checkpoint(), str(tmp))
        tmp.replace(path)
        return path

    def resume(self, path: PathLike) -> None:
        """Continue the run saved in `path` (a checkpoint this trainer wrote; paddle.load unpickles it)."""
        ckpt = paddle.load(str(path))
        saved = {k: v for k, v in ckpt["config"].items() if k not in ("max_steps", "num_workers", "log_every")}
        mine = {k: v for k, v in asdict(self.cfg).items() if k in saved}
        if json.dumps(saved, sort_keys=True, default=list) != json.dumps(mine, sort_keys=True, default=list):
            diff = sorted(k for k in saved if json.dumps(saved[k], default=list) != json.dumps(mine[k], default=list))
            raise CheckpointError(f"{path} was written with different settings ({', '.join(diff)})")
        self.net.set_state_dict(ckpt["model"])
        self.opt.set_state_dict(ckpt["optimizer"])
        self.sched.set_state_dict(ckpt["scheduler"])
        if self.scaler and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state = RunState(**ckpt["state"])
        self.history = list(ckpt["history"])
        self.log_text(f"resumed from {path} at epoch {self.state.epoch} step {self.state.global_step}")

    # -------------------------------------------------------------- logging
    def _record(self, entry: Dict[str, Any]) -> None:
        self.history.append(entry)
        if self.rank == 0:
            with open(self.out_dir / "train_log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

    # -------------------------------------------------------------- steps
    def train_step(self, batch: Sequence[paddle.Tensor]) -> float:
        *inputs, target = batch
        inputs, views = _flatten_views(inputs)
        if views != 1:
            raise ValueError(f"training items must have one view, got {views}")
        # dropout etc. draw from a generator seeded by (seed, step): resume repeats the same draws
        paddle.seed(int(np.random.default_rng([self.cfg.seed, self.state.global_step, 3]).integers(2 ** 31)))
        if self.amp:
            with paddle.amp.auto_cast(level="O1"):
                logits = network_logits(self.net, self.model(*inputs))
            loss = loss_fn(logits, target, self.multi_label, self.cfg.label_smoothing)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            logits = network_logits(self.net, self.model(*inputs))
            loss = loss_fn(logits, target, self.multi_label, self.cfg.label_smoothing)
            loss.backward()
            self.opt.step()
        self.opt.clear_grad()
        self.sched.step()
        return float(loss)

    def fit(self) -> List[Dict[str, Any]]:
        # Optimizer accumulators get process-global unique names (`<param>_moment1_<n>`) when first used, and a
        # resumed optimizer state only loads under the same names: a fresh name scope makes them repeatable.
        with paddle.utils.unique_name.guard():
            return self._fit()

    def _fit(self) -> List[Dict[str, Any]]:
        cfg = self.cfg
        stop = cfg.max_steps or self.total_steps
        while self.state.epoch < cfg.epochs and self.state.global_step < stop:
            epoch = self.state.epoch
            self.train_set.set_epoch(epoch)
            self.sampler.set_epoch(epoch, self.state.step_in_epoch)
            train_mode(self.model, cfg)
            t0 = time.time()
            for batch in self.loader:
                lr = self.opt.get_lr()
                loss = self.train_step(batch)
                self.state.step_in_epoch += 1
                self.state.global_step += 1
                entry = {"epoch": epoch, "step": self.state.global_step, "loss": loss, "lr": lr,
                         "seconds": round(time.time() - t0, 3)}
                self._record(entry)
                if self.state.global_step % max(cfg.log_every, 1) == 0:
                    self.log_text(f"epoch {epoch} step {self.state.global_step}/{self.total_steps} "
                                  f"loss {loss:.4f} lr {lr:.3g}")
                if cfg.checkpoint_every_steps and self.state.global_step % cfg.checkpoint_every_steps == 0:
                    self.save("last.pdckpt")
                if self.state.global_step >= stop:
                    break
            if self.state.step_in_epoch < self.steps_per_epoch:  # stopped by max_steps inside the epoch
                self.save("last.pdckpt")
                break
            self.state = RunState(epoch + 1, 0, self.state.global_step)
            if self.val_set is not None and ((epoch + 1) % max(cfg.eval_every, 1) == 0 or epoch + 1 == cfg.epochs):
                result = evaluate(self.net, self.card, self.val_set, cfg.batch_size, cfg.num_workers)
                self._record({"epoch": epoch, "step": self.state.global_step, "eval": result["metrics"]})
                self.log_text(f"epoch {epoch} eval {json.dumps(result['metrics'])}")
            self.save(f"epoch_{epoch + 1}.pdckpt")
            self.save("last.pdckpt")
        return self.history


# ---------------------------------------------------------------------------------------------- evaluation
def predict_scores(net: paddle.nn.Layer, card: ModelCard, dataset, batch_size: int = 1,
                   num_workers: int = 0) -> Tuple[np.ndarray, np.ndarray, int]:
    """(scores [N, V, C] per view after the card's activation, targets, V) over a dataset in order."""
    loader, _ = make_loader(dataset, batch_size, False, 0, num_workers)
    net.eval()
    scores, targets, views = [], [], 1
    with paddle.no_grad():
        for batch in loader:
            *inputs, target = batch
            flat, views = _flatten_views(inputs)
            s = class_scores(card, net(*flat))
            scores.append(s.reshape(-1, views, s.shape[-1]))
            targets.append(target.numpy())
    return np.concatenate(scores), np.concatenate(targets), views


def evaluate(net: paddle.nn.Layer, card: ModelCard, dataset, batch_size: int = 1,
             num_workers: int = 0, top_k: int = 20) -> Dict[str, Any]:
    """Single-label: top-1/top-5 and mean class accuracy, single-view (first view) and multi-view (average);
    multi-label: YouTube-8M GAP / Hit@1 / PERR."""
    scores, targets, views = predict_scores(net, card, dataset, batch_size, num_workers)
    video_scores = metrics.average_views(scores)
    if getattr(dataset, "multi_label", False):
        result = metrics.yt8m_report(video_scores, targets, top_k)
    else:
        result = metrics.classification_report(video_scores, targets)
        if views > 1:
            result["single_view"] = metrics.classification_report(scores[:, 0], targets)
    result["views"] = views
    return {"metrics": result, "scores": video_scores, "targets": targets}


# ---------------------------------------------------------------------------------------------- export
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

MODULE_TEMPLATE = '''"""{name}: fine-tuned from {base}. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name={name_lit},
    version="1.0.0",
    summary={summary_lit},
    author="videohub",
    author_email="",
    type={task_lit},
    meta=VideoClassifierModule,
)
class {cls}:
    """{name}: `classify(paths=[...])`, `hub run {name} --input_path x.mp4`."""
'''


def export_module(net: paddle.nn.Layer, card: ModelCard, classes: Sequence[str], out_dir: PathLike,
                  summary: str = "", reported: Optional[Dict[str, Any]] = None,
                  training: Optional[Dict[str, Any]] = None) -> Path:
    """Write a module folder (module.py, card.json, labels.txt, weights/) whose name is the folder's name.

    The card is the training card (its preprocessing included) with the new name, class count and labels;
    the weights go through `videohub.weights.install_weights`, which checks every key and exports the
    inference model."""
    out = Path(out_dir)
    name = out.name
    if not _NAME.match(name):
        raise ValueError(f"module folder name {name!r} must be lower-case letters, digits and _ (a module name)")
    if len(classes) != int(network_num_classes(net, card)):
        raise ValueError(f"{len(classes)} class names for a network with {network_num_classes(net, card)} outputs")
    out.mkdir(parents=True, exist_ok=True)
    raw = copy.deepcopy(card.raw)
    raw.pop("train", None)
    raw.pop("preprocess_variants", None)  # variants of the base card were made for its own input size
    raw.update({"name": name, "labels": "labels.txt",
                "summary": summary or f"{card.name} fine-tuned on {len(classes)} classes",
                "weights": {"converter": "pdparams", "fine_tuned_from": card.name, "training": training or {}},
                "reported": reported or {}})
    raw["architecture"] = {**raw["architecture"], "num_classes": len(classes)}
    with open(out / "card.json", "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=1, ensure_ascii=False)
    (out / "labels.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    cls = "".join(part.capitalize() for part in name.split("_"))
    (out / "module.py").write_text(MODULE_TEMPLATE.format(
        name=name, base=card.name, cls=cls, name_lit=json.dumps(name), task_lit=json.dumps(raw["task"]),
        summary_lit=json.dumps(raw["summary"])), encoding="utf-8")
    (out / "__init__.py").touch()
    with tempfile.TemporaryDirectory(prefix="videohub_export_") as tmp:
        state_path = Path(tmp) / "model.pdparams"
        paddle.save(net.state_dict(), str(state_path))
        weights.install_weights(load_card(out), out, state_path, "pdparams", source_note=f"fine-tuned from {card.name}")
    return out


def network_num_classes(net: paddle.nn.Layer, card: ModelCard) -> int:
    """Rows of the classifier layer's bias (the network's output classes)."""
    state = net.state_dict()
    bias = [k for k in head_keys(net) if k.endswith("bias")]
    if bias:
        return int(state[bias[0]].shape[0])
    return int(card.architecture.get("num_classes"))


# ---------------------------------------------------------------------------------------------- entry helpers
def open_dataset(card: ModelCard, source: PathLike, num_classes: int, train: bool = False,
                 cfg: Optional[TrainConfig] = None, root: Optional[PathLike] = None,
                 multi_label: Optional[bool] = None):
    """A dataset for the card: feature pickles (cards with `feature_inputs`: a folder of .pkl files or a list
    of their paths) or videos (a `path label` list or a folder per class)."""
    cfg = cfg or TrainConfig()
    if "feature_inputs" in card.raw:
        src = Path(source)
        if src.is_dir():
            paths = sorted(str(p) for p in src.glob("*.pkl"))
        else:
            paths = [ln.split()[0] for ln in src.read_text(encoding="utf-8").splitlines()
                     if ln.strip() and not ln.startswith("#")]
            paths = [p if Path(p).is_absolute() else str(Path(root or src.parent) / p) for p in paths]
        if not paths:
            raise ValueError(f"no feature pickles in {source}")
        return datasets.FeatureDataset(paths, card, num_classes)
    samples, _ = datasets.load_samples(source, root)
    ml = datasets.is_multi_label(samples) if multi_label is None else multi_label
    return datasets.VideoDataset(samples, card.preprocess, num_classes, ml, train, cfg.augment_spec(), cfg.seed)


def load_trained(source: PathLike) -> Tuple[paddle.nn.Layer, ModelCard, List[str]]:
    """(network in eval mode, card, class names) from a module folder (its weights/model.pdparams) or from a
    training checkpoint (.pdckpt, which carries its card and class names)."""
    source = Path(source)
    if source.is_dir():
        card = load_card(source)
        classes = load_labels(card, source)
        net, _ = build_model(card, init=source / "weights" / "model.pdparams")
    else:
        ckpt = paddle.load(str(source))
        card = card_from_dict(ckpt["card"])
        classes = list(ckpt["extra"]["classes"])
        net, _ = build_model(card, num_classes=len(classes))
        load_into(net, {k: np.asarray(v.numpy() if isinstance(v, paddle.Tensor) else v)
                        for k, v in ckpt["model"].items()})
    net.eval()
    return net, card, classes


def card_with_preprocess(card: ModelCard, variant: str) -> ModelCard:
    """The card with a named preprocessing variant (`preprocess_variants`) as its default preprocessing."""
    card.preprocess_for(variant)  # raises with the known names
    over = card.raw.get("preprocess_variants", {})[variant]
    flat: Dict[str, Any] = {}

    def walk(d, prefix):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                flat[f"{prefix}{k}"] = v

    walk(over, "preprocess.")
    return card_with_overrides(card, flat)
