"""ONNX export of a SAM-family model (image encoder + prompt decoder), checked with ONNX Runtime against torch.

The decoder is exported as the official `segment_anything.utils.onnx.SamOnnxModel` (prompt encoder, mask
decoder and mask upscaling), with the inputs and dynamic axes of segment-anything's `scripts/export_onnx_model.py`.
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from segment_anything.modeling import Sam
from segment_anything.utils.onnx import SamOnnxModel

from .backends import export_onnx
from .errors import UnsupportedSetting
from .numerics import relative_error
from .prompt_model import PromptModel

DECODER_INPUTS = ("image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size")


def export_decoder(sam: Sam, path: Path) -> Path:
    """segment_anything's SamOnnxModel as ONNX, for any number of points (strict export: the non-strict one stops
    at the mask crop's data-dependent size)."""
    points = torch.export.Dim.DYNAMIC
    shapes = {name: None for name in DECODER_INPUTS} | {"point_coords": {1: points}, "point_labels": {1: points}}
    return export_onnx(SamOnnxModel(sam, return_single_mask=False), tuple(example_decoder_inputs().values()), path,
                       list(DECODER_INPUTS), ["masks", "iou_predictions", "low_res_masks"], shapes, strict=True)  # fmt: skip


def example_decoder_inputs(num_points: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "image_embeddings": torch.randn(1, 256, 64, 64, generator=gen),
        "point_coords": torch.randint(0, 1024, (1, num_points, 2), generator=gen).float(),
        "point_labels": torch.tensor([[1] + [0] * (num_points - 2) + [-1]], dtype=torch.float),
        "mask_input": torch.zeros(1, 1, 256, 256),
        "has_mask_input": torch.tensor([0.0]),
        "orig_im_size": torch.tensor([683.0, 1024.0]),
    }


def export_and_check(model: PromptModel, directory: Path) -> dict:
    """Write image_encoder.onnx and mask_decoder.onnx to `directory`; return each one's error against torch."""
    import onnxruntime

    if not isinstance(model.network, Sam):
        raise UnsupportedSetting(f"--export onnx knows segment_anything's Sam network; "
                                 f"{model.provenance.get('display')} has another one")  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    sam = copy.deepcopy(model.network).cpu().eval()  # a copy: the model keeps its device for what follows
    image = model.encoder_example(seed=1).cpu()
    encoder_path = export_onnx(sam.image_encoder, (image,), directory / "image_encoder.onnx", ["image"], ["embedding"])
    decoder_path = export_decoder(sam, directory / "mask_decoder.onnx")

    with torch.no_grad():
        embedding = sam.image_encoder(image)
        inputs = example_decoder_inputs()
        inputs["image_embeddings"] = embedding
        torch_decoder = [t.numpy() for t in SamOnnxModel(sam, return_single_mask=False).eval()(*inputs.values())]
    encoder_session = onnxruntime.InferenceSession(str(encoder_path), providers=["CPUExecutionProvider"])
    decoder_session = onnxruntime.InferenceSession(str(decoder_path), providers=["CPUExecutionProvider"])
    (onnx_embedding,) = encoder_session.run(None, {"image": image.numpy()})
    onnx_decoder = decoder_session.run(None, {k: v.numpy() for k, v in inputs.items()})
    return {
        "image_encoder": str(encoder_path),
        "mask_decoder": str(decoder_path),
        "encoder_relative_error": relative_error(onnx_embedding, embedding.numpy()),
        "decoder_relative_error": {
            name: relative_error(ours, ref)
            for name, ours, ref in zip(("masks", "iou_predictions", "low_res_masks"), onnx_decoder, torch_decoder)
        },
    }
