"""The BSDS task through the engine: other methods' maps reproduce the MATLAB bench; the protocol runs end to end."""
from __future__ import annotations

from pathlib import Path

import pytest

from evals.base import DatasetLayoutError
from evals.bsds.bench_files import read_bench_results
from evals.bsds.task import BsdsTask
from evals.cli import build_parser
from evals.engine import Run, execute
from tests.fakes import toy_prompt_model

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "datasets" / "sample"  # the bench's own 5 images and ground truth
BENCH = Path(__file__).parent / "data" / "bsds500_bench"


def task_from(*argv: str) -> BsdsTask:
    return BsdsTask(BsdsTask.params_from_args(build_parser().parse_args(list(argv))))


def test_external_png_maps_reproduce_the_matlab_bench(tmp_path):
    # bench/test_benchs.m test_2: boundaryBench on the png soft maps with nthresh = 5.
    task = task_from("--bsds-thresholds", "5", "--bsds-workers", "1")
    run = Run(task=task, run_name="bench_png", out=tmp_path, data_root=SAMPLE, external_predictions=BENCH / "png")
    metrics = execute(run, None)["metrics"]
    matlab = read_bench_results(BENCH / "test_2")["summary"]
    for key in ("ODS", "OIS", "AP"):
        assert metrics[key] == pytest.approx(matlab[key], abs=2e-3), key
    assert metrics["ods_threshold"] == pytest.approx(matlab["ods_threshold"], abs=1e-6)


def test_protocol_runs_end_to_end_and_resumes(tmp_path):
    task = task_from("--bsds-points-per-side", "2", "--bsds-points-per-batch", "4", "--bsds-workers", "1")
    assert task.variant() == "custom-points_per_side"  # not the paper's 16x16 grid: labelled
    run = Run(task=task, run_name="toy", out=tmp_path, data_root=SAMPLE, limit=1)
    first = execute(run, toy_prompt_model())
    assert 0.0 <= first["metrics"]["ODS"] <= 1.0 and len(first["metrics"]["recall"]) == 99
    assert first["provenance"]["protocol"]["edges"]["points_per_side"] == 2
    again = execute(run, toy_prompt_model())
    assert again["provenance"]["timings"]["resumed_samples"] == 1
    assert again["metrics"] == first["metrics"]


def test_paper_protocol_has_no_variant_and_layout_errors_show_the_tree(tmp_path):
    task = task_from()
    assert task.variant() is None and task.params.edges.points_per_side == 16
    with pytest.raises(DatasetLayoutError, match=r"(?s)no BSDS500 test split.*groundTruth/test/\*\.mat"):
        task.load_dataset(tmp_path)


def test_pr_figure_is_written(tmp_path):
    task = task_from("--bsds-thresholds", "5", "--bsds-workers", "1")
    results = execute(Run(task=task, run_name="bench_png", out=tmp_path, data_root=SAMPLE,
                          external_predictions=BENCH / "png"), None)  # fmt: skip
    (path,) = BsdsTask.write_figures({"bench_png": results}, tmp_path / "bsds")
    assert path.stat().st_size > 10_000
