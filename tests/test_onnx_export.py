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
