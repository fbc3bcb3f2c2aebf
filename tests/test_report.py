"""`run_eval.py --report`: a self-contained page with the tables, the figures and best / median / worst examples.

A small results folder is made through the engine: SOD runs on the synthetic DUTS-TE sample (another method's maps
of known quality, no store; a fake model's masks, stored), one whose data is deleted and one whose data changed
after the run, and a BSDS run of the bench's own maps. Each task's example hooks are checked on the bundled sample
data with the ground truth as the prediction (score 1) and an empty one.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from evals import cli
from evals.bsds.task import BsdsTask
from evals.davis.evaluate import count_objects
from evals.engine import Run, execute
from evals.mvtec.dataset import read_mask
from evals.mvtec.protocol import EVAL_RESOLUTION
from evals.registry import available_tasks, task_class
from evals.report.examples import NoExamples, evenly_spaced, pick, run_examples
from evals.report.page import markdown_to_html
from evals.sod.protocols import EXTERNAL
from evals.sod.sample_data import (
    HEIGHT,
    NUM_IMAGES,
    sample_stem,
    synthetic_pair,
    write_sample_dataset,
)
from evals.sod.task import SODTask, sod_params
from evals.store import decode_prediction

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "datasets" / "sample"
BENCH = Path(__file__).parent / "data" / "bsds500_bench"
INVERTED_ROWS = (0, 12, 36, HEIGHT)  # map i = the ground truth with its first rows inverted: MAE = rows / HEIGHT
VOID_TAGS = {"img", "meta", "br", "hr", "input", "link"}


class FixedMaskModel:
    """A model whose automatic mask generator always returns one disk: the oracle keeps it when it touches the
    object (stored predictions with known MAEs)."""

    provenance = {"model": "fixed", "display": "Fixed disk", "trained": False, "checkpoint_sha256": None,
                  "fused": False, "backend": "eager"}  # fmt: skip

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
        disk = (yy - 60) ** 2 + (xx - 80) ** 2 <= 25**2
        return [{"segmentation": disk, "predicted_iou": 0.9, "stability_score": 0.9, "area": int(disk.sum())}]


class Page(HTMLParser):
    """Checks that tags nest and close; collects tags with their attributes, and the examples of each run."""

    def __init__(self, text: str):
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.runs: dict[str, list[dict]] = {}  # run name -> its examples' data-* attributes
        self.notes: dict[str, str] = {}  # run name -> its note
        self._capture: str | None = None  # "note" inside a note
        self._run: str | None = None
        self.feed(text)
        self.close()
        assert not self.stack, f"unclosed tags: {self.stack}"

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in VOID_TAGS:
            self.stack.append(tag)
        if tag == "article":
            self._run = attrs["data-run"]
        if tag == "p" and attrs.get("class") == "note":
            self._capture = "note"
            self.notes[self._run] = ""
        if tag == "div" and attrs.get("class") == "example":
            self.runs.setdefault(self._run, []).append(attrs)

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag == "p":
            self._capture = None

    def handle_data(self, data):
        if self._capture == "note":
            self.notes[self._run] += data


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("report")
    data = write_sample_dataset(base / "data").parent
    maps = base / "maps"
    maps.mkdir()
    for index, rows in enumerate(INVERTED_ROWS):
        mask = synthetic_pair(index)[1]
        mask[:rows] = 255 - mask[:rows]
        cv2.imwrite(str(maps / f"{sample_stem(index)}.png"), mask)
    out = base / "results"
    external = SODTask(sod_params(EXTERNAL, predictions_dir=maps))
    results = {"maps": execute(Run(task=external, run_name="maps", out=out, data_root=data, external_predictions=maps),
                               None)}  # fmt: skip
    oracle = SODTask(sod_params("oracle", amg={"points_per_side": 2}))
    results["fixed"] = execute(Run(task=oracle, run_name="fixed", out=out, data_root=data), FixedMaskModel())
    results["broken"] = execute(Run(task=oracle, run_name="broken", out=out, data_root=data), FixedMaskModel())
    (out / "sod" / "broken.predictions" / f"{sample_stem(1)}.npz").write_bytes(b"not an npz")  # damaged after the run
    for name in ("gone", "changed"):  # data copied for the run, then deleted / changed
        copy = base / name
        shutil.copytree(data, copy)
        results[name] = execute(Run(task=external, run_name=name, out=out, data_root=copy, external_predictions=maps),
                                None)  # fmt: skip
    shutil.rmtree(base / "gone")
    with open(base / "changed" / "DUTS-TE" / "DUTS-TE-Mask" / f"{sample_stem(0)}.png", "ab") as f:
        f.write(b"\0")
    bsds = BsdsTask(BsdsTask.params_from_args(cli.build_parser().parse_args(["--bsds-thresholds", "5", "--bsds-workers", "1"])))
    results["bench_png"] = execute(Run(task=bsds, run_name="bench_png", out=out, data_root=SAMPLE,
                                       external_predictions=BENCH / "png"), None)  # fmt: skip
    # The data root given first holds neither: the runs' recorded roots must be found.
    assert cli.main(["--report", "--out", str(out), "--data-root", str(base / "nowhere")]) == 0
    text = (out / "report.html").read_text()
    return {"out": out, "html": text, "page": Page(text), "results": results}


def test_page_is_valid_and_self_contained(report):
    page = report["page"]
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) >= 1 + 3 * 3 * 3  # the PR figure; 3 runs with examples x 3 examples x 3 panels
    assert all(re.fullmatch(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=]+", src) for src in images)
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object", "embed")]
    values = [value or "" for _, attrs in page.tags for name, value in attrs.items() if name != "src"]
    assert not [v for v in values if re.search(r"https?:|file:|^/", v)], "a reference outside the page"
    assert not re.search(r"https?://|file://", re.sub(r'src="data:[^"]*"', "", report["html"]))


def test_a_section_per_task_with_results_and_the_tables_values(report):
    sections = [attrs["id"] for tag, attrs in report["page"].tags if tag == "section" and "task" in attrs.get("class", "")]
    assert sections == ["task-bsds", "task-sod"]  # tasks in the paper's order, only those with results
    text = report["html"]
    assert f"{report['results']['maps']['metrics']['mae']:.3f}" == "0.350"  # mean of 0, 0.1, 0.3, 1
    assert re.search(r"<td>maps</td><td>(<strong>|<u>)?0\.350(</strong>|</u>)?</td>", text)
    bsds = report["results"]["bench_png"]["metrics"]  # the only BSDS row: every value is the best, bold
    cells = "".join(f"<td><strong>{bsds[key]:.3f}</strong></td>" for key in ("ODS", "OIS", "AP", "R50"))
    assert f"<tr><td>bench_png [custom-bench]</td>{cells}</tr>" in text  # 5 thresholds: a labelled variant
    assert '<tr class="flagged"><td>Fixed disk [oracle-amg2] ⚠ UNTRAINED WEIGHTS</td>' in text
    assert "<h3>gone</h3>" in text and "<h3>changed</h3>" in text  # their rows and sections stay
    # Two runs with one table label (same model and variant) are told apart by their run names.
    assert text.count("<h3>Fixed disk [oracle-amg2] ⚠ UNTRAINED WEIGHTS <code>") == 2


def test_best_median_and_worst_are_ordered_by_the_score(report):
    examples = report["page"].runs["maps"]
    assert [e["data-roles"] for e in examples] == ["best", "median", "worst"]
    # Scores -MAE = -rows / HEIGHT: best sample 0, median the lower middle of 4 (sample 2), worst sample 3.
    assert [e["data-sample"] for e in examples] == [sample_stem(0), sample_stem(2), sample_stem(3)]
    assert [float(e["data-score"]) for e in examples] == pytest.approx([-r / HEIGHT for r in (0, 36, HEIGHT)])
    bsds = report["page"].runs["bench_png"]
    per_image = report["results"]["bench_png"]["metrics"]["per_image"]  # the bench's own per-image F
    scores = [float(e["data-score"]) for e in bsds]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    assert [per_image[e["data-sample"]]["F"] for e in bsds] == pytest.approx(scores, abs=1e-12)
    assert scores[0] == pytest.approx(max(v["F"] for v in per_image.values()))
    assert scores[-1] == pytest.approx(min(v["F"] for v in per_image.values()))


def test_stored_predictions_are_read_back(report):
    store = report["out"] / "sod" / "fixed.predictions"
    stored = {p.stem: decode_prediction(p.read_bytes()) for p in store.glob("*.npz")}
    expected = {stem: -(p["chosen_mae_ji2023"] if p["chosen_mask"] is not None else 1.0) for stem, p in stored.items()}
    examples = report["page"].runs["fixed"]
    assert len(examples) == 3 and len(set(expected.values())) == NUM_IMAGES
    for example in examples:
        assert float(example["data-score"]) == pytest.approx(expected[example["data-sample"]])
    assert examples[0]["data-sample"] == max(expected, key=expected.get)


def test_missing_or_changed_data_gives_a_note_not_a_crash(report):
    notes = report["page"].notes
    assert not {"gone", "changed", "broken"} & set(report["page"].runs)
    assert notes["broken"] == "No examples: making them failed."  # an unreadable prediction: the error is shown
    assert re.search(r"<pre>Traceback .*in decode_prediction.*Error: ", report["html"], re.S)
    assert "data this run scored was found (pass its --data-root)" in notes["gone"]
    assert "gone/DUTS-TE: DUTS-TE not found" in notes["gone"]  # the recorded root was tried, and is gone
    assert "changed/DUTS-TE: other data than the run scored" in notes["changed"]
    assert set(notes) == {"gone", "changed", "broken"}


def test_a_run_whose_predictions_are_gone_says_so(report):
    result = json.loads(json.dumps(report["results"]["maps"]))
    result["provenance"]["model"]["predictions"] = str(report["out"] / "deleted")
    with pytest.raises(NoExamples, match=r"no prediction store at \S*sod/copy\.predictions, and the --predictions "
                                         r"\S*deleted it scored is gone"):  # fmt: skip
        run_examples("sod", "copy", result, report["out"], None, 10)


def test_ranking_helpers():
    assert pick([(0.5, 0)]) == [(("best", "median", "worst"), 0.5, 0)]
    assert pick([(0.1, 0), (0.9, 1)]) == [(("best",), 0.9, 1), (("median", "worst"), 0.1, 0)]
    assert pick([(0.2, 0), (0.2, 1), (0.2, 2)]) == [(("best",), 0.2, 0), (("median",), 0.2, 1), (("worst",), 0.2, 2)]
    assert pick([]) == []
    samples = list(range(10))
    assert evenly_spaced(samples, 4) == [0, 3, 6, 9] and evenly_spaced(samples, 0) == samples == evenly_spaced(samples, None)
    assert evenly_spaced(samples, 20) == samples


def test_markdown_conversion_escapes_and_keeps_the_marks():
    text = "# T\n\n| Model | A |\n|---|---|\n| <b>x</b> ⚠ UNTRAINED | **1.0** (2.0, -1.0) |\n| y | <u>0.5</u> |\n"
    html = markdown_to_html(text)
    assert "<h2>T</h2>" in html and "<th>Model</th><th>A</th>" in html
    assert '<tr class="flagged"><td>&lt;b&gt;x&lt;/b&gt; ⚠ UNTRAINED</td><td><strong>1.0</strong> (2.0, -1.0)</td>' in html
    assert "<td>y</td><td><u>0.5</u></td>" in html


# --- each task's hooks on the bundled sample data ------------------------------------------------------------------
def demo_task(name: str):
    task_cls = task_class(name)
    return task_cls(task_cls.params_from_args(cli.build_parser().parse_args(list(task_cls.demo_args))))


def coco_like(name: str, sample):
    image = sample.data.image
    coco = COCO(str(image.annotation_file))
    objects = [a for a in coco.imgToAnns[image.image_id] if not a.get("iscrowd", 0)]
    truth = []
    for a in objects:
        rle = coco.annToRLE(a)
        truth.append({"category_id": a["category_id"], "score": 1.0, "bbox": a["bbox"],
                      "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})  # fmt: skip
    wrong_category = [{**d, "category_id": -1} for d in truth]
    return {"detections": truth}, {"detections": wrong_category}, 0.0


def davis_like(name: str, sample):
    sequence = sample.data.sequence
    masks = np.stack([sequence.read_annotation(f) for f in sequence.frame_names])
    frames, objects = len(masks), count_objects(sequence)
    tracks = np.tile(np.array([40.0, 30.0]), (frames, objects, 2, 1))  # 2 points per object: 1 positive, 1 negative
    truth = {"masks": masks, "frame_names": list(sequence.frame_names), "working_size": list(masks.shape[1:]),
             "trajectories": tracks, "visibilities": np.ones(tracks.shape[:3], bool)}  # fmt: skip
    return truth, {**truth, "masks": np.zeros_like(masks)}, 0.0  # empty masks: J and F 0


def uvo_like(name: str, sample):
    segmentations = [a["segmentations"] for a in sample.data.annotations if not a.get("iscrowd", 0)]
    truth = {"segmentations": segmentations, "scores": [1.0] * len(segmentations)}
    return truth, {"segmentations": [], "scores": []}, 0.0


def mvtec_like(name: str, sample):
    mask = read_mask(sample.data, EVAL_RESOLUTION)  # the mask as the metric sees it; maps of that size stay as they are
    # The inverted map ranks every normal pixel above the defect: F1-max is all-anomalous's, 2P / (2P + N).
    inverted_f1 = 2 * mask.sum() / (mask.sum() + mask.size)
    return {"anomaly_map": mask.astype(np.float32)}, {"anomaly_map": (~mask).astype(np.float32)}, inverted_f1


PREDICTIONS = {"coco": coco_like, "seginw": coco_like, "davis": davis_like, "uvo": uvo_like, "mvtec": mvtec_like}


@pytest.mark.parametrize("name", sorted(PREDICTIONS))
def test_ground_truth_scores_one_and_every_panel_is_rgb(name):
    task = demo_task(name)
    dataset = task.load_dataset(SAMPLE)
    sample = next(s for s in dataset.samples if name != "mvtec" or s.data.anomalous)
    truth, wrong, wrong_score = PREDICTIONS[name](name, sample)
    assert task.example_score(sample, truth) == pytest.approx(1.0)
    assert task.example_score(sample, wrong) == pytest.approx(wrong_score)
    assert wrong_score < 0.5
    panels = task.draw_example(sample, truth)
    assert len(panels) == 3
    for caption, panel in panels.items():
        assert panel.dtype == np.uint8 and panel.ndim == 3 and panel.shape[2] == 3, caption
        assert panel.std() > 0, f"{caption}: a blank panel"
    first, predicted, ground_truth = panels.values()
    if name != "mvtec":  # (MVTec draws its map as a heat map)
        assert np.array_equal(predicted, ground_truth)  # the ground truth as the prediction draws the same
    if name == "davis":  # the tracked points are drawn on the frame
        assert not np.array_equal(first, predicted) and "tracked points" in next(iter(panels))


@pytest.mark.parametrize("name", ["davis", "mvtec"])
def test_the_score_is_the_run_metric_on_one_sample(name):
    """DAVIS' J&F and MVTec's F_p of a run of one sample are its example score, for an imperfect prediction."""
    task = demo_task(name)
    sample = next(s for s in task.load_dataset(SAMPLE).samples if name != "mvtec" or s.data.anomalous)
    truth = PREDICTIONS[name](name, sample)[0]
    if name == "davis":  # every object moved 12 pixels right: J and F drop by different amounts
        prediction, key = {**truth, "masks": np.roll(truth["masks"], 12, axis=2)}, "J&F"
    else:  # the defect a little hotter than noise over the whole image
        noise = np.random.default_rng(0).uniform(0, 1, truth["anomaly_map"].shape).astype(np.float32)
        prediction, key = {"anomaly_map": truth["anomaly_map"] * 0.6 + noise}, "f1_max"
    evaluator = task.evaluator()
    evaluator.reset()
    evaluator.process(sample, prediction)
    score = task.example_score(sample, prediction)
    assert 0.05 < score < 0.95
    assert score == pytest.approx(evaluator.evaluate()[key] / 100, abs=1e-12)


def test_unscored_samples_and_tasks_without_examples():
    mvtec = demo_task("mvtec")
    good = next(s for s in mvtec.load_dataset(SAMPLE).samples if not s.data.anomalous)
    assert mvtec.example_score(good, {"anomaly_map": np.zeros((8, 8), np.float32)}) is None
    assert [name for name in available_tasks() if task_class(name).example_metric is None] == ["latency"]


# --- headless Chromium -------------------------------------------------------------------------------------------
@pytest.mark.browser
def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium or chromium-browser on PATH (Debian: apt-get install chromium)")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,2000", (report["out"] / "report.html").as_uri()],
                   check=True, timeout=120, capture_output=True)  # fmt: skip
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2000, 1200)
    assert image.std() > 10 and len(np.unique(image.reshape(-1, 3), axis=0)) > 100  # text, tables and images drawn
