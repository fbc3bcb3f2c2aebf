"""The plugin interface every task implements, in the spirit of detectron2's `DatasetEvaluator`.

A task owns four things, each a method here:
    load_dataset(data_root) -> Dataset       the reader for the official layout
    load_inputs(sample) -> inputs            the sample's pixels read from disk (run ahead, in background threads)
    predict(model, sample, inputs) -> prediction
                                             the protocol: prompts -> model -> task prediction (storable)
    evaluator() -> Evaluator                 the metric: reset / process(sample, prediction) / evaluate
    columns                                  where its numbers go in the paper's tables
The engine (`evals.engine`) runs them in that order; nothing else in the suite knows a task's internals.
Optionally, for the qualitative examples of the report (`evals.report`): `example_metric`, `example_score` and
`draw_example`.
"""
from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import numpy as np

from models.capabilities import Capabilities

from .errors import DataError
from .params import TaskParams

if TYPE_CHECKING:  # the command line imports every task module: nothing heavy at import time
    from models.prompt_model import PromptModel

Prediction = dict[str, Any]  # numpy arrays and JSON-able values; see evals.store


class DatasetLayoutError(DataError):
    """A dataset folder is missing or laid out differently from the official release."""

    def __init__(self, problem: str, expected_tree: str):
        super().__init__(f"{problem}\nExpected layout:\n{expected_tree.rstrip()}\n(see datasets/README.md)")


@dataclass(frozen=True)
class Requirement:
    """Something a run needs before it starts (a dataset folder, a prompt file, tracker weights or code) and where
    it comes from; the command line checks every requirement of a run before anything loads and lists all that are
    missing in one message."""

    what: str  # "COCO val2017 images", "PIPS weights"
    path: Path | None  # where it must be (None: not a file, e.g. an importable module; see `present`)
    source: str  # the URL it is published at, or the command that makes it
    present: Callable[[], bool] | None = None  # default: `path` exists

    def is_met(self) -> bool:
        return self.present() if self.present is not None else Path(self.path).exists()

    def describe(self) -> str:
        where = f" at {self.path}" if self.path is not None else ""
        return f"{self.what}{where}: get it from {self.source}"


@dataclass(frozen=True)
class Sample:
    id: str  # unique within the dataset; names the sample's file in the prediction store
    data: Any = None  # whatever the task's reader attaches (paths, annotations, ...)


@dataclass
class Dataset:
    name: str
    split: str
    root: Path | None
    samples: list[Sample]
    files: list[Path] = field(default_factory=list)  # every file the samples read: fingerprinted in the results


# Units a column's numbers come in, as printed after a value (`Column.with_unit`); the table headers name them.
UNITS = {"%": "{}%", "ms": "{} ms", "0-1": "{} (0-1)"}


@dataclass(frozen=True)
class Column:
    """One number of the paper's tables: where it comes from in the results, its unit and scale, and what the paper
    printed (`paper`: from evals/paper_results.csv, `evals.paper.paper_values`)."""

    key: str  # metric key in the results JSON
    label: str
    section: str  # table title; tasks sharing a section are rendered side by side, as in the paper
    paper: dict[str, float] = field(default_factory=dict)  # model name -> value the paper reports
    higher_is_better: bool = True
    digits: int = 1
    unit: str = ""  # one of UNITS: "%" (AP, J&F, F_p ... x 100), "ms", "0-1" (ODS, MAE: fractions)

    def __post_init__(self):
        if self.unit and self.unit not in UNITS:
            raise ValueError(f"column {self.key!r}: unknown unit {self.unit!r}; known: {', '.join(UNITS)}")

    @property
    def header(self) -> str:
        """The table header: label, unit and, where lower is better, an arrow: 'AP (%)', 'DUTS MAE (0-1) ↓'."""
        text = f"{self.label} ({self.unit})" if self.unit else self.label
        return text if self.higher_is_better else f"{text} ↓"

    def format(self, value: float) -> str:
        return f"{value:.{self.digits}f}"

    def with_unit(self, value: float) -> str:
        """The value as a reader reads it on its own: '44.4%', '48.9 ms', '0.764 (0-1)'."""
        return UNITS.get(self.unit, "{}").format(self.format(value))


class Evaluator(ABC):
    """Accumulates per-sample predictions and turns them into the task's metrics."""

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def process(self, sample: Sample, prediction: Prediction) -> None: ...

    @abstractmethod
    def evaluate(self) -> dict[str, Any]: ...


class Task(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]] = ()
    # Speed measurements (the paper's latency table): rendered one row per model and platform, the paper's own
    # platforms (evals/paper_results.csv) beside the measured ones, never compared with them.
    timing_table: ClassVar[bool] = False
    # What a sample is, in the plural, for a reader: "first 2 of 5 images" (a --limit run).
    samples_name: ClassVar[str] = "samples"
    # Extra command-line arguments for `make demo` (bundled sample data, CPU, minutes).
    demo_args: ClassVar[tuple[str, ...]] = ()
    # False for tasks whose numbers are measurements of speed, not of the model (regression reports skip them).
    deterministic: ClassVar[bool] = True
    # The type of the task's parameters (fields marked evaluation-only do not fingerprint stored predictions).
    params_type: ClassVar[type[TaskParams]] = TaskParams
    # What `example_score` measures, named in the report; None: the task has no qualitative examples.
    example_metric: ClassVar[str | None] = None
    # What the parts of a sample that `example_score` ranks are called ("objects" of an image); None: it ranks samples.
    example_parts_name: ClassVar[str | None] = None

    def __init__(self, params: TaskParams | None = None):
        self.params = params if params is not None else self.params_type()  # recorded in the results

    @classmethod
    def from_recorded(cls, protocol: dict[str, Any]) -> Task:
        """The task of a results JSON, from the parameters it records (`provenance.protocol`)."""
        return cls(cls.params_type.from_dict(protocol))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Task-specific command-line options (their values reach `__init__` via `params_from_args`)."""

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> TaskParams:
        return cls.params_type()

    def variant(self) -> str | None:
        """A label for a protocol other than the paper's default (e.g. an oracle). It names the run
        (results/<task>/<model>.<variant>.json) and marks the row in the tables."""
        return None

    def variant_label(self) -> str | None:
        """`variant()` in words a reader understands ("ground-truth boxes (oracle)", "4x4 point grid", "LK tracker"),
        derived from the same params; shown in the tables' rows and the report. None for the paper's protocol."""
        return self.variant()

    def paper_comparable(self) -> bool:
        """Whether the paper's numbers are the reference for this run (shown beside it in the tables)."""
        return self.variant() is None

    def prediction_params(self) -> dict[str, Any]:
        """The parameters that shape predictions: stored predictions are reused only when these are equal."""
        return self.params.prediction_dict()

    def protocol_notes(self) -> dict[str, str]:
        """The run's protocol in words (sources, formats, caveats), recorded in the results beside the parameters;
        never fingerprinted, so rewording a note keeps the stored predictions."""
        return {}

    def requirements(self, data_root: Path) -> list[Requirement]:
        """Everything this run reads that a user must provide (data, prompt files, weights of helper networks),
        checked before the model loads; the dataset's layout itself is checked by `load_dataset`."""
        return []

    def capability_problems(self, capabilities: Capabilities) -> list[str]:
        """What this run needs that a model with `capabilities` lacks (e.g. mask input, automatic masks), in words;
        checked before any work."""
        return []

    @abstractmethod
    def load_dataset(self, data_root: Path) -> Dataset: ...

    def sample_files(self, sample: Sample) -> list[Path]:
        """The files whose contents this sample's prediction reads (image, frames, the annotation or prompt file its
        prompts come from). The engine stores their fingerprint with the prediction and predicts the sample again
        when they change, so a stored prediction is never scored against other inputs."""
        return []

    def load_inputs(self, sample: Sample) -> Any:
        """What `predict` reads from disk for `sample` (decoded images, video frames). The engine calls it in
        background threads a few samples ahead, so decoding overlaps the model's compute; it must not touch the
        model. Tasks with nothing to read return None."""
        return None

    @abstractmethod
    def predict(self, model: PromptModel, sample: Sample, inputs: Any) -> Prediction:
        """The protocol on one sample; `inputs` is `load_inputs(sample)`."""

    @abstractmethod
    def evaluator(self) -> Evaluator: ...

    @classmethod
    def detect(cls, args: argparse.Namespace) -> list[Path]:
        """`run_eval.py --detect TASK`: model-independent prompts (detector boxes, ...) made once into --out and
        reused by every SAM model. Only tasks with such a stage override it."""
        raise NotImplementedError(f"task {cls.name!r} has no detection stage")

    @classmethod
    def write_figures(cls, results: dict[str, dict], directory: Path) -> list[Path]:
        """Figures drawn from every result of this task ({run name: results JSON}), written with the tables."""
        return []

    def read_external_prediction(self, directory: Path, sample: Sample) -> Prediction:
        """A prediction of any method saved in the task's native format (`--predictions DIR`)."""
        raise NotImplementedError(f"task {self.name!r} reads no external predictions")

    def example_score(self, sample: Sample, prediction: Prediction) -> float | dict[str, float] | None:
        """A per-sample version of the task's metric, higher is better (`example_metric` names it): the report shows
        the best, median and worst samples of a run by it. None: the sample is not ranked (e.g. no ground truth).
        A task whose examples are parts of a sample (`example_parts_name`: the objects of an interactive image)
        returns {part: score}, and each part is ranked and drawn on its own."""
        return None

    def draw_example(self, sample: Sample, prediction: Prediction, part: str | None = None) -> dict[str, np.ndarray]:
        """The panels of one qualitative example (of the sample, or of its `part`), caption -> H x W x 3 uint8 RGB
        (the input with its prompts, the prediction, the ground truth), at the data's resolution (the report shrinks
        them; see evals/visual.py)."""
        return {}
