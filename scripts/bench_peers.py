#!/usr/bin/env python
"""Our default engine against the peers on the same network, weights and input, timed side by side in one run:
PaddleVideo's way (Paddle Inference over the exported `.json` model with the plain config of PaddleVideo's
tools/predict.py: oneDNN on, IR optimisation on, none of our pass choices) and PyTorch eager (the network rebuilt
in PyTorch here, for this benchmark only, with the module's weights copied in). Each peer is reported as a ratio
of its time to ours.

    python scripts/bench_peers.py i3d_kinetics400 tsm_kinetics400 --generated tsm_kinetics400=tsm_r50_state_dict.tsv

Needs `torch` (not a project requirement: `pip install torch==2.13.0`). Runs are interleaved (ours, PaddleVideo,
torch, ours, ...) so that a busy machine slows all of them alike; the median of each is kept.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as TF

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engines  # noqa: E402  (the module/weights/clip helpers of the engine benchmark)
from videohub.models.i3d import _BLOCKS  # noqa: E402  (the inception widths, shared with the Paddle network)


# ------------------------------------------------------------------------------------------- PyTorch networks
def _same_pad(size: Sequence[int], kernel: Sequence[int], stride: Sequence[int]) -> List[int]:
    """TensorFlow SAME padding as F.pad wants it (last dimension first)."""
    pads = []
    for n, k, s in zip(size, kernel, stride):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return [p for pair in reversed(pads) for p in pair]


class Unit3D(tnn.Module):
    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=(1, 1, 1)):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.conv = tnn.Conv3d(cin, cout, self.kernel, self.stride, bias=False)
        self.bn = tnn.BatchNorm3d(cout, eps=1e-3)

    def forward(self, x):
        x = TF.pad(x, _same_pad(x.shape[2:], self.kernel, self.stride))
        return TF.relu(self.bn(self.conv(x)))


def max_pool_same(x, kernel, stride):
    kernel, stride = (kernel,) * 3 if isinstance(kernel, int) else kernel, (stride,) * 3 if isinstance(stride, int) else stride
    return TF.max_pool3d(TF.pad(x, _same_pad(x.shape[2:], kernel, stride), value=-math.inf), kernel, stride)


class Inception(tnn.Module):
    def __init__(self, cin: int, w):
        super().__init__()
        self.branch_0a, self.branch_1a = Unit3D(cin, w[0]), Unit3D(cin, w[1])
        self.branch_1b, self.branch_2a = Unit3D(w[1], w[2], (3, 3, 3)), Unit3D(cin, w[3])
        self.branch_2b, self.branch_3b = Unit3D(w[3], w[4], (3, 3, 3)), Unit3D(cin, w[5])

    def forward(self, x):
        return torch.cat([self.branch_0a(x), self.branch_1b(self.branch_1a(x)), self.branch_2b(self.branch_2a(x)),
                          self.branch_3b(max_pool_same(x, 3, 1))], 1)


class TorchI3D(tnn.Module):
    """videohub.models.i3d.InceptionI3D with the same attribute names."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1, self.Conv3d_2c_3x3 = Unit3D(64, 64), Unit3D(64, 192, (3, 3, 3))
        c = 192
        for name, w in _BLOCKS:
            setattr(self, name, Inception(c, w))
            c = w[0] + w[2] + w[4] + w[5]
        self.logits = tnn.Conv3d(c, num_classes, 1)

    def forward(self, x):
        x = max_pool_same(self.Conv3d_1a_7x7(x), (1, 3, 3), (1, 2, 2))
        x = max_pool_same(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)), (1, 3, 3), (1, 2, 2))
        x = max_pool_same(self.Mixed_3c(self.Mixed_3b(x)), 3, 2)
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)
        x = self.Mixed_5c(self.Mixed_5b(max_pool_same(x, 2, 2)))
        x = TF.avg_pool3d(x, (2, 7, 7), stride=1)
        return self.logits(x).mean(dim=[2, 3, 4])


class ConvBN(tnn.Module):
    def __init__(self, cin, cout, k, stride=1, act=True):
        super().__init__()
        self._conv = tnn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False)
        self._batch_norm = tnn.BatchNorm2d(cout, eps=1e-5)
        self.act = act

    def forward(self, x):
        x = self._batch_norm(self._conv(x))
        return TF.relu(x) if self.act else x


def temporal_shift(x, num_seg: int, ratio: float):
    """paddle.nn.functional.temporal_shift: the first `ratio` of the channels from the previous frame, the next
    `ratio` from the following frame, zeros at the clip's ends."""
    nt, c, h, w = x.shape
    x = x.reshape(-1, num_seg, c, h, w)
    c1, c2 = int(c * ratio), int(c * 2 * ratio)
    out = torch.zeros_like(x)
    out[:, 1:, :c1] = x[:, :-1, :c1]
    out[:, :-1, c1:c2] = x[:, 1:, c1:c2]
    out[:, :, c2:] = x[:, :, c2:]
    return out.reshape(nt, c, h, w)


class Bottleneck(tnn.Module):
    def __init__(self, cin, width, stride, project, num_seg):
        super().__init__()
        self.num_seg = num_seg
        self.conv0, self.conv1 = ConvBN(cin, width, 1), ConvBN(width, width, 3, stride)
        self.conv2 = ConvBN(width, width * 4, 1, act=False)
        self.short = ConvBN(cin, width * 4, 1, stride, act=False) if project else None

    def forward(self, x):
        y = self.conv2(self.conv1(self.conv0(temporal_shift(x, self.num_seg, 1.0 / self.num_seg))))
        return TF.relu((self.short(x) if self.short is not None else x) + y)


class TorchTSM(tnn.Module):
    """videohub.models.resnet.tsm_r50 (classic ResNet-50, temporal shift, TSMHead) with the same names."""

    def __init__(self, num_classes: int = 400, num_seg: int = 8):
        super().__init__()
        self.num_seg = num_seg
        self.backbone = tnn.Module()
        self.backbone.conv = ConvBN(3, 64, 7, 2)
        self.blocks = []
        c = 64
        for s, (n, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
            for i in range(n):
                block = Bottleneck(c if i == 0 else width * 4, width, 2 if i == 0 and s > 0 else 1, i == 0, num_seg)
                self.backbone.add_module(f"res{s + 2}{chr(ord('a') + i)}", block)
                self.blocks.append(block)
            c = width * 4
        self.head = tnn.Module()
        self.head.fc = tnn.Linear(2048, num_classes)

    def forward(self, imgs):
        x = TF.max_pool2d(self.backbone.conv(imgs.flatten(0, 1)), 3, 2, 1)
        for block in self.blocks:
            x = block(x)
        score = self.head.fc(x.mean(dim=[2, 3]))
        return score.reshape(-1, self.num_seg, score.shape[-1]).mean(dim=1)


TORCH_NETS: Dict[str, Callable[[], tnn.Module]] = {"i3d": TorchI3D, "tsm_r50": TorchTSM}


def torch_twin(arch: str, paddle_state: Dict[str, np.ndarray]) -> tnn.Module:
    """The PyTorch network of `arch` with the paddle state dict copied in (BN statistics renamed, FC transposed)."""
    net = TORCH_NETS[arch]()
    names = {"_mean": "running_mean", "_variance": "running_var"}
    state = {}
    for key, value in paddle_state.items():
        head, _, leaf = key.rpartition(".")
        value = np.asarray(value)
        if key.endswith("fc.weight"):
            value = value.T
        state[f"{head}.{names.get(leaf, leaf)}"] = torch.from_numpy(np.ascontiguousarray(value))
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RuntimeError(f"{arch}: weights do not fit the PyTorch twin (missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]})")
    return net.eval()


# ------------------------------------------------------------------------------------------------- the peers
def paddlevideo_predictor(model: Path, params: Path, threads: int):
    """Paddle Inference configured as PaddleVideo's tools/predict.py does on CPU (its enable_memory_optim()
    breaks predictor creation in paddle 3.3.1 and is left out)."""
    from paddle import inference

    config = inference.Config(str(model), str(params))
    config.disable_gpu()
    config.enable_mkldnn()
    config.set_cpu_math_library_num_threads(threads)
    config.switch_ir_optim(True)
    config.switch_use_feed_fetch_ops(False)
    predictor = inference.create_predictor(config)

    def run(*arrays):
        for name, a in zip(predictor.get_input_names(), arrays):
            handle = predictor.get_input_handle(name)
            handle.reshape(list(a.shape))
            handle.copy_from_cpu(np.ascontiguousarray(a))
        predictor.run()
        return [predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()]
    return run


def bench_module(name: str, generated: Optional[str], runs: int, threads: int) -> Dict:
    from videohub.io.preprocess import prepare_video
    from videohub.models.checkpoint import read_pdparams
    from videohub.runtime.choice import resolve_engine
    from videohub.runtime.files import inference_files, weights_dir
    from videohub.runtime.predictor import build_predictor
    from videohub.runtime.verify import card_options, dygraph_outputs, reference_network, relative_error

    card, module_dir = bench_engines.load_module_card(name)
    if generated:
        module_dir = bench_engines.module_copy(module_dir, Path(tempfile.mkdtemp(prefix=f"peers_{name}_")))
        net = bench_engines.generated_network(card, generated, 0, module_dir)
    else:
        net = reference_network(card, module_dir)
    clip = bench_engines.SAMPLES / "paddlevideo_example_archery.avi"
    x = prepare_video(str(clip), card.preprocess).arrays
    ref = dygraph_outputs(net, x)[card.score_output]
    model, params = inference_files(module_dir)
    choice = resolve_engine(card, module_dir, threads=threads)
    ours = build_predictor(choice.engine, choice.precision, model, params, card_options(card, threads))
    torch.set_num_threads(threads)
    twin = torch_twin(card.arch_name, read_pdparams(weights_dir(module_dir) / "model.pdparams"))
    tx = [torch.from_numpy(a) for a in x]

    def torch_run():
        with torch.inference_mode():
            return [twin(*tx).numpy()]

    paddlevideo = paddlevideo_predictor(model, params, threads)
    peers = {f"ours ({choice.engine} {choice.precision})": lambda: ours.run(*x),
             "PaddleVideo way (Paddle Inference, plain config)": lambda: paddlevideo(*x),
             f"PyTorch {torch.__version__} eager": torch_run}
    errors = {k: relative_error(f()[card.score_output], ref) for k, f in peers.items()}  # also the warm-up
    times: Dict[str, List[float]] = {k: [] for k in peers}
    for _ in range(runs):  # interleaved: a busy machine slows every peer alike
        for k, f in peers.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    ours_s = statistics.median(times[next(iter(peers))])
    rows = [{"peer": k, "model_s": round(statistics.median(t), 3), "ratio_to_ours": round(statistics.median(t) / ours_s, 2),
             "error_vs_dygraph": float(f"{errors[k]:.3g}")} for k, t in times.items()]
    return {"module": name, "weights": "generated" if generated else "real", "input": [list(a.shape) for a in x],
            "threads": threads, "runs": runs, "rows": rows}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="+")
    ap.add_argument("--generated", nargs="*", default=[], metavar="MODULE=MANIFEST",
                    help="modules measured with a generated checkpoint of MANIFEST")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    generated = dict(g.split("=", 1) for g in args.generated)
    load = os.getloadavg()
    results = [bench_module(m, generated.get(m), args.runs, args.threads) for m in args.modules]
    for res in results:
        print(f"\n{res['module']} ({res['weights']} weights, input {res['input']}, {res['threads']} threads, "
              f"median of {res['runs']} interleaved runs)")
        print("| peer | model_s | ratio to ours | error vs dygraph |\n|---|---|---|---|")
        for r in res["rows"]:
            print(f"| {r['peer']} | {r['model_s']} | {r['ratio_to_ours']} | {r['error_vs_dygraph']} |")
    print(f"load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "load_before": load,
                                               "load_after": os.getloadavg(), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
