"""The command line answers `--help`, typos and unknown names without importing torch or any task's heavy modules
(issue "Fresh machine": in well under 3 s on a quiet machine; BENCHMARKS.md has the measured times)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evals.registry import available_tasks

ROOT = Path(__file__).resolve().parent.parent
# Modules that take a second or more to import here, or pull in one that does.
HEAVY = ("torch", "torchvision", "segment_anything", "scipy", "numba", "pandas", "matplotlib", "transformers",
         "sklearn", "skimage", "onnx", "onnxruntime", "pycocotools", "faster_coco_eval", "timm")  # fmt: skip


def imported_heavy(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("task", available_tasks())
def test_task_module_imports_nothing_heavy(task):
    assert imported_heavy(f"from evals.registry import task_class\ntask_class({task!r})") == []


def test_parser_imports_nothing_heavy():
    assert imported_heavy("from evals.cli import build_parser\nbuild_parser()") == []


def run_eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_eval.py", *args], cwd=ROOT, capture_output=True, text=True)


def test_help_lists_every_option_with_its_help():
    result = run_eval("--help")
    assert result.returncode == 0
    assert "--list-models" in result.stdout and "--threads" in result.stdout
    assert "(default: True)" not in result.stdout and "(default: False)" not in result.stdout
    assert "default: None" not in result.stdout
    # argparse wraps lines: join them so that a doubled default is seen across a line break
    text = " ".join(result.stdout.split())
    assert "(default 2) (default: 2)" not in text and text.count("(default: fp32)") == 1


def test_every_option_has_help():
    from evals.cli import build_parser

    missing = [a.option_strings[0] for a in build_parser()._actions if a.option_strings and not a.help]
    assert missing == []


@pytest.mark.parametrize(
    "args,message",
    [
        (["--task", "bsd", "--model", "repvit"], "unknown task 'bsd' (did you mean 'bsds'?)"),
        (["--task", "bsds", "--model", "repvitt"], "unknown model 'repvitt' (did you mean 'repvit'?)"),
        (["--task", "bsds", "--model", "repvit", "--limit", "0"], "--limit must be at least 1"),
        (["--task", "bsds", "--model", "repvit", "--limit", "-1"], "--limit must be at least 1"),
        (["--task", "bsds", "--model", "repvit", "--untrained", "--checkpoint", "x.pth"], "not both"),
        (["--task", "bsds", "--model", "x", "--predictions", "p", "--untrained"], "--predictions scores saved"),
    ],
)
def test_bad_command_lines_fail_fast_without_torch(args, message):
    result = run_eval(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 3
