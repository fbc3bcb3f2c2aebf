"""Command line of run_eval.py: tasks x one model -> results/<task>/<run>.json, the tables, the report.

Everything that can be checked is checked before torch, the tasks' heavy modules or a model are imported, so that a
typo or a missing file answers in a second: options and their combinations, names that become paths, that `--out`
is writable; then everything the run needs on disk (checkpoint, datasets, prompt files, tracker weights and code),
all that is missing in one message with where to get it; then each dataset's layout. Only then is the model loaded.
Expected failures (evals/errors.py) end with exit status 2 and one paragraph naming the file and what was expected;
anything else keeps its traceback: that is a bug.
"""
from __future__ import annotations

import argparse
import difflib
import os
import tempfile
from pathlib import Path

from models.errors import SamzeroError
from models.registry import is_known, load_plugins, model_variant, variant_names
from models.settings import BACKENDS, PRECISIONS

from .base import Task
from .compare import DEFAULT_TOLERANCE
from .errors import DataError, MissingResources, UsageError
from .log import LOGGER
from .log import setup as setup_logging
from .names import check_name
from .registry import TASKS, available_tasks, task_class

UNTRAINED_BANNER = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  {model}: UNTRAINED WEIGHTS ({reason}).
!!  The numbers below exercise the pipeline only; they say nothing about the model.
!!  For real numbers: {how},
!!  and put it at {path}.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line and where to look, not the 40-line usage."""
        self.exit(2, f"{self.prog}: error: {message}\n(python {self.prog} --help lists every option)\n")


class HelpFormatter(argparse.HelpFormatter):
    """Each option's default, where it has one worth saying and its help does not say it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, False, True, [], argparse.SUPPRESS)
            or isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        ):
            return text
        return f"{text} (default: %(default)s)"


def default_threads() -> int:
    """The CPU cores this process may use: the same for every process of a torchrun job (torchrun's own default,
    OMP_NUM_THREADS=1, would change the kernels' summation order, hence the numbers, with the world size)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="run_eval.py",
        description="Zero-shot evaluation of SAM-family models (the RepViT-SAM paper's tables).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--task", metavar="TASK[,TASK...]",
                        help=f"tasks to run, comma-separated: {', '.join(TASKS)}; 'all': every task")  # fmt: skip
    parser.add_argument("--model", help="model to evaluate (--list-models lists them); with --predictions: any row name")
    parser.add_argument("--list-models", action="store_true",
                        help="list every model (built-in and plug-in families) with its checkpoint's status, and exit")
    parser.add_argument("--model-module", action="append", default=[], metavar="MODULE",
                        help="import MODULE, a plug-in model family, before resolving --model (repeatable); installed "
                             "plug-ins are found through the entry point group samzero.models")  # fmt: skip
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file (default: weights/<official file name>)")
    parser.add_argument("--data-root", type=Path, default=Path("datasets"), help="root of the datasets (datasets/README.md)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="intra-op threads of every process, recorded in the results; the same value gives the "
                             "same numbers in one process and under torchrun with any world size (default: the "
                             "cores this process may use)")  # fmt: skip
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples (quick runs; marked in the tables)")
    parser.add_argument("--predictions", type=Path, help="score another method's saved predictions from DIR, no model")
    parser.add_argument("--backend", choices=BACKENDS, default="eager", help="image-encoder backend (models/backends.py)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="image-encoder precision: fp32 is full float32 (also on CUDA); bf16x3 (CUDA) is float32 to ~1e-5 on "
                             "bfloat16 tensor cores (models/bf16x3.py); tf32 (CUDA) uses TF32 tensor cores; bf16/fp16 run it "
                             "under torch.autocast (fp16: CUDA only)")  # fmt: skip
    parser.add_argument("--no-fuse", dest="fuse", action="store_false",
                        help="keep training-time branches unfused (RepViT's BatchNorms); by default they are folded")
    parser.add_argument("--untrained", action="store_true", help="use untrained weights (pipeline checks only; marked in the results)")
    parser.add_argument("--untrained-if-missing", action="store_true", help="use untrained weights when the checkpoint file is absent (the demo)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard this run's stored predictions and predict every sample again (without it, a run "
                             "resumes, re-predicting only samples that are missing, unreadable or whose input files "
                             "changed)")  # fmt: skip
    parser.add_argument("--detect", metavar="TASK", choices=detecting_tasks(),
                        help=f"make TASK's detector prompts into --out once, no SAM model ({', '.join(detecting_tasks())})")
    parser.add_argument("--compare", type=Path, metavar="BASELINE_DIR",
                        help="compare every metric under --out with a baseline results folder; exit 1 on regressions")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="absolute tolerance of --compare")
    parser.add_argument("--update-baseline", action="store_true",
                        help="with --compare: copy the results under --out into BASELINE_DIR instead of comparing")
    parser.add_argument("--compare-runs", nargs=2, type=Path, metavar=("A", "B"),
                        help="two results JSONs of one task (e.g. results/interactive/repvit.efficientvit.json and "
                             "mobilesam's): each per-sample metric's paired difference B - A with its 95%% bootstrap "
                             "interval over images")  # fmt: skip
    parser.add_argument("--tables", action="store_true", help="render every result under --out into <out>/TABLES.md")
    parser.add_argument("--report", action="store_true",
                        help="render every result under --out, with figures and best / median / worst examples per "
                             "run, into the self-contained page <out>/report.html (data read from --data-root)")  # fmt: skip
    parser.add_argument("--report-samples", type=int, metavar="N",
                        help="--report ranks at most N samples per run, evenly spaced (0: all; default: 100)")
    for name in available_tasks():
        task_class(name).add_arguments(parser)
    return parser


def detecting_tasks() -> list[str]:
    return [name for name in available_tasks() if task_class(name).detect.__func__ is not Task.detect.__func__]


def task_names(spec: str) -> list[str]:
    """The tasks of `--task a,b` (or all), each once, in the order given."""
    if spec == "all":
        return available_tasks()
    return list(dict.fromkeys(name.strip() for name in spec.split(",") if name.strip()))


def task_name_problem(spec: str) -> str | None:
    names = task_names(spec)
    unknown = [name for name in names if name not in TASKS]
    if unknown or not names:
        return (f"unknown task {', '.join(map(repr, unknown)) or repr(spec)}{suggest(unknown, TASKS)}; "
                f"known: {', '.join(TASKS)} (or all)")
    return None


def suggest(wrong: list[str], known) -> str:
    close = [match for name in wrong[:1] for match in difflib.get_close_matches(name, list(known), n=1)]
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_model_name(args: argparse.Namespace) -> None:
    if args.predictions is not None:
        check_name("--model (the row name of --predictions)", args.model)
        return
    if not is_known(args.model):
        load_plugins()  # installed plug-ins are imported only when a name is not built in
    if not is_known(args.model):
        raise UsageError(f"unknown model {args.model!r}{suggest([args.model], variant_names())}; "
                         "python run_eval.py --list-models lists every model")  # fmt: skip


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every problem with the options and their combinations, in one error."""
    given = {action.dest for action in parser._actions if getattr(args, action.dest, None) != action.default}
    problems = []
    if args.task is not None and (problem := task_name_problem(args.task)):
        problems.append(problem)
    modes = [flag for flag, on in (("--task", args.task is not None), ("--detect", args.detect is not None)) if on]
    if not modes and not (args.tables or args.report or args.compare is not None or args.compare_runs):
        problems.append("give --task (with --model), --detect, --tables, --report, --compare, --compare-runs or "
                        "--list-models")  # fmt: skip
    if args.compare_runs and modes:
        problems.append("--compare-runs compares two saved results: give it without --task or --detect")
    if len(modes) > 1:
        problems.append("--task and --detect are separate runs: give one")
    if args.task is not None and args.model is None:
        problems.append("--task needs --model")
    if args.model is not None and args.task is None:
        problems.append("--model is used only with --task")
    if args.limit is not None and args.limit < 1:
        problems.append(f"--limit must be at least 1 (got {args.limit})")
    if args.threads < 1:
        problems.append(f"--threads must be at least 1 (got {args.threads})")
    if args.report_samples is not None and args.report_samples < 0:
        problems.append(f"--report-samples must be 0 (all) or more (got {args.report_samples})")
    if args.untrained and args.checkpoint is not None:
        problems.append("--untrained reads no checkpoint: give --untrained or --checkpoint, not both")
    if args.untrained and args.untrained_if_missing:
        problems.append("--untrained already means untrained weights: drop --untrained-if-missing")
    if args.predictions is not None:
        model_options = ("checkpoint", "untrained", "untrained_if_missing", "backend", "precision", "fuse", "overwrite")
        conflicting = [f"--{dest.replace('_', '-')}" if dest != "fuse" else "--no-fuse" for dest in model_options if dest in given]
        if conflicting:
            problems.append(f"--predictions scores saved predictions without a model: {', '.join(conflicting)} "
                            "would do nothing")  # fmt: skip
        if args.task is not None and (args.task == "all" or "," in args.task):
            problems.append("--predictions holds one task's predictions: give one --task")
    for option in ("tolerance", "update_baseline"):
        if option in given and args.compare is None:
            problems.append(f"--{option.replace('_', '-')} is used only with --compare")
    if "report_samples" in given and not args.report:
        problems.append("--report-samples is used only with --report")
    if problems:
        raise UsageError("; ".join(problems))


def prepare_out(out: Path) -> None:
    """Create `out` and make sure files can be written there, before any work that would be lost otherwise."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UsageError(f"--out {out}: cannot write there ({err.strerror or err})") from None


def list_models() -> str:
    from models.registry import all_variants

    lines = [f"{'--model':<22} {'family':<18} {'row':<26} checkpoint"]
    for variant in all_variants():
        path = variant.default_checkpoint
        status = f"{path} (present)" if path.is_file() else f"{path} missing: {variant.how_to_get()}"
        lines.append(f"{variant.name:<22} {variant.family.name:<18} {variant.display:<26} {status}")
        if variant.notes:
            lines.append(f"{'':<22} {variant.notes}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging()
    try:
        return run(parser, args)
    except SamzeroError as err:
        LOGGER.error(f"error: {err}")
        return 2
    except KeyboardInterrupt:
        LOGGER.warning("\ninterrupted: finished samples are stored; the same command resumes from them")
        return 130


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.model_module:
        load_plugins(tuple(args.model_module))
    if args.list_models:
        load_plugins()
        print(list_models())
        return 0
    check_arguments(parser, args)
    if args.compare_runs:
        from .paired import compare_runs

        print(compare_runs(*args.compare_runs))
        return 0
    if args.model is not None:
        check_model_name(args)
    # Task options are turned into protocol parameters (and checked) before torch is imported.
    tasks = [task_class(name)(task_class(name).params_from_args(args)) for name in task_names(args.task or "")]
    prepare_out(args.out)
    import torch  # after every check above: this import alone takes seconds

    from . import distributed

    torch.set_num_threads(args.threads)
    check_device(args)
    if args.detect is not None:
        written = task_class(args.detect).detect(args)
        print(f"{args.detect}: {len(written)} prompt files in {args.out}")
        return 0
    if tasks:
        run_tasks(args, tasks)
    rank = distributed.rank_and_world()[0]
    if args.tables and rank == 0:
        from .tables import write_tables

        print(f"tables written to {write_tables(args.out)}")
    if args.report and rank == 0:
        from .report import write_report

        options = {} if args.report_samples is None else {"max_samples": args.report_samples}
        print(f"report written to {write_report(args.out, args.data_root, **options)}")
    if args.compare is not None:
        from .compare import run_compare, update_baseline

        if args.update_baseline:
            return update_baseline(args.out, args.compare)
        return run_compare(args.compare, args.out, args.tolerance)
    return 0


def check_device(args: argparse.Namespace) -> None:
    """The device exists and runs the chosen backend and precision (before any data or model is read)."""
    import torch

    from models.backends import check_precision

    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise UsageError(f"--device {args.device!r} is not a device name (cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {args.device}: this PyTorch ({torch.__version__}) sees no CUDA device")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(f"--device {args.device}: only {torch.cuda.device_count()} CUDA devices are visible")
    if args.task is not None and args.predictions is None:
        check_precision(args.precision, args.backend, device)


def resolve_checkpoint(args: argparse.Namespace) -> tuple[bool, str | None, list[str]]:
    """(untrained, why, problems): whether the run uses untrained weights, the reason, and a missing checkpoint."""
    from models.checkpoint import missing_checkpoint_message

    variant = model_variant(args.model)
    if args.untrained:
        return True, "--untrained", []
    path = args.checkpoint or variant.default_checkpoint
    if Path(path).is_file():
        return False, None, []
    if args.untrained_if_missing:
        return True, f"{path} not found", []
    return False, None, [f"model: {missing_checkpoint_message(variant, Path(path))}"]


def run_tasks(args: argparse.Namespace, tasks: list[Task]) -> None:
    from models import load_prompt_model

    from . import distributed
    from .engine import Run, execute, prepare, run_name

    problems = []
    untrained, why = False, None
    if args.predictions is None:
        variant = model_variant(args.model)
        untrained, why, problems = resolve_checkpoint(args)
        problems += [f"{task.name} needs {need}, which {variant.display} lacks"
                     for task in tasks for need in task.capability_problems(variant.capabilities)]  # fmt: skip
    elif not args.predictions.exists():
        problems.append(f"--predictions {args.predictions}: not found")
    problems += [f"{task.name}: {r.describe()}" for task in tasks for r in task.requirements(args.data_root) if not r.is_met()]
    if problems:
        raise MissingResources(problems)
    runs = [
        Run(task=task, run_name=run_name(args.model, task, args.backend, args.precision), out=args.out,
            data_root=args.data_root, device=args.device, limit=args.limit, external_predictions=args.predictions,
            overwrite=args.overwrite)
        for task in tasks
    ]  # fmt: skip
    prepared, problems = [], []
    for run in runs:  # every dataset's layout and inputs, all problems at once, before the model loads
        try:
            prepared.append(prepare(run))
        except DataError as err:
            problems.append(f"{run.task.name}: {err}")
    if problems:
        raise DataError("\n".join(problems))
    args.device = distributed.init_from_environment(args.device)  # under torchrun: join the group, pick the GPU
    model = None
    if args.predictions is None:
        if untrained and distributed.rank_and_world()[0] == 0:
            LOGGER.warning(UNTRAINED_BANNER.format(model=variant.display, reason=why, how=variant.how_to_get(),
                                                   path=variant.default_checkpoint))  # fmt: skip
        model = load_prompt_model(args.model, args.checkpoint, device=args.device, fuse=args.fuse,
                                  backend=args.backend, untrained=untrained, precision=args.precision)  # fmt: skip
    for run, samples in zip(runs, prepared):
        run.device = args.device
        results = execute(run, model, samples)
        if results is not None:  # None: not rank 0; its shard is stored, rank 0 reports
            print(f"{run.task.name} / {run.run_name}: {summary(run.task, results)}  -> {run.results_path}")


def summary(task, results: dict) -> str:
    """'AP 44.1%, APs 29.0%, ...' with each column's unit, then why the run is not comparable with the paper, if so:
    '[not comparable with the paper: ground-truth boxes (oracle); sample data; ⚠ untrained weights]'."""
    from .tables import not_comparable_reason

    metrics = results["metrics"]
    shown = [c for c in task.columns if type(metrics.get(c.key)) in (int, float)]  # not None, not a bool
    text = ", ".join(f"{c.label} {c.with_unit(metrics[c.key])}" for c in shown)
    reason = not_comparable_reason(results.get("run", ""), results, task.name)
    return text if reason is None else f"{text}  [not comparable with the paper: {reason}]"
