"""The SAA+ protocol's numbers, each with the file of the reference code that fixes it.

Reference: caoyunkang/Segment-Any-Anomaly, branch SAA-plus (SAA+, Cao et al. 2023, arXiv:2305.10724), run for
MVTec AD by ``run_MVTec.py`` -> ``eval_SAA.py`` with its defaults. The prompts themselves are in saa_prompts.py.

Stages, and which of them a SAM model changes:
    1. Grounding DINO boxes for the object prompt and the defect prompts, filtered by score, area and phrase
    2. a saliency map from the self-similarity of ImageNet WideResNet-50-2 features
    3. SAM: one mask per defect box (box prompt, single-mask output)
    4. each mask scored by its box's logit x exp(3 x mean saliency inside it); the k_mask best averaged into the
       anomaly map, resized to 400 x 400
Stages 1 and 2 do not depend on SAM (the object boxes' SAM masks are computed by SAA+ but unused for MVTec AD,
where every category has one object: see saliency.py): `run_eval.py --detect mvtec` computes them once into a
prompt cache (prompt_cache.py) that every SAM model's run reads.
"""
from __future__ import annotations

# --- images ----------------------------------------------------------------------------------------------------
# datasets/dataset.py, SAADataset.__getitem__: ``cv2.imread(img_path, cv2.IMREAD_COLOR)``: 3-channel BGR at the
# image's own resolution (grey categories -- grid, screw, zipper -- are replicated to 3 channels).
# SAA/model.py then hands that BGR array as it is to SamPredictor.set_image, whose default image_format is "RGB":
# SAM sees red and blue swapped. `--mvtec-color-order bgr` (the default) reproduces this; `rgb` gives SAM the
# image in the order it expects.
COLOR_ORDERS = ("bgr", "rgb")
DEFAULT_COLOR_ORDER = "bgr"

# --- stage 1: Grounding DINO -------------------------------------------------------------------------------------
# eval_SAA.py: --dino_config_file GroundingDINO_SwinT_OGC.py, --dino_checkpoint groundingdino_swint_ogc.pth: the
# Swin-T OGC model, published on the Hugging Face hub (transformers format) as IDEA-Research/grounding-dino-tiny.
DETECTOR_NAME = "Grounding DINO Swin-T OGC (IDEA-Research/grounding-dino-tiny)"
DETECTOR_HUB_MODEL = "IDEA-Research/grounding-dino-tiny"
DETECTOR_URL = f"https://huggingface.co/{DETECTOR_HUB_MODEL}"
DEFAULT_DETECTOR_DIR = "weights/grounding-dino-tiny"
# eval_SAA.py: --box_threshold 0.1, --text_threshold 0.1. SAA/model.py bbox_suppression keeps a box when its
# highest token probability is > box threshold; its phrase is the caption's tokens with probability > text
# threshold.
BOX_THRESHOLD = 0.1
TEXT_THRESHOLD = 0.1
# SAA/model.py Model.__init__: ``T.RandomResize([800], max_size=1333)`` (GroundingDINO datasets/transforms.py:
# shorter side 800 unless the longer would exceed 1333; PIL bilinear), ToTensor, Normalize with ImageNet mean/std
# (implemented by the shared evals/detectors/grounding_dino.py, which SegInW's protocol shares); the detector gets
# the image in RGB (``cv2.cvtColor(image, cv2.COLOR_BGR2RGB)`` in ensemble_text_guided_mask_proposal).
DETECTOR_SHORTER_SIDE = 800
DETECTOR_MAX_SIDE = 1333
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# SAA/model.py get_grounding_output: the caption is lower-cased, stripped, and ends with "." (appended if absent).

# --- stage 2: saliency --------------------------------------------------------------------------------------------
# SAA/modelinet.py ModelINet: ``timm.create_model('wide_resnet50_2', pretrained=True, features_only=True,
# out_indices=(1, 2, 3))``: the outputs of layer1, layer2 and layer3. timm's default weights for that name are
# its ``wide_resnet50_2.racm_in1k`` (wide_resnet50_racm-8234f177.pth); the architecture and parameter names are
# torchvision's wide_resnet50_2, which we build and load the file into.
SALIENCY_BACKBONE = "wide_resnet50_2"
DEFAULT_SALIENCY_WEIGHTS = "weights/wide_resnet50_racm-8234f177.pth"
# timm/models/resnet.py default_cfgs["wide_resnet50_2.racm_in1k"].url (timm 1.0.31; newer timm fetches the same
# weights from the Hugging Face hub, timm/wide_resnet50_2.racm_in1k, as model.safetensors, which loads too).
SALIENCY_WEIGHTS_URL = (
    "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
    "wide_resnet50_racm-8234f177.pth"
)
SALIENCY_WEIGHTS_HUB_URL = "https://huggingface.co/timm/wide_resnet50_2.racm_in1k"
# torch.hub names weight files <name>-<first 8 hex digits of their sha256>.pth.
SALIENCY_WEIGHTS_BY_HASH = {
    "8234f177": "timm wide_resnet50_2.racm_in1k (wide_resnet50_racm-8234f177.pth): SAA+'s, through timm",
    "95faca4d": "torchvision Wide_ResNet50_2_Weights.IMAGENET1K_V1 (wide_resnet50_2-95faca4d.pth): not SAA+'s",
}
SALIENCY_LAYERS = ("layer1", "layer2", "layer3")
# SAA/model.py single_object_similarity: ``cv2.resize(image, (256, 256))`` (bilinear, BGR), ModelINet with
# img_size 256 (ImageNet mean/std x 255 subtracted channel-wise from the BGR array as it is); layer2 and layer3
# upsampled to layer1's size (F.interpolate, nearest), concatenated (1792 channels), L2-normalised per position.
SALIENCY_INPUT_SIZE = 256
# single_object_similarity: distance = 0.5 (1 - cosine similarity) between every pair of positions, each
# position's saliency = the mean of its 400 largest distances ("by default we use N=400"); the 64 x 64 map is
# resized (cv2 bilinear) to the image's size.
SALIENCY_TOP_N = 400

# --- stage 3: SAM ---------------------------------------------------------------------------------------------
# SAA/model.py region_refine: all defect boxes (x0, y0, x1, y1 pixels) through SamPredictor.predict_torch with
# ``multimask_output=False``; mask = logits > 0 (Sam.mask_threshold).
MULTIMASK_OUTPUT = False
MASK_THRESHOLD = 0.0
SAM_BOX_BATCH = 64  # boxes per decoder call (memory only: SAA+ decodes every box of an image at once)

# --- stage 4: rescoring and the anomaly map ----------------------------------------------------------------------
# SAA/model.py rescore: score = box logit x exp(3 x mean saliency inside the mask) (x 1 for an empty mask).
RESCORE_TEMPERATURE = 3.0
# SAA/model.py confidence_prompting: the k_mask highest scores (``argsort()[-k_mask:]``); map = sum of score x
# mask over them, divided by 1 + the number of those masks covering the pixel (the weight map starts at ones);
# ``cv2.resize(anomaly_map, (out_size, out_size))`` (bilinear) with out_size = --eval-resolution 400.
EVAL_RESOLUTION = 400

# --- the metric -------------------------------------------------------------------------------------------------
# eval_SAA.py eval + utils/eval_utils.py specify_resolution / normalize + utils/metrics.py metric_cal: see
# evaluator.py and ranking_metrics.py.


def detection_protocol(saliency_input_size: int = SALIENCY_INPUT_SIZE) -> dict:
    """The settings of stages 1-2, recorded in the prompt cache's manifest and checked by every run that reads it."""
    return {
        "box_threshold": BOX_THRESHOLD,
        "text_threshold": TEXT_THRESHOLD,
        "detector_resize": {"shorter_side": DETECTOR_SHORTER_SIDE, "max_side": DETECTOR_MAX_SIDE,
                            "resample": "PIL bilinear"},
        "detector_input": "RGB, ImageNet mean/std",
        "caption": "lower-cased, stripped, '.' appended if absent",
        "box_filters": "max token probability > box threshold; w x h (normalised) < max area and > min area; "
                       "phrase (tokens > text threshold, decoded) must not contain the filter phrase",
        "object_max_area": "1 / object_count",
        "defect_max_area": "largest kept object box area (1 if none) x max_defect_area_fraction",
        "saliency": {
            "backbone": SALIENCY_BACKBONE, "layers": list(SALIENCY_LAYERS), "input_size": saliency_input_size,
            "input": "cv2.resize bilinear of the BGR image; ImageNet mean/std x 255, channel-wise",
            "distance": "0.5 (1 - cos)", "top_n": SALIENCY_TOP_N, "upsampling": "cv2 bilinear to the image size",
        },
        "reference": "caoyunkang/Segment-Any-Anomaly@SAA-plus SAA/model.py, SAA/modelinet.py, eval_SAA.py",
    }  # fmt: skip


def known_saliency_weights(sha256: str | None) -> str:
    """Which published WideResNet-50-2 weights a file is, by the sha256 prefix torch.hub puts in their names."""
    for prefix, name in SALIENCY_WEIGHTS_BY_HASH.items():
        if sha256 is not None and sha256.startswith(prefix):
            return name
    return "unknown (not a published file this suite recognises)" if sha256 else "untrained"
