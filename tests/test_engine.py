"""The engine: resume after a kill, the prediction store, provenance, --limit, reading ahead of the model."""
from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

import torch

from evals import log
from evals.engine import Run, execute, prefetched
from evals.errors import DataError
from evals.store import PredictionStore, atomic_write_json, decode_prediction, encode_prediction
from tests.fakes import ToyParams, ToyTask, disk_image, toy_prompt_model


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
    assert provenance["protocol"] == {"points": 1, "threshold": 0.5}
    assert provenance["protocol_notes"] == {"prompts": "a point prompt at each disk's centre"}
    assert provenance["model"]["model"] == "toy"
    assert len(provenance["dataset"]["fingerprint"]) == 64
    assert provenance["packages"]["torch"]
    assert {"commit", "dirty"} <= set(provenance["git"])
    assert results["metrics"]["num_images"] == 3
    timings = provenance["timings"]
    assert timings["predicted_samples"] == 3 and timings["encoder_calls"] == 3  # one embedding per image
    assert 0 < timings["encoder_seconds"] <= timings["predict_seconds"] and 0 < timings["encoder_share"] <= 1
    assert 0 < timings["first_sample_seconds"] < timings["predict_seconds"]  # 1 of the 3 samples
    assert timings["peak_memory_mb"]["host_rss"] > 0
    assert 0 <= results["metrics"]["miou"] <= 100


def test_store_refuses_predictions_made_with_other_settings(tmp_path):
    run_toy(tmp_path, limit=2)
    with pytest.raises(DataError, match="other settings.*params"):
        run_toy(tmp_path, task=ToyTask(params=ToyParams(points=2)), limit=2)


def test_only_prediction_parameters_fingerprint_the_store(tmp_path):
    """A reworded note and an evaluation-only parameter reuse the stored predictions; a real parameter does not."""
    run_toy(tmp_path, limit=2)
    reworded = ToyTask(note="one positive click at the disk's centre")
    rescored = ToyTask(params=ToyParams(threshold=0.7))
    assert reworded.prediction_params() == rescored.prediction_params() == ToyTask().prediction_params()
    for task in (reworded, rescored):
        results = run_toy(tmp_path, task=task, limit=2)
        assert task.predictions_made == 0 and results["provenance"]["timings"]["resumed_samples"] == 2
    assert results["provenance"]["protocol"]["threshold"] == 0.7
    assert ToyTask(params=ToyParams(points=2)).prediction_params() != ToyTask().prediction_params()
    with pytest.raises(DataError, match="other settings.*params"):
        run_toy(tmp_path, task=ToyTask(params=ToyParams(points=2)), limit=2)


def test_recorded_parameters_rebuild_the_task_ignoring_unknown_keys():
    recorded = {"points": 3, "note": "prose recorded with the parameters by older versions"}
    assert ToyTask.from_recorded(recorded).params == ToyParams(points=3)
    assert ToyTask.from_recorded(ToyParams(points=2, threshold=0.1).to_dict()).params == ToyParams(2, 0.1)


def test_prediction_round_trip_is_exact_and_writes_are_atomic(tmp_path):
    prediction = {"logits": np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32), "score": 0.1 + 0.2,
                  "labels": [1, 2], "name": "x"}  # fmt: skip
    back = decode_prediction(encode_prediction(prediction))
    assert np.array_equal(back["logits"], prediction["logits"]) and back["logits"].dtype == np.float32
    assert back["score"] == prediction["score"] and back["labels"] == [1, 2] and back["name"] == "x"
    store = PredictionStore(tmp_path / "store", {"task": "t"})
    store.save("a/b", prediction, inputs="f1")
    assert store.load("a/b")["score"] == prediction["score"]
    assert store.status("a/b", "f1") == "stored" and store.status("a/b", "f2") == "changed"
    assert store.status("missing", "f1") == "missing"
    assert not list((tmp_path / "store").rglob("*.tmp"))


class FileToyTask(ToyTask):
    """ToyTask reading its images from PNG files in `folder`, listed as each sample's input files."""

    def __init__(self, folder: Path, **kwargs):
        super().__init__(**kwargs)
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(self.num_samples):
            if not self.image_path(i).exists():
                cv2.imwrite(str(self.image_path(i)), disk_image(i)[0])

    def image_path(self, index: int) -> Path:
        return self.folder / f"disk_{index:03d}.png"

    def sample_files(self, sample):
        return [self.image_path(sample.data)]

    def load_inputs(self, sample):
        return cv2.imread(str(self.image_path(sample.data)))[..., ::-1].copy(), disk_image(sample.data)[1]


def test_changed_inputs_and_unreadable_stored_files_are_predicted_again(tmp_path, capsys):
    log.setup()  # as the command line does: the warnings go to standard error (not only when run after a CLI test)
    images = tmp_path / "images"
    first = run_toy(tmp_path / "out", task=FileToyTask(images))
    store = tmp_path / "out" / "toy" / "toy.predictions"
    # One input changes (same size: only its content), one stored prediction is truncated.
    image = cv2.imread(str(images / "disk_002.png"))
    cv2.imwrite(str(images / "disk_002.png"), 255 - image)
    stored = (store / "disk_004.npz").read_bytes()
    (store / "disk_004.npz").write_bytes(stored[: len(stored) // 2])
    task = FileToyTask(images)
    again = run_toy(tmp_path / "out", task=task)
    assert task.predictions_made == 2
    timings = again["provenance"]["timings"]
    assert timings["repredicted_samples"] == {"inputs_changed": 1, "unreadable": 1}
    assert timings["predicted_samples"] == 2 and timings["resumed_samples"] == 4
    err = capsys.readouterr().err
    assert "1 stored predictions made from inputs that have changed since are predicted again: disk_002.npz" in err
    assert "1 stored predictions unreadable are predicted again: disk_004.npz" in err
    # The rerun scores what the files hold now: the same as a fresh run on them, not the first run's numbers.
    fresh = run_toy(tmp_path / "fresh", task=FileToyTask(images))
    assert again["metrics"] == fresh["metrics"]
    assert first["metrics"] != fresh["metrics"]


def test_written_files_get_the_permissions_of_a_plain_open(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_json(tmp_path / "r.json", {"a": 1})
    (tmp_path / "plain").write_text("x")
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)


def test_model_and_external_predictions_are_exclusive(tmp_path):
    with pytest.raises(ValueError):
        execute(Run(task=ToyTask(), run_name="x", out=tmp_path, data_root=tmp_path), None)


def _distributed_worker(rank: int, world_size: int, init_file: str, out: str, fail_rank: int | None):
    import datetime

    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=20))  # fmt: skip
    try:
        task = ToyTask(num_samples=7, fail_after=1 if rank == fail_rank else None, failure=RuntimeError)
        run_toy(Path(out), task=task)
    finally:
        dist.destroy_process_group()


def run_world(world_size: int, out, tmp_path, fail_rank: int | None = None) -> None:
    import torch.multiprocessing as mp

    init_file = tmp_path / f"init-{world_size}-{out.name}"
    mp.start_processes(_distributed_worker, args=(world_size, str(init_file), str(out), fail_rank),
                       nprocs=world_size, start_method="spawn")  # fmt: skip


def test_world_size_two_gives_the_single_process_result(tmp_path):
    single = run_toy(tmp_path / "single", task=ToyTask(num_samples=7))
    run_world(2, tmp_path / "two", tmp_path)
    two = json.loads((tmp_path / "two" / "toy" / "toy.json").read_text())
    assert two["metrics"] == single["metrics"]
    assert two["provenance"]["timings"]["world_size"] == 2 and two["provenance"]["timings"]["predicted_samples"] == 7


def test_rank_failure_keeps_finished_samples_and_a_rerun_resumes(tmp_path):
    import torch.multiprocessing as mp

    single = run_toy(tmp_path / "single", task=ToyTask(num_samples=7))
    with pytest.raises(mp.ProcessRaisedException):
        run_world(2, tmp_path / "two", tmp_path, fail_rank=1)
    stored = {p.stem for p in (tmp_path / "two" / "toy" / "toy.predictions").glob("*.npz")}
    # Rank 1 stored its first sample and died on its second; the launcher then stopped rank 0 wherever it was.
    assert "disk_001" in stored and "disk_003" not in stored and len(stored) < 7
    resumed_task = ToyTask(num_samples=7)
    resumed = run_toy(tmp_path / "two", task=resumed_task)
    assert resumed_task.predictions_made == 7 - len(stored)
    assert resumed["metrics"] == single["metrics"]


def test_prefetch_keeps_order_and_loads_ahead_of_the_consumer():
    loaded = {i: threading.Event() for i in range(5)}

    def load(i):
        loaded[i].set()
        return i * 10

    seen = []
    for i, value in prefetched(load, list(range(5)), depth=2):
        if i + 1 < 5:
            # Without read-ahead the next load would start only after this body: waiting on it would time out.
            assert loaded[i + 1].wait(timeout=30), f"sample {i + 1} was not loaded while {i} was being consumed"
        seen.append((i, value))
    assert seen == [(i, i * 10) for i in range(5)]


def test_prefetch_raises_the_loading_error_at_its_sample():
    def load(i):
        if i == 2:
            raise FileNotFoundError("frame 2 missing")
        return i

    consumed = []
    with pytest.raises(FileNotFoundError, match="frame 2 missing"):
        for i, _ in prefetched(load, list(range(4))):
            consumed.append(i)
    assert consumed == [0, 1]


def test_predictions_run_in_inference_mode(tmp_path):
    modes = []

    class RecordingTask(ToyTask):
        def predict(self, model, sample, inputs):
            modes.append(torch.is_inference_mode_enabled())
            return super().predict(model, sample, inputs)

    run_toy(tmp_path, task=RecordingTask(), limit=2)
    assert modes == [True, True]
