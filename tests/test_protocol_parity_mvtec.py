"""MVTec's SAA+ protocol against SAA+'s own pipeline (caoyunkang/Segment-Any-Anomaly@SAA-plus, SAA/model.py).

tests/data/protocols/mvtec/make_reference.py ran SAA+'s `SAA.Model` (as eval_SAA.py builds and calls it) on 4 MVTec-
layout images with Grounding DINO replaced by fixed outputs (detector_outputs.npz) and SAM and the saliency backbone
built with the key-derived parity weights. Here the same fixed outputs answer our Grounding DINO wrapper
(`CaptionGrounding`, through a stand-in for its `transformers` model), the same networks are built from our code,
and our task runs as `run_eval.py` does: `--detect mvtec`'s `fill_cache` writes the prompt cache, then `MVTecTask`'s
`load_inputs` and `predict` make the maps. Equal: the captions asked, the filtered boxes and logits, the mask areas
and the chosen masks; within 1e-6: the saliency map, the rescored confidences and the anomaly map (every 4th pixel
and the sum of all).

Both sides run SAM in float64 from the float32 boxes (`float64_sam`, as the driver): its masks are logits > 0 and
must not depend on the CPU's float32 summation order; the saliency backbone runs in float32, as SAA+'s.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torchvision.models import resnet18, wide_resnet50_2

from evals.mvtec.categories import CATEGORIES
from evals.mvtec.detect import detection_manifest, fill_cache
from evals.mvtec.grounding import CaptionGrounding
from evals.mvtec.prompt_cache import PromptCache
from evals.mvtec.protocol import SALIENCY_INPUT_SIZE
from evals.mvtec.saa_prompts import category_prompts
from evals.mvtec.saliency import SaliencyFeatures, upsample
from evals.mvtec.task import MVTecTask, mvtec_params
from evals.mvtec.untrained_detector import write_vocab
from models.families.sam import build_sam_vit
from models.sam_prompt_model import SamPromptModel
from tests.parity_weights import parity_state_dict
from tests.test_parity import fixed_threads  # noqa: F401  (autouse: 2 threads, as the reference)

DATA = Path(__file__).resolve().parent / "data" / "protocols" / "mvtec"
TOLERANCE = 1e-6  # relative to the largest reference value
QUICK_IMAGES = ("tile/crack/000",)  # the default run: 6 defect boxes (k_mask picks 5); the slow run has all 4
TEXT_POSITIONS = 256  # Grounding DINO's logits cover 256 text positions, -inf after the caption
SALIENCY_BACKBONES = {"resnet18": resnet18, "wide_resnet50_2": wide_resnet50_2}


def reference() -> dict:
    return json.loads((DATA / "reference.json").read_text())


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    scale = float(np.abs(ref).max()) if np.size(ref) else 0.0
    difference = float(np.abs(np.asarray(ours, np.float64) - ref).max()) if np.size(ref) else 0.0
    return difference / scale if scale else difference


def float64_sam(sam: torch.nn.Module) -> torch.nn.Module:
    """As make_reference.py: SAM in float64; the positional encoding's float32 cast of the box corners goes on in
    float64."""
    sam.double()
    positional = sam.prompt_encoder.pe_layer
    encode = positional._pe_encoding
    positional._pe_encoding = lambda coords: encode(coords.double())
    return sam


def parity_sam_model(config: dict) -> SamPromptModel:
    """SAM's ViT with the configuration's numbers (SAA+'s vendored `_build_sam` arguments), parity weights."""
    sam = config["sam"]
    network = build_sam_vit(sam["encoder_embed_dim"], sam["encoder_depth"], sam["encoder_num_heads"],
                            tuple(sam["encoder_global_attn_indexes"]))  # fmt: skip
    network.load_state_dict(parity_state_dict(network), strict=True)
    return SamPromptModel(float64_sam(network).eval(), None, {"model": "parity ViT-SAM"})


def parity_saliency_backbone(name: str) -> tuple[SaliencyFeatures, dict]:
    resnet = SALIENCY_BACKBONES[name](weights=None)
    resnet.load_state_dict(parity_state_dict(resnet), strict=True)
    provenance = {"saliency_backbone": name, "weights_file": None, "weights_sha256": None, "trained": False}
    return SaliencyFeatures(resnet).eval(), provenance


class FixedDetectorModel:
    """The `transformers` Grounding DINO's place: the fixed outputs of the current image for the asked caption."""

    def __init__(self, tokenizer, ref: dict):
        arrays = np.load(DATA / "detector_outputs.npz")
        self.outputs, self.captions = {}, {}
        for record in ref["detector_outputs"]:
            ids = tuple(tokenizer(record["caption"])["input_ids"])
            self.outputs[(record["image"], ids)] = (arrays[f"{record['key']}_logits"], arrays[f"{record['key']}_boxes"])
            self.captions[ids] = record["caption"]
        self.current: str | None = None
        self.asked: list[str] = []

    def __call__(self, pixel_values, pixel_mask, input_ids, **text):
        ids = tuple(input_ids[0].tolist())
        self.asked.append(self.captions[ids])
        logits, boxes = self.outputs[(self.current, ids)]
        padded = torch.full((1, len(logits), TEXT_POSITIONS), float("-inf"))
        padded[0, :, : logits.shape[1]] = torch.from_numpy(logits)
        return SimpleNamespace(logits=padded, pred_boxes=torch.from_numpy(boxes)[None])


def fixed_grounding(tmp_path: Path, ref: dict) -> CaptionGrounding:
    """Our Grounding DINO wrapper around the fixed outputs, with the driver's tokenizer (our untrained detector's
    vocabulary, BertTokenizer)."""
    from transformers import AutoTokenizer

    folder = tmp_path / "tokenizer"
    folder.mkdir()
    write_vocab(folder / "vocab.txt")
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model, provenance = FixedDetectorModel(tokenizer, ref), {"backbone": "fixed outputs", "trained": False}
    detector = SimpleNamespace(model=model, tokenizer=tokenizer, device=torch.device("cpu"), provenance=provenance)
    return CaptionGrounding(detector)


def check_against_saa(config_name: str, image_ids: tuple[str, ...], tmp_path: Path) -> None:
    ref = reference()
    config = ref["configs"][config_name]
    reference_arrays = np.load(DATA / f"reference_{config_name}.npz")
    stride, similarity_stride = ref["reference"]["map_stride"], ref["reference"]["similarity_stride"]
    categories = tuple(c for c in CATEGORIES if any(i.startswith(f"{c}/") for i in image_ids))
    grounding = fixed_grounding(tmp_path, ref)
    backbone, saliency_provenance = parity_saliency_backbone(config["saliency_backbone"])

    cache = PromptCache(tmp_path / "prompts")  # `--detect mvtec`
    cache.open_for_writing(detection_manifest(grounding, saliency_provenance, SALIENCY_INPUT_SIZE))
    task = MVTecTask(mvtec_params(categories=categories, prompt_dir=cache.directory))
    samples = {sample.id: sample for sample in task.load_dataset(DATA).samples}
    for sample_id in image_ids:
        grounding.detector.model.current = sample_id
        fill_cache(cache, [samples[sample_id].data], grounding, backbone)

    model = parity_sam_model(config)  # `--task mvtec`
    order = list(ref["images"])
    for sample_id in image_ids:
        saa, index = config["images"][sample_id], order.index(sample_id)
        bgr, entry = task.load_inputs(samples[sample_id])
        prediction = task.predict(model, samples[sample_id], (bgr, entry))
        assert np.array_equal(entry["defect_boxes"], np.array(saa["defect_boxes"], np.float32).reshape(-1, 4))
        assert entry["defect_logits"].tolist() == saa["defect_logits"]
        assert entry["object_logits"].tolist() == saa["object_logits"]
        assert entry["object_area"] == saa["object_area"]
        similarity = upsample(entry["saliency"], *bgr.shape[:2])[::similarity_stride, ::similarity_stride]
        assert relative_error(similarity, reference_arrays[f"similarity{index}"]) <= TOLERANCE
        assert prediction["mask_areas"] == saa["mask_areas"]
        if prediction["box_scores"]:
            assert relative_error(np.array(prediction["box_scores"]), np.array(saa["scores"])) <= TOLERANCE
            assert prediction["selected_boxes"] == saa["selected"]
        else:  # SAA+ scores its one empty mask 0: an all-zero map
            assert saa["scores"] == [0.0]
        anomaly_map = prediction["anomaly_map"]
        assert relative_error(anomaly_map[::stride, ::stride], reference_arrays[f"map{index}"]) <= TOLERANCE
        assert abs(anomaly_map.astype(np.float64).sum() - saa["map_sum"]) <= TOLERANCE * max(saa["map_sum"], 1.0)
    assert grounding.detector.model.asked == [c for i in image_ids for c in config["images"][i]["captions"]]


def test_prompts_of_every_category_are_saas():
    """SAA+'s parsed prompts (eval_SAA.py's set_ensemble_text_prompts / set_property_text_prompts, recorded by the
    driver) are ours, for all 15 categories."""
    saa = reference()["saa_categories"]
    assert list(saa) == list(CATEGORIES)
    for category in CATEGORIES:
        assert category_prompts(category).to_dict() == saa[category], category


def test_reference_inputs_exercise_every_filter():
    """In the default run's image each of SAA+'s defect-box filters drops boxes (score, area, then phrase: more boxes
    pass the first two than are kept); over all images, both special cases occur."""
    ref = reference()
    images, arrays = ref["configs"]["quick"]["images"], np.load(DATA / "detector_outputs.npz")
    quick = images[QUICK_IMAGES[0]]
    max_area = np.float32(quick["object_area"]) * category_prompts("tile").max_defect_area_fraction
    outputs = [r for r in ref["detector_outputs"] if r["image"] == QUICK_IMAGES[0] and r["pass"] == "defect"]
    scores = np.concatenate([torch.from_numpy(arrays[f"{r['key']}_logits"]).sigmoid().amax(1).numpy() for r in outputs])
    boxes = np.concatenate([arrays[f"{r['key']}_boxes"] for r in outputs])
    confident, small = scores > ref["reference"]["thresholds"]["box"], boxes[:, 2] * boxes[:, 3] < max_area
    assert (~confident).any() and (confident & ~small).any()
    assert (confident & small).sum() > len(quick["defect_boxes"]) > category_prompts("tile").k_mask  # k_mask chooses
    assert images["tile/good/000"]["defect_boxes"] == []  # SAA+'s empty mask
    assert images["bottle/contamination/000"]["object_area"] == 1.0  # no object box kept
    margins = [record["min_abs_mask_logit"] for record in images.values() if record["min_abs_mask_logit"] is not None]
    assert min(margins) > 1e-7  # SAM's float64 masks are far from float64 rounding


def test_quick_protocol_matches_saa(tmp_path):
    check_against_saa("quick", QUICK_IMAGES, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("config_name", ["quick", "full"])
def test_protocol_matches_saa_on_every_image(config_name, tmp_path):
    check_against_saa(config_name, tuple(reference()["images"]), tmp_path)
