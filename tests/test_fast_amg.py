"""The fast automatic mask generator (models/fast_amg.py) and its decoder (models/shared_image_decoder.py) against
segment-anything's own, on the parity weights: equal bit for bit.

Records: the masks (RLE or binary), scores, boxes, points, crop boxes and their order. Untrained weights need lowered
thresholds, or nothing would pass: their predicted IoUs spread over about [-0.8, 1.1] (MobileSAM, sample image), so
the IoU threshold is set near their median and about half of the candidates pass; their logits stay within about
+-3, so with the offset of 1.0 the stability scores stay under 0.25, and a stability threshold of 0.01 lets some
candidates pass and some not. Untrained masks overlap so much that box NMS would keep one, so it is off (1.0). The encoder's output is cached per crop (both generators encode the same crops), so
each configuration costs the decoding of its points twice.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.amg import mask_to_rle_pytorch

from evals.images import read_rgb
from models.fast_amg import FastSamAutomaticMaskGenerator, mask_to_rle
from models.sam_prompt_model import SamPromptModel
from models.shared_image_decoder import SharedImageDecoding, shares_image_side
from tests.test_parity import THREADS, parity_network

SAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "sample"
SMALL = SAMPLES / "DUTS-TE" / "DUTS-TE-Image" / "synthetic_0001.jpg"  # 160x120
LARGE = SAMPLES / "DAVIS" / "JPEGImages" / "480p" / "blackswan" / "00000.jpg"  # 854x480
LOWERED = dict(pred_iou_thresh=-0.15, stability_score_thresh=0.01, box_nms_thresh=1.0)


class CachedEncoder(torch.nn.Module):
    """The image encoder, computed once per distinct input (the two generators encode the same crops)."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder, self.img_size, self.outputs = encoder, encoder.img_size, {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), x.cpu().numpy().tobytes())
        if key not in self.outputs:
            self.outputs[key] = self.encoder(x)
        return self.outputs[key]


@pytest.fixture(scope="module")
def network():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    sam = parity_network("mobilesam")
    sam.image_encoder = CachedEncoder(sam.image_encoder)
    yield sam
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads, memory_format", [(1, torch.contiguous_format), (2, torch.channels_last)])
@torch.inference_mode()
def test_shared_image_decoding_gives_the_official_decoder_outputs(network, threads, memory_format):
    """IoUs and low-res masks of 4 point prompts, and of 1, on a random embedding; any subset of prompts gives its
    rows. Each thread count, as BLAS partitions work by it; each layout of the embedding, as encoders give both."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(threads)
        embedding = torch.randn(1, 256, 64, 64, generator=generator).contiguous(memory_format=memory_format)
        image_pe = network.prompt_encoder.get_dense_pe()
        for count, subsets in [(4, [torch.arange(4), torch.tensor([1, 3]), torch.tensor([2])]), (1, [torch.arange(1)])]:
            points = torch.rand(count, 1, 2, generator=generator) * 1024
            labels = torch.ones(count, 1, dtype=torch.int)
            sparse, dense = network.prompt_encoder(points=(points, labels), boxes=None, masks=None)
            masks, iou = network.mask_decoder(image_embeddings=embedding, image_pe=image_pe, sparse_prompt_embeddings=sparse,
                                              dense_prompt_embeddings=dense, multimask_output=True)  # fmt: skip
            decoding = SharedImageDecoding(network.mask_decoder, embedding, image_pe, sparse, dense)
            assert torch.equal(decoding.iou_pred[:, 1:], iou)
            for subset in subsets:
                assert torch.equal(decoding.low_res_masks(subset)[:, 1:], masks[subset])
    finally:
        torch.set_num_threads(before)


def test_only_segment_anythings_own_decoder_is_decoded_with_a_shared_image_side(network):
    class OtherDecoder(type(network.mask_decoder)):  # another forward may compute something else
        pass

    assert shares_image_side(network.mask_decoder, torch.device("cpu"))
    assert not shares_image_side(network.mask_decoder, torch.device("cuda"))  # unchecked there: the official path
    other = OtherDecoder.__new__(OtherDecoder)
    other.__dict__.update(network.mask_decoder.__dict__)
    assert not shares_image_side(other, torch.device("cpu"))


def test_mask_to_rle_gives_the_official_rles():
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(5, 7, 9, generator=generator) > 0.5
    edges = torch.zeros(6, 7, 9, dtype=torch.bool)
    edges[1] = True  # no change point
    edges[2, 0, 0] = edges[3, -1, -1] = True  # changes at the first and the last pixel only
    edges[4, :, 3:] = True  # one change, mask starting with 0
    edges[5, :, :3] = True  # one change, mask starting with 1
    for masks in (noise, edges, torch.cat([edges, noise]), torch.zeros(0, 7, 9, dtype=torch.bool)):
        ours, theirs = mask_to_rle(masks), mask_to_rle_pytorch(masks)
        assert ours == theirs and all(type(c) is int for rle in ours for c in rle["counts"])
    assert len(mask_to_rle(noise)) == 5


def assert_same_records(network, image: np.ndarray, **params) -> list[dict]:
    official = SamAutomaticMaskGenerator(network, **params).generate(image)
    fast = SamPromptModel(network, None, {}).generate(image, **params)  # as the tasks call it
    assert len(fast) == len(official) > 0
    for ours, theirs in zip(fast, official):
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == ours[key].dtype and np.array_equal(value, ours[key]), key
            else:  # exact equality, types included (ints stay ints, floats stay floats)
                assert type(ours[key]) is type(value) and ours[key] == value, key
    return official


def test_fast_generator_gives_the_official_records(network):
    assert SamPromptModel.generator_class is FastSamAutomaticMaskGenerator
    # batches of 3 points and 1 point: points with no candidate above the IoU threshold, and points with some
    records = assert_same_records(network, read_rgb(SMALL), points_per_side=2, points_per_batch=3,
                                  min_mask_region_area=40, **LOWERED)  # fmt: skip
    assert min(r["stability_score"] for r in records) >= LOWERED["stability_score_thresh"]


@pytest.mark.slow
def test_fast_generator_gives_the_official_records_on_a_3x3_grid(network):
    records = assert_same_records(network, read_rgb(SMALL), points_per_side=3, points_per_batch=5,
                                  min_mask_region_area=40, **LOWERED)  # fmt: skip
    assert len({r["predicted_iou"] for r in records}) == len(records) > 1  # several distinct candidates survived


@pytest.mark.slow  # 5 encodings and 16 decodings
def test_fast_generator_gives_the_official_records_with_crops(network):
    # One point per layer-1 crop. Untrained masks fill their crop, and a mask box within 20 px of a crop edge is
    # dropped unless that edge is also near the image edge. So the crops are made to overlap almost fully
    # (140x120 at x = 0 and 20: a box at x = 20 is near the image edge too), and masks from crops survive.
    params = dict(points_per_side=2, crop_n_layers=1, crop_n_points_downscale_factor=2, crop_overlap_ratio=1.0)
    records = assert_same_records(network, read_rgb(SMALL), output_mode="coco_rle", **params, **LOWERED)
    assert any(r["crop_box"] != [0, 0, 160, 120] for r in records)


@pytest.mark.slow
def test_fast_generator_keeps_the_official_float_boxes_after_an_empty_batch(network):
    # A batch with no survivor gives batched_mask_to_box's float zeros, which turn every later box into floats
    grid = np.array([[0.25, 0.25], [0.75, 0.75]])  # best predicted IoUs ~0.22 and ~0.81 on this image
    params = dict(points_per_side=None, point_grids=[grid], points_per_batch=1, pred_iou_thresh=0.5,
                  stability_score_thresh=0.0)  # fmt: skip
    records = assert_same_records(network, read_rgb(SMALL), **params)
    assert all(isinstance(x, float) for r in records for x in r["bbox"])


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 1,024 points decoded twice: ~6 min quiet, 15+ on 2 cores shared with other jobs
@pytest.mark.parametrize("image_path", [SMALL, LARGE], ids=["160x120", "854x480"])
def test_fast_generator_gives_the_official_records_at_32x32(network, image_path):
    assert_same_records(network, read_rgb(image_path), **LOWERED)
