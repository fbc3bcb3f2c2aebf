"""Render every result found under results/ into the paper's tables (results/TABLES.md).

Layout of the RepViT-SAM README tables: one table per section, models as rows in the paper's order (ViT-H-SAM,
ViT-B-SAM, MobileSAM, RepViT-SAM, then any other run), the best value of a column bold and the second underlined
(lower is better where the paper says so, e.g. MAE). Each measured value carries the paper's value and the
difference: `44.1 (44.4, -0.3)`. The latency table has the paper's transposed layout: platforms as rows.
A missing result is an empty cell.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from models.registry import PAPER_ROWS, model_variant, variant_names

from .base import Column, Task
from .registry import available_tasks, task_class

PAPER_ORDER = variant_names()  # registry order: the paper's rows first


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


def run_order(run: str, result: dict) -> tuple:
    model = result["provenance"]["model"].get("model")
    return (PAPER_ORDER.index(model) if model in PAPER_ORDER else len(PAPER_ORDER), run)


def row_label(run: str, result: dict) -> str:
    provenance = result["provenance"]
    model = provenance["model"].get("model")
    label = provenance["model"].get("display") or run
    if result.get("variant"):
        label += f" [{result['variant']}]"
    elif model is not None and run != model:
        label += f" [{run}]"
    if provenance["model"].get("trained") is False:
        label += " ⚠ UNTRAINED WEIGHTS"
    dataset = provenance["dataset"]
    if dataset["num_samples"] < dataset["num_samples_available"]:
        label += f" ({dataset['num_samples']}/{dataset['num_samples_available']} samples)"
    return label


def rank_marks(values: dict[str, float | None], higher_is_better: bool) -> dict[str, str]:
    """'best' / 'second' for the rows holding the best and second-best distinct values."""
    distinct = sorted({v for v in values.values() if v is not None}, reverse=higher_is_better)
    marks = {}
    for row, value in values.items():
        if value is not None and value == distinct[0]:
            marks[row] = "best"
        elif value is not None and len(distinct) > 1 and value == distinct[1]:
            marks[row] = "second"
    return marks


def format_value(value: float, digits: int, mark: str | None) -> str:
    text = f"{value:.{digits}f}"
    return {"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(mark, text)


def format_cell(value: float | None, paper: float | None, digits: int, mark: str | None) -> str:
    if value is None:
        return ""
    text = format_value(value, digits, mark)
    if paper is not None:
        text += f" ({paper:.{digits}f}, {value - paper:+.{digits}f})"
    return text


def metric(result: dict, key: str) -> float | None:
    value = result["metrics"].get(key)
    return float(value) if isinstance(value, (int, float)) else None


def render_model_rows(section: str, columns: list[tuple[str, Column]], results: dict) -> str:
    runs: dict[str, dict] = {}
    for task_name, column in columns:
        runs.update(results.get(task_name, {}))
    rows = sorted(runs, key=lambda run: run_order(run, runs[run]))
    header = ["Model"] + [column.label for _, column in columns]
    lines = [f"## {section}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cells: dict[str, list[str]] = {run: [row_label(run, runs[run])] for run in rows}
    for task_name, column in columns:
        task_runs = results.get(task_name, {})
        values = {run: metric(task_runs[run], column.key) if run in task_runs else None for run in rows}
        marks = rank_marks(values, column.higher_is_better)
        for run in rows:
            model = runs[run]["provenance"]["model"].get("model")
            paper = column.paper.get(model) if runs[run].get("paper_comparable", True) else None
            cells[run].append(format_cell(values[run], paper, column.digits, marks.get(run)))
    lines += ["| " + " | ".join(cells[run]) + " |" for run in rows]
    if not rows:
        lines.append("| (no results yet) |" + " |" * len(columns))
    return "\n".join(lines)


def render_models_as_columns(task: type[Task], results: dict) -> str:
    """The paper's latency layout: a row per platform, image encoder per model, then the mask decoder."""
    from .latency.task import PAPER_PLATFORMS  # the only such table

    encoder, decoder = task.columns
    runs = results.get(task.name, {})
    header = ["Platform"] + [f"{encoder.label}: {model_variant(m).display}" for m in PAPER_ROWS] + [decoder.label]
    lines = [f"## {encoder.section}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def row(label: str, encoder_ms: dict[str, float | str], decoder_ms: float | None) -> str:
        numbers = {m: v for m, v in encoder_ms.items() if isinstance(v, float)}
        marks = rank_marks({m: numbers.get(m) for m in PAPER_ROWS}, higher_is_better=False)
        cells = [
            format_value(numbers[m], encoder.digits, marks.get(m)) if m in numbers else str(encoder_ms.get(m, ""))
            for m in PAPER_ROWS
        ]
        return "| " + " | ".join([label, *cells, "" if decoder_ms is None else format_value(decoder_ms, decoder.digits, None)]) + " |"

    for platform, values in PAPER_PLATFORMS.items():
        lines.append(row(platform, values["encoder_ms"], values["decoder_ms"].get("repvit")))
    by_platform: dict[str, dict[str, dict]] = defaultdict(dict)
    for run, result in runs.items():
        provenance = result["provenance"]
        settings = [provenance["host"]["device"], provenance["model"].get("backend"), provenance["model"].get("precision", "fp32")]
        platform = f"{provenance['host']['device_name']} ({', '.join(map(str, settings))}, measured)"
        by_platform[platform][provenance["model"].get("model", run)] = result
    for platform, model_results in sorted(by_platform.items()):
        decoder_run = model_results.get("repvit") or next(iter(model_results.values()))
        lines.append(row(platform, {m: metric(r, encoder.key) for m, r in model_results.items()}, metric(decoder_run, decoder.key)))
    lines.append("")
    lines.append("Mask decoder: the RepViT-SAM run's value where there is one (the decoder is the same network in all four).")
    return "\n".join(lines)


def render_tables(out: Path) -> str:
    results = load_results(out)
    sections: dict[str, list[tuple[str, Column]]] = {}
    blocks = ["# Zero-shot results", "", "Cells: measured (paper, difference). Best **bold**, second <u>underlined</u>."]
    for name in available_tasks():
        task = task_class(name)
        if task.models_as_columns:
            blocks += ["", render_models_as_columns(task, results)]
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
