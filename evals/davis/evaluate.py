"""DAVIS semi-supervised evaluation: stream frames, score every object, aggregate as the official code.

Protocol of davisvideochallenge/davis2017-evaluation (commit ac7c43f), davis2017/evaluation.py and davis.py:
- objects of a sequence: ids 1..max(first annotation frame) (davis.py, get_all_masks: num_objects from frame 0);
- frames scored: every annotated frame but the first and the last (evaluation.py, evaluate: [:, 1:-1] for the
  semi-supervised task); result PNGs are read for those frames only (results.py, read_masks);
- a result id above the number of objects is an error (evaluation.py, _evaluate_semisupervised: the official code
  prints a message and exits); fewer objects in the results are scored as empty masks (zero padding there);
- no void mask in the metrics (void = background, see io.py);
- per object: Mean, Recall, Decay of J and F (utils.py, db_statistics); global: plain mean over all objects of all
  sequences, J&F-Mean = (J-Mean + F-Mean) / 2 (evaluation_method.py).

Each worker holds one sequence's current frame pair (uint8) and its per-frame scores only.

    python -m evals.davis --davis_root DAVIS --results_path RESULTS [--set val] [--sequences a b]   (__main__.py)
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evals.errors import DataError
from evals.parallel import process_pool
from evals.davis.io import DEFAULT_RESOLUTION, DavisSequence, MaskFormatError, ResultsFolder, open_davis
from evals.davis.metrics import BOUNDARY_TOLERANCE, frame_scores, sequence_statistics, tolerance_footprint

# davis2017/evaluation_method.py, g_measures: the global table's columns, in this order.
GLOBAL_MEASURES = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


class TooManyObjectsError(DataError, ValueError):
    """A result PNG holds an object id above the number of objects in the sequence's first annotation."""


def scored_frames(frame_names: tuple[str, ...]) -> tuple[str, ...]:
    """Frames the semi-supervised task scores: all but the first (given) and the last (evaluation.py, [:, 1:-1])."""
    return tuple(frame_names[1:-1])


def count_objects(sequence: DavisSequence) -> int:
    """Number of objects: the largest id in the first annotation frame, void excluded (davis.py, get_all_masks)."""
    return int(sequence.read_annotation(sequence.frame_names[0]).max())


@dataclass(frozen=True)
class SequenceJob:
    sequence: DavisSequence
    n_objects: int
    results_root: Path
    bound_th: float = BOUNDARY_TOLERANCE


@dataclass(frozen=True)
class SequenceScores:
    name: str
    frames: tuple[str, ...]
    j: np.ndarray  # (n_objects, n_frames) float64
    f: np.ndarray  # (n_objects, n_frames) float64


def evaluate_sequence(job: SequenceJob) -> SequenceScores:
    """Per-frame J and F of every object of one sequence, one frame in memory at a time."""
    results = ResultsFolder(job.results_root)
    return score_sequence(job.sequence, job.n_objects, partial(results.read, job.sequence.name), job.bound_th)


def score_sequence(
    sequence: DavisSequence,
    n_objects: int,
    read_prediction: Callable[[str], np.ndarray],
    bound_th: float = BOUNDARY_TOLERANCE,
) -> SequenceScores:
    """Per-frame J and F of every object, the prediction of each scored frame from `read_prediction(frame_name)`
    (an object-id map): a results folder (evaluate_sequence) or predictions in memory (the davis task)."""
    frames = scored_frames(sequence.frame_names)
    j = np.zeros((n_objects, len(frames)))
    f = np.zeros((n_objects, len(frames)))
    footprints: dict[tuple[int, int], np.ndarray] = {}
    for t, frame_name in enumerate(frames):
        gt = sequence.read_annotation(frame_name)
        pred = read_prediction(frame_name)
        if pred.shape != gt.shape:
            raise MaskFormatError(
                f"Sequence {sequence.name!r} frame {frame_name}: result is {pred.shape[1]}x{pred.shape[0]}, "
                f"annotation is {gt.shape[1]}x{gt.shape[0]} (W x H); results must have the annotation's size"
            )
        top_id = int(pred.max())
        if top_id > n_objects:
            raise TooManyObjectsError(
                f"Sequence {sequence.name!r} frame {frame_name}: result holds object id {top_id} but the sequence "
                f"has {n_objects} object(s) (ids 1..{n_objects} from the first annotation frame). The official "
                "davis2017-evaluation stops here too ('an index higher than the number of objects')."
            )
        footprint = footprints.get(gt.shape)
        if footprint is None:
            footprint = footprints[gt.shape] = tolerance_footprint(gt.shape, bound_th)
        for object_id in range(1, n_objects + 1):
            j[object_id - 1, t], f[object_id - 1, t] = frame_scores(gt == object_id, pred == object_id, footprint)
    return SequenceScores(sequence.name, frames, j, f)


@dataclass(frozen=True)
class Statistics:
    mean: float
    recall: float
    decay: float


@dataclass(frozen=True)
class ObjectResult:
    sequence: str
    object_id: int
    J: Statistics
    F: Statistics
    j_per_frame: np.ndarray
    f_per_frame: np.ndarray

    @property
    def name(self) -> str:
        """Row name of the official per-sequence table (evaluation.py: f'{seq}_{ii+1}')."""
        return f"{self.sequence}_{self.object_id}"


@dataclass(frozen=True)
class DavisResult:
    objects: list[ObjectResult]  # sequence order of the sequence list, then object id

    def global_scores(self) -> dict[str, float]:
        """Global table (evaluation_method.py): plain means over all objects of all sequences."""
        jm = np.mean([o.J.mean for o in self.objects])
        fm = np.mean([o.F.mean for o in self.objects])
        return {
            "J&F-Mean": float((jm + fm) / 2.0),
            "J-Mean": float(jm),
            "J-Recall": float(np.mean([o.J.recall for o in self.objects])),
            "J-Decay": float(np.mean([o.J.decay for o in self.objects])),
            "F-Mean": float(fm),
            "F-Recall": float(np.mean([o.F.recall for o in self.objects])),
            "F-Decay": float(np.mean([o.F.decay for o in self.objects])),
        }

    def to_dict(self) -> dict:
        return {
            "global": self.global_scores(),
            "per_object": {
                o.name: {
                    "J": {"M": o.J.mean, "R": o.J.recall, "D": o.J.decay},
                    "F": {"M": o.F.mean, "R": o.F.recall, "D": o.F.decay},
                }
                for o in self.objects
            },
        }


def aggregate(scores_in_order: list[SequenceScores]) -> DavisResult:
    objects = []
    for scores in scores_in_order:
        for index in range(scores.j.shape[0]):
            objects.append(
                ObjectResult(
                    sequence=scores.name,
                    object_id=index + 1,
                    J=Statistics(*sequence_statistics(scores.j[index])),
                    F=Statistics(*sequence_statistics(scores.f[index])),
                    j_per_frame=scores.j[index],
                    f_per_frame=scores.f[index],
                )
            )
    return DavisResult(objects)


def _run_jobs(jobs: list[SequenceJob], workers: int, progress: bool) -> dict[str, SequenceScores]:
    # Largest sequences first, so the pool's last jobs are short.
    ordered = sorted(jobs, key=lambda job: len(job.sequence.frame_names) * (job.n_objects + 1), reverse=True)
    done: dict[str, SequenceScores] = {}
    if workers <= 1 or len(jobs) == 1:
        with tqdm(total=len(jobs), desc="DAVIS J&F", unit="seq", disable=not progress) as bar:
            for job in ordered:
                done[job.sequence.name] = evaluate_sequence(job)
                bar.update()
        return done
    with process_pool(min(workers, len(jobs))) as pool:
        with tqdm(total=len(jobs), desc="DAVIS J&F", unit="seq", disable=not progress) as bar:
            for scores in pool.imap_unordered(evaluate_sequence, ordered):
                done[scores.name] = scores
                bar.update()
    return done


def evaluate_davis(
    davis_root: Path | str,
    results_path: Path | str,
    subset: str = "val",
    sequences: list[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    bound_th: float = BOUNDARY_TOLERANCE,
    annotation_format: str = "auto",
    resolution: str = DEFAULT_RESOLUTION,
) -> DavisResult:
    """Score a results folder against a DAVIS tree (semi-supervised task). workers: processes (default: CPUs)."""
    davis_sequences = open_davis(davis_root, subset, sequences, resolution, annotation_format)
    results = ResultsFolder(Path(results_path))
    for sequence in davis_sequences:  # fail before any work on a missing frame
        results.check_frames(sequence.name, scored_frames(sequence.frame_names))
    jobs = [SequenceJob(s, count_objects(s), results.root, bound_th) for s in davis_sequences]
    if workers is None:
        workers = os.cpu_count() or 1
    done = _run_jobs(jobs, workers, progress)
    return aggregate([done[s.name] for s in davis_sequences])
