"""--export onnx: the exported encoder and SAM's ONNX decoder compute what the torch modules compute."""
from __future__ import annotations

from models.onnx_export import export_and_check
from tests.fakes import toy_prompt_model


def test_exported_encoder_and_decoder_match_torch(tmp_path):
    report = export_and_check(toy_prompt_model(), tmp_path)
    assert (tmp_path / "image_encoder.onnx").stat().st_size > 0 and (tmp_path / "mask_decoder.onnx").stat().st_size > 0
    assert report["encoder_relative_error"] <= 1e-4
    assert set(report["decoder_relative_error"]) == {"masks", "iou_predictions", "low_res_masks"}
    assert max(report["decoder_relative_error"].values()) <= 1e-4


def test_exported_decoder_takes_any_number_of_points(tmp_path):
    import onnxruntime
    import torch
    from segment_anything.utils.onnx import SamOnnxModel

    from models.onnx_export import example_decoder_inputs, export_decoder

    sam = toy_prompt_model().sam
    session = onnxruntime.InferenceSession(str(export_decoder(sam, tmp_path / "decoder.onnx")), providers=["CPUExecutionProvider"])
    for points in (2, 5):  # the export traced 3
        inputs = example_decoder_inputs(num_points=points, seed=points)
        with torch.no_grad():
            reference = SamOnnxModel(sam, return_single_mask=False).eval()(*inputs.values())
        outputs = session.run(None, {name: value.numpy() for name, value in inputs.items()})
        for ours, ref in zip(outputs, reference):
            assert ours.shape == tuple(ref.shape)
            assert abs(ours - ref.numpy()).max() <= 1e-4 * abs(ref.numpy()).max()
