"""The engine: resume after a kill, the prediction store, provenance, --limit."""
from __future__ import annotations

import json

import numpy as np
import pytest

from evals.engine import Run, execute
from evals.store import PredictionStore, decode_prediction, encode_prediction
from tests.fakes import ToyTask, toy_prompt_model


def run_toy(out, task=None, limit=None, model=None):
    task = task or ToyTask()
    return execute(Run(task=task, run_name="toy", out=out, data_root=out, limit=limit), model or toy_prompt_model())


def test_killed_run_resumes_to_the_same_result(tmp_path):
    uninterrupted = run_toy(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run_toy(tmp_path / "b", task=ToyTask(fail_after=4))
    assert len(list((tmp_path / "b" / "toy" / "toy.predictions").glob("*.npz"))) == 4
    resumed_task = ToyTask()
    resumed = run_toy(tmp_path / "b", task=resumed_task)
    assert resumed_task.predictions_made == 2  # only the samples the killed run had not finished
    assert resumed["metrics"] == uninterrupted["metrics"]
    assert resumed["provenance"]["timings"]["resumed_samples"] == 4
    written = json.loads((tmp_path / "b" / "toy" / "toy.json").read_text())
    assert written["metrics"] == uninterrupted["metrics"]


def test_results_carry_provenance(tmp_path):
    results = run_toy(tmp_path, limit=3)
    provenance = results["provenance"]
    assert provenance["dataset"]["num_samples"] == 3 and provenance["dataset"]["num_samples_available"] == 6
    assert provenance["protocol"] == {"points": 1}
    assert provenance["model"]["model"] == "toy"
    assert len(provenance["dataset"]["fingerprint"]) == 64
    assert provenance["packages"]["torch"]
    assert {"commit", "dirty"} <= set(provenance["git"])
    assert results["metrics"]["num_images"] == 3
    assert 0 <= results["metrics"]["miou"] <= 100


def test_store_refuses_predictions_made_with_other_settings(tmp_path):
    run_toy(tmp_path, limit=2)
    with pytest.raises(RuntimeError, match="other settings.*params"):
        run_toy(tmp_path, task=ToyTask(params={"points": 2}), limit=2)


def test_prediction_round_trip_is_exact_and_writes_are_atomic(tmp_path):
    prediction = {"logits": np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32), "score": 0.1 + 0.2,
                  "labels": [1, 2], "name": "x"}  # fmt: skip
    back = decode_prediction(encode_prediction(prediction))
    assert np.array_equal(back["logits"], prediction["logits"]) and back["logits"].dtype == np.float32
    assert back["score"] == prediction["score"] and back["labels"] == [1, 2] and back["name"] == "x"
    store = PredictionStore(tmp_path / "store", {"task": "t"})
    store.save("a/b", prediction)
    assert store.load("a/b")["score"] == prediction["score"] and store.load("missing") is None
    assert not list((tmp_path / "store").rglob("*.tmp"))


def test_model_and_external_predictions_are_exclusive(tmp_path):
    with pytest.raises(ValueError):
        execute(Run(task=ToyTask(), run_name="x", out=tmp_path, data_root=tmp_path), None)
