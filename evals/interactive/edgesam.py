"""The `edgesam` protocol: point / box prompt mIoU as EdgeSAM's evaluation script runs it.

Source: chongzhou96/EdgeSAM b53372c, `evaluation/eval_mIoU.py` (`main`, as scripts/eval_mIoU.sh runs COCO:
--dataset coco --img-bs 1 --max-prompt-bs -1), its dataset `training/data/coco_dataset.py` (`COCODataset`,
load_gt_mask=True, fix_seed=True, no sorting, no area filter) and `edge_sam/utils/common.py` (`sample_point_in_mask`,
`get_centroid_from_mask` with kornia 0.7.1's `distance_transform`, `cal_iou`, `xywh2xyxy`). Each choice, with the
lines it follows (eval_mIoU.py unless named):
- objects: an image's annotations without `iscrowd` (coco_dataset.py 64), in file order; an image with none is not
  in their dataset (`dataset_images`: its order and indices). With `max_prompts` > 0 and more annotations than that,
  `max_prompts` rows are drawn WITH replacement after reseeding torch's generator with the image's dataset index
  (coco_dataset.py 174-178): duplicates are prompted, and recorded, twice;
- the frame: the image resized to longest side 1024 (`get_preprocess_shape`) by torch's antialiased bilinear
  interpolation of the float image (coco_dataset.py 147, `apply_image_torch`), normalised and zero-padded to
  1024 x 1024 (154). SamPredictor.set_image resizes the uint8 image with PIL instead, which gives another
  embedding, so the model gets the resized image (`SamPromptModel.set_resized_image`);
- the ground truth: the annotation's mask (`Instance.mask`, pycocotools as coco_dataset.py 112-126) resized to the
  frame by NEAREST interpolation (150, `apply_masks_torch`) and zero-padded (156); for the IoU its unpadded part goes
  back to the image's size by BILINEAR interpolation, `> 0` (457-466): it is not the annotation's mask;
- the box: COCO [x, y, w, h] scaled to the frame in float32 (coco_dataset.py 148, `apply_boxes_torch`), then
  [x, y, x + w, y + h] (183, `xywh2xyxy`);
- the first click (label 1, point prompts): `mask-center`, the first pixel in row-major order at the maximum of
  kornia's approximate distance transform of the frame's mask (323-326, `get_centroid_from_mask`: `mask_center`);
  `mask-rand`, a uniformly drawn pixel of the frame's mask (306-315: `random.randint` over `nonzero()`, from
  Python's generator, which their script never seeds; here `random.Random(seed)`); `box-center`, their option with
  their bug: x = (x0 + y0) / 2, y = (x1 + y1) / 2 of the frame's box (316-322), the box itself not given;
  `box-center-fixed` (ours): the box's centre ((x0 + x1) / 2, (y0 + y1) / 2). A box prompt has no first click
  (`point_from` is then unused);
- each refinement (iteration >= 1, 397-413): the valid region (the unpadded frame, 381-387), the ground truth and
  the previous prediction at the decoder's 256 x 256 (bilinear, `> 0`, times the bilinear-resized valid region: a
  fractional valid value at the frame's edge makes a pixel a false positive but never a false negative); one pixel
  drawn uniformly (`torch.randint`) among the false positives (label 0) and false negatives (label 1) in row-major
  order, times 4 to the frame (408-409); where fewer than 10 are wrong (common.py 158), the point (0, 0) with label
  -2, which EdgeSAM's prompt encoder embeds as zeros (prompt_encoder.py 91; our EdgeSAM family does too). Every
  click so far is given, no mask input; a box prompt keeps its box;
- masks per prompt: EdgeSAM's `num_multimask_outputs` 1 (token 0), 3 (tokens 1-3), 4 (all) (425); with more than
  one, `multimask_select` score (highest predicted IoU, the first on ties), area (most positive low-res pixels), or
  oracle (none chosen: the IoU is the best of the masks' (470) and the next click comes from the first mask's
  errors) (429-438);
- the IoU: the chosen mask(s) upscaled to 1024, cropped, resized to the image, `> 0` (441-465: `Sam.
  postprocess_masks`, which `predict` applies), against the ground truth above: intersection / union in float32
  (`cal_iou`), NaN where the union is empty, which their mean drops (526; the records hold None);
- randomness: one torch generator for the run, seeded `seed` (their `torch.manual_seed(0)`, 269), one draw by the
  DataLoader's iterator (271), reseeded per image as above, then one `randint` per refined prompt; one Python
  generator for mask-rand. Their single-process run passes both through the images in dataset order: one
  `EdgeSamRandom` given to every `run_edgesam` call in that order reproduces it (their 8-process runs draw 8 streams).
What is ours: a prompt whose frame mask is empty gets the click (0, 0) with mask-rand too, as mask-center gives it
(their randint(0, -1) raises); frozen clicks (a prompt file's) replace the sampled ones and draw nothing.
Frames: their prompts live in the 1024 frame and go straight into the prompt encoder; they reach the model as they
are (`predict(input_frame=True)`: a round trip through original coordinates is not exact in float32). The records
give them in original image coordinates, x / (new_w / W) and y / (new_h / H) (the inverse of SAM's `apply_coords`);
a prompt file's clicks go back as float32(x * (new_w / W)), exactly the frame's value.
"""
from __future__ import annotations

import inspect
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from segment_anything.utils.transforms import ResizeLongestSide
from torch.nn import functional as F

from ..images import open_pil
from .edgesam_params import EdgeSamParams
from .instances import AnnotatedImage, Instance

if TYPE_CHECKING:
    from models.prompt_model import MaskPrediction, PromptModel

FRAME = 1024  # COCODataset(img_size=1024) and sam.image_encoder.img_size
DECODER_SIZE = 256  # the low-res logits' size, where refinement clicks are sampled
MASK_THRESHOLD = 0.0  # sam.mask_threshold
MIN_WRONG_PIXELS = 10  # sample_point_in_mask: `if cur_fp_fn.sum() < num_samples * 10` -> ignored click
IGNORED = -2  # the ignored click's label
DISTANCE_H = 0.35  # kornia.contrib.distance_transform(image, kernel_size=3, h=0.35)
RESIZE = ResizeLongestSide(FRAME)  # their edge_sam/utils/transforms.py ResizeLongestSide is SAM's


class EdgeSamRandom:
    """The generators their script draws from, carried from image to image (module docstring: randomness)."""

    def __init__(self, seed: int = 0):
        self.torch = torch.Generator().manual_seed(seed)
        torch.empty((), dtype=torch.int64).random_(generator=self.torch)  # DataLoader iterator: its base seed
        self.python = random.Random(seed)


def dataset_images(images: Sequence[AnnotatedImage]) -> list[tuple[int, AnnotatedImage]]:
    """The images their COCODataset holds (those with a non-crowd annotation), in file order, with its indices."""
    kept = [image for image in images if any(not instance.iscrowd for instance in image.instances)]
    return list(enumerate(kept))


def read_image(path: Path) -> np.ndarray:
    """H x W x 3 uint8 RGB as their dataset reads an image (coco_dataset.py 98-100): PIL, convert("RGB"), no EXIF
    rotation (read_rgb's OpenCV decoding may differ)."""
    return np.asarray(open_pil(path).convert("RGB"))


def protocol_problem(model: PromptModel, params: EdgeSamParams) -> str | None:
    """Why `model` cannot run this protocol as `params` set it, or None."""
    name = type(model).__name__
    if not hasattr(model, "set_resized_image") or "input_frame" not in inspect.signature(model.predict).parameters:
        return (f"{name} takes prompts in original image coordinates only; the edgesam protocol gives the image "
                "resized and the prompts in the 1024 frame (SamPromptModel.set_resized_image, "
                "predict(input_frame=True))")  # fmt: skip
    capabilities = model.capabilities
    if capabilities.encoder_input_size != FRAME:
        return f"the edgesam protocol's frame is {FRAME} pixels; {name}'s input is {capabilities.encoder_input_size}"
    count, given = params.num_multimask_outputs, capabilities.multimask_outputs
    single = capabilities.single_mask_output
    if not (count == given or (count == 1 and single) or (count == 4 and given == 3 and single)):
        return (f"num_multimask_outputs {count}: {name} gives {given} masks per prompt"
                + ("" if single else " and no single mask"))  # fmt: skip
    return None


def run_edgesam(
    model: PromptModel,
    image: np.ndarray,
    instances: Sequence[Instance],
    params: EdgeSamParams,
    frozen_clicks: dict[int, list[tuple[float, float, int]]] | None = None,
    random_state: EdgeSamRandom | None = None,
    dataset_index: int = 0,
) -> list[dict]:
    """One record per prompt of `image` (H x W x 3 uint8 RGB), in their order: ``{annotation_id, area, ious: [IoU %
    after each iteration, None where theirs is NaN], clicks: [[x, y, label], ...] (original coordinates),
    box: [x0, y0, x1, y1] (original coordinates) or None}``. `random_state`: the run's generators (a fresh
    EdgeSamRandom(params.seed) if None); `dataset_index`: the image's index in `dataset_images` (reseeds the
    generator where `max_prompts` samples)."""
    problem = protocol_problem(model, params)
    if problem:
        raise ValueError(problem)
    objects = [instance for instance in instances if not instance.iscrowd]
    if not objects:
        return []
    state = random_state or EdgeSamRandom(params.seed)
    objects = _sample_objects(objects, params.max_prompts, dataset_index, state.torch)
    frame = Frame(*image.shape[:2])
    frozen = _frozen_clicks(objects, frozen_clicks or {}, params, frame)
    pixels = torch.tensor(image).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        model.set_resized_image(frame.resize(pixels), (frame.height, frame.width))
        truth = frame.masks(objects)
        truth_original = frame.to_image_size(truth) > MASK_THRESHOLD
        truth_low, valid_low = frame.at_decoder_size(truth)
        boxes = frame.boxes(objects)
        points = labels = None
        if params.prompt == "point":
            points = _first_clicks(params.point_from, truth, boxes, frozen, state.python)
            labels = torch.ones(points.shape[:2])
        box = boxes if params.prompt == "box" else None
        ious, low_res = [], None
        for iteration in range(params.refine_iter):
            if iteration > 0:
                clicks = 0 if points is None else points.shape[1]
                new_points, new_labels = _refine_clicks(low_res, truth_low, valid_low, frozen, clicks, state.torch)
                points = new_points if points is None else torch.cat([points, new_points], dim=1)
                labels = new_labels if labels is None else torch.cat([labels, new_labels], dim=1)
            low_res, masks = _select(_decode(model, params.num_multimask_outputs, points, labels, box), params)
            ious.append(_iou(masks, truth_original))
    return [
        {
            "annotation_id": instance.annotation_id,
            "area": instance.area,
            "ious": [None if math.isnan(value) else value * 100 for value in (float(iou[i]) for iou in ious)],
            "clicks": [] if points is None else [
                [*frame.to_original(x, y), int(label)] for (x, y), label in zip(points[i].tolist(), labels[i].tolist())
            ],
            "box": None if box is None else [*frame.to_original(*box[i, :2].tolist()),
                                             *frame.to_original(*box[i, 2:].tolist())],
        }  # fmt: skip
        for i, instance in enumerate(objects)
    ]


class Frame:
    """An image of H x W in their 1024 frame: the resized image (new_h x new_w) at the top left, zero-padded."""

    def __init__(self, height: int, width: int):
        self.height, self.width = height, width
        self.new_height, self.new_width = RESIZE.get_preprocess_shape(height, width, FRAME)

    def resize(self, image: torch.Tensor) -> torch.Tensor:
        """1 x 3 x H x W float -> the frame's size: their `apply_image_torch` (segment_anything 1.0's reads the size
        from the batch and channel dimensions, a bug EdgeSAM's copy fixes)."""
        size = (self.new_height, self.new_width)
        return F.interpolate(image, size, mode="bilinear", align_corners=False, antialias=True)

    def masks(self, objects: Sequence[Instance]) -> torch.Tensor:
        """N x 1 x 1024 x 1024 float: their `gt_mask` (NEAREST resize, zero padding)."""
        masks = torch.from_numpy(np.stack([o.mask(self.height, self.width) for o in objects]).astype(np.uint8))
        masks = F.interpolate(masks[:, None], (self.new_height, self.new_width), mode="nearest")
        return F.pad(masks, (0, FRAME - self.new_width, 0, FRAME - self.new_height)).float()

    def to_image_size(self, masks: torch.Tensor) -> torch.Tensor:
        """Frame masks (logits) back to H x W: crop, bilinear (their IoU's ground truth)."""
        cropped = masks[..., : self.new_height, : self.new_width]
        return F.interpolate(cropped, (self.height, self.width), mode="bilinear", align_corners=False)

    def at_decoder_size(self, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The ground truth and the valid region at 256 x 256 as refinement compares them: (bilinear > 0) x valid,
        and the bilinear-resized valid region (fractional at the frame's edge)."""
        valid = torch.zeros(1, 1, FRAME, FRAME)
        valid[..., : self.new_height, : self.new_width] = 1
        size = (DECODER_SIZE, DECODER_SIZE)
        valid_low = F.interpolate(valid, size, mode="bilinear", align_corners=False)
        truth_low = F.interpolate(truth, size, mode="bilinear", align_corners=False)
        return (truth_low > MASK_THRESHOLD) * valid_low, valid_low

    def boxes(self, objects: Sequence[Instance]) -> torch.Tensor:
        """N x 4 float32 [x0, y0, x1, y1] in the frame: the COCO box scaled as [x, y, w, h], then x + w, y + h."""
        xywh = torch.from_numpy(np.array([o.bbox for o in objects], dtype=np.float64))
        xywh = RESIZE.apply_boxes_torch(xywh, (self.height, self.width))
        return torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)

    def to_original(self, x: float, y: float) -> tuple[float, float]:
        return x / (self.new_width / self.width), y / (self.new_height / self.height)

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        """The inverse of `to_original`, exact for every float32 frame coordinate."""
        x, y = np.float32(x * (self.new_width / self.width)), np.float32(y * (self.new_height / self.height))
        return float(x), float(y)


def _sample_objects(objects: list[Instance], max_prompts: int, dataset_index: int, generator: torch.Generator):
    if not len(objects) > max_prompts > 0:
        return objects
    generator.manual_seed(dataset_index)  # coco_dataset.py: torch.manual_seed(idx), then randint WITH replacement
    rows = torch.randint(0, len(objects), (max_prompts,), generator=generator)
    return [objects[row] for row in rows.tolist()]


def _frozen_clicks(objects, given: dict, params: EdgeSamParams, frame: Frame) -> list[torch.Tensor | None]:
    """Per object, its prompt file's clicks in the frame (k x 3: x, y, label), or None where it has none."""
    needed = params.refine_iter - (params.prompt == "box")
    ids = [o.annotation_id for o in objects]
    frozen = []
    for annotation_id in ids:
        clicks = given.get(annotation_id)
        if clicks is None:
            frozen.append(None)
            continue
        if ids.count(annotation_id) > 1:
            raise ValueError(f"annotation {annotation_id} is prompted twice (max_prompts samples with replacement): "
                             "a prompt file cannot tell its two click sequences apart")  # fmt: skip
        if len(clicks) < needed:
            raise ValueError(f"the prompt file gives {len(clicks)} clicks for annotation {annotation_id}; this run "
                             f"makes {needed}")  # fmt: skip
        frozen.append(torch.tensor([[*frame.to_frame(x, y), label] for x, y, label in clicks[:needed]]))
    return frozen


def _first_clicks(point_from: str, truth: torch.Tensor, boxes: torch.Tensor, frozen: list, python_random):
    """N x 1 x 2 float32 frame coordinates of the first (positive) click."""
    if point_from == "box-center":  # their line: x from (x0 + y0), y from (x1 + y1)
        centers = torch.stack([(boxes[:, 0] + boxes[:, 1]) / 2, (boxes[:, 2] + boxes[:, 3]) / 2], dim=1)
    elif point_from == "box-center-fixed":
        centers = torch.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], dim=1)
    else:
        centers = torch.zeros(len(truth), 2)
        for i, mask in enumerate(truth[:, 0] > 0.5):
            if frozen[i] is None:
                centers[i] = torch.tensor(mask_center(mask) if point_from == "mask-center" else
                                          _random_pixel(mask, python_random))  # fmt: skip
    for i, clicks in enumerate(frozen):
        if clicks is not None:
            centers[i] = clicks[0, :2]
    return centers[:, None]


def _random_pixel(mask: torch.Tensor, python_random: random.Random) -> tuple[int, int]:
    """`g.nonzero()[random.randint(0, len - 1)]`, flipped to (x, y)."""
    pixels = torch.nonzero(mask)
    if len(pixels) == 0:
        return (0, 0)  # theirs: ValueError from randint(0, -1)
    y, x = pixels[python_random.randint(0, len(pixels) - 1)].tolist()
    return (x, y)


def mask_center(mask: torch.Tensor) -> tuple[int, int]:
    """(x, y) of `get_centroid_from_mask` for one H x W bool mask: the first pixel, row-major, at the maximum of
    kornia's distance transform of the mask padded by one pixel of background; (0, 0) for an empty mask. The
    transform is computed on the mask's bounding box plus that pixel: each step reads a 3 x 3 neighbourhood, and
    everything outside is background that stays 0, so every value is the whole image's."""
    padded = F.pad(mask, (1, 1, 1, 1), value=False)
    rows, columns = torch.nonzero(padded.any(dim=1))[:, 0], torch.nonzero(padded.any(dim=0))[:, 0]
    if len(rows) == 0:
        return (0, 0)
    top, bottom, left, right = int(rows[0]) - 1, int(rows[-1]) + 2, int(columns[0]) - 1, int(columns[-1]) + 2
    background = (~padded[top:bottom, left:right]).float()[None, None]
    distance = distance_transform(background, iterations=max(padded.shape))
    y, x = divmod(int(distance.argmax()), right - left)
    return (left + x - 1, top + y - 1)


def distance_transform(image: torch.Tensor, iterations: int) -> torch.Tensor:
    """kornia 0.7.1 `contrib.distance_transform(image, kernel_size=3, h=0.35)` in its operations (float32): rings
    of pixels reached from the non-zero ones, one per step, each pixel valued when reached: offset (3 * step) // 2
    (kornia's `i * kernel_size // 2`) plus -h log of its 3 x 3 exp(-distance / h)-weighted neighbours that are
    reached (replicate border)."""
    offsets = torch.linspace(0, 2, 3, dtype=image.dtype) - 1  # create_meshgrid(3, 3, normalized_coordinates=False) - 1
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    kernel = torch.exp(torch.hypot(dx, dy) / -DISTANCE_H)[None, None]
    out = torch.zeros_like(image)
    boundary = image.clone()
    ones = torch.ones_like(boundary)
    for step in range(iterations):
        cdt = F.conv2d(F.pad(boundary, (1, 1, 1, 1), mode="replicate"), kernel)
        cdt = torch.nan_to_num(-DISTANCE_H * torch.log(cdt), posinf=0.0)  # log(0): not reached yet
        reached = torch.where(cdt > 0, 1.0, 0.0)
        if reached.sum() == 0:
            break
        out += (step * 3 // 2 + cdt) * reached
        boundary = torch.where(reached == 1, ones, boundary)
    return out


def _refine_clicks(low_res, truth_low, valid_low, frozen: list, click: int, generator: torch.Generator):
    """`sample_point_in_mask` on the first mask's errors: N x 1 x 2 frame coordinates and N x 1 labels of the
    prompts' click number `click` (0-based)."""
    predicted = (low_res[:, :1] > MASK_THRESHOLD) * valid_low
    false_positive = (predicted != truth_low) * (truth_low == 0)
    false_negative = (predicted != truth_low) * (truth_low == 1)
    wrong = (false_positive | false_negative)[:, 0]
    points, labels = torch.zeros(len(wrong), 1, 2), torch.full((len(wrong), 1), float(IGNORED))
    for i in range(len(wrong)):
        if frozen[i] is not None:
            points[i, 0], labels[i, 0] = frozen[i][click, :2], frozen[i][click, 2]
            continue
        count = int(wrong[i].sum())
        if count < MIN_WRONG_PIXELS:
            continue  # (0, 0), label -2
        pick = torch.randint(count, (1,), generator=generator)
        y, x = torch.nonzero(wrong[i])[pick][0].tolist()
        points[i, 0] = torch.tensor([x, y]) / DECODER_SIZE * FRAME  # their point / 256 * 1024: 4 x, 4 y
        labels[i, 0] = float(false_negative[i, 0, y, x])
    return points, labels


def _decode(model: PromptModel, count: int, points, labels, box) -> MaskPrediction:
    """`count` masks per prompt in EdgeSAM's token order. 4: EdgeSAM's own output where the model is EdgeSAM's
    (`configure`, one decoder pass), else the model's single mask then its three (SAM's decoder computes all four
    tokens in every call, so the values are the same)."""
    prompts = dict(point_coords=points, point_labels=None if labels is None else labels.int(), boxes=box,
                   input_frame=True)  # fmt: skip
    given = model.capabilities.multimask_outputs
    if count == 4 and given != 4 and hasattr(model, "configure"):
        model.configure(num_multimask_outputs=4)
        try:
            return model.predict(**prompts, multimask_output=True)
        finally:
            model.configure(num_multimask_outputs=given)
    if count == given:
        return model.predict(**prompts, multimask_output=True)
    single = model.predict(**prompts, multimask_output=False)
    if count == 1:
        return single
    several = model.predict(**prompts, multimask_output=True)
    joined = (torch.cat([getattr(single, f), getattr(several, f)], dim=1) for f in ("logits", "iou", "low_res"))
    return type(several)(*joined)


def _select(prediction: MaskPrediction, params: EdgeSamParams) -> tuple[torch.Tensor, torch.Tensor]:
    """The chosen mask(s) of each prompt: low-res logits (next clicks) and masks at the image's size (IoU)."""
    low_res, masks = prediction.low_res, prediction.logits > MASK_THRESHOLD
    if params.num_multimask_outputs == 1 or params.multimask_select == "oracle":
        return low_res, masks
    if params.multimask_select == "score":
        chosen = prediction.iou.argmax(dim=1)
    else:
        chosen = (low_res > MASK_THRESHOLD).sum(dim=(2, 3)).argmax(dim=1)
    rows = torch.arange(len(chosen))
    return low_res[rows, chosen][:, None], masks[rows, chosen][:, None]


def _iou(masks: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """`cal_iou` then the best over each prompt's masks: N float32, NaN where the union is empty."""
    intersection = (masks & truth).sum(dim=(2, 3))
    union = (masks | truth).sum(dim=(2, 3))
    return (intersection / union).max(dim=1).values
