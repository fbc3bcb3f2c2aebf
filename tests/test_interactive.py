"""The interactive task: the RITM clicker on hand-solved masks, the metric and its intervals, prompt files, the task
end to end through the engine, and the `efficientvit` protocol against EfficientViT-SAM's own script."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from evals import cli
from evals.base import Sample
from evals.bootstrap import mean_interval, paired_difference
from evals.engine import Run, execute
from evals.errors import DataError
from evals.interactive.clicker import Click, Clicker
from evals.interactive.efficientvit import iou_percent, run_efficientvit
from evals.interactive.evaluator import PromptIoUEvaluator, number_of_clicks
from evals.interactive.instances import read_instances
from evals.interactive.prompt_file import read_prompt_file
from evals.interactive.task import InteractiveTask
from evals.protocols.coco_format.dataset import read_coco_images, read_rgb
from evals.report.examples import run_examples
from models.prompt_model import MaskPrediction

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "datasets" / "sample"
REFERENCE = Path(__file__).parent / "data" / "interactive" / "efficientvit" / "reference.json"
COCO_TINY = Path(__file__).parent / "data" / "coco_tiny_val2017" / "annotations" / "instances_val2017.json"
SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco_tiny_val2017" / "val2017"


# --------------------------------------------------------------------------------------------------- the clicker
def test_first_click_is_the_centre_of_a_square():
    truth = np.zeros((11, 11), bool)
    truth[2:9, 2:9] = True  # 7 x 7: its centre (5, 5) is farthest from the boundary
    assert Clicker(truth).next_click(np.zeros_like(truth)) == Click(5, 5, True)


def test_first_click_of_a_ring_lies_in_the_ring_and_the_border_is_boundary():
    yy, xx = np.mgrid[:41, :41]
    radius = np.hypot(yy - 20, xx - 20)
    ring = (radius >= 8) & (radius <= 16)
    click = Clicker(ring).next_click(np.zeros_like(ring))
    assert ring[click.y, click.x] and click.positive
    # the whole image: the padded border is its boundary, so the middle row wins; along it x = 2..6 are all 3 from
    # the border, and the first of them is taken
    full = np.ones((5, 9), bool)
    assert Clicker(full).next_click(np.zeros_like(full)) == Click(2, 2, True)


def test_a_hole_is_not_clicked_and_ties_take_the_first_pixel_in_row_major_order():
    truth = np.zeros((9, 15), bool)
    truth[1:8, 1:14] = True
    truth[4, 7] = False  # a hole at the centre: the farthest pixels are now either side of it
    click = Clicker(truth).next_click(np.zeros_like(truth))
    assert truth[click.y, click.x]
    two = np.zeros((5, 11), bool)
    two[1:4, 1:4] = two[1:4, 7:10] = True  # two equal squares: the first one's centre, row-major
    assert Clicker(two).next_click(np.zeros_like(two)) == Click(2, 2, True)


def test_the_larger_error_gives_the_click_and_its_sign():
    truth = np.zeros((20, 20), bool)
    truth[5:10, 5:10] = True
    prediction = np.zeros_like(truth)
    prediction[5:10, 5:10] = True
    prediction[10:20, 0:20] = True  # a large false positive: a negative click inside it
    clicker = Clicker(truth)
    click = clicker.next_click(prediction)
    assert not click.positive and prediction[click.y, click.x] and not truth[click.y, click.x]
    # a perfect prediction: every distance is 0, clicked pixels included, so the tie gives a negative click at
    # pixel (0, 0), as often as it recurs (the reference's behaviour: its maximum is 0 wherever it looks)
    clicker = Clicker(truth)
    assert clicker.next_click(truth) == Click(0, 0, False) and clicker.next_click(truth) == Click(0, 0, False)


def test_iou_is_the_references_formula():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True
    b[1:3] = True
    assert iou_percent(a, b) == pytest.approx(100 * 4 / 12) and iou_percent(a, np.zeros_like(a)) == 0.0
    assert iou_percent(np.zeros_like(a), np.zeros_like(a)) == 0.0  # empty union: 0 / 1e-7


# ---------------------------------------------------------------------------------------------------- the metric
def records(image_id, areas, box, clicks):
    sample = Sample(str(image_id), type("A", (), {"image": type("I", (), {"image_id": image_id})()})())
    objects = [{"annotation_id": i, "area": a, "box_iou": b, "ious": c} for i, (a, b, c) in enumerate(zip(areas, box, clicks))]
    return sample, {"objects": objects}


def test_mIoU_by_size_with_the_references_inclusive_bounds():
    evaluator = PromptIoUEvaluator()
    evaluator.reset()
    evaluator.process(*records(1, [100, 1024, 5000], [10.0, 20.0, 30.0], [[1, 2], [3, 4], [5, 6]]))
    evaluator.process(*records(2, [9216, 20000], [40.0, 50.0], [[7, 8], [9, 10]]))
    m = evaluator.evaluate()
    assert m["box_mIoU"] == 30.0 and m["click1_mIoU"] == 5.0 and m["click2_mIoU"] == 6.0
    assert m["box_mIoU_small"] == 15.0  # 100 and exactly 32^2
    assert m["box_mIoU_medium"] == 30.0  # 1024, 5000 and exactly 96^2
    assert m["box_mIoU_large"] == 45.0  # 9216 and 20000
    assert m["objects"] == 5 and m["images"] == 2 and "NoC90" not in m  # NoC needs 20 clicks
    assert m["per_sample"]["id"] == ["1/0", "1/1", "1/2", "2/0", "2/1"] and m["per_sample"]["group"] == [1, 1, 1, 2, 2]
    low, high = m["box_mIoU_ci95"]
    assert low <= m["box_mIoU"] <= high


def test_number_of_clicks_as_ritm():
    ious = np.array([[50, 86, 91], [95, 95, 95], [10, 20, 30]], dtype=float)
    assert number_of_clicks(ious, 85, max_clicks=20).tolist() == [2, 1, 20]
    assert number_of_clicks(ious, 90, max_clicks=20).tolist() == [3, 1, 20]


def test_bootstrap_resamples_groups_and_is_reproducible():
    values = [1.0, 1.0, 5.0, 5.0]
    assert mean_interval(values, [0, 0, 0, 0]) == (3.0, 3.0)  # one group: every resample is the whole
    interval = mean_interval(values, [0, 0, 1, 1])
    assert interval == mean_interval(values, [0, 0, 1, 1]) and interval[0] < 3.0 < interval[1]
    assert interval[0] >= 1.0 and interval[1] <= 5.0
    same = paired_difference(values, values, [0, 0, 1, 1])
    assert same["difference"] == 0.0 and (same["low"], same["high"]) == (0.0, 0.0)
    shifted = paired_difference(values, [v + 2 for v in values], [0, 0, 1, 1])
    assert shifted["difference"] == 2.0 and (shifted["low"], shifted["high"]) == (2.0, 2.0)
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0], [0])


# ----------------------------------------------------------------------------------- the task, with a cheap model
class DiskModel:
    """Answers prompts without a network: each positive click paints a disk, each negative one erases a smaller
    disk, a box fills itself; multimask output gives three radii with the middle one most confident."""

    provenance = {"model": "disks", "display": "Disks", "trained": False, "checkpoint_sha256": None, "fused": False,
                  "backend": "eager"}  # fmt: skip

    def __init__(self, radii=(6, 14, 30)):
        self.radii = radii
        self.calls = []

    def set_image(self, image):
        self.size = image.shape[:2]

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
        h, w = self.size
        yy, xx = np.mgrid[:h, :w]
        count = len(boxes) if boxes is not None else len(point_coords)
        self.calls.append(count)
        logits = -np.ones((count, 3, h, w), np.float32)
        for b in range(count):
            for m, radius in enumerate(self.radii):
                if boxes is not None:
                    x0, y0, x1, y1 = boxes[b]
                    logits[b, m, int(y0) : int(y1) + 1, int(x0) : int(x1) + 1] = 1
                    continue
                for (x, y), label in zip(point_coords[b], point_labels[b]):
                    disk = (yy - y) ** 2 + (xx - x) ** 2 <= (radius if label else radius / 2) ** 2
                    logits[b, m][disk] = 1 if label else -1
        iou = torch.tensor([[0.3, 0.9, 0.5]]).repeat(count, 1)
        return MaskPrediction(torch.from_numpy(logits), iou, torch.zeros(count, 3, 256, 256))


def interactive_task(*argv: str) -> InteractiveTask:
    args = cli.build_parser().parse_args(["--task", "interactive", *argv])
    return InteractiveTask(InteractiveTask.params_from_args(args))


def run(task, out: Path, model, name="disks") -> dict:
    return execute(Run(task=task, run_name=name, out=out, data_root=SAMPLE_DATA), model)


def test_sample_data_end_to_end_then_the_same_prompts_from_a_file(tmp_path, capsys):
    prompts = tmp_path / "prompts.json"
    model = DiskModel()
    first = run(interactive_task("--clicks", "3", "--export-prompts", str(prompts)), tmp_path / "a", model)
    m = first["metrics"]
    assert m["images"] == 5 and m["objects"] == 21  # every annotation of the sample has area >= 1
    assert sum(model.calls) == 21 * 4  # the box and 3 rounds of clicks, for every object
    assert len(model.calls) == 5 * 4  # one decoder call per image per round: objects are batched
    assert all(0 <= m[k] <= 100 for k in ("box_mIoU", "click1_mIoU", "click3_mIoU"))
    assert m["click3_mIoU"] != m["click1_mIoU"]  # later clicks change the masks
    made_by, frozen = read_prompt_file(prompts)
    assert made_by["model"] == "disks" and made_by["clicks"] == 3
    assert sum(len(objects) for objects in frozen.values()) == 21
    assert all(len(p.clicks) == 3 and p.box is not None for objects in frozen.values() for p in objects.values())
    # re-scoring the same model on its own prompt file gives identical numbers
    again = run(interactive_task("--clicks", "3", "--prompts", str(prompts)), tmp_path / "b", DiskModel())
    assert again["metrics"]["per_sample"] == m["per_sample"]
    assert again["run"] == "disks" and again["variant"] == "efficientvit.frozen-prompts"
    # another model on the same prompts: the same clicks are given, so they are in its stored predictions too
    other = run(interactive_task("--clicks", "3", "--prompts", str(prompts)), tmp_path / "c", DiskModel((3, 9, 50)))
    assert other["metrics"]["per_sample"]["id"] == m["per_sample"]["id"]
    assert other["metrics"]["per_sample"]["click3_iou"] != m["per_sample"]["click3_iou"]
    resumed = run(interactive_task("--clicks", "3", "--prompts", str(prompts)), tmp_path / "b", DiskModel())
    assert resumed["provenance"]["timings"]["resumed_samples"] == 5
    # the paired comparison of the two models on the same objects
    a, c = (tmp_path / run / "interactive" / "disks.json" for run in "ac")
    assert cli.main(["--compare-runs", str(a), str(c)]) == 0
    table = capsys.readouterr().out
    assert "paired on 21 samples (5 images)" in table
    difference = np.mean(other["metrics"]["per_sample"]["click3_iou"]) - np.mean(m["per_sample"]["click3_iou"])
    assert f"| click3_iou | {m['click3_mIoU']:.2f} | " in table and f"| {difference:+.2f} | [" in table
    assert cli.main(["--compare-runs", str(a), str(tmp_path / "missing.json")]) == 2


def test_a_bad_prompt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"format": "samzero-interactive-prompts", "version": 1,
                               "images": {"1": {"2": {"box": None, "clicks": [[1, 2, 3]]}}}}))  # fmt: skip
    with pytest.raises(DataError, match=r"p\.json: images/1/2: clicks"):
        read_prompt_file(bad)
    bad.write_text("{}")
    with pytest.raises(DataError, match="not a prompt file"):
        read_prompt_file(bad)
    short = tmp_path / "short.json"
    run(interactive_task("--clicks", "1", "--export-prompts", str(short), "--prompt-types", "point"), tmp_path / "a",
        DiskModel())  # fmt: skip
    with pytest.raises(ValueError, match="gives 1 clicks"):
        run(interactive_task("--clicks", "2", "--prompts", str(short)), tmp_path / "b", DiskModel())


def test_the_report_ranks_and_draws_objects_not_images(tmp_path):
    out = tmp_path / "a"
    result = run(interactive_task("--clicks", "2"), out, DiskModel())
    found = run_examples("interactive", "disks", result, out, SAMPLE_DATA, None)
    last = dict(zip(result["metrics"]["per_sample"]["id"], result["metrics"]["per_sample"]["click2_iou"]))
    assert found.ranked == len(last) == 21 and found.considered == 5  # 21 objects of 5 images
    ordered = sorted(last.values(), reverse=True)
    assert [e.roles for e in found.examples] == [("best",), ("median",), ("worst",)]
    assert [e.score for e in found.examples] == pytest.approx([ordered[0], ordered[10], ordered[-1]], abs=1e-6)
    assert all(last[e.sample_id] == pytest.approx(e.score, abs=1e-6) for e in found.examples)  # "<image>/<object>"
    worst = found.examples[-1]
    captions = list(worst.panels)
    assert captions[0].startswith(f"after 2 clicks: IoU {worst.score:.1f}%") and captions[1].startswith("from the box: IoU")
    assert captions[2].startswith("ground truth (annotation " + worst.sample_id.split("/")[1])
    shapes = {panel.shape for panel in worst.panels.values()}  # one window around the object, for every panel
    assert len(shapes) == 1 and next(iter(shapes))[2] == 3


def test_another_methods_saved_masks_for_a_prompt_file(tmp_path, capsys):
    """--predictions: masks made elsewhere for a frozen prompt file's prompts, in any COCO segmentation form."""
    prompts = tmp_path / "prompts.json"
    run(interactive_task("--clicks", "2", "--export-prompts", str(prompts)), tmp_path / "a", DiskModel())
    annotation_file = SAMPLE_DATA / "coco" / "annotations" / "instances_val2017.json"
    content = json.loads(annotation_file.read_text())
    sizes = {image["id"]: (image["height"], image["width"]) for image in content["images"]}
    masks = {}
    for ann in content["annotations"]:
        height, width = sizes[ann["image_id"]]
        empty = {"size": [height, width], "counts": [height * width]}  # uncompressed RLE, all background
        masks.setdefault(str(ann["image_id"]), {})[str(ann["id"])] = {"box": ann["segmentation"],
                                                                      "clicks": [empty, ann["segmentation"]]}
    saved = tmp_path / "masks.json"
    saved.write_text(json.dumps({"format": "samzero-interactive-masks", "version": 1, "images": masks}))
    argv = ["--task", "interactive", "--model", "theirs", "--clicks", "2", "--data-root", str(SAMPLE_DATA),
            "--out", str(tmp_path / "out"), "--prompts", str(prompts)]  # fmt: skip
    assert cli.main([*argv, "--predictions", str(saved)]) == 0
    result = json.loads(next((tmp_path / "out" / "interactive").glob("theirs*.json")).read_text())
    metrics = result["metrics"]
    assert metrics["objects"] == 21 and result["provenance"]["model"]["predictions"] == str(saved)
    assert (metrics["box_mIoU"], metrics["click1_mIoU"], metrics["click2_mIoU"]) == pytest.approx((100, 0, 100), abs=1e-4)
    del masks[next(iter(masks))]  # an image's objects missing: named, rc 2
    saved.write_text(json.dumps({"format": "samzero-interactive-masks", "version": 1, "images": masks}))
    capsys.readouterr()
    assert cli.main([*argv, "--out", str(tmp_path / "out2"), "--predictions", str(saved)]) == 2
    error = capsys.readouterr().err
    assert "masks.json: image " in error and "not in the mask file" in error
    assert cli.main([*argv[:-2], "--out", str(tmp_path / "out3"), "--predictions", str(saved)]) == 2  # no --prompts
    assert "give the one they were made from with --prompts FILE" in capsys.readouterr().err


# ------------------------------------------------------------------- parity with EfficientViT-SAM's own script
def reference_run(objects_limit: int | None, batch: int):
    """Our `efficientvit` protocol on the reference's images with the parity EfficientViT-SAM-L0 (encoder in
    float64, as the reference driver ran the official model)."""
    from tests.test_parity import parity_prompt_model

    if not SHARED_IMAGES.is_dir():
        pytest.skip(f"needs the real COCO images of ../shared ({SHARED_IMAGES})")
    reference = json.loads(REFERENCE.read_text())
    annotated = {a.image.image_id: a for a in read_instances(COCO_TINY, read_coco_images(COCO_TINY, SHARED_IMAGES))}
    model = parity_prompt_model("efficientvit_sam_l0", float64=True)
    wanted = [tuple(o) for o in reference["objects"]][:objects_limit]
    records = []
    for image_id in reference["images"]:
        ids = {a for i, a in wanted if i == image_id}
        if not ids:
            continue
        a = annotated[image_id]
        with torch.inference_mode():
            model.set_image(read_rgb(a.image))
        instances = [instance for instance in a.instances if instance.annotation_id in ids]
        records += run_efficientvit(model, instances, a.image.height, a.image.width, clicks=5, batch=batch)
    return reference, records, len(wanted)


def assert_equal_to_reference(reference, records, count, tolerance):
    assert [r["annotation_id"] for r in records] == [o[1] for o in reference["objects"][:count]]
    assert [r["clicks"] for r in records] == reference["clicks"][:count]
    np.testing.assert_allclose([r["box_iou"] for r in records], reference["box_iou"][:count], rtol=0, atol=tolerance)
    ious = np.array([r["ious"] for r in records])
    np.testing.assert_allclose(ious, reference["click_ious"][:count], rtol=0, atol=tolerance)
    for k in (1, 3, 5):  # the script's own 1-, 3- and 5-click runs
        np.testing.assert_allclose(ious[:, k - 1], reference[f"point{k}_iou"][:count], rtol=0, atol=tolerance)


def test_efficientvit_protocol_equals_the_reference_script_on_real_coco():
    """The first image's first 3 objects, one object per decoder call as the script: clicks and IoUs identical."""
    assert_equal_to_reference(*reference_run(objects_limit=3, batch=1), tolerance=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("batch, tolerance", [(1, 1e-6), (16, 1e-4)])
def test_efficientvit_protocol_equals_the_reference_script_on_every_recorded_object(batch, tolerance):
    """All recorded objects (2 images, 42 objects, crowd regions included). Batched decoding changes only the
    summation order inside the decoder: a few pixels of a mask may flip, so the IoUs agree to 1e-4 (in %) there
    and the clicks still coincide."""
    assert_equal_to_reference(*reference_run(objects_limit=None, batch=batch), tolerance=tolerance)


def test_lvis_layout_and_any_coco_format_set(tmp_path):
    """LVIS names its images by coco_url (and has no iscrowd); any COCO-format file reads with --annotations."""
    coco = json.loads((SAMPLE_DATA / "coco" / "annotations" / "instances_val2017.json").read_text())
    lvis = {"images": [{k: v for k, v in image.items() if k != "file_name"} | {
                "coco_url": f"http://images.cocodataset.org/val2017/{image['file_name']}"} for image in coco["images"]],
            "annotations": [{k: v for k, v in a.items() if k != "iscrowd"} for a in coco["annotations"]],
            "categories": coco["categories"]}  # fmt: skip
    (tmp_path / "root" / "lvis").mkdir(parents=True)
    (tmp_path / "root" / "lvis" / "lvis_v1_val.json").write_text(json.dumps(lvis))
    (tmp_path / "root" / "coco").mkdir()
    (tmp_path / "root" / "coco" / "val2017").symlink_to(SAMPLE_DATA / "coco" / "val2017")
    task = interactive_task("--interactive-data", "lvis", "--clicks", "1")
    lvis_run = execute(Run(task=task, run_name="disks", out=tmp_path / "out", data_root=tmp_path / "root"), DiskModel())
    assert lvis_run["provenance"]["dataset"]["name"] == "LVIS" and lvis_run["variant"] == "efficientvit.lvis"
    custom = interactive_task("--clicks", "1", "--annotations", str(SAMPLE_DATA / "coco" / "annotations" / "instances_val2017.json"),
                              "--images", str(SAMPLE_DATA / "coco" / "val2017"))  # fmt: skip
    custom_run = execute(Run(task=custom, run_name="disks", out=tmp_path / "out2", data_root=tmp_path), DiskModel())
    assert custom_run["metrics"]["per_sample"] == lvis_run["metrics"]["per_sample"]
    with pytest.raises(Exception, match="LVIS v1 val not found"):
        execute(Run(task=task, run_name="disks", out=tmp_path / "out3", data_root=tmp_path / "nowhere"), DiskModel())


@pytest.mark.slow
def test_edgesam_protocol_through_the_task_resumes_and_freezes(tmp_path):
    """`--interactive-protocol edgesam` on the sample with SAM's decoder behind a toy encoder: every non-crowd object
    gets the mask-centre click and one random refinement click, seeded per image, so a second run (and a run from
    its own prompt file) gives the same numbers."""
    from tests.fakes import toy_prompt_model

    prompts = tmp_path / "prompts.json"
    argv = ("--interactive-protocol", "edgesam", "--prompt-types", "point", "--edgesam-refine-iter", "2")
    first = run(interactive_task(*argv, "--export-prompts", str(prompts)), tmp_path / "a", toy_prompt_model())
    assert first["variant"] == "edgesam-mask-center-1-seed0" and first["metrics"]["objects"] == 21
    assert "click2_mIoU" in first["metrics"] and "box_mIoU" not in first["metrics"]
    again = run(interactive_task(*argv), tmp_path / "b", toy_prompt_model())
    assert again["metrics"]["per_sample"] == first["metrics"]["per_sample"]
    frozen = run(interactive_task(*argv, "--prompts", str(prompts)), tmp_path / "c", toy_prompt_model())
    assert frozen["metrics"]["per_sample"] == first["metrics"]["per_sample"]
    with pytest.raises(Exception, match="not both"):
        interactive_task("--interactive-protocol", "edgesam")
