"""`hub run` for every module kind: shared arguments, the end of a run, and whole-run failures.

A failure of one input is a per-item error record. A failure of the whole run (e.g. `--use_gpu True` on a
machine without CUDA, missing weights) is reported as one line on stderr with exit status 2; the traceback is
printed only with `--debug` or `VIDEOHUB_DEBUG=1`.
"""
from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import sys
import traceback
from typing import Any, Callable, Dict, List, Sequence

DEBUG_ENV = "VIDEOHUB_DEBUG"


def parse_bool(text: str) -> bool:
    """`True`/`False` (PaddleHub's style) or `true`/`false`."""
    value = ast.literal_eval(text) if text not in ("true", "false") else text == "true"
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return value


def parser_for(module: Any, input_help: str) -> argparse.ArgumentParser:
    """The arguments every `hub run` takes: --input_path, --use_gpu, --strict, --output, --debug."""
    parser = argparse.ArgumentParser(prog=f"hub run {module.name}", description=f"{module.summary or module.name}")
    parser.add_argument("--input_path", required=True, help=input_help)
    parser.add_argument("--use_gpu", type=parse_bool, default=False, help="True or False")
    parser.add_argument("--strict", type=parse_bool, default=False,
                        help="stop at the first bad input instead of reporting it")
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of a whole-run failure (also: {DEBUG_ENV}=1)")
    return parser


def add_label_arguments(parser: argparse.ArgumentParser, top_k: int, threshold: float) -> None:
    """--top_k, --threshold (the module's defaults) and --output text|json of the classifiers."""
    parser.add_argument("--top_k", type=int, default=top_k)
    parser.add_argument("--threshold", type=float, default=threshold)
    parser.add_argument("--output", choices=("text", "json"), default="text")
    parser.add_argument("--label_file", default=None,
                        help="class names for a fine-tuned module: one per line (or `<id> <name>`), one per class")


def parse_label_run(module: Any, parser: argparse.ArgumentParser, argvs: List[str]) -> argparse.Namespace:
    """Parse a classifier's `hub run` arguments and apply `--label_file` (`module.set_labels`)."""
    args = parser.parse_args(argvs)
    if args.label_file:
        module.set_labels(args.label_file)
    return args


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    """--window/--stride: classify in sliding windows (long videos)."""
    parser.add_argument("--window", type=float, default=None, help="classify in windows of this many seconds")
    parser.add_argument("--stride", type=float, default=None, help="seconds between window starts (default: window)")


def add_visual_arguments(parser: argparse.ArgumentParser) -> None:
    """--output_video, --output_timeline, --max_side: draw what the model saw (one input)."""
    parser.add_argument("--output_video", default=None,
                        help="write the video with the results drawn on it: .mp4 (H.264), .webm (VP9) or .gif")
    parser.add_argument("--output_timeline", "--timeline", dest="output_timeline", default=None,
                        help="write a timeline picture (.png): results over time")
    parser.add_argument("--max_side", type=int, default=None,
                        help="scale the annotated video down so its longer side is at most this (default: original)")


def require_single_input(paths: Sequence[str], input_path: str) -> None:
    if len(paths) != 1:
        print(f"--output_video/--output_timeline draw one video; {input_path} holds {len(paths)} inputs",
              file=sys.stderr)
        raise SystemExit(2)


def require_inputs(paths: Sequence[str], input_path: str) -> None:
    if not paths:
        print(f"no inputs found in {input_path}", file=sys.stderr)
        raise SystemExit(2)


def dump_json(results: Any) -> str:
    return json.dumps(results, ensure_ascii=False, indent=1)


def finish_run(results: List[Dict[str, Any]], text: str) -> str:
    """The end of a `hub run`: the text to print, or, when any input failed, print it and exit with status 1
    (PaddleHub prints what `run_cmd` returns, which an exit would lose)."""
    failed = sum("error" in r for r in results)
    if failed:
        print(text)
        sys.stdout.flush()
        print(f"{failed} of {len(results)} inputs failed", file=sys.stderr)
        raise SystemExit(1)
    return text


def whole_run_errors(run_cmd: Callable) -> Callable:
    """Wrap a `run_cmd`: an exception that ends the whole run becomes one line and exit status 2."""

    @functools.wraps(run_cmd)
    def wrapper(self: Any, argvs: List[str]) -> Any:
        try:
            return run_cmd(self, argvs)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # the whole run failed: one clear line, the traceback only on request
            if "--debug" in argvs or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                traceback.print_exc()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"hub run {self.name}: {type(exc).__name__}: {first}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
