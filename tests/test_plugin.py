"""A model family from another package (examples/samzero-example-family), installed as a user would: found through
its `samzero.models` entry point, listed, run on a task, and refused by a task that needs what it lacks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "samzero-example-family"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """An environment where the example package is installed (pip install --target: the venv stays as it is; from a
    copy, since building writes into the source folder)."""
    folder = tmp_path_factory.mktemp("plugin")
    source, site = folder / "source", folder / "site"
    shutil.copytree(EXAMPLE, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(site), str(source)], check=True, capture_output=True)  # fmt: skip
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def run_eval(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_eval.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_installed_plugin_is_listed_and_runs_a_task(plugin_env, tmp_path):
    listed = run_eval(plugin_env, "--list-models")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "example" in rows["example_pool"] and "missing: download the official example_pool.pt from https://example.org/" in rows["example_pool"]
    assert "repvit" in rows and "vit_h" in rows  # the built-in families are listed beside it
    ran = run_eval(plugin_env, "--task", "coco", "--boxes", "gt", "--model", "example_pool", "--untrained",
                   "--data-root", "datasets/sample", "--limit", "1", "--out", str(tmp_path))  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    results = json.loads((tmp_path / "coco" / "example_pool.gt-boxes.json").read_text())
    assert results["provenance"]["model"]["family"] == "example"
    assert results["provenance"]["dataset"]["num_samples"] == 1


def test_a_task_refuses_a_plugin_that_lacks_a_capability(plugin_env, tmp_path):
    result = run_eval(plugin_env, "--task", "sod", "--model", "example_pool_nomasks", "--untrained",
                      "--data-root", "datasets/sample", "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 2
    assert "sod needs automatic masks" in result.stderr and "Example (pooling, no automatic masks) lacks" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "sod").exists()


def test_model_module_loads_a_family_without_installing_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT)])}
    result = run_eval(env, "--model-module", "samzero_example_family", "--task", "latency", "--model", "example_pool",
                      "--untrained", "--runs", "1", "--warmup", "0", "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "latency" / "example_pool.json").is_file()
