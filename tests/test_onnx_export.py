"""--export onnx: the exported encoder and SAM's ONNX decoder compute what the torch modules compute."""
from __future__ import annotations

import pytest

from models.onnx_export import export_and_check
from tests.fakes import toy_prompt_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The toy model, the folder its export went to, and export_and_check's report (one export for the module)."""
    model, directory = toy_prompt_model(), tmp_path_factory.mktemp("onnx")
    return model, directory, export_and_check(model, directory)


def test_exported_encoder_and_decoder_match_torch(exported):
    _, directory, report = exported
    assert (directory / "image_encoder.onnx").stat().st_size > 0 and (directory / "mask_decoder.onnx").stat().st_size > 0
    assert report["encoder_relative_error"] <= 1e-4
    assert set(report["decoder_relative_error"]) == {"masks", "iou_predictions", "low_res_masks"}
    assert max(report["decoder_relative_error"].values()) <= 1e-4


def test_exported_decoder_takes_any_number_of_points(exported):
    import onnxruntime
    import torch
    from segment_anything.utils.onnx import SamOnnxModel

    from models.onnx_export import example_decoder_inputs

    model, directory, _ = exported
    sam = model.network
    session = onnxruntime.InferenceSession(str(directory / "mask_decoder.onnx"), providers=["CPUExecutionProvider"])
    for points in (2, 5):  # the export traced 3
        inputs = example_decoder_inputs(num_points=points, seed=points)
        with torch.no_grad():
            reference = SamOnnxModel(sam, return_single_mask=False).eval()(*inputs.values())
        outputs = session.run(None, {name: value.numpy() for name, value in inputs.items()})
        for ours, ref in zip(outputs, reference):
            assert ours.shape == tuple(ref.shape)
            assert abs(ours - ref.numpy()).max() <= 1e-4 * abs(ref.numpy()).max()
