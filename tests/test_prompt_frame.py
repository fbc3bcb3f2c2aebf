"""Prompts scaled to SAM's input frame as the official predictor's two paths scale them (models/sam_prompt_model.py
`to_input_frame`): a numpy array as `SamPredictor.predict` (float64, then float32), a torch tensor as the callers of
`predict_torch` (`apply_*_torch`, float32). On the toy model (tests/fakes.py: SAM's decoder, milliseconds)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.sam_prompt_model import to_input_frame
from tests.fakes import toy_prompt_model

SIZE = (427, 640)  # a COCO image size: scale 1.6 to the 1024 frame
# Coordinates whose float32 and float64 scalings round apart (found by trying COCO-like values; checked below).
POINTS = np.array([[[300.17, 200.33], [101.9, 399.71]]])
LABELS = np.array([[1, 0]])
BOX = np.array([[254.78, 107.91, 325.31, 365.1]])


@pytest.fixture(scope="module")
def model():
    model = toy_prompt_model()
    model.set_image(np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8))
    return model


def test_numpy_and_torch_prompts_take_the_predictors_two_scalings(model):
    transform, cpu = model.predictor.transform, torch.device("cpu")
    for values, boxes, numpy_scaled, torch_scaled in (
        (POINTS, False, transform.apply_coords(POINTS, SIZE), transform.apply_coords_torch(torch.tensor(POINTS), SIZE)),
        (BOX, True, transform.apply_boxes(BOX, SIZE), transform.apply_boxes_torch(torch.tensor(BOX), SIZE)),
    ):  # fmt: skip
        from_numpy = to_input_frame(transform, values, SIZE, cpu, boxes)
        from_torch = to_input_frame(transform, torch.tensor(values), SIZE, cpu, boxes)
        assert from_numpy.dtype == from_torch.dtype == torch.float32
        assert torch.equal(from_numpy, torch.as_tensor(numpy_scaled, dtype=torch.float))
        assert torch.equal(from_torch, torch_scaled)
        assert not torch.equal(from_numpy, from_torch)  # the inputs tell the two paths apart


@torch.inference_mode()
def test_predict_equals_the_official_calls(model):
    predictor, transform = model.predictor, model.predictor.transform
    ours = model.predict(POINTS, LABELS, BOX, multimask_output=False)  # one mask: the upsampling costs the time
    logits, iou, low_res = predictor.predict(POINTS[0], LABELS[0], BOX[0], multimask_output=False, return_logits=True)
    assert np.array_equal(ours.logits[0].numpy(), logits) and np.array_equal(ours.iou[0].numpy(), iou)
    assert np.array_equal(ours.low_res[0].numpy(), low_res)

    ours = model.predict(torch.tensor(POINTS), torch.tensor(LABELS), torch.tensor(BOX), multimask_output=False)
    official = predictor.predict_torch(transform.apply_coords_torch(torch.tensor(POINTS), SIZE), torch.tensor(LABELS),
                                       transform.apply_boxes_torch(torch.tensor(BOX), SIZE), multimask_output=False,
                                       return_logits=True)  # fmt: skip
    for mine, theirs in zip((ours.logits, ours.iou, ours.low_res), official):
        assert torch.equal(mine, theirs)
