"""SAM's zero-shot edge protocol (evals.bsds.edges) and Dollar's edge NMS (evals.bsds.edge_nms)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from evals.bsds.edge_nms import conv_tri, edge_nms, edge_orientation, gradient2
from evals.bsds.edges import (
    EdgeParams,
    boundary_band,
    mask_boxes,
    point_grid,
    redundant_mask_nms,
    sam_edge_map,
    sam_edge_response,
    sobel_magnitude_at,
)
from models.prompt_model import MaskPrediction


# ---------------------------------------------------------------------------------------------------------
# A fake promptable model over a label image: each point gets the mask of the region it falls in.


class RegionModel:
    """`set_image`/`predict` like PromptModel; the masks are the regions of `labels` (0 = background).

    Logits are `gain` x the signed distance to the region's contour (contour half-way between pixels), so
    the probability map is soft as SAM's is. `shift` moves the logit-0 contour of every object (label > 0)
    outwards by that many pixels (and the background's with it): a slight over-segmentation that makes the
    two sides of a contour differ, as they do with a real model. `variants` picks the 3 multimask outputs
    per point: identical copies, or (region, region grown by 2 px, region shrunk by 2 px).
    """

    def __init__(self, labels: np.ndarray, gain: float = 2.0, shift: float = 0.0, variants: str = "identical"):
        self.labels = labels
        self.variants = variants
        self.ids = {int(lab): i for i, lab in enumerate(np.unique(labels))}
        maps = []
        for lab in self.ids:
            inside = labels == lab
            signed = np.where(inside, ndimage.distance_transform_edt(inside), -ndimage.distance_transform_edt(~inside))
            base = gain * (signed - 0.5 * np.sign(signed) + (shift if lab > 0 else -shift))
            shifts = (0.0, 0.0, 0.0) if variants == "identical" else (0.0, 4.0, -4.0)
            maps.append(np.stack([base + shift for shift in shifts]).astype(np.float32))
        self.maps = torch.from_numpy(np.stack(maps))  # regions x 3 x H x W
        self.decoded = 0

    def set_image(self, image: np.ndarray) -> None:
        assert image.shape[:2] == self.labels.shape

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
        pts = np.asarray(point_coords)[:, 0, :]
        h, w = self.labels.shape
        rows = np.minimum(pts[:, 1].astype(int), h - 1)
        cols = np.minimum(pts[:, 0].astype(int), w - 1)
        ids = torch.tensor([self.ids[int(lab)] for lab in self.labels[rows, cols]])
        logits = self.maps.flatten(1)[ids].view(len(pts), *self.maps.shape[1:])
        iou = torch.tensor([0.9, 0.8, 0.7]).repeat(len(pts), 1)
        if not multimask_output:
            logits, iou = logits[:, :1], iou[:, :1]
        self.decoded += len(pts)
        return MaskPrediction(logits=logits, iou=iou, low_res=torch.zeros(len(pts), logits.shape[1], 4, 4))


def disk_and_square(h: int = 150, w: int = 200, angle: float = 20.0) -> np.ndarray:
    """Labels: 0 background, 1 a disk, 2 a square rotated by `angle` degrees (side 61 px, height 150 px)."""
    yy, xx = np.mgrid[:h, :w]
    labels = np.zeros((h, w), np.int64)
    labels[(yy - 70 * h / 150) ** 2 + (xx - 60 * w / 200) ** 2 <= (38 * h / 150) ** 2] = 1
    a = np.deg2rad(angle)
    cx, cy, half = 148 * w / 200, 80 * h / 150, 30 * h / 150
    u = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
    v = -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
    labels[(np.abs(u) <= half) & (np.abs(v) <= half)] = 2
    return labels


def contour_pixels(labels: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another label (both sides of every contour)."""
    c = np.zeros(labels.shape, bool)
    dy = labels[1:] != labels[:-1]
    dx = labels[:, 1:] != labels[:, :-1]
    c[1:] |= dy
    c[:-1] |= dy
    c[:, 1:] |= dx
    c[:, :-1] |= dx
    return c


def render(labels: np.ndarray) -> np.ndarray:
    return np.stack([(labels * 90 + 20).astype(np.uint8)] * 3, axis=2)


# ---------------------------------------------------------------------------------------------------------
# The check: known geometry, exact masks -> maxima on the true contours.


@pytest.mark.parametrize("boundary", ["inner", "outer"])
def test_edge_map_maxima_lie_on_true_contours(boundary):
    labels = disk_and_square()
    model = RegionModel(labels, shift=0.3)
    params = EdgeParams(boundary=boundary)
    edges = sam_edge_map(model, render(labels), params)
    assert edges.dtype == np.float32 and edges.shape == labels.shape
    assert edges.min() >= 0 and edges.max() <= 1 and edges.max() > 0.9

    contour = contour_pixels(labels)
    near_contour = ndimage.binary_dilation(contour, np.ones((3, 3), bool))
    strong = edges > 0.5
    assert strong.sum() > 0.5 * contour.sum() / 2  # the contour pixels count both sides
    assert not (strong & ~near_contour).any()  # every strong pixel is within 1 px of a true contour
    assert not ((edges > 0) & ~near_contour).any()  # and so is every response at all

    # Most contour pixels have a response within 1 px (one line survives NMS per two-sided contour).
    shapes_edge = contour & (labels > 0)
    hit = ndimage.binary_dilation(edges > 0, np.ones((3, 3), bool))
    assert hit[shapes_edge].mean() > 0.95

    # The result is thin: no 2x2 block of nonzero pixels (the square is tilted: see the degenerate case of an
    # exactly axis-aligned edge in test_orientation_of_exactly_horizontal_edge_is_the_toolbox_degenerate_case).
    nz = edges > 0
    assert not (nz[1:, 1:] & nz[:-1, 1:] & nz[1:, :-1] & nz[:-1, :-1]).any()


def test_nms_of_duplicate_masks_keeps_one_per_region():
    labels = disk_and_square()
    model = RegionModel(labels)
    _, info = sam_edge_response(model, render(labels), EdgeParams())
    assert info["masks"] == 768
    assert info["kept"] == 3  # background, disk, square: every duplicate removed

    boxes = torch.tensor([[10, 10, 50, 50], [10, 10, 50, 50], [11, 10, 50, 50], [60, 60, 90, 90]])
    scores = torch.tensor([0.5, 0.9, 0.7, 0.1])
    assert redundant_mask_nms(boxes, scores, 0.7).tolist() == [1, 3]


def test_mask_boxes_equal_amg_boxes():
    from segment_anything.utils.amg import batched_mask_to_box

    rng = np.random.default_rng(3)
    logits = torch.from_numpy(rng.normal(-2, 1, (6, 17, 23)).astype(np.float32))
    logits[0] = -1  # empty mask
    logits[1, 4, 9] = 5  # a single pixel
    logits[2] = 3  # the whole image
    np.testing.assert_array_equal(mask_boxes(logits, 0.0).numpy(), batched_mask_to_box(logits > 0).numpy())
    np.testing.assert_array_equal(mask_boxes(logits, -2.5).numpy(), batched_mask_to_box(logits > -2.5).numpy())


def test_mask_variants_and_recomputation_give_the_same_map():
    labels = disk_and_square(100, 120)
    image = render(labels)
    cached = sam_edge_map(RegionModel(labels, variants="grown"), image, EdgeParams(points_per_batch=20))
    model = RegionModel(labels, variants="grown")
    fresh = sam_edge_map(model, image, EdgeParams(points_per_batch=20, cache_bytes=0))
    assert model.decoded > 256  # second pass re-decoded
    np.testing.assert_array_equal(cached, fresh)


def test_point_grid_is_amg_grid():
    grid = point_grid(16, 321, 481)
    assert grid.shape == (256, 2)
    np.testing.assert_allclose(grid[0], [481 / 32, 321 / 32])
    np.testing.assert_allclose(grid[-1], [481 * 31 / 32, 321 * 31 / 32])
    assert grid[1, 0] > grid[0, 0] and grid[1, 1] == grid[0, 1]  # x varies fastest, as in AMG


def test_boundary_band_modes():
    mask = np.zeros((12, 14), bool)
    mask[3:8, 4:10] = True
    mask[0:5, 12:14] = True  # touches the top and right image borders
    m = torch.from_numpy(mask)[None]
    inner = boundary_band(m, "inner")[0].numpy()
    outer = boundary_band(m, "outer")[0].numpy()
    cross = ndimage.generate_binary_structure(2, 1)
    padded = np.pad(mask, 1, constant_values=True)  # outside the image counts as inside
    expected_inner = mask & ~ndimage.binary_erosion(padded, cross)[1:-1, 1:-1]
    np.testing.assert_array_equal(inner, expected_inner)
    np.testing.assert_array_equal(outer, ndimage.binary_dilation(mask, cross) & ~mask)
    assert inner[0, 12] and not inner[0, 13] and not inner[:4, 13].any()  # the image frame is no boundary
    wide = boundary_band(m, "inner", width=2)[0].numpy()
    assert wide.sum() > inner.sum() and (wide | inner).sum() == wide.sum()
    assert not boundary_band(torch.ones(1, 5, 5, dtype=torch.bool), "inner")[0].any()


def test_sobel_at_pixels_equals_filtering_the_whole_map():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(0, 3, (2, 9, 11)).astype(np.float32))
    prob = torch.sigmoid(logits).numpy().astype(np.float64)
    k, y, x = torch.ones(2, 9, 11, dtype=torch.bool).nonzero(as_tuple=True)
    got = sobel_magnitude_at(logits, k, y, x).numpy().reshape(2, 9, 11)
    for i in range(2):
        gx = ndimage.sobel(prob[i], axis=1, mode="nearest") / 8
        gy = ndimage.sobel(prob[i], axis=0, mode="nearest") / 8
        np.testing.assert_allclose(got[i], np.hypot(gx, gy), atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# Dollar's edge NMS pieces.


def _reflect(i: int, n: int) -> int:
    """MATLAB padarray 'symmetric' for one index (pads up to n)."""
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - 1 - i
    return i


@pytest.mark.parametrize("r", [0.5, 1, 2, 4])
def test_conv_tri_matches_its_definition(r):
    rng = np.random.default_rng(1)
    image = rng.random((9, 11)).astype(np.float32)
    if r <= 1:
        p = 12 / r / (r + 2) - 2
        f, rad = np.array([1, p, 1]) / (2 + p), 1
    else:
        f, rad = np.array(list(range(1, r + 1)) + [r + 1] + list(range(r, 0, -1))) / (r + 1) ** 2, r
    h, w = image.shape
    expected = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            for a in range(-rad, rad + 1):
                for b in range(-rad, rad + 1):
                    expected[i, j] += f[a + rad] * f[b + rad] * image[_reflect(i + a, h), _reflect(j + b, w)]
    np.testing.assert_allclose(conv_tri(image, r), expected, rtol=1e-6, atol=1e-7)


def test_conv_tri_pad_wider_than_the_image():
    image = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = conv_tri(image, 4)  # MATLAB takes its non-mex path: periodic mirror padding
    assert out.shape == image.shape and np.isfinite(out).all()
    np.testing.assert_allclose(conv_tri(np.ones((2, 3), np.float32), 4), 1, rtol=1e-6)


def test_gradient2_is_matlab_gradient():
    image = np.random.default_rng(2).random((6, 7)).astype(np.float32)
    gx, gy = gradient2(image)
    np.testing.assert_allclose(gx, np.gradient(image.astype(np.float64), axis=1), atol=1e-6)
    np.testing.assert_allclose(gy, np.gradient(image.astype(np.float64), axis=0), atol=1e-6)


def _ridge(h: int, w: int, direction: str, centre: float = 20, sigma: float = 1.5, tilt: float = 0.0) -> np.ndarray:
    """A blurred straight edge (Gaussian ridge); `tilt` rotates it slightly (slope, pixels per pixel)."""
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    t = {
        "vertical": xx - tilt * (yy - h / 2),
        "horizontal": yy - tilt * (xx - w / 2),
        "diagonal": (xx - yy) / math.sqrt(2),
    }[direction]
    return np.exp(-((t - centre) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_orientation_is_the_ridge_normal():
    vertical = edge_orientation(_ridge(40, 50, "vertical"))[8:-8, 17:24]
    horizontal = edge_orientation(_ridge(50, 40, "horizontal", tilt=0.01))[18:23, 8:-8]
    diagonal = edge_orientation(_ridge(50, 50, "diagonal", centre=0))
    on_diagonal = np.array([diagonal[i, i] for i in range(10, 40)])
    assert np.minimum(vertical, np.pi - vertical).max() < 1e-3  # normal along x: O = 0 (mod pi)
    assert np.abs(horizontal - np.pi / 2).max() < 0.02  # normal along y (the ridge is tilted by 0.01 rad)
    assert np.abs(on_diagonal - 3 * np.pi / 4).max() < 1e-3  # normal (1, -1)
    for o in (vertical, horizontal, diagonal):
        assert ((o >= 0) & (o < np.pi)).all()


def test_orientation_of_exactly_horizontal_edge_is_the_toolbox_degenerate_case():
    # A map constant along x has Oxy == 0 exactly, so the numerator Oyy * sign(-Oxy) is 0 and O = 0: the
    # toolbox formula (sign(0) = 0 in MATLAB too) then compares along the edge and does not thin it.
    edges = _ridge(50, 40, "horizontal")
    assert (edge_orientation(edges) == 0).all()
    thin = edge_nms(edges, edge_orientation(edges))
    assert np.count_nonzero(thin[:, 20]) > 1 and np.count_nonzero(thin[20, 5:-5]) == 30


@pytest.mark.parametrize("direction", ["vertical", "horizontal"])
def test_blurred_straight_edge_becomes_one_pixel_wide(direction):
    if direction == "vertical":
        edges = _ridge(40, 50, "vertical")
    else:  # tilted by 0.01: the centre stays within 0.2 px of row 20
        edges = _ridge(50, 40, "horizontal", tilt=0.01)
    thin = edge_nms(edges, edge_orientation(edges))
    if direction == "horizontal":
        thin, edges = thin.T, edges.T
    inner = thin[5:-5]  # lines away from the faded border
    assert (np.count_nonzero(inner, axis=1) == 1).all()
    assert (np.argmax(inner, axis=1) == 20).all()
    np.testing.assert_array_equal(inner[:, 20], edges[5:-5, 20])  # the maxima keep their values


def test_border_fade():
    edges = np.ones((20, 30), np.float32)
    out = edge_nms(edges, np.zeros_like(edges), r=1, s=5, m=1.01)
    ramp = np.arange(5, dtype=np.float32) / 5
    np.testing.assert_array_equal(out[10, :5], ramp)
    np.testing.assert_array_equal(out[10, -5:], ramp[::-1])
    np.testing.assert_array_equal(out[:5, 15], ramp)
    np.testing.assert_array_equal(out[5:-5, 5:-5], 1)
    assert out[0, 0] == 0 and out[1, 1] == np.float32(np.float32(0.2) * np.float32(0.2))


def _edge_nms_loop(e0: np.ndarray, o: np.ndarray, r: int, s: int, m: float) -> np.ndarray:
    """Per-pixel reference written from the definition (float32 throughout)."""
    h, w = e0.shape
    f = np.float32
    out = e0.copy()

    def interp(x, y):
        x = f(0) if x < 0 else (f(w - 1.001) if x > w - 1.001 else x)
        y = f(0) if y < 0 else (f(h - 1.001) if y > h - 1.001 else y)
        x0, y0 = int(x), int(y)
        dx0, dy0 = f(x - f(x0)), f(y - f(y0))
        dx1, dy1 = f(1) - dx0, f(1) - dy0
        top = e0[y0, x0] * dx1 * dy1 + e0[y0, x0 + 1] * dx0 * dy1
        return top + e0[y0 + 1, x0] * dx1 * dy0 + e0[y0 + 1, x0 + 1] * dx0 * dy0

    for yy in range(h):
        for xx in range(w):
            e = e0[yy, xx]
            if not e:
                continue
            e = e * f(m)
            c, sn = np.cos(o[yy, xx]), np.sin(o[yy, xx])
            for d in range(-r, r + 1):
                if d and e < interp(f(xx) + f(d) * c, f(yy) + f(d) * sn):
                    out[yy, xx] = 0
                    break
    s = min(s, w // 2, h // 2)
    for x in range(s):
        out[:, x] *= f(x) / f(s)
        out[:, w - 1 - x] *= f(x) / f(s)
    for y in range(s):
        out[y, :] *= f(y) / f(s)
        out[h - 1 - y, :] *= f(y) / f(s)
    return out


@pytest.mark.parametrize("r,s", [(1, 5), (2, 3), (1, 20)])
def test_edge_nms_matches_per_pixel_definition(r, s):
    rng = np.random.default_rng(r + s)
    edges = conv_tri(rng.random((23, 31)).astype(np.float32), 1)
    edges[rng.random(edges.shape) < 0.2] = 0
    orientation = edge_orientation(edges)
    expected = _edge_nms_loop(edges, orientation, r, s, 1.01)
    np.testing.assert_array_equal(edge_nms(edges, orientation, r, s, 1.01), expected)


# ---------------------------------------------------------------------------------------------------------
# The real decoder path.


def test_smoke_toy_prompt_model():
    """The real decoder path (CPU-heavy: SAM upsamples every mask to 1024x1024), kept to 4 points."""
    from tests.fakes import disk_image, toy_prompt_model

    image, _ = disk_image(0, size=64)
    model = toy_prompt_model()
    one_batch = 2 * 3 * 64 * 64 * 4  # bytes of one batch of logits: the second batch is decoded again
    params = EdgeParams(points_per_side=2, points_per_batch=2, cache_bytes=one_batch)
    edges, info = sam_edge_response(model, image, params)
    assert info["masks"] == 12 and info["batches"] == 2 and 1 <= info["kept"] <= 12
    assert edges.shape == (64, 64) and edges.dtype == np.float32 and np.isfinite(edges).all()
    assert 0 <= edges.min() and edges.max() <= 1
    thin = edge_nms(edges, edge_orientation(edges))
    assert thin.dtype == np.float32 and (thin <= edges).all()
