"""The engine shared by every task: dataset -> (stored) predictions -> metric -> results JSON.

Predictions are stored per sample as they are made (`evals.store`), so a killed run resumes with the samples it
has not finished, and its final numbers equal an uninterrupted run's: the metric always reads the stored form.
"""
from __future__ import annotations

import resource
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from models.prompt_model import PromptModel

from . import distributed
from .base import Dataset, Sample, Task
from .provenance import (
    dataset_fingerprint,
    git_state,
    host_info,
    is_sample_data,
    package_versions,
    utc_now,
)
from .store import PredictionStore, atomic_write_json


@dataclass
class Run:
    """One evaluation: a task on a dataset, with a model or with another method's saved predictions."""

    task: Task
    run_name: str  # the results row: results/<task>/<run_name>.json
    out: Path
    data_root: Path
    device: str = "cpu"
    limit: int | None = None
    external_predictions: Path | None = None  # score another method's saved predictions, no model
    overwrite: bool = False  # discard this run's stored predictions instead of resuming from them

    @property
    def results_path(self) -> Path:
        return self.out / self.task.name / f"{self.run_name}.json"

    @property
    def store_dir(self) -> Path:
        return self.out / self.task.name / f"{self.run_name}.predictions"


def peak_memory_mb(device: str) -> dict:
    """Peak resident memory of this process (and peak allocated GPU memory on CUDA), in MB."""
    peak = {"host_rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}  # KiB on Linux
    if str(device).startswith("cuda") and torch.cuda.is_available():
        peak["cuda_allocated"] = round(torch.cuda.max_memory_allocated(torch.device(device)) / 2**20, 1)
    return peak


def run_name(model: str, task: Task, backend: str = "eager", precision: str = "fp32") -> str:
    """results/<task>/<run name>.json: the model, then the encoder backend unless eager (it changes timings), the
    precision unless fp32 (it changes the numbers), then the task's protocol variant if any."""
    parts = [model, None if backend == "eager" else backend, None if precision == "fp32" else precision, task.variant()]
    return ".".join(part for part in parts if part)


def select_samples(dataset: Dataset, limit: int | None) -> list:
    return dataset.samples if limit is None else dataset.samples[:limit]


# Samples whose inputs are read ahead of the model. Threads, not DataLoader worker processes: image decoding
# (OpenCV, PIL) releases the GIL, so threads overlap it with compute without pickling the task into workers or
# forking a process that already runs torch's thread pools (which deadlocked here, see evals/parallel.py).
PREFETCH = 2


def prefetched(load: Callable[[Sample], Any], samples: list[Sample], depth: int = PREFETCH) -> Iterator[tuple[Sample, Any]]:
    """(sample, load(sample)) in order, with the next `depth` loads running in background threads meanwhile."""
    with ThreadPoolExecutor(max_workers=depth, thread_name_prefix="load") as pool:
        upcoming = iter(samples)
        pending = deque((sample, pool.submit(load, sample)) for sample in islice(upcoming, depth))
        while pending:
            sample, loading = pending.popleft()
            following = next(upcoming, None)
            if following is not None:
                pending.append((following, pool.submit(load, following)))
            yield sample, loading.result()


def predict_missing(task: Task, model: PromptModel, store: PredictionStore, samples: list, desc: str) -> tuple[int, float]:
    """Predict and store every sample of `samples` that the store lacks; returns (count, wall seconds)."""
    missing = [sample for sample in samples if not store.has(sample.id)]
    model.encoder_seconds, model.encoder_calls = 0.0, 0
    start = time.perf_counter()
    with tqdm(total=len(samples), initial=len(samples) - len(missing), desc=desc, unit="sample", file=sys.stderr) as bar:
        for sample, inputs in prefetched(task.load_inputs, missing):
            with torch.inference_mode():
                store.save(sample.id, task.predict(model, sample, inputs))
            bar.update()
    return len(missing), time.perf_counter() - start if missing else 0.0


def execute(run: Run, model: PromptModel | None) -> dict[str, Any] | None:
    """Run `run` end to end and write its results JSON; returns what was written (None on ranks other than 0)."""
    task = run.task
    if (model is None) == (run.external_predictions is None):
        raise ValueError("give exactly one of a model or a folder of external predictions")
    dataset = task.load_dataset(run.data_root)
    samples = select_samples(dataset, run.limit)
    if not samples:
        raise RuntimeError(f"{dataset.name} {dataset.split}: no samples found under {dataset.root}")
    model_provenance = model.provenance if model is not None else {"predictions": str(run.external_predictions)}
    rank, world_size = distributed.rank_and_world()
    predicted, predict_seconds, encoder_seconds, encoder_calls = 0, 0.0, 0.0, 0
    store = None
    if model is not None:
        if run.overwrite and rank == 0 and run.store_dir.exists():
            shutil.rmtree(run.store_dir)
        distributed.barrier()
        manifest = {"task": task.name, "params": task.prediction_params(), **_store_identity(model_provenance)}
        store = PredictionStore(run.store_dir, manifest)
        predicted, predict_seconds = predict_missing(task, model, store, distributed.shard(samples, rank, world_size),
                                                     f"{task.name}/{run.run_name}")  # fmt: skip
        per_rank = distributed.gather((predicted, predict_seconds, model.encoder_seconds, model.encoder_calls))
        predicted, predict_seconds = sum(r[0] for r in per_rank), sum(r[1] for r in per_rank)
        encoder_seconds, encoder_calls = sum(r[2] for r in per_rank), sum(r[3] for r in per_rank)
        if rank != 0:
            return None  # rank 0 scores every sample from the store

    evaluator = task.evaluator()
    evaluator.reset()
    for sample in tqdm(samples, desc=f"scoring {task.name}/{run.run_name}", unit="sample", file=sys.stderr):
        if store is None:
            prediction = task.read_external_prediction(run.external_predictions, sample)
        else:
            prediction = store.load(sample.id)
        evaluator.process(sample, prediction)
    start = time.perf_counter()
    metrics = evaluator.evaluate()
    evaluate_seconds = time.perf_counter() - start

    results = {
        "task": task.name,
        "run": run.run_name,
        "variant": task.variant(),
        "paper_comparable": task.paper_comparable(),
        "metrics": metrics,
        "provenance": {
            "created": utc_now(),
            "command": " ".join(sys.argv),
            "git": git_state(),
            "model": model_provenance,
            "dataset": {
                "name": dataset.name,
                "split": dataset.split,
                "root": str(dataset.root) if dataset.root is not None else None,
                "num_samples": len(samples),
                "num_samples_available": len(dataset.samples),
                "limit": run.limit,
                "fingerprint": dataset_fingerprint(dataset.root, dataset.files),
                "sample_data": is_sample_data(dataset.root),
            },
            "protocol": task.params,
            "timings": {
                "predicted_samples": predicted,
                "resumed_samples": len(samples) - predicted if store is not None else 0,
                "predict_seconds": round(predict_seconds, 3),
                "predict_seconds_per_sample": round(predict_seconds / predicted, 4) if predicted else None,
                "samples_per_second": round(predicted / predict_seconds, 4) if predict_seconds else None,
                "encoder_calls": encoder_calls,
                "encoder_seconds": round(encoder_seconds, 3),
                "encoder_share": round(encoder_seconds / predict_seconds, 4) if predict_seconds else None,
                "peak_memory_mb": peak_memory_mb(run.device),
                "world_size": world_size,
                "evaluate_seconds": round(evaluate_seconds, 3),
            },
            "host": host_info(run.device),
            "packages": package_versions(),
        },
    }
    atomic_write_json(run.results_path, results)
    return results


def _store_identity(model_provenance: dict) -> dict:
    """The model settings that change predictions: stored predictions are reused only when all are equal."""
    keys = ("model", "checkpoint_sha256", "trained", "fused", "backend", "precision")
    return {k: model_provenance.get(k) for k in keys}

