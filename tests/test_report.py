"""`run_eval.py --report`: a self-contained page with the tables, the figures and best / median / worst examples.

A small results folder is made through the engine: SOD runs on the synthetic DUTS-TE sample (another method's maps
of known quality, no store; a fake model's masks, stored), one whose data is deleted and one whose data changed
after the run, and a BSDS run of the bench's own maps. Each task's example hooks are checked on the bundled sample
data with the ground truth as the prediction (score 1) and an empty one.
"""
from __future__ import annotations

import base64
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

from evals import cli, visual
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


class EmptyMaskModel(FixedMaskModel):
    """A model whose automatic mask generator finds nothing: every image's prediction is empty (no mask chosen, MAE
    1 everywhere), so all its samples tie."""

    provenance = {**FixedMaskModel.provenance, "model": "empty", "display": "No masks"}

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        return []


class Page(HTMLParser):
    """Checks that tags nest and close; collects tags with their attributes, and the examples of each run."""

    def __init__(self, text: str):
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.runs: dict[str, list[dict]] = {}  # run name -> its examples' data-* attributes
        self.notes: dict[str, str] = {}  # run name -> its note
        self.rankings: dict[str, str] = {}  # run name -> its "Ranked by ..." / "Not ranked ..." line
        self.captions: dict[str, dict[str, str]] = {}  # run name -> its panels' captions -> their data URIs
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
        if tag == "p" and attrs.get("class", "").startswith("metric") and self._run is not None:
            self._capture = "ranking"
            self.rankings[self._run] = ""
        if tag == "img" and self._run is not None:
            self.captions.setdefault(self._run, {})[attrs["alt"]] = attrs["src"]
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
        if self._capture == "ranking":
            self.rankings[self._run] += data


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
    results["empty"] = execute(Run(task=oracle, run_name="empty", out=out, data_root=data), EmptyMaskModel())
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
    # Another method's maps are not the paper's protocol: no paper value, no mark, and the row says so.
    low, high = report["results"]["maps"]["metrics"]["mae_ci95"]  # with its 95% bootstrap interval
    assert 0 <= low < 0.350 < high <= 1
    assert f"<tr><td>maps</td><td>saved predictions, not the paper&#x27;s protocol</td><td>0.350 [{low:.3f}, {high:.3f}]</td>" in text
    bsds = report["results"]["bench_png"]["metrics"]  # the only BSDS row, on sample data with 5 thresholds
    interval = {key: " [{:.3f}, {:.3f}]".format(*bsds[f"{key}_ci95"]) for key in ("ODS", "OIS", "AP")}
    cells = "".join(f"<td>{bsds[key]:.3f}{interval.get(key, '')}</td>" for key in ("ODS", "OIS", "AP", "R50"))  # a lone row: not bold
    assert f"<tr><td>bench_png</td><td>benchmark at 5 thresholds (paper: 99); sample data</td>{cells}</tr>" in text
    fixed = "oracle protocol (mask chosen with the ground truth), 2x2 point grid (paper: 32x32); ⚠ untrained weights"
    # Two runs that read the same (same model and variant) are told apart by their run names.
    assert f'<tr class="flagged"><td>Fixed disk</td><td>{fixed} [broken]</td>' in text
    assert f'<tr class="flagged"><td>Fixed disk</td><td>{fixed} [fixed]</td>' in text
    rows = [line for line in text.splitlines() if re.match(r"<tr( class=\"flagged\")?><td>(maps|Fixed disk|bench_png|"
                                                            r"gone|changed|No masks)</td>", line)]  # fmt: skip
    assert len(rows) == 7 and not [r for r in rows if "<strong>" in r or "<u>" in r]  # none comparable: no marks
    assert "<h3>gone — saved predictions" in text and "<h3>changed — saved predictions" in text  # rows stay
    # Two runs with one table label (same model and variant) are told apart by their run names.
    assert text.count(f"<h3>Fixed disk — {fixed} <code>") == 2
    assert "<th>DUTS MAE (0-1) ↓</th>" in text and "<th>ODS (0-1)</th>" in text  # units in the headers


def test_best_median_and_worst_are_ordered_by_the_score(report):
    examples = report["page"].runs["maps"]
    assert [e["data-roles"] for e in examples] == ["best", "median", "worst"]
    # Scores -MAE = -rows / HEIGHT: best sample 0, median the lower middle of 4 (sample 2), worst sample 3.
    assert [e["data-sample"] for e in examples] == [sample_stem(0), sample_stem(2), sample_stem(3)]
    assert [float(e["data-score"]) for e in examples] == pytest.approx([-r / HEIGHT for r in (0, 36, HEIGHT)])
    bsds = report["page"].runs["bench_png"]
    per_sample = report["results"]["bench_png"]["metrics"]["per_sample"]  # the bench's own per-image F
    per_image = {name: {"F": f} for name, f in zip(per_sample["id"], per_sample["F"])}
    scores = [float(e["data-score"]) for e in bsds]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    assert [per_image[e["data-sample"]]["F"] for e in bsds] == pytest.approx(scores, abs=1e-12)
    assert scores[0] == pytest.approx(max(v["F"] for v in per_image.values()))
    assert scores[-1] == pytest.approx(min(v["F"] for v in per_image.values()))


def data_uri_image(uri: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)


def test_a_run_whose_samples_all_tie_is_not_ranked(report):
    page = report["page"]
    examples = page.runs["empty"]  # no mask on any image: MAE 1 (score -1) for all four
    shown = [(e["data-roles"], e["data-sample"], float(e["data-score"])) for e in examples]
    assert shown == [("example", sample_stem(0), -1.0)]  # one example, the first sample
    assert page.rankings["empty"].startswith(f"Not ranked: all {NUM_IMAGES} scored samples of {NUM_IMAGES} have ")
    assert "no best, median or worst" in page.rankings["empty"]
    assert page.rankings["fixed"].startswith("Ranked by minus the image")  # scores that differ are ranked
    assert [e["data-roles"] for e in page.runs["fixed"]] == ["best", "median", "worst"]


def test_an_empty_prediction_is_a_no_mask_panel_in_the_page(report):
    captions = report["page"].captions["empty"]
    assert list(captions) == ["image and the 2x2 point grid", "chosen mask: none", "ground truth"]
    panel = data_uri_image(captions["chosen mask: none"])
    assert panel.mean() > 150 and panel.std() > 5  # light grey with the words on it, not a black image
    stored = decode_prediction((report["out"] / "sod" / "empty.predictions" / f"{sample_stem(0)}.npz").read_bytes())
    assert stored["chosen_mask"] is None and not np.any(stored["saliency"])  # what is drawn is indeed empty


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
    unreadable = r"<pre>Traceback .*(in decode_prediction|stored prediction cannot be read).*Error: "
    assert re.search(unreadable, report["html"], re.S)
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
    # All tie: no best, median or worst, the first sample alone as an example.
    assert pick([(0.2, 2), (0.2, 0), (0.2, 1)]) == [(("example",), 0.2, 0)]
    assert pick([(0.2, 0), (0.2, 1), (0.1, 2)]) == [(("best",), 0.2, 0), (("median",), 0.2, 1), (("worst",), 0.1, 2)]
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


def empty_prediction(name: str, sample) -> dict:
    if name in ("coco", "seginw"):
        return {"detections": []}
    if name == "davis":
        return PREDICTIONS[name](name, sample)[1]  # every frame's id map all zero
    if name == "uvo":
        return {"segmentations": [], "scores": []}
    if name == "mvtec":
        return {"anomaly_map": np.zeros((EVAL_RESOLUTION, EVAL_RESOLUTION), np.float32)}
    height, width = cv2.imread(str(sample.data.mask_path if name == "sod" else sample.data.image)).shape[:2]
    if name == "sod":
        return {"saliency": np.zeros((height, width), np.uint8), "chosen_mask": None}
    return {"edges": np.zeros((height, width), np.float32)}  # bsds


@pytest.mark.parametrize("name", [*sorted(PREDICTIONS), "sod", "bsds"])
def test_an_empty_prediction_is_drawn_as_a_no_mask_panel(name):
    task = demo_task(name)
    sample = next(s for s in task.load_dataset(SAMPLE).samples if name != "mvtec" or s.data.anomalous)
    panels = task.draw_example(sample, empty_prediction(name, sample))
    caption, panel = list(panels.items())[1]
    assert re.search(r": (none|empty)", caption), caption
    assert np.array_equal(panel, visual.no_mask(*panel.shape[:2], text="no edges" if name == "bsds" else "no mask"))
    assert panel.mean() > 150  # never a black image


def test_box_prompt_captions_name_their_source():
    task = demo_task("coco")  # the demo prompts with ground-truth boxes
    sample = task.load_dataset(SAMPLE).samples[0]
    first = next(iter(task.draw_example(sample, coco_like("coco", sample)[0])))
    assert first.startswith("image and the top ") and first.endswith(" box prompts (ground-truth boxes, oracle)")
    task.params = task.params.replace(prompts="detections", oracle=False)
    assert next(iter(task.draw_example(sample, coco_like("coco", sample)[0]))).endswith("(ViTDet-H detections)")
    assert "ViTDet-H" not in task.description.split("(the paper's")[0]


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
