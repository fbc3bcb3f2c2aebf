"""The paper-format tables a reader can trust: the paper's value and the difference only beside comparable runs;
bold / underline only among at least two comparable rows, never on the worst value; rows that say in words why
they are not comparable; units in every header; latency with models as rows; the paper's numbers from one CSV.

Results are built as the engine writes them (evals/engine.py `execute`): the task's own parameters from the command
line, its `variant()` and `paper_comparable()`, and the provenance the tables read.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evals import cli
from evals.base import Column
from evals.paper import PAPER_RESULTS, paper_platforms, paper_results, paper_values, parse
from evals.registry import available_tasks, task_class
from evals.tables import describe, rank_marks, render_model_rows, render_tables
from models.registry import PAPER_ROWS

DISPLAY = {"vit_h": "ViT-H-SAM", "vit_l": "ViT-L-SAM", "vit_b": "ViT-B-SAM", "mobilesam": "MobileSAM",
           "repvit": "RepViT-SAM"}  # fmt: skip
COCO_FULL = 5000


def task_params(task_name: str, argv: list[str]):
    task_cls = task_class(task_name)
    task = task_cls(task_cls.params_from_args(cli.build_parser().parse_args(argv)))
    return task


def result(task_name: str, model: str, metrics: dict, argv: list[str] = (), *, trained: bool = True,
           samples: int = COCO_FULL, available: int = COCO_FULL, sample_data: bool = False,
           device: str = "Test CPU") -> dict:  # fmt: skip
    """A results JSON as the engine writes it (only the keys the tables read)."""
    task = task_params(task_name, list(argv))
    return {
        "task": task_name, "run": model, "variant": task.variant(), "paper_comparable": task.paper_comparable(),
        "metrics": metrics,
        "provenance": {
            "model": {"model": model, "display": DISPLAY.get(model, model), "trained": trained, "backend": "eager",
                      "precision": "fp32"},
            "dataset": {"name": "x", "num_samples": samples, "num_samples_available": available,
                        "limit": samples if samples < available else None, "sample_data": sample_data},
            "protocol": task.params.to_dict(),
            "host": {"device": "cpu", "device_name": device},
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def boxes(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("boxes") / "coco_vitdet.json"
    path.write_text("[]")
    return str(path)


def coco(model: str, ap: float, boxes_argv: list[str], **kwargs) -> dict:
    return result("coco", model, {"AP": ap, "APs": ap - 15, "APm": ap + 4, "APl": ap + 17}, boxes_argv, **kwargs)


def rows_of(table: str) -> dict[str, list[str]]:
    """{'<model> | <run>': [cells]} of a rendered markdown table."""
    rows = {}
    for line in table.splitlines()[4:]:
        if not line.startswith("| "):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        rows[f"{cells[0]} | {cells[1]}"] = cells[2:]
    return rows


COCO_COLUMNS = [("coco", column) for column in task_class("coco").columns]


def coco_table(results: dict[str, dict]) -> dict[str, list[str]]:
    return rows_of(render_model_rows("COCO", COCO_COLUMNS, {"coco": results}))


# --- comparable runs: the paper's value and the difference ---------------------------------------------------------
def test_comparable_runs_show_the_paper_value_and_the_difference(boxes):
    detections = ["--boxes", boxes]
    rows = coco_table({"repvit": coco("repvit", 44.1, detections), "vit_h": coco("vit_h", 46.9, detections)})
    assert list(rows) == ["ViT-H-SAM | paper protocol", "RepViT-SAM | paper protocol"]  # the paper's order
    assert rows["ViT-H-SAM | paper protocol"][0] == "**46.9** (paper 46.8, +0.1)"
    # Two comparable rows: the second is the worst, so it is not underlined.
    assert rows["RepViT-SAM | paper protocol"][0] == "44.1 (paper 44.4, -0.3)"
    assert rows["RepViT-SAM | paper protocol"][3] == "61.1 (paper 61.4, -0.3)"  # APl = 44.1 + 17


@pytest.mark.parametrize("kind, why", [
    ("sample data", "sample data"),
    ("limited", "first 2 of 5000 images"),
    ("untrained", "⚠ untrained weights"),
    ("oracle", "ground-truth boxes (oracle)"),
])  # fmt: skip
def test_runs_that_are_not_comparable_get_no_paper_value_no_mark_and_say_why(boxes, kind, why):
    argv = ["--boxes", "gt"] if kind == "oracle" else ["--boxes", boxes]
    options = {"sample data": {"sample_data": True}, "limited": {"samples": 2}, "untrained": {"trained": False},
               "oracle": {}}[kind]  # fmt: skip
    odd = coco("repvit", 50.0, argv, **options)  # better than the comparable ViT-H row
    alone = coco_table({"repvit": odd})
    assert alone == {f"RepViT-SAM | {why}": ["50.0", "35.0", "54.0", "67.0"]}  # no paper value, a lone value not bold
    rows = coco_table({"repvit": odd, "vit_h": coco("vit_h", 46.9, ["--boxes", boxes]),
                       "vit_b": coco("vit_b", 42.0, ["--boxes", boxes])})  # fmt: skip
    assert list(rows) == ["ViT-H-SAM | paper protocol", "ViT-B-SAM | paper protocol", f"RepViT-SAM | {why}"]
    assert rows[f"RepViT-SAM | {why}"][0] == "50.0"  # never marked, and it does not take the comparable rows' marks
    assert rows["ViT-H-SAM | paper protocol"][0] == "**46.9** (paper 46.8, +0.1)"
    assert rows["ViT-B-SAM | paper protocol"][0] == "42.0 (paper 42.5, -0.5)"


def test_rank_marks_need_two_rows_skip_the_worst_and_ties():
    assert rank_marks({"a": 1.0}, True) == {}  # a lone value
    assert rank_marks({"a": 1.0, "b": None}, True) == {}
    assert rank_marks({"a": 1.0, "b": 3.0}, True) == {"b": "best"}  # the second is the worst: not underlined
    assert rank_marks({"a": 2.0, "b": 2.0, "c": 2.0}, True) == {}  # all tie
    assert rank_marks({"a": 1.0, "b": 3.0, "c": 2.0, "d": None}, True) == {"b": "best", "c": "second"}
    assert rank_marks({"a": 1.0, "b": 3.0, "c": 1.0}, False) == {"a": "best", "c": "best"}  # two distinct values
    assert rank_marks({"a": 0.1, "b": 0.3, "c": 0.2, "e": 0.3}, False) == {"a": "best", "c": "second"}


def test_marks_compare_the_printed_values(boxes):
    detections = ["--boxes", boxes]
    rows = coco_table({"repvit": coco("repvit", 44.104, detections), "vit_b": coco("vit_b", 44.096, detections)})
    assert [cells[0].split(" (")[0] for cells in rows.values()] == ["44.1", "44.1"]  # a tie as printed: no marks


def test_models_outside_the_paper_never_get_a_paper_value(boxes):
    column = Column("AP", "AP", "COCO", paper={"vit_l": 45.0, "repvit": 44.4}, unit="%")
    detections = ["--boxes", boxes]
    results = {"coco": {"vit_l": coco("vit_l", 45.5, detections), "repvit": coco("repvit", 44.0, detections)}}
    rows = rows_of(render_model_rows("COCO", [("coco", column)], results))
    assert rows == {"ViT-L-SAM | paper protocol": ["**45.5**"],
                    "RepViT-SAM | paper protocol": ["44.0 (paper 44.4, -0.4)"]}  # fmt: skip


def test_a_run_comparable_in_one_task_and_not_in_another_gets_two_rows(boxes):
    sod = result("sod", "repvit", {"mae": 0.07}, ["--sod-dataset", "DUTS-TE"])
    assert sod["paper_comparable"] is True
    dataset = {"num_samples": 2, "num_samples_available": 1725}  # a --limit run of the paper's MVTec protocol
    mvtec_limited = dict(sod, task="mvtec", metrics={"f1_max": 30.0}, variant=None, paper_comparable=True,
                         provenance={**sod["provenance"], "dataset": dataset, "protocol": None})  # fmt: skip
    section = [("sod", task_class("sod").columns[0]), ("mvtec", task_class("mvtec").columns[0])]
    rows = rows_of(render_model_rows("S", section, {"sod": {"repvit": sod}, "mvtec": {"repvit": mvtec_limited}}))
    assert rows == {
        "RepViT-SAM | oracle protocol (mask chosen with the ground truth)": ["0.070 (paper 0.066, +0.004)", ""],
        "RepViT-SAM | first 2 of 1725 images": ["", "30.00"],
    }


# --- whole tables from results folders -----------------------------------------------------------------------------
def write(out: Path, task: str, run: str, data: dict) -> None:
    (out / task).mkdir(parents=True, exist_ok=True)
    (out / task / f"{run}.json").write_text(json.dumps(data))


def model_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Model")]


def test_sample_limited_and_untrained_folders_render_without_paper_values(tmp_path, boxes):
    """Three runs on every model-row task: on the bundled sample data, on --limit, with untrained weights."""
    kinds = {"sample": ({"sample_data": True}, "sample data"),
             "limited": ({"samples": 2, "available": 5}, "first 2 of 5"),
             "untrained": ({"trained": False}, "⚠ untrained weights")}  # fmt: skip
    for kind, (options, _) in kinds.items():
        out = tmp_path / kind
        write(out, "coco", "repvit", coco("repvit", 40.0, ["--boxes", boxes], **options))
        edges = {"ODS": 0.7, "OIS": 0.72, "AP": 0.6, "R50": 0.8}
        write(out, "bsds", "repvit", result("bsds", "repvit", edges, **options))
        write(out, "sod", "repvit", result("sod", "repvit", {"mae": 0.05}, **options))
        write(out, "davis", "repvit", result("davis", "repvit", {"J&F": 70.0, "J": 68.0, "F": 72.0},
                                             ["--tracker", "lk"], **options))  # fmt: skip
        timings = {"encoder_ms": 900.0, "decoder_ms": 9.0}
        write(out, "latency", "repvit", result("latency", "repvit", timings, **options))
        text = render_tables(out)
        # the paper's own latency rows and the sections of tasks not run here aside
        rows = [row for row in model_rows(text) if "(paper)" not in row and "(no results yet)" not in row]
        assert len(rows) == 5
        for row in rows:
            assert kinds[kind][1] in row, row
            assert "paper 0" not in row and "paper 4" not in row and "paper 7" not in row, row  # no paper value
            assert "**" not in row and "<u>" not in row, row  # lone values are not marked
        assert "| RepViT-SAM | ground-truth boxes (oracle)" not in text  # the detections run is not called an oracle
        assert "LK tracker (paper: PIPS); " + kinds[kind][1] in text


def test_units_in_every_header(tmp_path, boxes):
    write(tmp_path, "coco", "repvit", coco("repvit", 44.0, ["--boxes", boxes]))
    text = render_tables(tmp_path)
    for header in ("| Model | Run | ODS (0-1) | OIS (0-1) | AP (0-1) | R50 (0-1) |",
                   "| Model | Run | AP (%) | APs (%) | APm (%) | APl (%) | SegInW mean AP (%) |",
                   "| Model | Run | J&F (%) | J (%) | F (%) | UVO AR100 (%) |",
                   "| Model | Run | DUTS MAE (0-1) ↓ | MVTec F_p (%) |",
                   "| Model | Platform | Run | Image encoder (ms) ↓ | Mask decoder (ms) ↓ |"):  # fmt: skip
        assert header in text
    for name in available_tasks():
        assert all(column.unit for column in task_class(name).columns), name


def test_latency_has_a_row_per_model_and_platform(tmp_path):
    """Models as rows (19 models fit): the paper's Core ML rows for its models, ours per device; marks compare rows
    of one platform only, and a model outside the paper gets no paper row."""
    write(tmp_path, "latency", "repvit", result("latency", "repvit", {"encoder_ms": 1234.5, "decoder_ms": 9.5}))
    write(tmp_path, "latency", "vit_l", result("latency", "vit_l", {"encoder_ms": 9000.0, "decoder_ms": 9.5}))
    write(tmp_path, "latency", "vit_h", result("latency", "vit_h", {"encoder_ms": 20.0, "decoder_ms": 1.0},
                                               device="Big GPU"))  # fmt: skip
    (tmp_path / "latency" / "notes.json").write_text("[1, 2]")  # foreign and broken files are skipped
    (tmp_path / "latency" / "broken.json").write_text("{")
    text = render_tables(tmp_path)
    section = text.split("## Latency")[1].split("\n## ")[0]
    assert model_rows(section) == [
        "| ViT-H-SAM | Big GPU (cpu, eager, fp32, measured) | paper protocol | 20.0 | 1.0 |",  # alone on its platform
        "| ViT-L-SAM | Test CPU (cpu, eager, fp32, measured) | paper protocol | 9000.0 | 9.5 |",
        "| ViT-B-SAM | MacBook M1 Pro, Core ML (paper) | the paper's measurement | 6249.5 |  |",
        "| ViT-B-SAM | iPhone 12, Core ML (paper) | the paper's measurement | OOM |  |",
        "| MobileSAM | MacBook M1 Pro, Core ML (paper) | the paper's measurement | <u>482.2</u> |  |",
        "| MobileSAM | iPhone 12, Core ML (paper) | the paper's measurement | OOM |  |",
        "| RepViT-SAM | MacBook M1 Pro, Core ML (paper) | the paper's measurement | **44.8** | 11.8 |",
        "| RepViT-SAM | iPhone 12, Core ML (paper) | the paper's measurement | 48.9 | 11.6 |",
        "| RepViT-SAM | Test CPU (cpu, eager, fp32, measured) | paper protocol | **1234.5** | 9.5 |",  # decoders tie
    ]  # fmt: skip
    assert "Paper: RepViT-SAM README (THU-MIG/RepViT sam/README.md) § Latency comparisons" in section


def test_the_regression_baseline_renders_in_words():
    """The committed CI results (untrained weights, the demo's protocol variants): every row says why, in words."""
    text = render_tables(Path(__file__).parent / "data" / "regression_baseline")
    rows = model_rows(text)
    for phrase in ("ground-truth boxes (oracle)", "LK tracker (paper: PIPS), 3 refinement iterations (SAM-PT: 12)",
                   "LK tracker (paper: PIPS), 8x8 point grid (SAM-PT: 32x32)", "8x8 point grid (paper: 16x16)",
                   "oracle protocol (mask chosen with the ground truth), 4x4 point grid (paper: 32x32)",
                   "subset: 2 of 15 categories (tile, bottle), prompts from an untrained detector"):  # fmt: skip
        assert any(phrase in row for row in rows), phrase
    measured = [row for row in rows if "(paper)" not in row]
    assert measured and not [row for row in measured if "(paper " in row or "**" in row or "<u>" in row]
    assert all("⚠ untrained weights" in row for row in measured if row.startswith("| RepViT-SAM"))


# --- labels in words -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task_name, argv, words", [
    ("coco", ["--boxes", "gt"], "ground-truth boxes (oracle)"),
    ("seginw", ["--seginw-boxes", "gt", "--seginw-datasets", "Fruits,Hand"],
     "ground-truth boxes (oracle), subset: 2 of 25 datasets (Fruits, Hand)"),
    ("bsds", ["--bsds-points-per-side", "4", "--bsds-no-edge-nms"],
     "4x4 point grid (paper: 16x16), no edge NMS (thinning)"),
    ("davis", ["--tracker", "lk"], "LK tracker (paper: PIPS)"),
    ("uvo", ["--tracker", "lk", "--uvo-amg-points-per-side", "4"],
     "LK tracker (paper: PIPS), 4x4 point grid (SAM-PT: 32x32)"),
    ("sod", ["--sod-protocol", "saliency"], "saliency protocol (no ground truth)"),
    ("sod", [], "oracle protocol (mask chosen with the ground truth)"),
    ("bsds", [], None),
])  # fmt: skip
def test_variant_labels_are_words(task_name, argv, words):
    task = task_params(task_name, argv)
    assert task.variant_label() == words
    assert (task.variant() is None) == (words is None)


def test_summary_line_has_units_and_says_why_not_comparable(boxes):
    task = task_params("coco", ["--boxes", "gt"])
    line = cli.summary(task, coco("repvit", 40.0, ["--boxes", "gt"], trained=False, sample_data=True))
    assert line == ("AP 40.0%, APs 25.0%, APm 44.0%, APl 57.0%  [not comparable with the paper: ground-truth boxes "
                    "(oracle); sample data; ⚠ untrained weights]")  # fmt: skip
    assert cli.summary(task_params("sod", []), result("sod", "repvit", {"mae": 0.0512})) == "DUTS MAE 0.051 (0-1)"
    latency = task_params("latency", [])
    assert cli.summary(latency, result("latency", "repvit", {"encoder_ms": 48.91, "decoder_ms": 11.6})) == (
        "Image encoder 48.9 ms, Mask decoder 11.6 ms")


def test_describe_reads_older_results_without_the_newer_keys():
    old = {"task": "coco", "variant": "gt-boxes", "paper_comparable": False, "metrics": {},
           "provenance": {"model": {"model": "repvit", "display": "RepViT-SAM"}, "dataset": {}}}  # fmt: skip
    info = describe("repvit.gt-boxes", old)
    assert (info.setting, info.caveats, info.comparable) == ("gt-boxes", (), False)  # no params: the variant key
    assert describe("x", {"metrics": {}, "provenance": {}}).run_text == "paper protocol"


def test_encoder_precision_and_backend_are_named_but_stay_comparable(boxes):
    run = coco("repvit", 44.0, ["--boxes", boxes])
    run["provenance"]["model"].update(precision="bf16", backend="jit")
    info = describe("repvit.jit.bf16", run)
    assert (info.run_text, info.comparable) == ("bf16 encoder, jit backend", True)
    timing = result("latency", "repvit", {"encoder_ms": 1.0})
    timing["provenance"]["model"]["backend"] = "jit"  # the latency table names it in the platform instead
    assert describe("repvit.jit", timing).run_text == "paper protocol"


# --- the paper's numbers: one CSV ----------------------------------------------------------------------------------
def test_paper_numbers_come_from_the_csv():
    assert paper_values("coco", "AP") == {"vit_h": 46.8, "vit_b": 42.5, "mobilesam": 42.7, "repvit": 44.4}
    assert paper_values("sod", "mae")["repvit"] == 0.066 and paper_values("mvtec", "f1_max")["vit_h"] == 37.65
    assert paper_platforms("latency")["MacBook M1 Pro, Core ML"]["vit_b"] == {"encoder_ms": 6249.5}
    assert paper_platforms("latency")["iPhone 12, Core ML"]["mobilesam"] == {"encoder_ms": "OOM"}
    numbers = paper_results()
    assert len(numbers) == 64 and {n.model for n in numbers} == set(PAPER_ROWS)
    for name in available_tasks():  # every task's Column.paper is the CSV's, and the CSV has no other column
        for column in task_class(name).columns:
            assert column.paper == paper_values(name, column.key), (name, column.key)
    keys = {(name, column.key) for name in available_tasks() for column in task_class(name).columns}
    assert {(n.task, n.column) for n in numbers} <= keys
    assert all(re.search(r"README.* § ", n.source) for n in numbers)


@pytest.mark.parametrize("line, error", [
    ("coco,AP,vit_l,,45.0,src", "not one of the paper's rows"),
    ("coco,AP,repvit,,44.4,", "no source"),
    ("coco,AP,repvit,,n/a,src", "neither a number"),
    ("coco,AP,vit_h,,46.8,src", "given twice"),
])  # fmt: skip
def test_the_csv_is_checked(tmp_path, line, error):
    path = tmp_path / "paper.csv"
    path.write_text(PAPER_RESULTS.read_text() + line + "\n")
    with pytest.raises(ValueError, match=error):
        parse(path)


def test_results_of_earlier_versions_rebuild_their_task():
    """The regression baseline was written before task parameters were typed (prose recorded among them, DAVIS's
    SAM-PT options beside the others): every result still rebuilds its task, with the variant it recorded."""
    paths = sorted((Path(__file__).parent / "data" / "regression_baseline").glob("*/*.json"))
    assert len(paths) == 9
    for path in paths:
        result = json.loads(path.read_text())
        protocol = result["provenance"]["protocol"]
        task = task_class(result["task"]).from_recorded(protocol)
        assert task.variant() == result["variant"] and task.variant_label() == result["variant_label"], path
        assert not {"note", "box_format", "image_decoding"} & set(task.params.to_dict()), path  # prose is dropped
