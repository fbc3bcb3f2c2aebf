"""`--task mvtec`: SAA+'s box filter, rescoring and map against transcriptions of its code
(caoyunkang/Segment-Any-Anomaly@SAA-plus, SAA/model.py), the dataset layout, the prompt cache, external maps, and
every stage end to end: a generated MVTec-layout dataset, a tiny random Grounding DINO through `transformers`
(untrained_detector.py: tiny Swin, tiny BERT, a locally written vocabulary), a small random ResNet in place of
WideResNet-50-2 (same feature interface: layer1-3; the full network's 69 M parameters are checked once, on a
small input, in test_wide_resnet_feature_interface), and the toy SAM (tests.fakes) through evals.engine.execute.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from torchvision.models.resnet import BasicBlock, ResNet

from evals import cli
from evals.base import DatasetLayoutError
from evals.engine import Run, execute
from evals.errors import DataError, UsageError
from evals.mvtec.anomaly_map import anomaly_map, sam_input
from evals.mvtec.categories import CATEGORIES, TEST_IMAGES, TOTAL_TEST_IMAGES, parse_categories
from evals.mvtec.dataset import load_mvtec_dataset, read_mask
from evals.mvtec.detect import detect_mvtec
from evals.mvtec.grounding import CaptionGrounding, GroundingResult, normalise_caption
from evals.mvtec.prompt_cache import PromptCache, PromptCacheError
from evals.mvtec.proposals import defect_max_area, filter_boxes, pool_proposals
from evals.mvtec.saa_prompts import category_prompts
from evals.mvtec.saliency import (
    SaliencyFeatures,
    known_saliency_weights,
    saliency_heatmap,
    self_similarity_map,
    wide_resnet50_2_features,
)
from evals.mvtec.sample_data import SAMPLE_LAYOUT, synthetic_image, write_dataset
from evals.mvtec.task import PAPER_F1_MAX, SAMPLE_PROMPTS, MVTecTask, mvtec_params
from evals.mvtec.untrained_detector import write_untrained_detector
from evals.registry import task_class
from evals.store import decode_prediction
from models.prompt_model import MaskPrediction
from tests.fakes import toy_prompt_model

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "datasets" / "sample"
PIPELINE_LAYOUT = {"tile": {"good": 1, "crack": 1}, "metal_nut": {"good": 1, "scratch": 1}}
SMALL_SALIENCY_INPUT = 128  # the stand-in backbone's input (SAA+: 256)


# --- transcriptions of SAA/model.py -----------------------------------------------------------------------------------
def saa_bbox_suppression(boxes, logits, input_ids, filtered_phrase, box_thr, text_thr, max_area, min_area, decode):
    """SAA/model.py bbox_suppression on GroundingDINO's 256-wide token probabilities."""
    areas = boxes[:, 2] * boxes[:, 3]
    mask = torch.bitwise_and(torch.bitwise_and(logits.max(dim=1)[0] > box_thr, areas < max_area), areas > min_area)
    if torch.sum(mask) == 0:
        return None, None, None
    kept_boxes, kept_logits, phrases = [], [], []
    for logit, box in zip(logits[mask], boxes[mask]):
        phrase = decode([input_ids[i] for i in (logit > text_thr).nonzero(as_tuple=True)[0].tolist()])
        if phrase.count(filtered_phrase) > 0:
            continue
        kept_boxes.append(box)
        kept_logits.append(logit.max().item())
        phrases.append(phrase)
    if not kept_boxes:
        return None, None, None
    return torch.stack(kept_boxes), kept_logits, phrases


def saa_pixel_boxes(boxes, height, width):
    boxes = boxes.clone()
    for i in range(boxes.size(0)):
        boxes[i] = boxes[i] * torch.Tensor([width, height, width, height])
        boxes[i][:2] -= boxes[i][2:] / 2
        boxes[i][2:] += boxes[i][:2]
    return boxes


def saa_map(masks, logits, saliency, k_mask, out_size=400):
    """SAA/model.py rescore + confidence_prompting."""
    rescores = []
    for mask, logit in zip(masks, logits):
        # SAA+ ran on NumPy 1.x, where 3 x a float32 scalar is float64 (NumPy 2 keeps float32)
        similarity = 1.0 if saliency[mask].size == 0 else np.exp(3 * np.float64(saliency[mask].mean()))
        rescores.append(logit * similarity)
    rescores = np.stack(rescores, axis=0)
    chosen = rescores.argsort()[-k_mask:]
    anomaly = np.zeros(masks[0].shape)
    weight = np.ones(masks[0].shape)
    for index in chosen:
        anomaly += masks[index] * rescores[index]
        weight += masks[index] * 1.0
    anomaly[weight > 0] /= weight[weight > 0]
    return cv2.resize(anomaly, (out_size, out_size))


WORDS = {101: "[CLS]", 102: "[SEP]", 1012: ".", 7: "defect", 8: "on", 9: "tile", 10: "crack"}


def fake_decode(ids: list[int]) -> str:
    return " ".join(WORDS[i] for i in ids)


def random_result(rng: np.random.Generator, queries: int = 40) -> GroundingResult:
    input_ids = [101, 7, 8, 9, 1012, 102]
    boxes = torch.tensor(rng.uniform(0.02, 0.9, size=(queries, 4)), dtype=torch.float32)
    probabilities = torch.tensor(rng.uniform(0, 0.3, size=(queries, len(input_ids))), dtype=torch.float32)
    return GroundingResult("defect on tile.", input_ids, boxes, probabilities)


# --- proposals --------------------------------------------------------------------------------------------------------
def test_box_filter_matches_saa():
    rng = np.random.default_rng(0)
    for case in range(30):
        result = random_result(rng)
        padded = torch.zeros((len(result.boxes), 256))
        padded[:, : result.probabilities.shape[1]] = result.probabilities  # GroundingDINO's 256-wide logits
        max_area = torch.tensor(float(rng.uniform(0.05, 1.0))) if case % 2 else 0.9
        ours = filter_boxes(result, "tile", 0.1, 0.1, max_area, 0.0, fake_decode)
        reference = saa_bbox_suppression(result.boxes, padded, result.input_ids, "tile", 0.1, 0.1, max_area, 0.0,
                                         fake_decode)  # fmt: skip
        if reference[0] is None:
            assert len(ours[0]) == 0 and ours[1] == [] and ours[2] == []
            continue
        assert torch.equal(ours[0], reference[0]) and ours[1] == reference[1] and ours[2] == reference[2]
        assert all("tile" not in phrase for phrase in ours[2])


def test_pooled_proposals_area_and_pixel_corners():
    rng = np.random.default_rng(1)
    results = [random_result(rng), random_result(rng)]
    pooled = pool_proposals(results, ["tile", "PlaceHolder"], 0.1, 0.1, torch.tensor(1.0), 0.0, fake_decode)
    parts = [saa_bbox_suppression(r.boxes, r.probabilities, r.input_ids, f, 0.1, 0.1, torch.tensor(1.0), 0.0,
                                  fake_decode) for r, f in zip(results, ["tile", "PlaceHolder"])]  # fmt: skip
    reference = torch.cat([p[0] for p in parts if p[0] is not None])
    assert torch.equal(pooled.boxes, reference)
    assert pooled.prompt_indices == [0] * len(parts[0][1] or []) + [1] * len(parts[1][1] or [])
    assert float(pooled.largest_area) == float((reference[:, 2] * reference[:, 3]).max())
    assert torch.equal(pooled.pixel_corners(90, 120), saa_pixel_boxes(reference, 90, 120))
    assert float(defect_max_area(pooled, 0.3)) == pytest.approx(float(pooled.largest_area) * 0.3, rel=1e-6)
    empty = pool_proposals([], [], 0.1, 0.1, 1.0, 0.0, fake_decode)
    assert float(empty.largest_area) == 1.0  # SAA+: max_box_area = 1 when no object box is left


def test_saa_prompts():
    prompts = category_prompts("metal_nut")
    assert prompts.object_prompt == "metal_nut," and prompts.k_mask == 5 and prompts.object_count == 1
    assert prompts.defect_prompts[:3] == (("defect on metal_nut", "metal_nut"), ("damage on metal_nut", "metal_nut"),
                                          ("flaw on metal_nut", "metal_nut"))  # fmt: skip
    assert prompts.defect_prompts[3][1] == "nut" and prompts.max_defect_area_fraction == 1.0
    assert category_prompts("screw").max_defect_area_fraction == 0.1
    assert normalise_caption("  Black hole ") == "black hole." and normalise_caption("defect.") == "defect."
    assert len(CATEGORIES) == 15 and sum(TEST_IMAGES.values()) == TOTAL_TEST_IMAGES == 1725
    assert parse_categories("screw,tile") == ("tile", "screw")
    with pytest.raises(UsageError, match="unknown MVTec AD category"):
        parse_categories("tile,sofa")


# --- anomaly map ------------------------------------------------------------------------------------------------------
class BoxMaskModel:
    """A PromptModel stand-in: the mask of a box is the box's pixels (some boxes empty); records what it gets."""

    def __init__(self, height: int, width: int):
        self.shape = (height, width)
        self.images: list[np.ndarray] = []
        self.batches: list[int] = []

    def set_image(self, image):
        self.images.append(image)

    def predict(self, boxes=None, multimask_output=True, **_):
        assert multimask_output is False
        self.batches.append(len(boxes))
        logits = torch.full((len(boxes), 1, *self.shape), -1.0)
        for i, (x0, y0, x1, y1) in enumerate(np.asarray(boxes)):
            logits[i, 0, int(y0) : int(y1), int(x0) : int(x1)] = 1.0
        return MaskPrediction(logits=logits, iou=torch.ones(len(boxes), 1), low_res=torch.zeros(len(boxes), 1, 4, 4))


def test_anomaly_map_matches_saa():
    rng = np.random.default_rng(2)
    height, width = 60, 80
    boxes = rng.uniform(0, 60, size=(9, 4)).astype(np.float32)
    boxes[:, 2:] = boxes[:, :2] + rng.uniform(0, 25, size=(9, 2))
    boxes[3, 2:] = boxes[3, :2]  # an empty mask: SAA+ multiplies its logit by 1
    entry = {"defect_boxes": boxes, "defect_logits": rng.uniform(0.1, 0.6, 9).astype(np.float32),
             "saliency": rng.uniform(0, 0.3, (16, 16)).astype(np.float32)}  # fmt: skip
    bgr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    model = BoxMaskModel(height, width)
    result = anomaly_map(model, bgr, entry, k_mask=5, color_order="bgr", box_batch=4)  # batches change nothing
    assert model.batches == [4, 4, 1] and model.images[0] is bgr
    masks = BoxMaskModel(height, width).predict(boxes, False).logits[:, 0].numpy() > 0
    saliency = cv2.resize(entry["saliency"], (width, height))
    logits = np.stack([float(v) for v in entry["defect_logits"]])  # SAA+: np.stack of the .item() floats
    reference = saa_map(masks, logits, saliency, 5)
    assert result.anomaly_map.dtype == np.float32 and result.anomaly_map.shape == (400, 400)
    assert np.array_equal(result.anomaly_map, reference.astype(np.float32))
    assert result.selected == [int(i) for i in np.argsort(result.scores)[-5:]]


def test_no_defect_box_gives_a_zero_map_and_color_orders():
    model = BoxMaskModel(10, 10)
    entry = {"defect_boxes": np.zeros((0, 4), np.float32), "defect_logits": np.zeros(0, np.float32),
             "saliency": np.zeros((4, 4), np.float32)}  # fmt: skip
    result = anomaly_map(model, np.zeros((10, 10, 3), np.uint8), entry, 5, "bgr")
    assert not result.anomaly_map.any() and model.images == []  # SAM is not even run
    bgr = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert sam_input(bgr, "bgr") is bgr and np.array_equal(sam_input(bgr, "rgb"), bgr[:, :, ::-1])


# --- saliency ---------------------------------------------------------------------------------------------------------
def test_self_similarity_map_matches_saa():
    features = torch.nn.functional.normalize(torch.randn(1, 12, 24, 24), dim=1)
    flat = features.view(12, -1)
    distances = 0.5 * (1 - flat.T @ flat)
    reference = torch.mean(distances.sort(dim=1, descending=True)[0][:, :400], dim=1).view(24, 24).numpy()
    assert np.allclose(self_similarity_map(features, 400), reference, atol=1e-6)


def test_wide_resnet_feature_interface():
    backbone, provenance = wide_resnet50_2_features(None)
    assert provenance["trained"] is False
    with torch.inference_mode():
        features = backbone(torch.zeros(1, 3, 64, 64))
    assert features.shape == (1, 256 + 512 + 1024, 16, 16)  # layer1-3 at layer1's stride 4
    heatmap = saliency_heatmap(backbone, np.zeros((40, 50, 3), np.uint8), input_size=64)
    assert heatmap.shape == (16, 16) and heatmap.dtype == np.float32


def test_missing_weights_say_what_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="grounding-dino-tiny"):
        CaptionGrounding.from_folder(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="wide_resnet50_racm-8234f177.pth"):
        wide_resnet50_2_features(tmp_path / "wrn.pth")
    assert known_saliency_weights("8234f177" + "0" * 56).startswith("timm wide_resnet50_2.racm_in1k")
    assert known_saliency_weights(None) == "untrained"


# --- dataset ----------------------------------------------------------------------------------------------------------
def test_dataset_layout(tmp_path):
    root = write_dataset(tmp_path, PIPELINE_LAYOUT, size=32)
    dataset = load_mvtec_dataset(tmp_path, ("tile", "metal_nut"))
    assert [s.id for s in dataset.samples] == ["tile/crack/000", "tile/good/000", "metal_nut/good/000",
                                                "metal_nut/scratch/000"]  # fmt: skip
    assert len(dataset.files) == 6 and load_mvtec_dataset(root, ("metal_nut",)).root == root
    crack = dataset.samples[0].data
    assert read_mask(crack, 400).shape == (400, 400) and read_mask(crack, 400).any()
    assert not read_mask(dataset.samples[1].data, 400).any()
    with pytest.raises(DatasetLayoutError, match="missing categor.*bottle.*present: tile, metal_nut"):
        load_mvtec_dataset(tmp_path)
    (root / "tile" / "ground_truth" / "crack" / "000_mask.png").unlink()
    with pytest.raises(DatasetLayoutError, match="without a mask.*000.png"):
        load_mvtec_dataset(tmp_path, ("tile",))
    with pytest.raises(DatasetLayoutError, match="Expected layout"):
        load_mvtec_dataset(tmp_path / "elsewhere")


# --- the whole pipeline -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A generated dataset, its prompt cache made by the real detection stage with untrained small networks."""
    base = tmp_path_factory.mktemp("mvtec")
    write_dataset(base / "data", PIPELINE_LAYOUT, size=96)
    detector = CaptionGrounding.from_folder(write_untrained_detector(base / "detector", num_queries=3))
    torch.manual_seed(0)
    backbone = SaliencyFeatures(ResNet(BasicBlock, [1, 1, 1, 1])).eval()
    provenance = {"saliency_backbone": "ResNet(BasicBlock, [1, 1, 1, 1]) stand-in", "weights_sha256": None,
                  "trained": False}  # fmt: skip
    summary = detect_mvtec(base / "data", base / "prompts", detector, backbone, provenance, ("tile", "metal_nut"),
                           saliency_input_size=SMALL_SALIENCY_INPUT)  # fmt: skip
    return SimpleNamespace(base=base, data=base / "data", prompts=base / "prompts", summary=summary, detector=detector,
                           backbone=backbone, provenance=provenance)  # fmt: skip


def test_detection_fills_the_cache_once(pipeline):
    assert pipeline.summary["detected"] == 4 and pipeline.summary["already_cached"] == 0
    cache = PromptCache(pipeline.prompts)
    manifest = cache.manifest()
    assert manifest["trained"] is False and manifest["detector"]["trained"] is False
    assert manifest["protocol"]["box_threshold"] == 0.1 and manifest["protocol"]["saliency"]["input_size"] == 128
    boxes = {sample_id: len(cache.load(sample_id)["defect_logits"]) for sample_id in
             ("tile/crack/000", "tile/good/000", "metal_nut/good/000", "metal_nut/scratch/000")}  # fmt: skip
    assert min(boxes.values()) == 0 and max(boxes.values()) > 0  # SAM runs, and an image without a box is met
    entry = cache.load("metal_nut/scratch/000")
    assert entry["saliency"].shape == (32, 32) and tuple(entry["image_size"]) == (96, 96)
    assert entry["defect_boxes"].shape == (len(entry["defect_logits"]), 4)
    assert len(entry["defect_prompt_indices"]) == len(entry["defect_logits"])
    assert all(len(p) > 0 for p in entry["defect_phrases"])
    again = detect_mvtec(pipeline.data, pipeline.prompts, pipeline.detector, pipeline.backbone, pipeline.provenance,
                         ("tile", "metal_nut"), saliency_input_size=SMALL_SALIENCY_INPUT)  # fmt: skip
    assert again["detected"] == 0 and again["already_cached"] == 4  # resumed: nothing recomputed
    with pytest.raises(PromptCacheError, match="differing: protocol"):
        detect_mvtec(pipeline.data, pipeline.prompts, pipeline.detector, pipeline.backbone, pipeline.provenance,
                     ("tile",), saliency_input_size=64)  # fmt: skip


def test_detect_command(pipeline, tmp_path):
    """`run_eval.py --detect mvtec` (MVTecTask.detect): the default cache under --out; with --untrained the full,
    random WideResNet-50-2 at SAA+'s 256 input."""
    code = cli.main(["--detect", "mvtec", "--data-root", str(pipeline.data), "--out", str(tmp_path), "--untrained",
                     "--mvtec-detector", str(pipeline.base / "detector"), "--mvtec-categories", "metal_nut",
                     "--limit", "1"])  # fmt: skip
    assert code == 0
    cache = tmp_path / "mvtec" / "saa_prompts"
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()) == [
        "manifest.json", "metal_nut/good/000.npz"]  # fmt: skip
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["saliency"]["trained"] is False and manifest["protocol"]["saliency"]["input_size"] == 256
    assert PromptCache(cache).load("metal_nut/good/000")["saliency"].shape == (64, 64)
    args = cli.build_parser().parse_args(["--out", str(tmp_path), "--untrained", "--mvtec-categories", "metal_nut",
                                          "--data-root", str(pipeline.data), "--limit", "1",
                                          "--mvtec-detector", str(pipeline.base / "detector")])  # fmt: skip
    assert MVTecTask.detect(args) == [cache / "manifest.json", cache / "metal_nut" / "good" / "000.npz"]  # resumed


def test_engine_end_to_end_with_the_toy_model(pipeline):
    task = MVTecTask(mvtec_params(categories=("tile", "metal_nut"), prompt_dir=pipeline.prompts))
    assert task.variant() == "tile+metal_nut-untrained-prompts" and not task.paper_comparable()
    run = Run(task=task, run_name="toy", out=pipeline.base / "out", data_root=pipeline.data)
    results = execute(run, toy_prompt_model())
    metrics = results["metrics"]
    assert metrics["categories"] == ["tile", "metal_nut"] and metrics["num_images"] == 4
    assert 0 < metrics["f1_max"] <= 100 and metrics["f1_max"] == pytest.approx(
        np.mean([metrics["per_category"][c]["pixel_f1_max"] for c in ("tile", "metal_nut")]))
    assert metrics["per_category"]["metal_nut"]["expected_images"] == 115
    predictions = [decode_prediction(p.read_bytes()) for p in sorted(run.store_dir.rglob("*.npz"))]
    assert any(p["num_defect_boxes"] > 0 and p["anomaly_map"].any() for p in predictions)
    assert all(p["anomaly_map"].shape == (400, 400) and p["anomaly_map"].dtype == np.float32 for p in predictions)
    protocol = results["provenance"]["protocol"]
    assert protocol["color_order"] == "bgr" and protocol["prompt_cache"]["trained"] is False
    stored = sorted(p.relative_to(run.store_dir).as_posix() for p in run.store_dir.rglob("*.npz"))
    assert stored == ["metal_nut/good/000.npz", "metal_nut/scratch/000.npz", "tile/crack/000.npz", "tile/good/000.npz"]
    manifest = json.loads((run.store_dir / "manifest.json").read_text())
    assert "prompt_cache_dir" not in manifest["params"] and "metric" not in manifest["params"]
    resumed = execute(run, toy_prompt_model())  # every prediction from the store
    assert resumed["provenance"]["timings"]["predicted_samples"] == 0
    assert resumed["metrics"]["per_category"] == metrics["per_category"]
    # another SAM model reads the same cache; SAM sees RGB here, a labelled variant
    rgb = MVTecTask(mvtec_params("rgb", ("tile", "metal_nut"), prompt_dir=pipeline.prompts))
    assert rgb.variant() == "rgb-tile+metal_nut-untrained-prompts"
    other = execute(Run(task=rgb, run_name="toy2.rgb", out=pipeline.base / "out", data_root=pipeline.data, limit=1),
                    toy_prompt_model(seed=1))  # fmt: skip
    assert other["metrics"]["num_images"] == 1


def test_external_maps_in_every_format(pipeline, tmp_path):
    dataset = load_mvtec_dataset(pipeline.data, ("tile", "metal_nut"))
    rng = np.random.default_rng(5)
    maps = {}
    for index, sample in enumerate(dataset.samples):
        anomaly_map = rng.random((50, 60)).astype(np.float32)
        path = tmp_path / sample.id
        path.parent.mkdir(parents=True, exist_ok=True)
        if index % 3 == 0:
            np.save(path.with_suffix(".npy"), anomaly_map)
        elif index % 3 == 1:
            cv2.imwrite(str(path.with_suffix(".tiff")), anomaly_map)
        else:
            anomaly_map = np.round(anomaly_map * 255).astype(np.uint8)
            cv2.imwrite(str(path.with_suffix(".png")), anomaly_map)
        maps[sample.id] = anomaly_map.astype(np.float32)
    args = cli.build_parser().parse_args(["--task", "mvtec", "--model", "mine", "--predictions", str(tmp_path),
                                          "--mvtec-categories", "tile,metal_nut"])  # fmt: skip
    task = task_class("mvtec")(MVTecTask.params_from_args(args))
    assert task.params.protocol == "external" and not task.paper_comparable()
    results = execute(Run(task=task, run_name="mine", out=pipeline.base / "ext", data_root=pipeline.data,
                          external_predictions=tmp_path), None)  # fmt: skip
    evaluator = task.evaluator()
    evaluator.reset()
    for sample in dataset.samples:
        evaluator.process(sample, {"anomaly_map": maps[sample.id]})
    assert results["metrics"]["per_category"] == evaluator.evaluate()["per_category"]
    (tmp_path / "tile" / "good" / "000.tiff").unlink()
    with pytest.raises(DataError, match="tile/good/000"):
        execute(Run(task=task, run_name="mine", out=pipeline.base / "ext", data_root=pipeline.data,
                    external_predictions=tmp_path), None)  # fmt: skip


def test_cache_problems_fail_before_the_model_loads(pipeline, tmp_path):
    code = cli.main(["--task", "mvtec", "--model", "repvit", "--untrained", "--out", str(tmp_path),
                     "--data-root", str(pipeline.data), "--mvtec-categories", "tile,metal_nut"])  # fmt: skip
    assert code == 2  # no cache at <out>/mvtec/saa_prompts
    with pytest.raises(PromptCacheError, match="--detect mvtec"):
        mvtec_params(prompt_dir=tmp_path / "none")
    task = MVTecTask(mvtec_params(categories=("tile", "metal_nut", "bottle"), prompt_dir=pipeline.prompts))
    with pytest.raises(PromptCacheError, match="no entry for bottle"):
        task.cache.load("bottle/good/000")


# --- registry, columns, demo ------------------------------------------------------------------------------------------
def test_registered_with_the_paper_column():
    assert task_class("mvtec") is MVTecTask
    (column,) = MVTecTask.columns
    assert column.key == "f1_max" and column.digits == 2 and column.paper == PAPER_F1_MAX
    assert column.section == task_class("sod").columns[0].section
    assert PAPER_F1_MAX == {"vit_h": 37.65, "vit_b": 36.62, "mobilesam": 36.44, "repvit": 37.96}


def test_bundled_sample_runs_with_the_demo_arguments(tmp_path):
    root = SAMPLE_DATA / "mvtec_anomaly_detection"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 300_000
    for category, defects in SAMPLE_LAYOUT.items():  # the bundled images are the generator's
        for defect, count in defects.items():
            for index in range(count):
                stored = cv2.imread(str(root / category / "test" / defect / f"{index:03d}.png"), cv2.IMREAD_COLOR)
                assert np.array_equal(stored, synthetic_image(category, defect, index)[0])
    args = cli.build_parser().parse_args(["--task", "mvtec", "--model", "repvit", "--data-root", str(SAMPLE_DATA),
                                          *MVTecTask.demo_args])  # fmt: skip
    task = MVTecTask(MVTecTask.params_from_args(args))
    assert Path(task.params.prompt_cache_dir) == SAMPLE_PROMPTS
    results = execute(Run(task=task, run_name="toy", out=tmp_path, data_root=SAMPLE_DATA, limit=2),
                      toy_prompt_model())  # fmt: skip
    assert results["metrics"]["categories"] == ["tile"] and results["variant"] == "tile+bottle-untrained-prompts"
