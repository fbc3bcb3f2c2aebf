"""`--task sod`: the oracle selection against a transcription of SAM-Not-Perfect's code, the MAE-1 rule, the
saliency rule, the dataset layout, `--predictions`, and the engine end to end on the bundled sample data.

A fake model whose `generate` returns known masks drives the protocols; the toy model (the real SAM decoder behind
a trivial encoder) runs SAM's automatic mask generator through `evals.engine.execute`.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from PIL import Image

from evals import cli
from evals.base import DatasetLayoutError
from evals.engine import Run, execute
from evals.registry import task_class
from evals.errors import DataError, UsageError
from evals.paired import compare_runs
from evals.sod.dataset import load_sod_dataset
from evals.sod.metrics import RESULT_KEYS, score_image
from evals.sod.protocols import (
    AMG_PARAMS,
    boundary_connectivity,
    foreground_weight,
    saliency_map,
    select_best_dice_mask,
)
from evals.sod.sample_data import NUM_IMAGES, sample_stem, synthetic_pair, write_sample_dataset
from evals.sod.task import PAPER_MAE, SODTask, sod_params
from evals.store import decode_prediction
from tests.fakes import toy_prompt_model

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "datasets" / "sample"
H, W = 60, 80


# --- helpers ----------------------------------------------------------------------------------------------------
def disk(cy: int, cx: int, r: int, shape=(H, W)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def record(mask: np.ndarray, iou: float = 0.9, stability: float = 0.96) -> dict:
    return {"segmentation": mask, "predicted_iou": iou, "stability_score": stability, "area": int(mask.sum())}


class KnownMasksModel:
    """`generate` returns `records_for(image)` (known AMG records) and records the AMG parameters it was given."""

    provenance: ClassVar[dict] = {
        "model": "known", "display": "Known masks", "trained": False, "checkpoint_sha256": None,
        "fused": False, "backend": "eager",
    }  # fmt: skip

    def __init__(self, records_for):
        self.records_for = records_for  # callable: image -> list of AMG records
        self.calls: list[dict] = []

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        self.calls.append(params)
        return self.records_for(image)


def write_dataset(root: Path, masks: dict[str, np.ndarray], name: str = "DUTS-TE", images: str = "{n}-Image",
                  gts: str = "{n}-Mask") -> Path:  # fmt: skip
    """A dataset folder with one grey image per mask (image size = mask size)."""
    image_dir, mask_dir = root / name / images.format(n=name), root / name / gts.format(n=name)
    image_dir.mkdir(parents=True)
    mask_dir.mkdir(parents=True)
    for stem, mask in masks.items():
        cv2.imwrite(str(image_dir / f"{stem}.jpg"), np.full((*mask.shape, 3), 128, np.uint8))
        cv2.imwrite(str(mask_dir / f"{stem}.png"), mask)
    return root


def sod_task(*argv: str) -> SODTask:
    return SODTask(SODTask.params_from_args(cli.build_parser().parse_args(list(argv))))


# --- SAM-Not-Perfect scripts/sam_dice_f1_mae.py, transcribed (file listing sorted by index, not os.listdir) ---------
def _ref_binary_loader(path):
    with open(path, "rb") as f:
        return Image.open(f).convert("L")


def _ref_normalize_pil(pre, gt):
    gt = np.asarray(gt)
    pre = np.asarray(pre)
    gt = gt / (gt.max() + 1e-8)
    gt = np.where(gt > 0.5, 1, 0)
    max_pre = pre.max()
    min_pre = pre.min()
    if max_pre == min_pre:
        pre = pre / 255
    else:
        pre = (pre - min_pre) / (max_pre - min_pre)
    return pre, gt


def _ref_find_best_dice(prediction_folder, ground_truth_file):
    ground_truth = _ref_binary_loader(ground_truth_file)
    best_dice, best_mae, best_prediction_file = 0, 1, None
    files = sorted((f for f in os.listdir(prediction_folder) if f != "metadata.csv"), key=lambda f: int(f[:-4]))
    for prediction_file in files:
        prediction = _ref_binary_loader(os.path.join(prediction_folder, prediction_file))
        if prediction.size != ground_truth.size:
            prediction = prediction.resize(ground_truth.size, Image.BILINEAR)
        prediction1, ground_truth1 = _ref_normalize_pil(pre=prediction, gt=ground_truth)
        f_dice = (2.0 * np.sum(ground_truth1 * prediction1)) / (np.sum(ground_truth1) + np.sum(prediction1) + 1e-8)
        mae_measure = np.mean(np.abs(prediction1 - ground_truth1))
        if f_dice > best_dice:
            best_dice, best_prediction_file, best_mae = f_dice, prediction_file, mae_measure
    return best_dice, best_prediction_file, best_mae


def write_amg_folder(folder: Path, records: list[dict]) -> None:
    """SAM-Not-Perfect scripts/amg.py write_masks_to_folder: <i>.png (mask * 255) and metadata.csv."""
    folder.mkdir(parents=True)
    header = "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
    rows = [header + "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h"]
    for i, rec in enumerate(records):
        cv2.imwrite(str(folder / f"{i}.png"), rec["segmentation"].astype(np.uint8) * 255)
        rows.append(f"{i},{rec['area']},0,0,1,1,0,0,{rec['predicted_iou']},{rec['stability_score']},0,0,1,1")
    (folder / "metadata.csv").write_text("\n".join(rows))


# --- oracle -------------------------------------------------------------------------------------------------------
def test_oracle_keeps_the_best_dice_mask(tmp_path):
    gt = disk(30, 40, 15)
    root = write_dataset(tmp_path, {"a": gt.astype(np.uint8) * 255})
    masks = [disk(30, 40, 10), gt, np.ones((H, W), bool), disk(30, 46, 15)]
    model = KnownMasksModel(lambda image: [record(m) for m in masks])
    task = SODTask(sod_params("oracle"))
    sample = load_sod_dataset(root).samples[0]
    prediction = task.predict(model, sample, task.load_inputs(sample))
    assert model.calls == [AMG_PARAMS.to_dict()]  # every SamAutomaticMaskGenerator default: 32 x 32 points, 0.88, 0.95, 0.7
    assert prediction["chosen_mask"] == 1 and prediction["chosen_dice"] == pytest.approx(1.0)
    assert prediction["chosen_mae_ji2023"] == 0.0 and prediction["num_masks"] == 4
    assert prediction["saliency"].dtype == np.uint8 and np.array_equal(prediction["saliency"], gt * np.uint8(255))


def test_oracle_matches_the_reference_code_on_random_masks(tmp_path):
    """Our selection and MAE equal SAM-Not-Perfect's find_best_dice on its own files, including masks of another
    size than the ground truth (PIL bilinear resize), a 0/200 mask, value-128 pixels, and Dice ties."""
    rng = np.random.default_rng(0)
    for case in range(6):
        gt_shape = (H, W) if case % 2 == 0 else (45, 70)
        gt = disk(int(rng.integers(15, 40)), int(rng.integers(20, 50)), int(rng.integers(6, 20)), gt_shape)
        gt_mask = gt.astype(np.uint8) * (200 if case == 3 else 255)
        if case == 4:
            gt_mask[~gt] = 128  # PySODMetrics: background (> 128 fails); reference: foreground (128/255 > 0.5)
        records = [record(disk(int(rng.integers(10, 50)), int(rng.integers(10, 70)), int(rng.integers(4, 25))))
                   for _ in range(8)]  # fmt: skip
        records.append(record(records[2]["segmentation"].copy()))  # a tie: the first one wins in both
        folder = tmp_path / f"amg{case}" / "img"
        write_amg_folder(folder, records)
        gt_path = tmp_path / f"gt{case}.png"
        cv2.imwrite(str(gt_path), gt_mask)
        ref_dice, ref_file, ref_mae = _ref_find_best_dice(folder, gt_path)
        maps = [r["segmentation"].astype(np.uint8) * 255 for r in records]
        ours = select_best_dice_mask(maps, np.asarray(_ref_binary_loader(gt_path)))
        assert (None if ref_file is None else int(ref_file[:-4])) == ours.index
        assert ours.dice == ref_dice and ours.mae == ref_mae


def test_no_mask_or_no_overlap_scores_mae_one(tmp_path):
    gt = disk(30, 40, 12)
    root = write_dataset(tmp_path, {"a": gt.astype(np.uint8) * 255, "b": gt.astype(np.uint8) * 255})
    disjoint = np.zeros((H, W), bool)
    disjoint[:5, :5] = True
    per_image = {0: [], 1: [record(disjoint)]}
    calls = iter(range(2))
    model = KnownMasksModel(lambda image: per_image[next(calls)])
    run = Run(task=SODTask(sod_params("oracle")), run_name="known", out=tmp_path / "out", data_root=root)
    results = execute(run, model)
    metrics = results["metrics"]
    assert metrics["mae"] == 1.0 and metrics["mae_ji2023"] == 1.0 and metrics["images_without_mask"] == 2
    # The stored map is all zero: PySODMetrics' MAE of it is the foreground fraction, not 1.
    assert metrics["mae_pysodmetrics"] == pytest.approx(gt.mean())
    assert metrics["oracle"] is True and results["provenance"]["protocol"]["oracle"] is True
    stored = decode_prediction((tmp_path / "out" / "sod" / "known.predictions" / "b.npz").read_bytes())
    assert stored["chosen_mask"] is None and stored["num_masks"] == 1 and not stored["saliency"].any()


# --- saliency -----------------------------------------------------------------------------------------------------
def test_boundary_connectivity_and_weights():
    centre = disk(30, 40, 10)
    assert boundary_connectivity(centre) == 0 and foreground_weight(centre) == 1
    left_half = np.zeros((H, W), bool)
    left_half[:, :40] = True  # on the frame: 60 rows of column 0 + 38 more pixels of rows 0 and 59 = 138
    assert boundary_connectivity(left_half) == pytest.approx(138 / math.sqrt(60 * 40))
    assert foreground_weight(left_half) == pytest.approx(math.exp(-(138**2) / (60 * 40) / 2))
    assert foreground_weight(np.ones((H, W), bool)) < 1e-3  # the whole frame: BndCon = 276 / sqrt(4800)


def test_saliency_rule_on_known_masks(tmp_path):
    obj, part = disk(30, 40, 14), disk(30, 40, 6)
    background = ~obj
    records = [record(background, 0.95, 0.98), record(obj, 0.9, 0.96), record(part, 0.8, 0.95)]
    saliency, weights = saliency_map(records, (H, W))
    w_obj, w_part = 0.9 * 0.96, 0.8 * 0.95
    assert weights[1] == pytest.approx(w_obj) and weights[2] == pytest.approx(w_part)
    assert weights[0] == pytest.approx(0.95 * 0.98 * foreground_weight(background)) and weights[0] < 1e-3
    assert np.allclose(saliency[part], 1.0)
    assert np.allclose(saliency[obj & ~part], w_obj / (w_obj + w_part))
    assert np.allclose(saliency[background], weights[0] / (w_obj + w_part))
    empty, none = saliency_map([], (H, W))
    assert not empty.any() and none == []
    # Through the task: quantised to the mask's size, uint8, without reading the mask's pixels.
    root = write_dataset(tmp_path, {"a": obj.astype(np.uint8) * 255})
    sample = load_sod_dataset(root).samples[0]
    task = SODTask(sod_params("saliency"))
    prediction = task.predict(KnownMasksModel(lambda image: records), sample, task.load_inputs(sample))
    assert prediction["saliency"].dtype == np.uint8 and prediction["saliency"].shape == (H, W)
    assert prediction["saliency"][30, 40] == 255 and prediction["saliency"][0, 0] == 0
    assert prediction["weights"] == pytest.approx(weights, abs=1e-6)


def test_saliency_run_is_its_own_protocol(tmp_path):
    root = write_dataset(tmp_path, {"a": disk(30, 40, 14).astype(np.uint8) * 255})
    model = KnownMasksModel(lambda image: [record(disk(30, 40, 14))])
    task = sod_task("--sod-protocol", "saliency")
    results = execute(Run(task=task, run_name="known", out=tmp_path / "out", data_root=root), model)
    assert results["metrics"]["mae"] == 0.0 and results["metrics"]["protocol"] == "saliency"
    assert "oracle" not in results["metrics"]
    protocol = results["provenance"]["protocol"]
    assert protocol["oracle"] is False and protocol["reported_mae"] == "pysodmetrics"
    assert protocol["paper_comparable"] is False


# --- dataset layout -------------------------------------------------------------------------------------------------
def test_layout_errors_name_the_expected_tree(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"(?s)DUTS-TE not found.*DUTS-TE-Image/\*\.jpg.*DUTS-TE-Mask"):
        load_sod_dataset(tmp_path)
    (tmp_path / "DUTS-TE" / "DUTS-TE-Image").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="DUTS-TE has no mask folder"):
        load_sod_dataset(tmp_path)


def test_unpaired_images_and_masks_are_named(tmp_path):
    mask = disk(30, 40, 10).astype(np.uint8) * 255
    root = write_dataset(tmp_path, {"a": mask, "b": mask})
    (root / "DUTS-TE" / "DUTS-TE-Mask" / "b.png").unlink()
    cv2.imwrite(str(root / "DUTS-TE" / "DUTS-TE-Mask" / "c.png"), mask)
    with pytest.raises(DataError, match=r"(?s)1 of 2 images.*: b.*1 of 2 masks.*: c"):
        load_sod_dataset(root)


def test_other_datasets_and_layouts(tmp_path):
    mask = disk(30, 40, 10).astype(np.uint8) * 255
    root = write_dataset(tmp_path, {"x": mask, "y": mask}, name="ECSSD", images="Image", gts="GT")
    dataset = load_sod_dataset(root, "ECSSD")
    assert dataset.name == "ECSSD" and [s.id for s in dataset.samples] == ["x", "y"] and len(dataset.files) == 4
    assert load_sod_dataset(root / "ECSSD", "ECSSD").root == root / "ECSSD"  # the data root itself
    with pytest.raises(DatasetLayoutError, match="pass --sod-dataset ECSSD"):
        load_sod_dataset(root / "ECSSD")
    assert sod_task("--sod-dataset", "ECSSD").load_dataset(root).name == "ECSSD"


# --- --predictions ------------------------------------------------------------------------------------------------
def test_external_saliency_maps(tmp_path):
    root = write_sample_dataset(tmp_path / "data").parent
    maps = tmp_path / "maps"
    maps.mkdir()
    for index in range(NUM_IMAGES):
        cv2.imwrite(str(maps / f"{sample_stem(index)}.png"), synthetic_pair(index)[1])
    task = sod_task("--predictions", str(maps))
    assert task.params.protocol == "external" and task.params.oracle is False
    run = Run(task=task, run_name="gt", out=tmp_path / "out", data_root=root, external_predictions=maps)
    metrics = execute(run, None)["metrics"]
    assert metrics["mae"] == 0.0 and metrics["max_f"] == pytest.approx(1.0)
    assert metrics["s_measure"] == pytest.approx(1.0)
    assert set(RESULT_KEYS) - {"mae"} <= set(metrics) and metrics["num_images"] == NUM_IMAGES
    cv2.imwrite(str(maps / f"{sample_stem(0)}.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(DataError, match="10x10"):
        execute(run, None)
    (maps / f"{sample_stem(0)}.png").unlink()
    with pytest.raises(DataError, match=sample_stem(0)):
        execute(run, None)


def test_reference_amg_output_folders_with_the_oracle(tmp_path):
    gt = disk(30, 40, 15)
    root = write_dataset(tmp_path, {"a": gt.astype(np.uint8) * 255})
    write_amg_folder(tmp_path / "amg" / "a", [record(disk(30, 40, 10)), record(gt), record(~gt)])
    task = sod_task("--predictions", str(tmp_path / "amg"), "--sod-protocol", "oracle")
    assert task.params.amg is None and task.params.paper_comparable is False
    results = execute(Run(task=task, run_name="ref", out=tmp_path / "out", data_root=root,
                          external_predictions=tmp_path / "amg"), None)  # fmt: skip
    assert results["metrics"]["mae"] == 0.0 and results["metrics"]["mean_best_dice"] == pytest.approx(1.0)
    saliency = sod_task("--predictions", str(tmp_path / "amg"), "--sod-protocol", "saliency")
    prediction = saliency.read_external_prediction(tmp_path / "amg", load_sod_dataset(root).samples[0])
    assert prediction["weights"][1] == pytest.approx(0.9 * 0.96) and prediction["saliency"][30, 40] == 255


# --- metric details -----------------------------------------------------------------------------------------------
def test_nan_s_measure_warns_and_is_listed(tmp_path):
    edge = np.zeros((H, W), np.uint8)
    edge[-1, 10:30] = 255  # foreground centroid on the last row: an empty quadrant, S-measure NaN
    assert math.isnan(score_image(edge, edge).s_measure)
    root = write_dataset(tmp_path, {"edge": edge})
    model = KnownMasksModel(lambda image: [record(edge > 0)])
    with pytest.warns(RuntimeWarning, match="S-measure is NaN for 1 image"):
        metrics = execute(Run(task=SODTask(), run_name="known", out=tmp_path / "out", data_root=root), model)["metrics"]
    assert metrics["s_measure_nan_images"] == ["edge"] and metrics["mae"] == 0.0


def test_params_and_column():
    default = sod_task()
    assert default.params.protocol == "oracle" and default.params.amg == AMG_PARAMS
    assert default.params.paper_comparable is True and "ORACLE" in default.protocol_notes()["note"]
    assert default.params == SODTask().params == sod_params()  # the defaults are the paper's protocol
    quick = sod_task("--sod-amg-points-per-side", "4")
    assert quick.params.amg.points_per_side == 4 and quick.params.paper_comparable is False
    with pytest.raises(UsageError, match=r"AmgParams: unknown parameter 'points'; allowed: points_per_side, "):
        sod_params(amg={"points": 3})
    (column,) = task_class("sod").columns
    assert column.key == "mae" and column.higher_is_better is False and column.digits == 3 and column.paper == PAPER_MAE
    assert column.section == "Salient object segmentation (DUTS-TE) and anomaly segmentation (MVTec AD)"


# --- bundled sample data, engine end to end --------------------------------------------------------------------------
def test_bundled_sample_data_is_the_generators():
    dataset = load_sod_dataset(SAMPLE_DATA)
    assert [s.id for s in dataset.samples] == [sample_stem(i) for i in range(NUM_IMAGES)]
    for index, sample in enumerate(dataset.samples):
        image, mask = synthetic_pair(index)
        assert np.array_equal(cv2.imread(str(sample.data.mask_path), cv2.IMREAD_GRAYSCALE), mask)
        bundled = cv2.cvtColor(cv2.imread(str(sample.data.image_path)), cv2.COLOR_BGR2RGB)
        assert np.abs(bundled.astype(int) - image).mean() < 8  # JPEG of per-pixel noise
        assert np.abs(bundled.mean(axis=(0, 1)) - image.mean(axis=(0, 1))).max() < 1


def test_engine_end_to_end_with_the_toy_model(tmp_path):
    """SAM's real AMG (toy encoder, 2 x 2 points, thresholds lowered so that masks survive) on the sample data."""
    quick_amg = {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    task = SODTask(sod_params("oracle", amg=quick_amg))
    run = Run(task=task, run_name="toy", out=tmp_path, data_root=SAMPLE_DATA)
    results = execute(run, toy_prompt_model())
    metrics = results["metrics"]
    assert set(RESULT_KEYS) <= set(metrics) and metrics["num_images"] == NUM_IMAGES
    assert 0 <= metrics["mae"] <= 1 and metrics["mae"] == metrics["mae_ji2023"] and metrics["oracle"] is True
    written = json.loads((tmp_path / "sod" / "toy.json").read_text())
    assert written["metrics"]["mae"] == metrics["mae"]
    assert written["provenance"]["protocol"]["amg"]["points_per_side"] == 2
    stored = decode_prediction((tmp_path / "sod" / "toy.predictions" / f"{sample_stem(0)}.npz").read_bytes())
    assert stored["saliency"].dtype == np.uint8 and stored["saliency"].shape == (120, 160)
    assert stored["num_masks"] >= 1
    store = tmp_path / "sod" / "toy.predictions"
    stored_all = [decode_prediction(path.read_bytes()) for path in sorted(store.glob("*.npz"))]
    per_image = [p["chosen_mae_ji2023"] if p["chosen_mask"] is not None else 1.0 for p in stored_all]
    assert metrics["mae"] == pytest.approx(np.mean(per_image))  # the metric re-derives it from the stored maps
    per_sample = metrics["per_sample"]  # each image's MAE, its own group: the interval and --compare-runs' pairs
    assert per_sample["id"] == per_sample["group"] == [p.stem for p in sorted(store.glob("*.npz"))]
    assert per_sample["mae"] == pytest.approx(per_image)
    low, high = metrics["mae_ci95"]
    assert min(per_image) <= low <= metrics["mae"] <= high <= max(per_image)
    table = compare_runs(tmp_path / "sod" / "toy.json", tmp_path / "sod" / "toy.json")  # 0-1 scores to 4 digits
    assert f"| mae | {metrics['mae']:.4f} | {metrics['mae']:.4f} | +0.0000 | [+0.0000, +0.0000] |" in table
    resumed = execute(run, toy_prompt_model())  # every prediction comes from the store
    assert resumed["provenance"]["timings"]["resumed_samples"] == NUM_IMAGES
    assert resumed["metrics"] == metrics
