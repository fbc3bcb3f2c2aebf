"""The BSDS500 boundary benchmark (evals/bsds) against the official MATLAB bench and known geometry.

tests/data/bsds500_bench holds the bench's own test data and the MATLAB outputs of its ``test_benchs.m``
(see the README there). The MATLAB bench's matching (CSA) is randomised and ours is an exact maximum matching,
so outputs agree to 2e-3 absolute (the bench's own run-to-run spread is ~1e-3), not bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from scipy.optimize import linear_sum_assignment
from skimage.morphology import thin as skimage_thin

from evals.errors import DataError
from evals.bsds.bench_files import (
    SUMMARY_FIELDS,
    read_bench_results,
    read_image_counts,
    write_bench_results,
    write_image_counts,
)
from evals.bsds.directory_evaluation import evaluate_directory
from evals.bsds.image_evaluation import evaluate_image, image_thresholds
from evals.bsds.io import find_prediction, read_ground_truth, read_prediction
from evals.bsds.matching import correspondence_counts
from evals.bsds.protocol import bench_thresholds, match_offsets, max_dist_pixels
from evals.bsds.segmentation_boundaries import segmentation_boundaries
from evals.bootstrap import resample_weights
from evals.bsds.summary import average_precision, best_interpolated_f, intervals, recall_at_half_precision, summarize
from evals.bsds.thinning import thin, thin_stack

DATA = Path(__file__).parent / "data" / "bsds500_bench"
NAMES = ["2018", "3063", "5096", "6046", "8068"]
TOLERANCE = 2e-3
# test_benchs.m: (output dir, input dir, input suffix, nthresh)
BENCH_TESTS = {
    "test_1": ("ucm2", ".mat", 5),
    "test_2": ("png", ".png", 5),
    "test_3": ("segs", ".mat", 99),  # the bench replaces 99 by the number of segmentations
    "test_4": ("segs", ".mat", 99),
}


@pytest.fixture(scope="module")
def ground_truth():
    return {name: read_ground_truth(DATA / "groundTruth" / f"{name}.mat") for name in NAMES}


@pytest.fixture(scope="module")
def bench_outputs(ground_truth):
    outputs = {}
    for test, (folder, suffix, nthresh) in BENCH_TESTS.items():
        predictions = [read_prediction(DATA / folder / f"{name}{suffix}") for name in NAMES]
        counts = [evaluate_image(p, ground_truth[n], nthresh) for p, n in zip(predictions, NAMES)]
        outputs[test] = (counts, summarize(counts, image_thresholds(predictions[0], nthresh)))
    return outputs


# --- the official bench's outputs --------------------------------------------------------------------------


@pytest.mark.parametrize("test", sorted(BENCH_TESTS))
def test_reproduces_matlab_bench(test, bench_outputs):
    counts, ours = bench_outputs[test]
    reference = read_bench_results(DATA / test)
    assert len(counts) == 5 and all(c.shape == (5, 4) for c in counts)  # 5 thresholds / segmentations
    for field in SUMMARY_FIELDS:  # ODS (T, R, P, F), OIS (R, P, F), AP
        assert ours[field] == pytest.approx(reference["summary"][field], abs=TOLERANCE), field
    per_threshold = np.column_stack([ours["thresholds"], ours["recall"], ours["precision"], ours["f"]])
    np.testing.assert_allclose(per_threshold, reference["per_threshold"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(ours["per_image"], reference["per_image"], atol=TOLERANCE, rtol=0)


def test_recall_is_never_below_matlab(bench_outputs):
    """CSA can miss the maximum matching by a few pixels, never exceed it: our recall is >= MATLAB's."""
    for test in BENCH_TESTS:
        _, ours = bench_outputs[test]
        reference = read_bench_results(DATA / test)["per_threshold"][:, 1]
        assert np.all(ours["recall"] >= reference - 5e-7)  # the files hold 6 significant digits


def test_bench_files_round_trip(bench_outputs, tmp_path):
    counts, ours = bench_outputs["test_2"]
    write_bench_results(tmp_path, ours)
    back = read_bench_results(tmp_path)
    for field in SUMMARY_FIELDS:
        assert back["summary"][field] == pytest.approx(ours[field], rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(back["per_image"], ours["per_image"], rtol=1e-5, atol=1e-6)
    lines = (tmp_path / "eval_bdry_img.txt").read_text().splitlines()
    assert lines[0].split()[0] == "1" and len(lines[0]) == 54  # '%10d %10g %10g %10g %10g'
    write_image_counts(tmp_path / "2018_ev1.txt", ours["thresholds"], counts[0])
    thresholds, back_counts = read_image_counts(tmp_path / "2018_ev1.txt")
    np.testing.assert_allclose(thresholds, ours["thresholds"], rtol=1e-5)
    np.testing.assert_array_equal(back_counts, counts[0])


def test_thresholds_are_matlab_linspace():
    reference = read_bench_results(DATA / "test_2")["per_threshold"][:, 0]
    np.testing.assert_allclose(bench_thresholds(5), reference, atol=1e-6)
    thresholds = bench_thresholds(99)
    assert thresholds[0] == 1 / 100 and thresholds[-1] == 1 - 1 / 100
    steps = np.arange(99)
    np.testing.assert_array_equal(thresholds[1:-1], (0.01 + (steps * (0.99 - 0.01)) / 98)[1:-1])
    assert np.count_nonzero(thresholds != np.linspace(0.01, 0.99, 99)) > 0  # numpy's rounding differs


# --- building blocks -----------------------------------------------------------------------------------------


def test_ground_truth_is_thinned_seg2bdry(ground_truth):
    """BSDS made Boundaries as bwmorph(seg2bdry(Segmentation), 'thin', inf): checks seg2bdry and thinning."""
    for name in NAMES:
        cells = scipy.io.loadmat(str(DATA / "groundTruth" / f"{name}.mat"))["groundTruth"].ravel()
        for cell, boundaries in zip(cells, ground_truth[name]):
            rebuilt = thin(segmentation_boundaries(cell["Segmentation"][0, 0]))
            np.testing.assert_array_equal(rebuilt, boundaries)


def seg2bdry_transcribed(seg):
    """BSR seg2bdry.m line by line on its double-size grid (1-based MATLAB ranges written 0-based)."""
    tx, ty = seg.shape
    bdry = np.zeros((2 * tx + 1, 2 * ty + 1))
    edgels_v = np.zeros((tx, ty), bool)
    edgels_v[:-1, :] = seg[:-1, :] != seg[1:, :]
    edgels_h = np.zeros((tx, ty), bool)
    edgels_h[:, :-1] = seg[:, :-1] != seg[:, 1:]
    bdry[2::2, 1::2] = edgels_v  # bdry(3:2:end, 2:2:end) = edgels_v
    bdry[1::2, 2::2] = edgels_h  # bdry(2:2:end, 3:2:end) = edgels_h
    bdry[2:-1:2, 2:-1:2] = np.maximum(  # bdry(3:2:end-1, 3:2:end-1) = max(max(h, h), max(v, v))
        np.maximum(edgels_h[:-1, :-1], edgels_h[1:, :-1]), np.maximum(edgels_v[:-1, :-1], edgels_v[:-1, 1:])
    )
    bdry[0, :] = bdry[1, :]
    bdry[:, 0] = bdry[:, 1]
    bdry[-1, :] = bdry[-2, :]
    bdry[:, -1] = bdry[:, -2]
    return bdry[2::2, 2::2] > 0  # 'imageSize': bdry(3:2:end, 3:2:end)


def test_segmentation_boundaries_match_seg2bdry():
    rng = np.random.default_rng(2)
    for _ in range(50):
        seg = rng.integers(0, rng.integers(1, 4), size=rng.integers(2, 12, size=2))
        np.testing.assert_array_equal(segmentation_boundaries(seg), seg2bdry_transcribed(seg))
    seg = np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3]])
    expected = np.array([[0, 1, 0], [1, 1, 1], [0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(segmentation_boundaries(seg), expected)
    assert not segmentation_boundaries(np.zeros((4, 5))).any()


def test_thinning_matches_skimage():
    rng = np.random.default_rng(0)
    maps = []
    for trial in range(60):
        image = rng.random((23, 31)) < rng.uniform(0.05, 0.9)
        if trial % 2:
            image = cv2.dilate(image.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        maps.append(image)
    stack = np.stack(maps)
    np.testing.assert_array_equal(thin_stack(stack), np.stack([skimage_thin(m) for m in maps]))
    # thick blobs of a thresholded soft map (many iterations)
    yy, xx = np.mgrid[:60, :80]
    soft = np.clip(1 - np.hypot(yy - 30, xx - 40) / 40, 0, 1) * (0.6 + 0.4 * np.sin(xx / 3.0) ** 2)
    blobs = soft[None] >= np.array([0.05, 0.2, 0.4])[:, None, None]
    np.testing.assert_array_equal(thin_stack(blobs), np.stack([skimage_thin(b) for b in blobs]))


def test_match_radius_is_euclidean_and_inclusive():
    shape = (321, 481)  # a BSDS image: radius 0.0075 * 578.27 = 4.337 px, radius^2 = 18.8
    radius = max_dist_pixels(shape)
    assert radius == pytest.approx(0.0075 * np.hypot(321, 481))
    offsets = match_offsets(radius)
    squared = (offsets**2).sum(axis=1)
    assert squared.max() == 18 and np.all(np.diff(squared) >= 0) and len(offsets) == 61
    for (dy, dx), matched in [((3, 3), 1), ((4, 1), 1), ((4, 2), 0), ((0, 5), 0)]:
        gt = np.zeros(shape, bool)
        machine = np.zeros((1, *shape), bool)
        gt[100, 100] = True
        machine[0, 100 + dy, 100 + dx] = True
        assert correspondence_counts(machine, [gt]).tolist() == [[matched, 1, matched, 1]]


def circle(shape, center, radius):
    """One-pixel-wide circle boundary (the bench's seg2bdry of a disk, thinned)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    disk = (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2
    return thin(segmentation_boundaries(disk.astype(int)))


def test_known_geometry_circle():
    shape = (200, 300)  # match radius 0.0075 * 360.6 = 2.7 px
    gt = circle(shape, (100, 150), 40)
    shifted = np.roll(gt, 1, axis=1)  # 1 px to the right
    counts = evaluate_image(shifted.astype(float), [gt], thresholds=[0.5])
    cnt_r, sum_r, cnt_p, sum_p = counts[0]
    assert cnt_r == sum_r == gt.sum() and cnt_p == sum_p == gt.sum()  # recall = precision = 1
    far = circle(shape, (100, 150), 44)  # concentric, 4 px > 2.7 px away everywhere
    counts = evaluate_image(far.astype(float), [gt], thresholds=[0.5])
    assert counts[0, 0] == 0 and counts[0, 2] == 0 and counts[0, 3] > 0  # recall = precision = 0
    # soft map: the circle at strength 0.6 is on for thresholds <= 0.6 only
    counts = evaluate_image(shifted * 0.6, [gt, gt], thresholds=[0.3, 0.6, 0.7])
    assert counts[:, 0].tolist() == [2 * gt.sum(), 2 * gt.sum(), 0]  # recall summed over both annotators
    assert counts[:, 1].tolist() == [2 * gt.sum()] * 3
    assert counts[:, 2].tolist() == [gt.sum(), gt.sum(), 0] and counts[:, 3].tolist() == [gt.sum(), gt.sum(), 0]


def brute_force_matching_size(machine, gt, radius):
    my, mx = np.nonzero(machine)
    gy, gx = np.nonzero(gt)
    if len(my) == 0 or len(gy) == 0:
        return 0
    near = (gy[:, None] - my[None]) ** 2 + (gx[:, None] - mx[None]) ** 2 <= radius**2
    rows, cols = linear_sum_assignment(~near)
    return int(near[rows, cols].sum())


def test_matching_is_a_maximum_matching():
    rng = np.random.default_rng(1)
    for _ in range(150):
        height, width = rng.integers(3, 16, size=2)
        max_dist = rng.uniform(0.05, 0.35)
        radius = max_dist_pixels((height, width), max_dist)
        machine = rng.random((3, height, width)) < rng.uniform(0.05, 0.5)
        annotators = [rng.random((height, width)) < rng.uniform(0.05, 0.5) for _ in range(rng.integers(1, 4))]
        counts = correspondence_counts(machine, annotators, max_dist)
        for k in range(3):
            sizes = [brute_force_matching_size(machine[k], a, radius) for a in annotators]
            assert counts[k, 0] == sum(sizes)
            assert counts[k, 1] == sum(a.sum() for a in annotators) and counts[k, 3] == machine[k].sum()
            assert max(sizes) <= counts[k, 2] <= min(sum(sizes), machine[k].sum())


# --- scores ---------------------------------------------------------------------------------------------------


def test_summary_scores_by_hand():
    thresholds = np.array([0.25, 0.5, 0.75])
    recall = np.array([0.8, 0.5, 0.2])
    precision = np.array([0.4, 0.7, 0.9])
    _, r, _, f = best_interpolated_f(thresholds, recall, precision)
    grid = np.linspace(0, 1, 100)
    candidates = [
        (2 * pp * rr / (pp + rr), rr)
        for a, b, c, d in [(0.8, 0.5, 0.4, 0.7), (0.5, 0.2, 0.7, 0.9)]
        for rr, pp in zip(b * grid + a * (1 - grid), d * grid + c * (1 - grid))
    ]
    assert f == pytest.approx(max(candidates)[0]) and r == pytest.approx(max(candidates)[1])
    # AP: linear P(R) through (0.2, 0.9), (0.5, 0.7), (0.8, 0.4), zero outside [0.2, 0.8], 101-point sum * 0.01
    grid = np.arange(101) / 100
    expected = np.where((grid >= 0.2) & (grid <= 0.8), np.interp(grid, [0.2, 0.5, 0.8], [0.9, 0.7, 0.4]), 0)
    assert average_precision(recall, precision) == pytest.approx(expected.sum() * 0.01)
    # R50: precision 0.5 lies between (0.8, 0.4) and (0.5, 0.7): recall 0.8 - 0.1/0.3 * 0.3 = 0.7
    assert recall_at_half_precision(recall, precision) == pytest.approx(0.7)
    assert np.isnan(recall_at_half_precision(np.array([0.5, 0.2]), np.array([0.3, 0.4])))


def test_ois_uses_each_images_best_threshold():
    counts = np.array(
        [
            [[9, 10, 3, 10], [5, 10, 5, 5]],  # image 1: F = 0.46 then 0.67 -> second
            [[8, 10, 8, 10], [1, 10, 1, 1]],  # image 2: F = 0.8 then 0.18 -> first
        ]
    )
    scores = summarize(counts, [0.3, 0.6])
    assert scores["ois_recall"] == pytest.approx(13 / 20) and scores["ois_precision"] == pytest.approx(13 / 15)
    assert scores["per_image"].shape == (2, 4)


# --- readers and the directory driver ---------------------------------------------------------------------------


def test_readers(tmp_path):
    ucm = read_prediction(DATA / "ucm2" / "2018.mat")
    raw = scipy.io.loadmat(str(DATA / "ucm2" / "2018.mat"))["ucm2"]
    assert ucm.shape == ((raw.shape[0] - 1) // 2, (raw.shape[1] - 1) // 2)
    np.testing.assert_array_equal(ucm, raw[2::2, 2::2])
    png = read_prediction(DATA / "png" / "2018.png")
    assert png.dtype == np.float64 and png.max() <= 1 and png.shape == ucm.shape
    segs = read_prediction(DATA / "segs" / "2018.mat")
    assert isinstance(segs, list) and len(segs) == 5 and segs[0].shape == ucm.shape
    assert len(read_ground_truth(DATA / "groundTruth" / "3063.mat")) == 6
    np.save(tmp_path / "soft.npy", png)
    np.testing.assert_array_equal(read_prediction(tmp_path / "soft.npy"), png)
    scipy.io.savemat(str(tmp_path / "pb.mat"), {"pb": png})
    np.testing.assert_array_equal(read_prediction(tmp_path / "pb.mat"), png)

    with pytest.raises(DataError, match="missing.png: file not found"):
        read_prediction(tmp_path / "missing.png")
    with pytest.raises(DataError, match="no prediction for missing"):
        find_prediction(tmp_path, "missing")
    scipy.io.savemat(str(tmp_path / "two.mat"), {"a": png, "b": png})
    with pytest.raises(DataError, match="ucm2"):
        read_prediction(tmp_path / "two.mat")
    with pytest.raises(DataError, match="groundTruth"):
        read_ground_truth(tmp_path / "two.mat")
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DataError, match="8-bit single-channel"):
        read_prediction(tmp_path / "rgb.png")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file")
    with pytest.raises(DataError, match="junk.mat: not a readable MATLAB .mat file"):
        read_prediction(tmp_path / "junk.mat")
    with pytest.raises(ValueError, match="ground truth"):
        evaluate_image(png[:-1], read_ground_truth(DATA / "groundTruth" / "2018.mat"))


def test_evaluate_directory_matches_per_image(bench_outputs, tmp_path):
    result = evaluate_directory(
        DATA / "png", DATA / "groundTruth", thresholds=5, workers=2, progress=False, output_dir=tmp_path
    )
    counts, ours = bench_outputs["test_2"]
    assert result.names == NAMES
    np.testing.assert_array_equal(result.counts, np.stack(counts))
    assert result.summary["ODS"] == ours["ODS"] and result.summary["AP"] == ours["AP"]
    assert np.isfinite(result.summary["R50"]) or np.isnan(result.summary["R50"])
    reference = read_bench_results(DATA / "test_2")
    assert read_bench_results(tmp_path)["summary"]["ODS"] == pytest.approx(reference["summary"]["ODS"], abs=TOLERANCE)
    assert sorted(p.name for p in tmp_path.glob("*_ev1.txt")) == [f"{n}_ev1.txt" for n in NAMES]

    empty = tmp_path / "no_predictions"
    empty.mkdir()
    with pytest.raises(DataError, match="2018"):
        evaluate_directory(empty, DATA / "groundTruth", progress=False)


def test_intervals_pool_the_counts_of_each_resample_as_summarize_pools_repeated_images():
    """Each bootstrap resample's ODS / OIS / AP is summarize's on the drawn images, repeats included."""
    rng = np.random.default_rng(3)
    totals = rng.integers(20, 60, size=(6, 1, 2)).repeat(5, axis=1)  # sumR, sumP per image, equal over thresholds
    hits = (totals * np.sort(rng.random((6, 5, 2)), axis=1)[:, ::-1]).astype(int)  # fewer hits at higher thresholds
    counts = np.stack([hits[..., 0], totals[..., 0], hits[..., 1], totals[..., 1]], axis=2).astype(float)
    thresholds = np.linspace(0.1, 0.9, 5)
    found = intervals(counts, thresholds, resamples=200)
    per_resample = {key: [] for key in found}
    for weights in resample_weights(len(counts), resamples=200):
        summary = summarize(np.repeat(counts, weights, axis=0), thresholds)
        for key in found:
            per_resample[key].append(summary[key])
    for key, (low, high) in found.items():
        assert (low, high) == pytest.approx(tuple(np.percentile(per_resample[key], [2.5, 97.5])), abs=1e-12)
        assert low < summarize(counts, thresholds)[key] < high
