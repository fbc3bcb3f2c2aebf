"""`run_eval.py --report`: every result under --out in one self-contained page, <out>/report.html.

The page holds, with no reference outside itself (images are base64 data URIs, no script, no stylesheet link):
- the paper-format tables of TABLES.md (evals/tables.py, converted by page.py: same rows, labels and marks);
- per task with results, the figures its `write_figures` draws (the BSDS precision-recall curves), and per run
  the best, median and worst samples by the task's `example_score`, each drawn by its `draw_example`
  (examples.py finds the run's data and predictions again; a run whose data or predictions are gone gets a note
  saying so instead of examples, and the rest of the report renders as usual).
"""
from __future__ import annotations

import html
import tempfile
import traceback
from pathlib import Path

from .. import visual
from ..provenance import utc_now
from ..registry import available_tasks, task_class
from ..store import atomic_write_bytes
from ..tables import load_results, render_tables, row_label, run_order
from .examples import DEFAULT_MAX_SAMPLES, NoExamples, RunExamples, run_examples
from .page import markdown_to_html, page

PANEL_WIDTH = 380  # pixels of an example panel (page.py lays three side by side); figure files are embedded as drawn
REPORT_FILE = "report.html"


def figures_html(task_name: str, task_results: dict[str, dict]) -> str:
    with tempfile.TemporaryDirectory() as directory:
        paths = task_class(task_name).write_figures(task_results, Path(directory))
        figures = [f'<figure><img src="{visual.file_data_uri(path)}" alt="{html.escape(path.name)}">'
                   f"<figcaption>{html.escape(path.name)}</figcaption></figure>" for path in paths]  # fmt: skip
    return f'<div class="figures">{"".join(figures)}</div>' if figures else ""


def examples_html(found: RunExamples) -> str:
    parts = []
    for example in found.examples:
        roles = ", ".join(example.roles)
        panels = "".join(
            f'<figure><img src="{visual.jpeg_data_uri(visual.fit_width(image, PANEL_WIDTH))}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            for caption, image in example.panels.items()
        )  # fmt: skip
        parts.append(
            f'<div class="example" data-roles="{roles}" data-sample="{html.escape(example.sample_id)}" '
            f'data-score="{example.score!r}"><h4>{roles}: {html.escape(example.sample_id)} '
            f"(score {example.score:.4g})</h4><div class=\"panels\">{panels}</div></div>"
        )
    return "\n".join(parts)


def run_html(task_name: str, run_name: str, result: dict, out: Path, data_root: Path | None,
             max_samples: int | None) -> str:  # fmt: skip
    task = task_class(task_name)
    label = row_label(run_name, result, task_name)
    named = "" if run_name in label else f" <code>{html.escape(run_name)}</code>"  # runs may share a table label
    title = f'<article class="run" data-run="{html.escape(run_name)}"><h3>{html.escape(label)}{named}</h3>'
    try:
        found = run_examples(task_name, run_name, result, out, data_root, max_samples)
    except NoExamples as reason:
        return f'{title}<p class="note">No examples: {html.escape(str(reason))}</p></article>'
    except Exception:  # one run's broken data or prediction must not take the whole report down: show where it broke
        error = traceback.format_exc(limit=-3)
        return (f'{title}<p class="note">No examples: making them failed.</p>'
                f"<pre>{html.escape(error)}</pre></article>")  # fmt: skip
    subset = "" if found.considered == found.total else f" ({found.considered} evenly spaced over the run's {found.total})"
    parts = task.example_parts_name
    of_samples = f"{found.considered} samples" if parts else f"{found.considered}"
    if found.tied:
        score = found.examples[0].score
        ranking = (f'<p class="metric tied">Not ranked: all {found.ranked} scored {parts or "samples"} of '
                   f"{of_samples}{subset} have the same score, {score:.4g} ({html.escape(task.example_metric)}), so "
                   "there is no best, median or worst; the first is shown.</p>")  # fmt: skip
    else:
        ranking = (f'<p class="metric">Ranked by {html.escape(task.example_metric)}: {found.ranked} '
                   f"{parts + ' ' if parts else ''}of {found.considered} samples scored{subset}.</p>")  # fmt: skip
    return f"{title}{ranking}{examples_html(found)}</article>"


def task_html(task_name: str, task_results: dict[str, dict], out: Path, data_root: Path | None,
              max_samples: int | None) -> str:  # fmt: skip
    task = task_class(task_name)
    parts = [f'<section class="task" id="task-{task_name}"><h2>{task_name}: {html.escape(task.description)}</h2>',
             figures_html(task_name, task_results)]  # fmt: skip
    runs = sorted(task_results, key=lambda run: run_order(run, task_results[run]))
    if task.example_metric is None:
        parts.append("<p>This task has no qualitative examples (its numbers are not per sample).</p>")
    else:
        parts += [run_html(task_name, run, task_results[run], out, data_root, max_samples) for run in runs]
    return "\n".join(parts) + "\n</section>"


def render_report(out: Path, data_root: Path | None = None, max_samples: int | None = DEFAULT_MAX_SAMPLES) -> str:
    """The page for every result under `out`; each run's data looked for under `data_root` first."""
    results = load_results(out)
    tasks = [name for name in available_tasks() if results.get(name)]
    ranked = f"at most {max_samples} samples" if max_samples and max_samples > 0 else "all the samples"
    nav = " ".join(['<a href="#tables">tables</a>', *(f'<a href="#task-{name}">{name}</a>' for name in tasks)])
    body = [
        "<h1>samzero: zero-shot evaluation report</h1>",
        f"<p>Results in <code>{html.escape(str(out))}</code>, rendered {utc_now()}. Examples per run: the best, "
        f"median and worst samples by the task's per-sample score, ranked over {ranked} of each run (a run whose "
        "samples all score the same is not ranked; it says so). An empty prediction is drawn as a 'no mask' "
        "panel.</p>",
        f"<nav>{nav}</nav>",
        f'<section id="tables">{markdown_to_html(render_tables(out))}</section>',
        *(task_html(name, results[name], Path(out), data_root, max_samples) for name in tasks),
    ]
    return page("samzero report", body)


def write_report(out: Path, data_root: Path | None = None, max_samples: int | None = DEFAULT_MAX_SAMPLES) -> Path:
    """<out>/report.html (written atomically)."""
    path = Path(out) / REPORT_FILE
    atomic_write_bytes(path, render_report(out, data_root, max_samples).encode())
    return path
