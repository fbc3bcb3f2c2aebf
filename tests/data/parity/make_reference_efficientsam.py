"""Make the EfficientSAM parity references with the official code (yformer/EfficientSAM).

    PYTHONPATH=/work/ref/efficientsam /work/refvenv/bin/python tests/data/parity/make_reference_efficientsam.py

/work/ref/efficientsam is a work tree of github:yformer/EfficientSAM at COMMIT below (the `efficient_sam` package
imports only torch and numpy; torchvision's ToTensor is what the official example uses to read the image).

For each variant (`efficient_sam_vitt`, `efficient_sam_vits`): build it with the official
`efficient_sam.efficient_sam.build_efficient_sam` (the sizes of `build_efficient_sam_vitt` / `_vits`, without their
checkpoint), write its state-dict layout, load the key-derived parity weights (tests/parity_weights.py) strictly,
run the official image encoder in float64 (input cast to float64, embedding back to float32; everything else in
float32 as the official code runs it) and run the official inference path on the shared parity inputs
(tests/data/parity/sam_vit_b.npz):

- the image as the official example reads it: `torchvision.transforms.ToTensor()(image)` (float32 in [0, 1]);
- `features` = `model.get_image_embeddings(image[None])` (bilinear resize to 1024x1024, ImageNet normalisation,
  encoder): 1 x 256 x 64 x 64;
- `point.*`: the point prompt as one query of one point, `model.predict_masks(features, points, labels,
  multimask_output=True, input_h=H, input_w=W, output_h=H, output_w=W)` (exactly what `EfficientSam.forward` runs
  after the embedding) -> `point.logits` (3 x H x W, bicubic upscaling), `point.iou` (3); the same call with
  output_h = output_w = -1 -> `point.low_res` (3 x 256 x 256);
- `box.*`: the box as two points labelled 2 (top-left) and 3 (bottom-right), the official notebook's box prompt. The
  official model always returns its 3 multimask outputs; the official example and notebooks take one mask as the
  first after sorting by predicted IoU, descending (`torch.argsort(iou, descending=True)`, index 0), which is
  recorded here -> `box.logits` (1 x H x W), `box.iou` (1), `box.low_res` (1 x 256 x 256);
- `combo.*`: the protocol's combo is points2 + box + mask input; EfficientSAM has no mask input, so this is
  points2 followed by the box's two corner points (labels 1, 0, 2, 3) in one query, one mask chosen as for `box`.

Kept: every 4th row and column of `features`, `*.logits` and `*.low_res` (`stride` = 4), the inputs whole.
Written: <reference>.npz, <reference>.json, <reference>_layout.tsv next to this file.

Automatic masks (efficient_sam_vitt only): the official repository has no mask generator module; its "segment
everything" is notebooks/EfficientSAM_segment_everything_example.ipynb. Its code cells (the imports,
`process_small_region`, `get_predictions_given_embeddings_and_queries`, `run_everything_ours`) are executed as they
are, on the same model and image, with three literals replaced: GRID_SIZE 32 -> 5 (25 queries instead of 1024, for
the CPU) and the thresholds `iou > 0.7` -> 0.05, `score > 0.9` -> 0.0005 (the parity weights predict IoUs of about
-0.01..0.2 and stability scores of 0..0.007, so the official thresholds would keep no mask; these keep about half).
The image goes through a PNG file, as the notebook reads it with cv2. Written: efficient_sam_vitt_everything.npz, the
masks in the notebook's order, bit-packed per mask (`masks`, `shape`), with the settings.
"""
from __future__ import annotations

import json
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms import ToTensor

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/ -> parity_weights
from parity_weights import SEED, parity_state_dict  # noqa: E402

import efficient_sam  # noqa: E402  (official)
from efficient_sam.efficient_sam import build_efficient_sam  # noqa: E402  (official)

REPOSITORY = "https://github.com/yformer/EfficientSAM"
COMMIT = "d525f622e6f640acf5a0fc37c7ca1f243da5bde0"
STRIDE = 4
# reference -> (official builder's sizes: encoder_patch_embed_dim, encoder_num_heads), as in build_efficient_sam.py
VARIANTS = {"efficient_sam_vitt": (192, 3), "efficient_sam_vits": (384, 6)}
INPUTS = ("image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box")
NOTEBOOK = Path(efficient_sam.__file__).resolve().parents[1] / "notebooks"
NOTEBOOK = NOTEBOOK / "EfficientSAM_segment_everything_example.ipynb"
# The notebook's literals -> ours (see the docstring); each must occur exactly once.
EVERYTHING_EDITS = {"GRID_SIZE = 32": "GRID_SIZE = 5", "iou > 0.7": "iou > 0.05", "score > 0.9": "score > 0.0005"}
EVERYTHING_SETTINGS = {"points_per_side": 5, "pred_iou_thresh": 0.05, "stability_score_thresh": 0.0005,
                       "stability_score_offset": 1.0, "box_nms_thresh": 0.7, "min_mask_region_area": 100}


class Float64Encoder(torch.nn.Module):
    """The official image encoder computing in float64 (keeps `img_size`, which EfficientSam reads)."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()
        self.img_size = encoder.img_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.double()).float()


def layout_lines(model: torch.nn.Module) -> list[str]:
    lines = []
    for key, value in model.state_dict().items():
        shape = "x".join(str(s) for s in value.shape) if value.dim() else "scalar"
        lines.append(f"{key}\t{shape}\t{str(value.dtype).removeprefix('torch.')}")
    return lines


def best_by_iou(logits: torch.Tensor, iou: torch.Tensor, low_res: torch.Tensor):
    """The official examples' single mask: the first after sorting the 3 outputs by predicted IoU, descending."""
    order = torch.argsort(iou, dim=-1, descending=True)
    iou = torch.take_along_dim(iou, order, dim=2)
    logits = torch.take_along_dim(logits, order[..., None, None], dim=2)
    low_res = torch.take_along_dim(low_res, order[..., None, None], dim=2)
    return logits[:, :, :1], iou[:, :, :1], low_res[:, :, :1]


def run(model, inputs: dict) -> dict[str, np.ndarray]:
    image = ToTensor()(inputs["image"])[None]
    height, width = image.shape[-2:]
    out = {}
    with torch.no_grad():
        features = model.get_image_embeddings(image)
        out["features"] = features

        def query(coords: np.ndarray, labels: np.ndarray, single: bool) -> None:
            points = torch.as_tensor(coords, dtype=torch.float32).reshape(1, 1, -1, 2)
            point_labels = torch.as_tensor(labels, dtype=torch.int64).reshape(1, 1, -1)
            common = dict(multimask_output=True, input_h=height, input_w=width)
            logits, iou = model.predict_masks(features, points, point_labels, **common, output_h=height, output_w=width)
            low_res, iou_again = model.predict_masks(features, points, point_labels, **common)
            assert torch.equal(iou, iou_again)
            if single:
                logits, iou, low_res = best_by_iou(logits, iou, low_res)
            return logits[0, 0], iou[0, 0], low_res[0, 0]

        box_coords = inputs["box"].reshape(2, 2)
        prompts = {
            "point": (inputs["point_coords"], inputs["point_labels"], False),
            "box": (box_coords, np.array([2, 3]), True),
            "combo": (
                np.concatenate([inputs["points2_coords"], box_coords]),
                np.concatenate([inputs["points2_labels"], [2, 3]]),
                True,
            ),
        }
        for name, (coords, labels, single) in prompts.items():
            out[f"{name}.logits"], out[f"{name}.iou"], out[f"{name}.low_res"] = query(coords, labels, single)
    return {k: v.numpy() for k, v in out.items()}


def run_everything(model, image: np.ndarray) -> np.ndarray:
    """The official notebook's segment-everything (code cells as they are, EVERYTHING_EDITS applied) -> N x H x W."""
    import cv2

    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    wanted = ("GRID_SIZE = 32", "def process_small_region", "def run_everything_ours")
    code = "\n".join(c for c in cells if any(w in c for w in wanted))
    for old, new in EVERYTHING_EDITS.items():
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    namespace: dict = {}
    exec(compile(code, str(NOTEBOOK), "exec"), namespace)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "image.png")
        cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1]))  # the notebook reads BGR and converts to RGB
        namespace["image_path"] = path  # run_everything_ours reads the global image_path
        masks = namespace["run_everything_ours"](path, model)
    return np.stack(masks).astype(bool)


def main() -> None:
    torch.set_num_threads(2)
    shared = np.load(HERE / "sam_vit_b.npz")
    inputs = {k: shared[k] for k in INPUTS}
    for reference, (embed_dim, num_heads) in VARIANTS.items():
        torch.manual_seed(0)
        model = build_efficient_sam(encoder_patch_embed_dim=embed_dim, encoder_num_heads=num_heads).eval()
        (HERE / f"{reference}_layout.tsv").write_text("\n".join(layout_lines(model)) + "\n")
        model.load_state_dict(parity_state_dict(model), strict=True)
        model.image_encoder = Float64Encoder(model.image_encoder)
        model.eval()
        full = run(model, inputs)
        out = dict(inputs)
        out["input_size"] = np.array([model.image_encoder.img_size] * 2)
        out["features"] = full["features"][:, :, ::STRIDE, ::STRIDE]
        for prompt in ("point", "box", "combo"):
            out[f"{prompt}.iou"] = full[f"{prompt}.iou"]
            out[f"{prompt}.logits"] = full[f"{prompt}.logits"][:, ::STRIDE, ::STRIDE]
            out[f"{prompt}.low_res"] = full[f"{prompt}.low_res"][:, ::STRIDE, ::STRIDE]
        out["stride"] = np.array(STRIDE)
        np.savez_compressed(HERE / f"{reference}.npz", **out)
        info = {
            "reference": reference,
            "official_repository": REPOSITORY,
            "commit": COMMIT,
            "builder": f"efficient_sam.efficient_sam.build_efficient_sam(encoder_patch_embed_dim={embed_dim}, "
            f"encoder_num_heads={num_heads}) (the sizes of build_efficient_sam_{reference[-4:]}, no checkpoint)",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "init_rule_seed": SEED,
            "command": "PYTHONPATH=/work/ref/efficientsam /work/refvenv/bin/python "
            + shlex.quote("tests/data/parity/make_reference_efficientsam.py"),
            "image_encoder": "float64 (input cast to float64, embedding cast back to float32)",
            "stride": STRIDE,
            "differences_from_protocol": [
                "image read as the official example does: torchvision ToTensor (float32 in [0, 1]); resize to "
                "1024x1024 (aspect ratio not kept) and normalisation inside the model (EfficientSam.preprocess)",
                "features = EfficientSam.get_image_embeddings; decoder calls = EfficientSam.predict_masks with "
                "multimask_output=True (EfficientSam.forward's call); low_res = the same call without upscaling",
                "box: two points labelled 2 and 3 (top-left, bottom-right), the official box prompt",
                "single-mask outputs (box, combo): the official model has no single-mask path in forward; the "
                "official examples take the best of the 3 outputs by predicted IoU (argsort descending, first)",
                "combo: no mask input (EfficientSAM has none): points2 then the box corners in one query, labels "
                "[1, 0, 2, 3], one mask chosen as for box",
                "input_size: the square the image is resized to (1024, 1024)",
            ],
            "shapes": {k: list(v.shape) for k, v in full.items()},
        }
        if reference == "efficient_sam_vitt":
            masks = run_everything(model, inputs["image"])
            packed = np.packbits(masks.reshape(len(masks), -1), axis=1)
            settings = {k: np.array(v) for k, v in EVERYTHING_SETTINGS.items()}
            shape = np.array(masks.shape)
            np.savez_compressed(HERE / f"{reference}_everything.npz", masks=packed, shape=shape, **settings)
            info["everything"] = {
                "file": f"{reference}_everything.npz",
                "source": "notebooks/EfficientSAM_segment_everything_example.ipynb (run_everything_ours)",
                "edits": EVERYTHING_EDITS,
                "settings": EVERYTHING_SETTINGS,
                "masks": int(len(masks)),
            }
        (HERE / f"{reference}.json").write_text(json.dumps(info, indent=1) + "\n")
        print(reference, "max |output|:", {k: float(np.abs(v).max()) for k, v in full.items()})


if __name__ == "__main__":
    main()
