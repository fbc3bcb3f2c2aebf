"""Command line of run_eval.py: one task (or all) x one model -> results/<task>/<model>.json, and the tables."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models import CheckpointError, UnknownModel, load_prompt_model, model_variant, variant_names
from models.settings import BACKENDS, PRECISIONS

from . import distributed
from .base import Task
from .compare import DEFAULT_TOLERANCE, run_compare, update_baseline
from .engine import Run, execute, run_name
from .registry import TASKS, TaskNotAvailable, available_tasks, task_class
from .report import DEFAULT_MAX_SAMPLES, write_report
from .tables import write_tables

UNTRAINED_BANNER = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  {model}: UNTRAINED WEIGHTS ({reason}).
!!  The numbers below exercise the pipeline only; they say nothing about the model.
!!  For real numbers put the official {file} at {path}.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_eval.py",
        description="Zero-shot evaluation of SAM-family models (the RepViT-SAM paper's tables).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--task", choices=[*TASKS, "all"], help="task to run ('all': every task that has landed)")
    parser.add_argument("--model", help=f"model to evaluate: {', '.join(variant_names())} (with --predictions: any row name)")
    parser.add_argument("--model-module", action="append", default=[], metavar="MODULE",
                        help="import MODULE (a plug-in model family) before resolving --model; repeatable")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file (default: weights/<official file name>)")
    parser.add_argument("--data-root", type=Path, default=Path("datasets"), help="root of the datasets (see datasets/README.md)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples (quick runs)")
    parser.add_argument("--predictions", type=Path, help="score another method's saved predictions from DIR, no model")
    parser.add_argument("--backend", choices=BACKENDS, default="eager", help="image-encoder backend (models/backends.py)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="image-encoder precision: fp32 is full float32 (also on CUDA); bf16x3 (CUDA) is float32 to ~1e-5 on "
                             "bfloat16 tensor cores (models/bf16x3.py); tf32 (CUDA) uses TF32 tensor cores; bf16/fp16 run it "
                             "under torch.autocast (fp16: CUDA only)")
    parser.add_argument("--no-fuse", dest="fuse", action="store_false", help="keep RepViT's training-time branches unfused")
    parser.add_argument("--untrained", action="store_true", help="use untrained weights (pipeline checks only; marked in the results)")
    parser.add_argument("--untrained-if-missing", action="store_true", help="use untrained weights when the checkpoint file is absent (the demo)")
    parser.add_argument("--overwrite", action="store_true", help="discard stored predictions of this run instead of resuming")
    parser.add_argument("--detect", metavar="TASK", choices=detecting_tasks(),
                        help=f"make TASK's detector prompts into --out once, no SAM model ({', '.join(detecting_tasks())})")
    parser.add_argument("--compare", type=Path, metavar="BASELINE_DIR",
                        help="compare every metric under --out with a baseline results folder; exit 1 on regressions")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="absolute tolerance of --compare")
    parser.add_argument("--update-baseline", action="store_true",
                        help="with --compare: copy the results under --out into BASELINE_DIR instead of comparing")
    parser.add_argument("--tables", action="store_true", help="render every result under --out into <out>/TABLES.md")
    parser.add_argument("--report", action="store_true",
                        help="render every result under --out, with figures and best / median / worst examples per "
                             "run, into the self-contained page <out>/report.html (data read from --data-root)")
    parser.add_argument("--report-samples", type=int, default=DEFAULT_MAX_SAMPLES, metavar="N",
                        help="--report ranks at most N samples per run, evenly spaced (0: all)")
    for name in available_tasks():
        task_class(name).add_arguments(parser)
    return parser


def detecting_tasks() -> list[str]:
    return [name for name in available_tasks() if task_class(name).detect.__func__ is not Task.detect.__func__]


def resolve_untrained(args: argparse.Namespace) -> tuple[bool, str | None]:
    if args.untrained:
        return True, "--untrained"
    path = args.checkpoint or model_variant(args.model).default_checkpoint
    if args.untrained_if_missing and not Path(path).is_file():
        return True, f"{path} not found"
    return False, None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model_module:
        from models.registry import load_plugins

        load_plugins(tuple(args.model_module))
    if args.task is None and not (args.tables or args.report) and args.compare is None and args.detect is None:
        parser.error("give --task (and --model), --detect, --tables, --report or --compare")
    try:
        if args.detect is not None:
            written = task_class(args.detect).detect(args)
            print(f"{args.detect}: {len(written)} prompt files in {args.out}")
            return 0
        if args.task is not None:
            run_tasks(parser, args)
        if args.tables and distributed.rank_and_world()[0] == 0:
            print(f"tables written to {write_tables(args.out)}")
        if args.report and distributed.rank_and_world()[0] == 0:
            print(f"report written to {write_report(args.out, args.data_root, args.report_samples)}")
        if args.compare is not None and args.update_baseline:
            return update_baseline(args.out, args.compare)
        if args.compare is not None:
            return run_compare(args.compare, args.out, args.tolerance)
    except (CheckpointError, TaskNotAvailable, UnknownModel, FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def run_tasks(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    names = available_tasks() if args.task == "all" else [args.task]
    if args.model is None:
        parser.error("--model is required with --task")
    # Task options are checked before the model loads, so a bad option fails in a second, not after a minute.
    tasks = [task_cls(task_cls.params_from_args(args)) for task_cls in map(task_class, names)]
    args.device = distributed.init_from_environment(args.device)  # under torchrun: join the group, pick the GPU
    model = None
    if args.predictions is None:
        spec = model_variant(args.model)  # unknown names fail before anything is loaded
        untrained, reason = resolve_untrained(args)
        if untrained:
            print(UNTRAINED_BANNER.format(model=spec.display, reason=reason, file=spec.checkpoint,
                                          path=spec.default_checkpoint), file=sys.stderr)  # fmt: skip
        model = load_prompt_model(
            args.model, args.checkpoint, device=args.device, fuse=args.fuse, backend=args.backend,
            untrained=untrained, precision=args.precision,
        )  # fmt: skip
    for task in tasks:
        run = Run(task=task, run_name=run_name(args.model, task, args.backend, args.precision), out=args.out, data_root=args.data_root,
                  device=args.device, limit=args.limit, external_predictions=args.predictions,
                  overwrite=args.overwrite)  # fmt: skip
        results = execute(run, model)
        if results is None:
            continue  # not rank 0: its shard is stored, rank 0 reports
        print(f"{task.name} / {run.run_name}: {summary(task, results)}  -> {run.results_path}")


def summary(task, results: dict) -> str:
    metrics = results["metrics"]
    shown = [c for c in task.columns if isinstance(metrics.get(c.key), (int, float))]
    return ", ".join(f"{c.label} {metrics[c.key]:.{c.digits}f}" for c in shown)
