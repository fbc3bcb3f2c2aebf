"""The engine shared by every task: dataset -> (stored) predictions -> metric -> results JSON.

Predictions are stored per sample as they are made (`evals.store`), so a killed run resumes with the samples it
has not finished, and its final numbers equal an uninterrupted run's: the metric always reads the stored form.
Each stored prediction carries the fingerprint of the input files it was made from (`Task.sample_files`); on
resume a sample whose inputs changed, or whose stored file cannot be read back, is predicted again, and the results
count both.
"""
from __future__ import annotations

import hashlib
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
from .errors import DataError
from .log import LOGGER
from .names import check_name, check_sample_id
from .provenance import (
    dataset_fingerprint,
    environment_against_lock,
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


class FileHasher:
    """sha256 of files' contents, each file read once per run (a shared annotation file serves every sample)."""

    def __init__(self):
        self._known: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._known:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
            self._known[key] = digest.hexdigest()
        return self._known[key]


def input_fingerprint(task: Task, sample: Sample, root: Path | None, hasher: FileHasher) -> str:
    """sha256 over (path below the data root, size, content sha256) of the files the sample's prediction reads."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in task.sample_files(sample)):
        try:
            size, content = path.stat().st_size, hasher(path)
        except OSError as err:
            raise DataError(f"{path}: cannot read this input of sample {sample.id!r} ({err.strerror or err})") from None
        name = path.relative_to(root) if root is not None and path.is_relative_to(root) else path
        digest.update(f"{name.as_posix()}\t{size}\t{content}\n".encode())
    return digest.hexdigest()


@dataclass
class PredictionCounts:
    predicted: int = 0  # samples predicted by this call (new, changed inputs, unreadable)
    inputs_changed: int = 0  # of these: stored from inputs that have changed since
    unreadable: int = 0  # of these: stored files that could not be read back
    seconds: float = 0.0
    # of these: the first sample's, which carry the one-time costs (CUDA context, kernel selection, lazy imports)
    first_sample_seconds: float = 0.0


def predict_missing(task: Task, model: PromptModel, store: PredictionStore, samples: list, root: Path | None,
                    desc: str) -> PredictionCounts:  # fmt: skip
    """Predict and store every sample of `samples` without a whole stored prediction of its current inputs."""
    hasher = FileHasher()
    fingerprints = {sample.id: input_fingerprint(task, sample, root, hasher) for sample in samples}
    status = {sample.id: store.status(sample.id, fingerprints[sample.id]) for sample in samples}
    todo = [sample for sample in samples if status[sample.id] != "stored"]
    counts = PredictionCounts(predicted=len(todo), inputs_changed=sum(v == "changed" for v in status.values()),
                              unreadable=sum(v == "unreadable" for v in status.values()))  # fmt: skip
    for kind, what in (("changed", "made from inputs that have changed since"), ("unreadable", "unreadable")):
        named = [store.path(sample_id).name for sample_id, v in status.items() if v == kind]
        if named:
            shown = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
            LOGGER.warning(f"{desc}: {len(named)} stored predictions {what} are predicted again: {shown}")
    model.encoder_seconds, model.encoder_calls = 0.0, 0
    start = time.perf_counter()
    with tqdm(total=len(samples), initial=len(samples) - len(todo), desc=desc, unit="sample", file=sys.stderr) as bar:
        for sample, inputs in prefetched(task.load_inputs, todo):
            with torch.inference_mode():
                store.save(sample.id, task.predict(model, sample, inputs), fingerprints[sample.id])
            if not counts.first_sample_seconds:
                counts.first_sample_seconds = time.perf_counter() - start
            bar.update()
    counts.seconds = time.perf_counter() - start if todo else 0.0
    return counts


def prepare(run: Run) -> Dataset:
    """The run's dataset, its layout read and checked, and its names checked: before any model loads."""
    check_name("run name (from --model and the task's options)", run.run_name)
    dataset = run.task.load_dataset(run.data_root)
    source = str(dataset.root) if dataset.root is not None else dataset.name
    for sample in dataset.samples:
        check_sample_id(sample.id, source)
    if not select_samples(dataset, run.limit):
        raise DataError(f"{dataset.name} {dataset.split}: no samples found under {dataset.root}")
    return dataset


def execute(run: Run, model: PromptModel | None, dataset: Dataset | None = None) -> dict[str, Any] | None:
    """Run `run` end to end and write its results JSON; returns what was written (None on ranks other than 0).
    `dataset`: what `prepare(run)` returned (prepared here when not given)."""
    task = run.task
    if (model is None) == (run.external_predictions is None):
        raise ValueError("give exactly one of a model or a folder of external predictions")
    dataset = dataset if dataset is not None else prepare(run)
    samples = select_samples(dataset, run.limit)
    model_provenance = model.provenance if model is not None else {"predictions": str(run.external_predictions)}
    rank, world_size = distributed.rank_and_world()
    counts, encoder_seconds, encoder_calls = PredictionCounts(), 0.0, 0
    store = None
    if model is not None:
        if run.overwrite and rank == 0 and run.store_dir.exists():
            shutil.rmtree(run.store_dir)
        distributed.barrier()
        manifest = {"task": task.name, "params": task.prediction_params(), **_store_identity(model_provenance)}
        store = PredictionStore(run.store_dir, manifest)
        shard = distributed.shard(samples, rank, world_size)
        mine = predict_missing(task, model, store, shard, dataset.root, f"{task.name}/{run.run_name}")
        per_rank = distributed.gather((mine, model.encoder_seconds, model.encoder_calls))
        counts = PredictionCounts(*(sum(getattr(r[0], f) for r in per_rank)
                                    for f in ("predicted", "inputs_changed", "unreadable", "seconds",
                                              "first_sample_seconds")))  # fmt: skip
        encoder_seconds, encoder_calls = sum(r[1] for r in per_rank), sum(r[2] for r in per_rank)
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
        "variant_label": task.variant_label(),
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
            "protocol": task.params.to_dict(),
            "protocol_notes": task.protocol_notes(),
            "timings": {
                "predicted_samples": counts.predicted,
                "resumed_samples": len(samples) - counts.predicted if store is not None else 0,
                # stored predictions predicted again: made from inputs that changed since, or unreadable
                "repredicted_samples": {"inputs_changed": counts.inputs_changed, "unreadable": counts.unreadable},
                "predict_seconds": round(counts.seconds, 3),
                "predict_seconds_per_sample": round(counts.seconds / counts.predicted, 4) if counts.predicted else None,
                # the first sample of each process, one-time costs included: (predict - first) / (predicted - world
                # size) is the steady rate of a long run
                "first_sample_seconds": round(counts.first_sample_seconds, 3),
                "samples_per_second": round(counts.predicted / counts.seconds, 4) if counts.seconds else None,
                "encoder_calls": encoder_calls,
                "encoder_seconds": round(encoder_seconds, 3),
                "encoder_share": round(encoder_seconds / counts.seconds, 4) if counts.seconds else None,
                "peak_memory_mb": peak_memory_mb(run.device),
                "world_size": world_size,
                "evaluate_seconds": round(evaluate_seconds, 3),
            },
            "host": host_info(run.device),
            "packages": package_versions(),
            "environment": environment_against_lock(),
        },
    }
    atomic_write_json(run.results_path, results)
    return results


def _store_identity(model_provenance: dict) -> dict:
    """The model settings that change predictions: stored predictions are reused only when all are equal."""
    keys = ("model", "checkpoint_sha256", "trained", "fused", "backend", "precision")
    return {k: model_provenance.get(k) for k in keys}

