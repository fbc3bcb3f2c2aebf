"""The qualitative examples of one run: its task and dataset rebuilt from its results JSON, its predictions read
back, its samples ranked by the task's `example_score`, and the best, median and worst drawn (`draw_example`).

Ranking streams: one prediction is in memory at a time, and only (score, sample) pairs are kept; the three chosen
predictions are read again to draw them.
"""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..base import Dataset, Prediction, Sample, Task
from ..engine import Run, select_samples
from ..errors import DataError
from ..provenance import dataset_fingerprint
from ..registry import task_class
from ..store import PredictionStore

# Samples of a run ranked at most (`--report-samples`), evenly spaced over the run: ranking reads and scores every
# one of them (a BSDS image takes ~0.1 s, a UVO video up to seconds), and 100 give a fair best / median / worst.
DEFAULT_MAX_SAMPLES = 100
ROLES = ("best", "median", "worst")
TIED = "example"  # the one role when every ranked sample has the same score: nothing to rank


class NoExamples(Exception):
    """Why a run shows no examples; the report prints it in place of them."""


@dataclass(frozen=True)
class Example:
    roles: tuple[str, ...]  # of ROLES; a sample can be more than one (a run of one or two samples)
    sample_id: str
    score: float
    panels: dict[str, np.ndarray]  # caption -> RGB image


@dataclass(frozen=True)
class RunExamples:
    examples: list[Example]  # best first
    ranked: int  # samples (or parts of samples, the task's `example_parts_name`) that got a score
    considered: int  # samples read for ranking
    total: int  # samples of the run

    @property
    def tied(self) -> bool:
        """Every ranked sample has the same score (more than one of them): the examples are not ranked."""
        return len(self.examples) == 1 and self.examples[0].roles == (TIED,)


def rebuild_task(task_name: str, result: dict) -> Task:
    """The run's task, with the protocol parameters its results record."""
    return task_class(task_name).from_recorded(result["provenance"]["protocol"])


def candidate_roots(data_root: Path | None, recorded_root: str | None) -> list[Path]:
    """Where the run's data may be: `--data-root`, then the dataset folder the results record and the folder above
    it (tasks record their dataset's own folder, e.g. <data-root>/DUTS-TE, some of which read from the parent)."""
    roots = [Path(data_root)] if data_root is not None else []
    if recorded_root is not None:
        roots += [Path(recorded_root), Path(recorded_root).parent]
    return list(dict.fromkeys(roots))


def find_dataset(task: Task, data_root: Path | None, recorded: dict) -> Dataset:
    """The run's dataset: the first candidate root that loads and whose file list has the fingerprint the run
    recorded (so examples are never drawn from other data than was scored)."""
    problems = []
    for root in candidate_roots(data_root, recorded.get("root")):
        try:
            dataset = task.load_dataset(root)
            fingerprint = dataset_fingerprint(dataset.root, dataset.files)
        except (OSError, ValueError, RuntimeError, DataError) as error:  # DatasetLayoutError is a DataError
            problems.append(f"{root}: {(str(error).splitlines() or [type(error).__name__])[0]}")
            continue
        if recorded.get("fingerprint") in (None, fingerprint):
            return dataset
        problems.append(f"{root}: other data than the run scored (the file list's fingerprint differs)")
    raise NoExamples(f"no copy of the {recorded.get('name', task.name)} data this run scored was found (pass its "
                     "--data-root); tried " + "; ".join(problems))  # fmt: skip


def prediction_reader(task: Task, run: Run, result: dict) -> Callable[[Sample], Prediction | None]:
    """The run's predictions: its prediction store, else the `--predictions` folder it scored, if still there."""
    manifest = run.store_dir / "manifest.json"
    if manifest.is_file():
        store = PredictionStore(run.store_dir, json.loads(manifest.read_text()))
        return lambda sample: store.load(sample.id)
    external = result["provenance"]["model"].get("predictions")
    if external is not None and Path(external).exists():
        return lambda sample: task.read_external_prediction(Path(external), sample)
    gone = "" if external is None else f", and the --predictions {external} it scored is gone"
    raise NoExamples(f"no predictions to show: no prediction store at {run.store_dir}{gone}")


def evenly_spaced(samples: list[Sample], limit: int | None) -> list[Sample]:
    """At most `limit` of `samples`, evenly spaced (first and last included); all of them for None or 0."""
    if limit is None or limit <= 0 or len(samples) <= limit:
        return samples
    return [samples[i] for i in sorted(set(np.linspace(0, len(samples) - 1, limit).round().astype(int)))]


Key = tuple[int, int, str | None]  # (index into the samples, position of the part in its sample, the part or None)


def rank(task: Task, samples: list[Sample], read: Callable[[Sample], Prediction | None],
         desc: str) -> list[tuple[float, Key]]:  # fmt: skip
    """(score, key) of every sample, or part of a sample, that has a prediction and a score (not None, not NaN)."""
    scored = []
    for index, sample in enumerate(tqdm(samples, desc=desc, unit="sample", file=sys.stderr)):
        prediction = read(sample)
        score = None if prediction is None else task.example_score(sample, prediction)
        parts = score.items() if isinstance(score, dict) else [(None, score)]
        for position, (part, value) in enumerate(parts):
            if value is not None and not math.isnan(value):
                scored.append((float(value), (index, position, part)))
    return scored


def pick(scored: list[tuple[float, Key]]) -> list[tuple[tuple[str, ...], float, Key]]:
    """(roles, score, key) of the best, median (the middle of the ranking; of an even count, the one below the
    middle) and worst, best first. Equal scores rank in sample order. When two or more samples all have the same
    score there is no best or worst: the first sample alone, in the role TIED."""
    if not scored:
        return []
    if len(scored) > 1 and len({score for score, _ in scored}) == 1:
        first = min(scored, key=lambda item: item[1])
        return [((TIED,), first[0], first[1])]
    order = sorted(scored, key=lambda item: (-item[0], item[1]))
    chosen = {"best": order[0], "median": order[len(order) // 2], "worst": order[-1]}
    picked: dict[int, list[str]] = {}
    for role in ROLES:
        picked.setdefault(chosen[role][1], []).append(role)
    scores = {index: score for score, index in scored}
    return [(tuple(roles), scores[index], index) for index, roles in picked.items()]


def run_examples(task_name: str, run_name: str, result: dict, out: Path, data_root: Path | None,
                 max_samples: int | None) -> RunExamples:  # fmt: skip
    """The examples of one run, or NoExamples saying why there are none."""
    task = rebuild_task(task_name, result)
    recorded = result["provenance"]["dataset"]
    dataset = find_dataset(task, data_root, recorded)
    run = Run(task=task, run_name=run_name, out=Path(out), data_root=dataset.root)
    read = prediction_reader(task, run, result)
    samples = select_samples(dataset, recorded.get("limit"))
    considered = evenly_spaced(samples, max_samples)
    scored = rank(task, considered, read, f"report {task_name}/{run_name}")
    if not scored:
        raise NoExamples(f"none of the {len(considered)} samples read has a prediction and a score")
    examples = []
    for roles, score, (index, _, part) in pick(scored):
        sample = considered[index]
        if part is None:
            examples.append(Example(roles, sample.id, score, task.draw_example(sample, read(sample))))
        else:
            examples.append(Example(roles, f"{sample.id}/{part}", score, task.draw_example(sample, read(sample), part)))
    return RunExamples(examples, len(scored), len(considered), len(samples))
