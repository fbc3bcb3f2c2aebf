"""--compare: regression reports that fail on a metric moving the wrong way."""
from __future__ import annotations

import json

from evals import cli


def write_result(root, task: str, run: str, metrics: dict) -> None:
    path = root / task / f"{run}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metrics": metrics, "provenance": {}}))


def compare(tmp_path, now: dict, tolerance: str = "1e-6") -> int:
    baseline, out = tmp_path / "baseline", tmp_path / "now"
    write_result(baseline, "sod", "repvit.oracle", {"mae": 0.100, "max_f": 0.8})
    write_result(baseline, "latency", "repvit", {"encoder_ms": 1500.0})
    for (task, run), metrics in now.items():
        write_result(out, task, run, metrics)
    return cli.main(["--compare", str(baseline), "--out", str(out), "--tolerance", tolerance])


def test_unchanged_and_improved_metrics_pass_and_timings_never_fail(tmp_path):
    now = {("sod", "repvit.oracle"): {"mae": 0.090, "max_f": 0.8}, ("latency", "repvit"): {"encoder_ms": 9000.0}}
    assert compare(tmp_path, now) == 0
    report = (tmp_path / "now" / "REGRESSION.md").read_text()
    assert "| sod | repvit.oracle | mae | 0.1 | 0.09 | -0.01 | improved |" in report
    assert "| latency | repvit | encoder_ms | 1500 | 9000 | +7500 | timing |" in report


def test_a_deliberately_worse_metric_fails(tmp_path):
    assert compare(tmp_path, {("sod", "repvit.oracle"): {"mae": 0.101, "max_f": 0.8}}) == 1
    assert "| mae | 0.1 | 0.101 | +0.001 | regressed |" in (tmp_path / "now" / "REGRESSION.md").read_text()


def test_tolerance_and_undirected_metrics(tmp_path):
    assert compare(tmp_path, {("sod", "repvit.oracle"): {"mae": 0.1000001, "max_f": 0.8}}, tolerance="1e-5") == 0
    # max_f has no table column, so no known direction: any move beyond the tolerance is a change that fails.
    assert compare(tmp_path, {("sod", "repvit.oracle"): {"mae": 0.1, "max_f": 0.9}}) == 1


def test_a_missing_result_fails_and_a_new_one_does_not(tmp_path):
    assert compare(tmp_path, {("sod", "other"): {"mae": 0.1}}) == 1
    report = (tmp_path / "now" / "REGRESSION.md").read_text()
    assert "| sod | repvit.oracle | mae | 0.1 |  |  | missing |" in report and "| sod | other | mae |  | 0.1 |  | new |" in report


def test_update_baseline_copies_results(tmp_path):
    write_result(tmp_path / "now", "sod", "repvit.oracle", {"mae": 0.2})
    assert cli.main(["--compare", str(tmp_path / "base"), "--out", str(tmp_path / "now"), "--update-baseline"]) == 0
    assert cli.main(["--compare", str(tmp_path / "base"), "--out", str(tmp_path / "now")]) == 0
