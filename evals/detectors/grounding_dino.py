"""Grounding-DINO through `transformers` (``GroundingDinoForObjectDetection``, ``AutoProcessor``) from a local folder.

The paper's detector (sam-hq seginw/README.md, section 3, and test_seginw.sh: ``-c GroundingDINO_SwinB.py -p
groundingdino_swinb_cogcoor.pth``) is Grounding-DINO Swin-B, checkpoint ``groundingdino_swinb_cogcoor.pth``. Its
`transformers` form is IDEA-Research/grounding-dino-base: transformers' conversion script
(src/transformers/models/grounding_dino/convert_grounding_dino_to_hf.py, ``checkpoint_mapping["grounding-dino-base"]``
= ShilongLiu/GroundingDINO ``groundingdino_swinb_cogcoor.pth``) renames that file's weights and checks the outputs.
`transformers` cannot read the original .pth itself.

Everything around the network follows sam-hq's test_ap_on_seginw.py, not transformers' processor defaults:
- image: ``PIL.Image.open(path).convert("RGB")`` (torchvision ``CocoDetection``), then
  ``T.RandomResize([800], max_size=1333)`` (a single size, so deterministic), ``T.ToTensor()``,
  ``T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])`` (groundingdino/datasets/transforms.py): the short
  side to 800 unless the long side would pass 1333, PIL bilinear resampling. transformers' image processor resizes
  tensors instead (another resampling), so it is not used; one image per batch, so no padding (``collate_fn``'s
  ``nested_tensor_from_tensor_list`` pads a batch of one to its own size) and the pixel mask is all ones;
- text: the tokenizer of the weights folder (bert-base-uncased's vocabulary) on the caption,
  ``padding="longest"`` as groundingdino.py's ``forward``; the model cuts it to max_text_len = 256 tokens and builds
  the sub-sentence attention masks from the [CLS] / [SEP] / "." / "?" tokens as groundingdino.py does;
- outputs: the last decoder layer's logits and boxes, post-processed by phrase_grounding.py (sam-hq's
  PostProcessSeginw), not by ``post_process_grounded_object_detection`` (max over tokens and thresholds).
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from PIL import Image

from models.checkpoint import sha256_file

from ..errors import DataError, MissingResources
from ..images import open_pil
from .phrase_grounding import (
    NUM_SELECT,
    GroundedDetections,
    caption_token_spans,
    detection_caption,
    positive_map_from_spans,
    select_top_detections,
)
from .weights import (  # the weights' names and URL live in a light module the command line imports
    DEFAULT_WEIGHTS_DIR,
    HUB_MODEL,
    MISSING_WEIGHTS,
    WEIGHT_FILES,
    has_weights,
    transformers_requirement,
)

# test_ap_on_seginw.py: T.RandomResize([800], max_size=1333)
RESIZE_SHORT_SIDE = 800
RESIZE_MAX_SIZE = 1333
# test_ap_on_seginw.py: T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
# groundingdino.py: ``self.specical_tokens = self.tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", ".", "?"])``;
# transformers' GroundingDinoModel hard-codes bert-base-uncased's ids of these: SPECIAL_TOKENS = [101, 102, 1012, 1029].
DELIMITER_TOKENS = ("[CLS]", "[SEP]", ".", "?")
# transformers' GroundingDinoConfig backbone of the Swin-B checkpoint (convert_grounding_dino_to_hf.py, "base").
SWIN_B = {"embed_dim": 128, "depths": [2, 2, 18, 2]}
SWIN_T = {"embed_dim": 96, "depths": [2, 2, 6, 2]}


class DetectorWeightsError(DataError, FileNotFoundError):
    """No weights folder where one was named. A DataError (the command line reports it in one paragraph), and a
    FileNotFoundError for callers that catch that."""


def resized_size(
    width: int, height: int, size: int = RESIZE_SHORT_SIDE, max_size: int = RESIZE_MAX_SIZE
) -> tuple[int, int]:
    """(height, width) after the resize: groundingdino/datasets/transforms.py ``resize.get_size_with_aspect_ratio``."""
    min_original, max_original = float(min(width, height)), float(max(width, height))
    if max_original / min_original * size > max_size:
        size = round(max_size * min_original / max_original)  # int(round(...)) there: the same int
    if (width <= height and width == size) or (height <= width and height == size):
        return height, width
    if width < height:
        return int(size * height / width), size
    return size, int(size * width / height)


def preprocess_image(image: Image.Image) -> torch.Tensor:
    """1 x 3 x H x W normalised float tensor (module docstring: RandomResize([800], 1333), ToTensor, Normalize)."""
    height, width = resized_size(*image.size)
    resized = TF.resize(image, [height, width])  # on a PIL image: PIL's bilinear resize, as torchvision always did
    return TF.normalize(TF.to_tensor(resized), IMAGE_MEAN, IMAGE_STD).unsqueeze(0)


def read_image(path: Path) -> Image.Image:
    """torchvision.datasets.CocoDetection._load_image: ``Image.open(path).convert("RGB")``, of a file checked whole
    and decodable first (evals/images.py: a DataError naming it otherwise)."""
    return open_pil(path).convert("RGB")


@dataclass(frozen=True)
class PreparedText:
    """A category list, tokenized once: the caption's model inputs and the category x token map."""

    category_names: tuple[str, ...]
    caption: str
    inputs: dict[str, torch.Tensor]  # input_ids, token_type_ids, attention_mask (1 x L)
    positive_map: torch.Tensor  # categories x max_text_len (256)


def backbone_name(config) -> str:
    backbone = getattr(config, "backbone_config", None)
    shape = {"embed_dim": getattr(backbone, "embed_dim", None), "depths": list(getattr(backbone, "depths", []) or [])}
    if getattr(backbone, "model_type", None) == "swin":
        if shape == SWIN_B:
            return "Swin-B"
        if shape == SWIN_T:
            return "Swin-T"
    return f"other ({getattr(backbone, 'model_type', None)}, {shape})"


class GroundingDinoDetector:
    """Boxes for a list of category names on one image at a time (module docstring for the protocol)."""

    def __init__(self, model, tokenizer, device: torch.device | str, provenance: dict):
        self.model = model
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.provenance = provenance
        self._check_delimiters()

    @classmethod
    def load(cls, weights_dir: Path = DEFAULT_WEIGHTS_DIR, device: str = "cpu") -> GroundingDinoDetector:
        """From a local `transformers` folder only (``local_files_only=True``): a missing folder is an error that
        says what to download."""
        weights_dir = Path(weights_dir)
        if not has_weights(weights_dir):
            raise DetectorWeightsError(MISSING_WEIGHTS.format(path=weights_dir, hub=HUB_MODEL))
        weight_files = [weights_dir / name for name in WEIGHT_FILES if (weights_dir / name).is_file()]
        try:
            from transformers import AutoProcessor, GroundingDinoForObjectDetection
        except ImportError:  # the suite's evaluation never needs it; making boxes does
            raise MissingResources([transformers_requirement().describe()]) from None
        model = GroundingDinoForObjectDetection.from_pretrained(weights_dir, local_files_only=True)
        model = model.to(device).eval()
        tokenizer = AutoProcessor.from_pretrained(weights_dir, local_files_only=True).tokenizer
        provenance = {
            "detector": "Grounding-DINO (transformers GroundingDinoForObjectDetection)",
            "weights_dir": str(weights_dir),
            "weights_file": weight_files[0].name,
            "weights_sha256": sha256_file(weight_files[0]),
            "backbone": backbone_name(model.config),
            "num_queries": model.config.num_queries,
            "max_text_len": model.config.max_text_len,
            "transformers": importlib.metadata.version("transformers"),
            "torch": torch.__version__,
            "device": str(device),
        }
        return cls(model, tokenizer, device, provenance)

    def _check_delimiters(self) -> None:
        """The model splits the caption into phrases at its hard-coded delimiter ids; a tokenizer with another
        vocabulary would silently break that."""
        expected = getattr(getattr(self.model, "model", None), "special_tokens", None)
        if expected is None:
            return
        ids = self.tokenizer.convert_tokens_to_ids(list(DELIMITER_TOKENS))
        if list(ids) != [int(i) for i in expected.tolist()]:
            raise DataError(
                f"the tokenizer's ids of {', '.join(DELIMITER_TOKENS)} are {list(ids)}, the model's delimiter ids "
                f"{expected.tolist()}: the weights folder's tokenizer does not belong to the model"
                + (f" ({self.provenance['weights_dir']})" if self.provenance.get("weights_dir") else "")
            )

    def prepare_text(self, category_names: list[str]) -> PreparedText:
        caption = detection_caption(category_names)
        inputs = self.tokenizer([caption], padding="longest", return_tensors="pt")
        span_caption, spans = caption_token_spans(category_names)
        positive_map = positive_map_from_spans(self.tokenizer(span_caption), spans, self.model.config.max_text_len)
        keys = ("input_ids", "token_type_ids", "attention_mask")
        return PreparedText(tuple(category_names), caption, {k: inputs[k].to(self.device) for k in keys if k in inputs},
                            positive_map)  # fmt: skip

    @torch.inference_mode()
    def detect(self, image: Image.Image, text: PreparedText, num_select: int = NUM_SELECT) -> GroundedDetections:
        """The top `num_select` (box, category, score) of `image` (RGB PIL), boxes in its pixels."""
        pixel_values = preprocess_image(image).to(self.device)
        pixel_mask = torch.ones((1, *pixel_values.shape[-2:]), dtype=torch.long, device=self.device)
        outputs = self.model(pixel_values=pixel_values, pixel_mask=pixel_mask, **text.inputs)
        width, height = image.size
        return select_top_detections(outputs.logits, outputs.pred_boxes, text.positive_map, (height, width), num_select)

