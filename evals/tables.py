"""Render every result found under results/ into the paper's tables (results/TABLES.md).

Layout of the RepViT-SAM README tables: one table per section, models as rows in the registry's order (the paper's
four first: ViT-H-SAM, ViT-B-SAM, MobileSAM, RepViT-SAM; then every other family, then runs of no known model), a
column per metric with its unit in the header (`Column.header`).

What a reader can trust:
- A run is *comparable* with the paper when it ran the paper's protocol (`paper_comparable` in its results) on the
  full data (not `--limit`, not the bundled sample data) with trained weights. Only a comparable run of one of the
  paper's models gets the paper's value and the difference beside it: `44.1 (paper 44.4, -0.3)`. Any other run
  says why in its "Run" cell, in words ("ground-truth boxes (oracle)", "sample data", "first 2 of 5 images",
  "⚠ untrained weights"), and shows its value alone.
- Marks: best **bold**, second <u>underlined</u>, among the comparable rows of a column only, and only where at
  least two of them have a value; the worst value is never marked (two distinct values: only the best is bold) and
  a column where every value ties has no marks. Values are compared as printed.
- The paper's numbers come from evals/paper_results.csv; each section names their source under the table.
- Latency: one row per model and platform (image encoder, mask decoder), the paper's own Core ML measurements as
  rows of their own for the paper's models; marks compare rows of the same platform. A Core ML run of ours on the
  chip of a paper device, with the paper's settings, shows the paper's value beside its own.
A missing result is an empty cell.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from models.registry import PAPER_ROWS, UnknownModel, model_variant, variant_names

from .base import Column, Task
from .paper import paper_platforms, paper_sources
from .registry import available_tasks, task_class

UNTRAINED = "⚠ untrained weights"  # the report highlights rows with ⚠ (evals/report/page.py)
PAPER_PROTOCOL = "paper protocol"
LEGEND = (
    "Cells: measured (paper, difference) for runs comparable with the paper (its protocol, full data, trained "
    "weights); any other run says why not in its Run cell and shows no paper value. Best **bold**, second "
    "<u>underlined</u> among comparable runs (at least two); ↓: lower is better; [low, high]: 95% bootstrap interval, resampling images."
)


def load_results(out: Path) -> dict[str, dict[str, dict]]:
    """{task: {run name: results JSON}} for every results/<task>/<run>.json."""
    found: dict[str, dict[str, dict]] = defaultdict(dict)
    for path in sorted(Path(out).glob("*/*.json")):
        try:
            result = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue  # a foreign or broken file is not a result; never fail the whole report for it
        if isinstance(result, dict) and "metrics" in result:
            found[path.parent.name][path.stem] = result
    return found


# --- what a run is, in words ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunInfo:
    model: str | None  # the --model name (None: another method's saved predictions)
    display: str  # the model's row name
    setting: str | None  # the protocol variant in words (None: the paper's protocol)
    caveats: tuple[str, ...]  # what else keeps it from the paper: sample data, first N of M, untrained weights
    comparable: bool  # gets the paper's value and takes part in the marks

    @property
    def run_text(self) -> str:
        """The row's "Run" cell: why it is not comparable, or that it ran the paper's protocol."""
        return "; ".join(part for part in (self.setting, *self.caveats) if part) or PAPER_PROTOCOL

    @property
    def label(self) -> str:
        """Model and run in one line (the report's headings, figure legends)."""
        return f"{self.display} — {self.run_text}"


def _task_class(task_name: str | None) -> type[Task] | None:
    try:
        return task_class(task_name) if task_name else None
    except Exception:  # an unknown or unavailable task: described from the results alone
        return None


def setting_words(task_name: str | None, result: dict) -> str | None:
    """The run's protocol variant in words: what the results record, else the task's `variant_label` rebuilt from
    the recorded parameters, else (older results, whose parameters no longer rebuild the same variant) its key."""
    if "variant_label" in result:
        return result["variant_label"]
    variant = result.get("variant")
    task_cls = _task_class(task_name)
    protocol = (result.get("provenance") or {}).get("protocol")
    if task_cls is not None and isinstance(protocol, dict):
        try:
            task = task_cls.from_recorded(protocol)
            if task.variant() == variant:
                return task.variant_label()
        except Exception:  # parameters of another version of the task
            pass
    return variant


def _sample_data(dataset: dict) -> bool:
    if "sample_data" in dataset:
        return bool(dataset["sample_data"])
    if dataset.get("root") is None:  # results from before the engine recorded it: look for the marker
        return False
    from .provenance import is_sample_data

    return is_sample_data(Path(dataset["root"]))


def describe(run: str, result: dict, task_name: str | None = None) -> RunInfo:
    """Who ran, how, and whether it is comparable with the paper (see the module's docstring)."""
    task_name = task_name or result.get("task")
    provenance = result.get("provenance") or {}
    model_info = provenance.get("model") or {}
    dataset = provenance.get("dataset") or {}
    setting = setting_words(task_name, result)
    task_cls = _task_class(task_name)
    precision, backend = model_info.get("precision") or "fp32", model_info.get("backend") or "eager"
    encoder = [f"{precision} encoder" if precision != "fp32" else None,  # changes the numbers a little
               f"{backend} backend" if backend != "eager" and not (task_cls and task_cls.timing_table) else None]
    setting = ", ".join(part for part in (setting, *encoder) if part) or None
    caveats = []
    if _sample_data(dataset):
        caveats.append("sample data")
    count, available = dataset.get("num_samples"), dataset.get("num_samples_available")
    if isinstance(count, int) and isinstance(available, int) and count < available:
        caveats.append(f"first {count} of {available} {task_cls.samples_name if task_cls else 'samples'}")
    if model_info.get("trained") is False:
        caveats.append(UNTRAINED)
    protocol_ok = result.get("paper_comparable", True) is not False
    if not protocol_ok and not setting:
        setting = "not the paper's protocol"
        if "predictions" in model_info:  # --predictions: another method's saved predictions
            setting = "saved predictions, " + setting
    return RunInfo(model=model_info.get("model"), display=model_info.get("display") or run, setting=setting,
                   caveats=tuple(caveats), comparable=protocol_ok and not caveats)  # fmt: skip


def row_label(run: str, result: dict, task_name: str | None = None) -> str:
    """'RepViT-SAM — ground-truth boxes (oracle); sample data; ⚠ untrained weights' (report headings, legends)."""
    return describe(run, result, task_name).label


def not_comparable_reason(run: str, result: dict, task_name: str | None = None) -> str | None:
    """Why the paper's numbers are not the reference for this run, in words; None when they are."""
    info = describe(run, result, task_name)
    return None if info.comparable else info.run_text


def model_order(model: str | None) -> int:
    order = variant_names()  # registry order: the paper's rows first (plug-ins loaded since are included)
    return order.index(model) if model in order else len(order)


def run_order(run: str, result: dict) -> tuple:
    info = describe(run, result)
    return (model_order(info.model), not info.comparable, run)


# --- cells and marks -----------------------------------------------------------------------------------------------
def rank_marks(values: dict, higher_is_better: bool) -> dict:
    """'best' / 'second' for the rows holding the best and second-best distinct values, among rows with a value.
    Nothing when fewer than two rows have one or all tie; no 'second' when it is the worst value (two distinct)."""
    present = {row: value for row, value in values.items() if value is not None}
    distinct = sorted(set(present.values()), reverse=higher_is_better)
    if len(present) < 2 or len(distinct) < 2:
        return {}
    marks = {row: "best" for row, value in present.items() if value == distinct[0]}
    if len(distinct) >= 3:
        marks.update({row: "second" for row, value in present.items() if value == distinct[1]})
    return marks


def marked(text: str, mark: str | None) -> str:
    return {"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(mark, text)


def format_cell(value: float | None, paper: float | None, column: Column, mark: str | None,
                interval: list | None = None) -> str:  # fmt: skip
    """The value, its mark, its 95% bootstrap interval where the results hold one (`<key>_ci95`, evals/bootstrap.py)
    and the paper's value beside it."""
    if value is None:
        return ""
    text = marked(column.format(value), mark)
    if interval is not None and len(interval) == 2 and None not in interval:
        text += f" [{column.format(interval[0])}, {column.format(interval[1])}]"
    if paper is not None:
        text += f" (paper {column.format(paper)}, {value - paper:+.{column.digits}f})"
    return text


def metric(result: dict, key: str) -> float | None:
    value = result["metrics"].get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def printed(value: float | None, column: Column) -> float | None:
    """The value as the table prints it: marks compare what the reader sees (NaN is not ranked)."""
    return None if value is None or value != value else round(value, column.digits)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _sources(task_names: list[str], columns: list[tuple[str, Column]] | None = None) -> list[str]:
    sources = []
    for name in dict.fromkeys(task_names):
        keys = None if columns is None else tuple(c.key for t, c in columns if t == name)
        sources += paper_sources(name, keys)
    return ["", "Paper: " + "; ".join(dict.fromkeys(sources)) + "."] if sources else []


# --- sections ------------------------------------------------------------------------------------------------------
def render_model_rows(section: str, columns: list[tuple[str, Column]], results: dict) -> str:
    """One row per run (a run whose tasks differ in why they are not comparable gets a row per reason), a column
    per metric."""
    rows: dict[tuple, dict[str, dict]] = {}  # (run, display, run text, comparable) -> {task: results}
    infos: dict[tuple, RunInfo] = {}
    for task_name in dict.fromkeys(task for task, _ in columns):
        for run, result in results.get(task_name, {}).items():
            info = describe(run, result, task_name)
            key = (run, info.display, info.run_text, info.comparable)
            rows.setdefault(key, {})[task_name] = result
            infos.setdefault(key, info)
    tasks = list(dict.fromkeys(task for task, _ in columns))
    first_task = {key: min(tasks.index(task) for task in rows[key]) for key in rows}
    order = sorted(rows, key=lambda key: (model_order(infos[key].model), not infos[key].comparable, first_task[key],
                                          key[:3]))  # fmt: skip
    labels = [(infos[key].display, infos[key].run_text) for key in order]
    # Runs that read the same (same model and setting, e.g. two backends' names aside) are told apart by their names.
    cells = {key: [infos[key].display, infos[key].run_text + (f" [{key[0]}]" if labels.count(label) > 1 else "")]
             for key, label in zip(order, labels)}  # fmt: skip
    for task_name, column in columns:
        values = {key: metric(rows[key][task_name], column.key) if task_name in rows[key] else None for key in order}
        ranked = {key: printed(value, column) for key, value in values.items() if infos[key].comparable}
        marks = rank_marks(ranked, column.higher_is_better)
        for key in order:
            info = infos[key]
            paper = column.paper.get(info.model) if info.comparable and info.model in PAPER_ROWS else None
            interval = rows[key][task_name]["metrics"].get(f"{column.key}_ci95") if task_name in rows[key] else None
            cells[key].append(format_cell(values[key], paper, column, marks.get(key), interval))
    body = [cells[key] for key in order] or [["(no results yet)", "", *([""] * len(columns))]]
    lines = [f"## {section}", "", *_table(["Model", "Run", *(c.header for _, c in columns)], body)]
    return "\n".join(lines + _sources([task for task, _ in columns], columns))


def _display(model: str) -> str:
    try:
        return model_variant(model).display
    except UnknownModel:
        return model


# The paper's Core ML devices by the chip a Core ML run of ours records (benchmarks/coreml_latency.py reads the Mac's
# `sysctl machdep.cpu.brand_string`), and the settings of RepViT-SAM's export scripts and notebook (fp16, coremltools'
# default compute units ALL): a comparable Core ML run on that chip with those settings gets the paper's value.
PAPER_CORE_ML_CHIPS = {"MacBook M1 Pro, Core ML": "Apple M1 Pro", "iPhone 12, Core ML": "Apple A14 Bionic"}
PAPER_CORE_ML_SETTINGS = {"compute_units": "ALL", "precision": "fp16"}


def paper_platform(result: dict) -> str | None:
    """The paper's platform that a Core ML run of ours measured again (same chip and settings), else None."""
    coreml = (result.get("provenance") or {}).get("coreml") or {}
    if any(coreml.get(key) != value for key, value in PAPER_CORE_ML_SETTINGS.items()):
        return None
    return next((platform for platform, chip in PAPER_CORE_ML_CHIPS.items() if chip == coreml.get("chip")), None)


def measured_platform(result: dict) -> str:
    """The row's platform: what the run names (a Core ML run: "Core ML, Apple M1 Pro, ALL, fp16"), else the device,
    backend and precision it ran with."""
    if result.get("platform"):
        return f"{result['platform']} (measured)"
    provenance = result.get("provenance") or {}
    host, model = provenance.get("host") or {}, provenance.get("model") or {}
    settings = [host.get("device"), model.get("backend"), model.get("precision") or "fp32", "measured"]
    return f"{host.get('device_name', '?')} ({', '.join(map(str, settings))})"


def render_timing_rows(task: type[Task], results: dict) -> str:
    """Latency: one row per model and platform, image encoder and mask decoder in ms. The paper's Core ML platforms
    are rows of the paper's models; each run of ours is a row on its own platform, beside the paper's value only when
    it is a comparable Core ML run on the same device (`paper_platform`)."""
    runs = results.get(task.name, {})
    rows = []  # (model order, model, platform, run text, {column key: float | str}, comparable, paper values)
    paper = paper_platforms(task.name)
    for platform, by_model in paper.items():
        for model, values in by_model.items():
            rows.append((model_order(model), model, _display(model), f"{platform} (paper)", "the paper's measurement",
                         values, True, {}))  # fmt: skip
    for run, result in runs.items():
        info = describe(run, result, task.name)
        values = {column.key: metric(result, column.key) for column in task.columns}
        same_device = paper_platform(result) if info.comparable else None
        rows.append((model_order(info.model), info.model, info.display, measured_platform(result), info.run_text,
                     values, info.comparable, paper.get(same_device, {}).get(info.model, {})))  # fmt: skip
    # By model, the paper's rows of a model first, then ours by platform.
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][2], "(paper)" not in rows[i][3], *rows[i][3:5]))
    marks: dict[tuple[int, str], str] = {}
    for platform in {row[3] for row in rows}:
        for column in task.columns:
            values = {i: printed(row[5].get(column.key), column) for i, row in enumerate(rows)
                      if row[3] == platform and row[6] and isinstance(row[5].get(column.key), float)}  # fmt: skip
            marks.update({(i, column.key): mark for i, mark in rank_marks(values, column.higher_is_better).items()})
    body = []
    for i in order:
        _, _, display, platform, run_text, values, _, paper_values = rows[i]
        cells = []
        for column in task.columns:
            value, paper_value = values.get(column.key), paper_values.get(column.key)
            if isinstance(value, float):
                paper_value = paper_value if isinstance(paper_value, float) else None  # OOM: nothing to subtract
                cells.append(format_cell(value, paper_value, column, marks.get((i, column.key))))
            else:
                cells.append("" if value is None else str(value))  # a word the paper printed (OOM)
        body.append([display, platform, run_text, *cells])
    section = task.columns[0].section
    header = ["Model", "Platform", "Run", *(column.header for column in task.columns)]
    lines = [f"## {section}", "", *_table(header, body), ""]
    lines.append("The paper's rows are Core ML on its devices (OOM: out of memory), ours PyTorch / ONNX Runtime on the "
                 "device named, or Core ML on a Mac (benchmarks/coreml_latency.py; its decoder includes the upscaling "
                 "to 1024x1024, as the paper's package). Marks compare rows of the same platform; a comparable Core ML "
                 "row on a paper device's chip, with compute units ALL and fp16, shows the paper's value beside its "
                 "own. The paper printed one mask-decoder time per platform, shown on its RepViT-SAM row (the decoder "
                 "is SAM's in all its models).")  # fmt: skip
    return "\n".join(lines + _sources([task.name]))


def render_tables(out: Path) -> str:
    results = load_results(out)
    sections: dict[str, list[tuple[str, Column]]] = {}
    blocks = ["# Zero-shot results", "", LEGEND]
    for name in available_tasks():
        task = task_class(name)
        if task.timing_table:
            blocks += ["", render_timing_rows(task, results)]
            continue
        for column in task.columns:
            sections.setdefault(column.section, []).append((name, column))
    for section, columns in sections.items():
        blocks += ["", render_model_rows(section, columns, results)]
    return "\n".join(blocks) + "\n"


def write_tables(out: Path) -> Path:
    """results/TABLES.md, and each task's figures next to its results."""
    from .store import atomic_write_bytes

    results = load_results(out)
    for name in available_tasks():
        if results.get(name):
            task_class(name).write_figures(results[name], Path(out) / name)
    path = Path(out) / "TABLES.md"
    atomic_write_bytes(path, render_tables(out).encode())
    return path
