"""Projected wall time of the full paper reproduction, per task and model, from measured per-sample times.

    python benchmarks/project_reproduction.py RESULTS_DIR [RESULTS_DIR ...]

Reads every results JSON under the folders (run_eval.py's <task>/<run>.json, e.g. what benchmarks/throughput.sh
writes) and prints markdown: a table of hours, rows = tasks, columns = models (provenance.model's `display` name;
backend, precision and device are added where they are not eager / fp32 / the only device), each cell

    full-dataset units x (predict seconds per unit + evaluate_seconds / units of the run)     (provenance.timings)

where the prediction's seconds per unit leave out the first sample (first_sample_seconds: CUDA context, kernel
selection, lazy imports) when the run predicted more than one and recorded it, and include it otherwise (said in
the second table);

then the total per model and the task that dominates it, split into image encoder, the rest of the prediction
(prompts, mask decoder, automatic mask generator, trackers) and scoring. A unit is an image, except for DAVIS and UVO:
a frame, counted from the data the run read (provenance.dataset.root; the same files under this checkout's
datasets/sample when the run was made elsewhere). A second table gives what each cell comes from: the run's protocol
variant, its device and units, seconds per unit.

Approximations, printed beside the numbers where they apply:
- scoring is scaled like the prediction, linearly in the units; that is an approximation where a metric is not
  linear in the samples (COCOeval's accumulate, BSDS's thresholds over all images). evaluate_seconds times
  Evaluator.evaluate only: DAVIS, SOD, MVTec and UVO score each sample in Evaluator.process, which the results do
  not time. BENCHMARKS.md times the scorers on full-sized sets: each under a minute on 2 CPU cores.
- the sample images are smaller than the full datasets' (the mask side of the automatic mask generator scales with
  the image size), and untrained weights (throughput.sh) make the generator keep almost no mask.
- a run of one sample (or results older than first_sample_seconds) includes that sample's one-time costs: over a
  single sample that overstates the steady per-unit time, most on a GPU.
- COCO: throughput.sh prompts with the ground-truth boxes (an oracle); the paper's protocol prompts with every
  ViTDet-H detection, another number of prompts per image.
- UVO runs the automatic mask generator once per video (frame 0), then SAM-PT on every frame. The results time the
  two together, so they are projected per frame, unless the run tracked nothing (0 predicted tracks, as with
  untrained weights): then all of its time is the per-video part, projected per video, and the per-frame part is
  unmeasured.
- multi-process runs record predict seconds summed over the processes: the time on one device.
Full sizes not stated anywhere we could check are printed as unknown and left out of the totals (UVO v1.0 dense val);
SegInW's is an upper bound. latency and interactive are not zero-shot tables of the paper: skipped.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_davis import N_FRAMES as DAVIS_VAL_FRAMES  # noqa: E402  DAVIS 2017 val: 30 sequences, 1,999 frames
from evals.davis.dataset import load_davis_videos  # noqa: E402
from evals.errors import SamzeroError  # noqa: E402
from evals.mvtec.categories import TOTAL_TEST_IMAGES as MVTEC_TEST_IMAGES  # noqa: E402
from evals.uvo.dataset import load_uvo_videos  # noqa: E402
from models.registry import PAPER_ROWS  # noqa: E402


@dataclass(frozen=True)
class FullSize:
    units: int | None  # None: unknown
    source: str
    upper_bound: bool = False


# (task, unit) -> the paper's full dataset in that unit.
FULL_SIZES = {
    # BSDS500 test split (SAM paper §7.2 / D.2); evals/bsds/task.py: "--bsds-split ... (the paper: test, 200 images)"
    ("bsds", "images"): FullSize(200, "BSDS500 test split (SAM paper §7.2 / D.2; evals/bsds/task.py)"),
    # COCO val2017 (SAM paper D.4); evals/protocols/coco_format/dataset.py: "val2017/*.jpg 5,000 images"
    ("coco", "images"): FullSize(5000, "COCO val2017 (SAM paper D.4; evals/protocols/coco_format/dataset.py)"),
    ("davis", "frames"): FullSize(DAVIS_VAL_FRAMES, "DAVIS 2017 val, 30 sequences (benchmarks/bench_davis.py)"),
    # Not stated in evals/uvo, datasets/README.md or SAM-PT's docs/02-prepare-datasets.md; not found by a search of
    # public docs either. Fill in from UVO_video_val_dense.json (its videos and their file_names) when at hand.
    ("uvo", "frames"): FullSize(None, "UVO v1.0 dense val: frame count unknown (not stated in evals/uvo or SAM-PT)"),
    ("uvo", "videos"): FullSize(None, "UVO v1.0 dense val: video count unknown (not stated in evals/uvo or SAM-PT)"),
    ("sod", "images"): FullSize(5019, "DUTS-TE (evals/sod/task.py)"),
    ("mvtec", "images"): FullSize(MVTEC_TEST_IMAGES, "MVTec AD test, 15 categories (evals/mvtec/categories.py)"),
    # sam-hq @ fb181f8, seginw/logs/grounded_sam.log (test_seginw.sh on the 25 valid splits, batch 1): the 11
    # datasets with 30 or more images print "processed i/N images" (N = 60, 99, 142, 60, 65, 201, 237, 1069, 64, 87,
    # 92: 2,176 in all); the other 14 print no such line, so they hold at most 29 each: 2,176 + 14 x 29 = 2,582.
    ("seginw", "images"): FullSize(2582, "SegInW, 25 valid splits: at most 2,582 images (sam-hq seginw/logs)",
                                   upper_bound=True),
}  # fmt: skip
SKIPPED_TASKS = {
    "latency": "not a zero-shot table of the paper (encoder / decoder latency)",
    "interactive": "not a zero-shot table of the paper (EfficientViT-SAM's interactive protocol)",
}
COLUMN_ORDER = tuple(reversed(PAPER_ROWS))  # RepViT-SAM first, as BENCHMARKS.md's throughput tables
SECONDS_PER_HOUR = 3600.0


class ProjectionError(Exception):
    """A results folder or file this script cannot project from; the message names it."""


@dataclass
class Measurement:
    task: str
    path: Path
    column: tuple  # (model, backend, precision, device name)
    display: str
    variant: str  # the protocol variant the run measured
    device: str
    unit: str  # "images", "frames" or "videos"
    units: int  # units of the run
    first_units: int  # units of its first sample
    predict_seconds: float
    first_sample_seconds: float | None  # None: not recorded (older results)
    evaluate_seconds: float
    encoder_seconds: float
    created: str  # when the run wrote its results (ISO 8601, UTC)
    notes: list[str] = field(default_factory=list)

    @property
    def full(self) -> FullSize:
        return FULL_SIZES[(self.task, self.unit)]

    @property
    def steady(self) -> bool:
        """Whether the first sample (its one-time costs) is left out of the prediction's seconds per unit."""
        return bool(self.first_sample_seconds) and self.units > self.first_units

    def predict_seconds_per_unit(self) -> float:
        if self.steady:
            return (self.predict_seconds - self.first_sample_seconds) / (self.units - self.first_units)
        return self.predict_seconds / self.units

    def hours(self) -> float | None:
        if self.full.units is None:
            return None
        per_unit = self.predict_seconds_per_unit() + self.evaluate_seconds / self.units
        return self.full.units * per_unit / SECONDS_PER_HOUR


def local_root(recorded: str | None, sample_data: bool, path: Path) -> Path:
    """The data the run read: its recorded root, or, for a run made in another checkout (a lent GPU machine), the same
    folder under this checkout's datasets/sample."""
    if recorded is None:
        raise ProjectionError(f"{path}: no dataset root recorded, so its frames cannot be counted")
    root = Path(recorded)
    if root.is_dir():
        return root
    match = re.search(r"(?:^|/)datasets/sample/(.+)$", root.as_posix())
    if sample_data and match and (REPO / "datasets" / "sample" / match.group(1)).is_dir():
        return REPO / "datasets" / "sample" / match.group(1)
    raise ProjectionError(f"{path}: the data it read ({root}) is not on this machine, and its frames are counted there")


def count_units(task: str, results: dict, path: Path) -> tuple[str, int, int]:
    """(unit, units of the run, units of its first sample): images, or the frames (UVO without tracks: the videos)
    of the samples it ran, which are the first num_samples of the dataset's order (evals/engine.py
    select_samples)."""
    dataset = results["provenance"]["dataset"]
    count = dataset["num_samples"]
    if task not in ("davis", "uvo"):
        return "images", count, 1
    root = local_root(dataset["root"], dataset.get("sample_data", False), path)
    if task == "davis":
        lengths = [len(video.sequence.frame_names) for video in load_davis_videos(root, need_frames=False)]
    else:
        if results["metrics"].get("num_predicted_tracks") == 0:
            return "videos", count, 1
        lengths = [len(video.frame_paths) for video in load_uvo_videos(root.parent, need_frames=False)]
    if len(lengths) != dataset["num_samples_available"]:
        raise ProjectionError(f"{path}: the run read {dataset['num_samples_available']} sequences at {root}, there "
                              f"are {len(lengths)} now: not the same data")  # fmt: skip
    return "frames", sum(lengths[:count]), lengths[0]


def task_notes(task: str, unit: str, results: dict) -> list[str]:
    metrics, protocol = results["metrics"], results["provenance"]["protocol"]
    notes = []
    if task == "coco" and protocol.get("oracle"):
        per_image = metrics["num_detections"] / metrics["num_images"]
        notes.append(f"ground-truth boxes, {per_image:.1f} prompts per image "
                     f"({metrics['num_detections']} / {metrics['num_images']}); the paper's protocol prompts with "
                     "every ViTDet-H detection: another number of prompts per image")  # fmt: skip
    if task == "uvo" and unit == "videos":
        notes.append("0 tracks (the automatic mask generator kept no mask): the time measured is the per-video part "
                     "only, projected per video; SAM-PT's per-frame part is not measured")  # fmt: skip
    if task == "uvo" and unit == "frames":
        notes.append("the per-video automatic mask generator is counted per frame (the results time it with SAM-PT)")
    if task in ("davis", "sod", "mvtec", "uvo"):
        notes.append("scoring in Evaluator.process is not timed")
    return notes


def read_measurement(path: Path) -> Measurement | str | None:
    """The run's measurement; a string: why it is skipped; None: not a results JSON (another tool's file, a
    prediction store's manifest)."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProjectionError(f"{path}: not a readable JSON file ({err})") from None
    provenance = results.get("provenance") if isinstance(results, dict) else None
    if not isinstance(provenance, dict) or "timings" not in provenance or "task" not in results:
        return None
    try:
        return measurement(path, results)
    except KeyError as err:
        raise ProjectionError(f"{path}: a results JSON without {err} (an older run_eval.py wrote it? run it again)")


def measurement(path: Path, results: dict) -> Measurement | str:
    provenance = results["provenance"]
    task, timings, model = results["task"], provenance["timings"], provenance["model"]
    if task in SKIPPED_TASKS:
        return f"{path}: {task}: {SKIPPED_TASKS[task]}"
    if not any(t == task for t, _ in FULL_SIZES):
        return f"{path}: task {task!r} has no full dataset size here"
    if "model" not in model:
        return f"{path}: scores external predictions, no model was timed"
    if timings["resumed_samples"] or not timings["predicted_samples"]:
        return (f"{path}: {timings['resumed_samples']} of {provenance['dataset']['num_samples']} samples resumed from "
                "stored predictions, so the timings cover part of the run (throughput.sh runs with --overwrite)")
    unit, units, first_units = count_units(task, results, path)
    host = provenance["host"]
    device = host.get("device_name") or host["device"]
    return Measurement(
        task=task, path=path, column=(model["model"], model.get("backend"), model.get("precision"), device),
        display=model.get("display", model["model"]), variant=results.get("variant_label") or "paper protocol",
        device=f"{host['device']} ({device})", unit=unit, units=units, first_units=first_units,
        predict_seconds=timings["predict_seconds"], first_sample_seconds=timings.get("first_sample_seconds"),
        evaluate_seconds=timings["evaluate_seconds"],
        encoder_seconds=timings["encoder_seconds"], created=provenance.get("created", ""),
        notes=task_notes(task, unit, results),
    )  # fmt: skip


def collect(folders: list[Path]) -> tuple[list[Measurement], list[str]]:
    """One measurement per (task, column), the newest where a folder holds several; and what was skipped."""
    chosen: dict[tuple, Measurement] = {}
    skipped = []
    for folder in folders:
        if not folder.is_dir():
            raise ProjectionError(f"{folder}: not a folder")
        for path in sorted(folder.rglob("*.json")):
            found = read_measurement(path)
            if isinstance(found, str):
                skipped.append(found)
            elif found is not None:
                key = (found.task, found.column)
                if key in chosen:
                    older, newer = sorted([chosen[key], found], key=lambda m: m.created)
                    skipped.append(f"{older.path}: an older run of {found.task} / {found.display} than {newer.path}")
                    found = newer
                chosen[key] = found
    if not chosen:
        raise ProjectionError(f"no results JSON with timings under {', '.join(map(str, folders))} (run_eval.py writes "
                              "<out>/<task>/<run>.json; benchmarks/throughput.sh MODEL OUT_DIR makes them)")
    return list(chosen.values()), skipped


def column_labels(measurements: list[Measurement]) -> dict[tuple, str]:
    devices = {m.column[3] for m in measurements}
    labels = {}
    for m in measurements:
        _, backend, precision, device = m.column
        extra = [part for part, default in ((backend, "eager"), (precision, "fp32")) if part not in (None, default)]
        extra += [device] if len(devices) > 1 else []
        labels[m.column] = m.display + (f" ({', '.join(extra)})" if extra else "")
    return labels


def column_sort_key(column: tuple) -> tuple:
    model = column[0]
    return (COLUMN_ORDER.index(model) if model in COLUMN_ORDER else len(COLUMN_ORDER), column)


def fmt_hours(hours: float) -> str:
    if hours >= 100:
        return f"{hours:,.0f}"
    if hours >= 1:
        return f"{hours:.1f}"
    return f"{hours:.2f}" if hours >= 0.01 else "<0.01"


def fmt_cell(m: Measurement | None) -> str:
    if m is None:
        return "-"
    hours = m.hours()
    if hours is None:
        return f"unknown (per {m.unit.rstrip('s')})"
    return ("≤ " if m.full.upper_bound else "") + fmt_hours(hours)


def row_label(task: str, measurements: list[Measurement]) -> str:
    sizes = {(m.unit, m.full) for m in measurements if m.task == task}
    if len(sizes) != 1:
        return task
    unit, full = sizes.pop()
    if full.units is None:
        return f"{task}, size unknown"
    return f"{task}, {'≤ ' if full.upper_bound else ''}{full.units:,} {unit}"


def first_sample(m: Measurement) -> str:
    if m.steady:
        return f"first sample left out: {m.first_sample_seconds:.4g} s for {m.first_units} {m.unit}"
    return "first sample included" + ("" if m.first_sample_seconds is not None else ": not recorded")


def dominant_line(label: str, mine: list[Measurement]) -> str:
    known = [m for m in mine if m.hours() is not None]
    unknown = [m.task for m in mine if m.hours() is None]
    if not known:
        return f"- {label}: no task with a known full size"
    total = sum(m.hours() for m in known)
    top = max(known, key=lambda m: m.hours())
    spent = top.predict_seconds + top.evaluate_seconds
    encoder, scoring = top.encoder_seconds / spent, top.evaluate_seconds / spent
    missing = f" (without {', '.join(unknown)}: full size unknown)" if unknown else ""
    return (f"- {label}: {fmt_hours(total)} h in all{missing}; {top.task} dominates with {fmt_hours(top.hours())} h "
            f"({top.hours() / total:.0%}): image encoder {encoder:.0%}, rest of the prediction "
            f"{1 - encoder - scoring:.0%}, scoring {scoring:.0%} of it")  # fmt: skip


def report(measurements: list[Measurement], skipped: list[str]) -> str:
    labels = column_labels(measurements)
    columns = sorted(labels, key=column_sort_key)
    tasks = [task for task in dict.fromkeys(t for t, _ in FULL_SIZES) if any(m.task == task for m in measurements)]
    cell = {(m.task, m.column): m for m in measurements}
    lines = ["Projected hours for the full paper datasets (prediction + scoring), from the measured seconds per unit",
             "", "| task, full size | " + " | ".join(labels[c] for c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]  # fmt: skip
    for task in tasks:
        lines.append(f"| {row_label(task, measurements)} | "
                     + " | ".join(fmt_cell(cell.get((task, c))) for c in columns) + " |")  # fmt: skip
    totals = []
    for c in columns:
        known = [m for m in measurements if m.column == c and m.hours() is not None]
        bound = "≤ " if any(m.full.upper_bound for m in known) else ""
        partial = " + ?" if any(m.column == c and m.hours() is None for m in measurements) else ""
        totals.append(f"**{bound}{fmt_hours(sum(m.hours() for m in known))}{partial}**" if known else "-")
    lines += ["| **total** | " + " | ".join(totals) + " |", "", "Dominant task per model:"]
    lines += [dominant_line(labels[c], [m for m in measurements if m.column == c]) for c in columns]
    lines += ["", "Where each cell comes from (the protocol variant measured, not necessarily the paper's):", "",
              "| task | model | variant measured | device | units of the run | predict s / unit | scoring s / unit | "
              "notes |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for task in tasks:
        for c in columns:
            m = cell.get((task, c))
            if m is not None:
                lines.append(f"| {task} | {labels[c]} | {m.variant} | {m.device} | {m.units} {m.unit} | "
                             f"{m.predict_seconds_per_unit():.4g} ({first_sample(m)}) | "
                             f"{m.evaluate_seconds / m.units:.3g} | "
                             f"{'; '.join(m.notes)} |")  # fmt: skip
    lines += ["", "Full sizes:"]
    lines += [f"- {task} ({unit}): {'unknown' if size.units is None else f'{size.units:,}'}: {size.source}"
              for (task, unit), size in FULL_SIZES.items() if task in tasks]  # fmt: skip
    lines += ["", "Scoring time is scaled linearly (an approximation for COCOeval and the BSDS thresholds); sample "
              "images are smaller than the full datasets'; a run of one sample includes its one-time costs (CUDA "
              "context, kernel selection, lazy imports)."]  # fmt: skip
    if skipped:
        lines += ["", "Skipped:"] + [f"- {reason}" for reason in skipped]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if not argv:
        print("usage: python benchmarks/project_reproduction.py RESULTS_DIR [RESULTS_DIR ...]", file=sys.stderr)
        return 2
    try:
        measurements, skipped = collect([Path(arg) for arg in argv])
    except (ProjectionError, SamzeroError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report(measurements, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
