"""evals.sod against PySODMetrics: its own test data and expected values, and the PyPI package on generated maps.

Tolerance 1e-6 everywhere (the reference's JSON moved S-measure by 2e-7 between its versions 1.2.3 and 1.3.0);
observed differences are ~1e-15 (summation order), curves and adaptive binarisations are identical.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import py_sod_metrics

from evals.errors import DataError
from evals.sod.folders import match_prediction_folder, read_gray
from evals.sod.metrics import RESULT_KEYS, SODMetrics, score_image
from evals.sod.parallel import evaluate_folders, evaluate_pairs

DATA = Path(__file__).parent / "data" / "sod_pysodmetrics"
TOLERANCE = 1e-6
NAN_S_MEASURE_CASES = ("one_row", "corner_pixel")
# version_performance.json key -> our results key (FmeasureV2's lowercase aliases from v1_4_0 on).
REFERENCE_KEYS = {
    "MAE": "mae",
    "Smeasure": "s_measure",
    "wFmeasure": "w_f",
    "adpFm": "adp_f",
    "meanFm": "mean_f",
    "maxFm": "max_f",
    "adpfm": "adp_f",
    "meanfm": "mean_f",
    "maxfm": "max_f",
    "adpEm": "adp_e",
    "meanEm": "mean_e",
    "maxEm": "max_e",
}


# --- the reference's own data ----------------------------------------------------------------------------------
def _reference_data_results() -> dict[str, float]:
    metrics = SODMetrics()
    for pair in match_prediction_folder(DATA / "preds", DATA / "masks"):
        metrics.update(read_gray(pair.pred_path), read_gray(pair.gt_path))
    assert len(metrics) == 3
    return metrics.results()


def test_reference_data_reproduces_every_version():
    ours = _reference_data_results()
    expected_by_version = json.loads((DATA / "version_performance.json").read_text())
    checked = 0
    for version, expected in expected_by_version.items():
        for reference_key, our_key in REFERENCE_KEYS.items():
            if reference_key in expected:
                assert ours[our_key] == pytest.approx(expected[reference_key], abs=TOLERANCE), (version, reference_key)
                checked += 1
    assert checked >= 5 * 9  # v1_2_3 .. v1_4_3 carry all nine metrics


def test_parallel_folder_run_equals_sequential():
    sequential = _reference_data_results()
    assert evaluate_folders(DATA / "preds", DATA / "masks", workers=2, progress=False) == sequential
    assert evaluate_folders(DATA / "preds", DATA / "masks", workers=1, progress=False) == sequential


# --- the PyPI package on generated maps ------------------------------------------------------------------------
def _blob_map(rng: np.random.Generator, shape: tuple[int, int], blur: float) -> np.ndarray:
    h, w = shape
    image = np.zeros(shape, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(image, center, int(rng.integers(1, max(2, min(h, w) // 3))), 1.0, -1)
    return cv2.GaussianBlur(image, (0, 0), blur) if blur > 0 else image


def generated_pairs(seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(case, pred uint8, gt uint8) covering blobs, constant maps, binary maps, empty/full/non-binary masks."""
    rng = np.random.default_rng(seed)
    pairs = []
    for index in range(48):
        shape = (int(rng.integers(20, 90)), int(rng.integers(20, 90)))
        gt = (_blob_map(rng, shape, 0) > 0.5).astype(np.uint8) * 255
        soft = _blob_map(rng, shape, float(rng.uniform(0, 6)))
        pred = np.clip(soft * 255 + rng.normal(0, rng.uniform(0, 40), shape), 0, 255).astype(np.uint8)
        case = ("blobs", "empty_gt", "full_gt", "constant", "binary", "black", "white", "gt_copy")[index % 8]
        if case == "empty_gt":
            gt[:] = 0
        elif case == "full_gt":
            gt[:] = 255
        elif case == "constant":
            pred[:] = rng.integers(1, 255)
        elif case == "binary":
            pred = ((pred > 128) * int(rng.integers(1, 256))).astype(np.uint8)
        elif case == "black":
            pred[:] = 0
        elif case == "white":
            pred[:] = 255
        elif case == "gt_copy":
            pred = gt.copy()
        pairs.append((case, pred, gt))
    # A mask with values around the 128 cut, tiny images, a mask on one corner pixel, constant maps on constant
    # quadrants. S-measure is NaN for "one_row" and "corner_pixel" (NAN_S_MEASURE_CASES), and for any mask whose
    # foreground centroid rounds onto the last row or column (a blob clipped by the bottom edge): a bottom or
    # right quadrant is then empty and the reference (as MATLAB's mean2) averages nothing.
    pairs.append(("gray_gt", pairs[0][1], rng.integers(0, 256, pairs[0][1].shape).astype(np.uint8)))
    pairs.append(("one_pixel", np.array([[200]], np.uint8), np.array([[255]], np.uint8)))
    one_row_gt = np.array([[0, 255, 255, 0, 0, 255, 0]], np.uint8)
    pairs.append(("one_row", rng.integers(0, 256, (1, 7)).astype(np.uint8), one_row_gt))
    corner = np.zeros((12, 15), np.uint8)
    corner[-1, -1] = 255
    pairs.append(("corner_pixel", rng.integers(0, 256, (12, 15)).astype(np.uint8), corner))
    block = np.zeros((30, 40), np.uint8)
    block[10:20, 10:30] = 255
    pairs.append(("constant_on_block", np.full((30, 40), 77, np.uint8), block))
    return pairs


def _reference_image_scores(pred: np.ndarray, gt: np.ndarray, normalize: bool = True) -> dict:
    metrics = {
        "mae": py_sod_metrics.MAE(),
        "f": py_sod_metrics.Fmeasure(),
        "s": py_sod_metrics.Smeasure(),
        "e": py_sod_metrics.Emeasure(),
        "w": py_sod_metrics.WeightedFmeasure(),
    }
    for metric in metrics.values():
        metric.step(pred=pred, gt=gt, normalize=normalize)
    return {
        "mae": metrics["mae"].maes[0],
        "adaptive_f": metrics["f"].adaptive_fms[0],
        "s_measure": metrics["s"].sms[0],
        "adaptive_e": metrics["e"].adaptive_ems[0],
        "weighted_f": metrics["w"].weighted_fms[0],
        "f_curve": metrics["f"].changeable_fms[0][::-1],  # the reference stores thresholds 255 .. 0
        "e_curve": metrics["e"].changeable_ems[0][::-1],
    }


def _nan_s_measure(pred: np.ndarray, gt: np.ndarray) -> bool:
    reference = py_sod_metrics.Smeasure()
    reference.step(pred=pred, gt=gt)
    return bool(np.isnan(reference.sms[0]))


def _assert_scores_match(ours, reference: dict, case: str) -> None:
    for name, expected in reference.items():
        np.testing.assert_allclose(
            getattr(ours, name), expected, rtol=0, atol=TOLERANCE, equal_nan=True, err_msg=f"{case} {name}"
        )


@pytest.fixture(autouse=True)
def _quiet_reference():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference's Fmeasure deprecation, NaN means of empty quadrants
        yield


def test_generated_maps_match_pysodmetrics_per_image():
    for case, pred, gt in generated_pairs():
        _assert_scores_match(score_image(pred, gt), _reference_image_scores(pred, gt), case)


def test_empty_bottom_quadrants_give_nan_s_measure_like_the_reference():
    for case, pred, gt in generated_pairs():
        if case in NAN_S_MEASURE_CASES:
            assert np.isnan(score_image(pred, gt).s_measure), case
            assert np.isnan(_reference_image_scores(pred, gt)["s_measure"]), case


def test_generated_dataset_results_match_pysodmetrics():
    pairs = [p for p in generated_pairs() if not _nan_s_measure(p[1], p[2])]  # a NaN S would make the mean NaN
    reference = {
        "mae": py_sod_metrics.MAE(),
        "f": py_sod_metrics.Fmeasure(),
        "s": py_sod_metrics.Smeasure(),
        "e": py_sod_metrics.Emeasure(),
        "w": py_sod_metrics.WeightedFmeasure(),
    }
    ours = SODMetrics()
    for _case, pred, gt in pairs:
        ours.update(pred, gt)
        for metric in reference.values():
            metric.step(pred=pred, gt=gt)
    fm = reference["f"].get_results()["fm"]
    em = reference["e"].get_results()["em"]
    expected = {
        "mae": reference["mae"].get_results()["mae"],
        "max_f": fm["curve"].max(),
        "mean_f": fm["curve"].mean(),
        "adp_f": fm["adp"],
        "s_measure": reference["s"].get_results()["sm"],
        "max_e": em["curve"].max(),
        "mean_e": em["curve"].mean(),
        "adp_e": em["adp"],
        "w_f": reference["w"].get_results()["wfm"],
    }
    results = ours.results()
    assert set(results) == set(expected) == set(RESULT_KEYS)
    for key, value in expected.items():
        assert results[key] == pytest.approx(value, abs=TOLERANCE), key
    np.testing.assert_array_equal(ours.curves()["f"], fm["curve"][::-1])
    np.testing.assert_array_equal(ours.curves()["e"], em["curve"][::-1])


def test_strided_views_score_like_copies():
    _case, pred, gt = generated_pairs()[0]
    for view in (np.s_[::-1, :], np.s_[:, ::2], np.s_[1:-1, 2:]):
        copied = score_image(pred[view].copy(), gt[view].copy())
        viewed = score_image(pred[view], (gt > 128)[view])
        for name in ("mae", "adaptive_f", "s_measure", "adaptive_e", "weighted_f"):
            assert getattr(viewed, name) == getattr(copied, name), name
        np.testing.assert_array_equal(viewed.f_curve, copied.f_curve)


def test_float_maps_match_pysodmetrics_on_the_stretched_map():
    """Float maps are taken as already scaled to [0, 1] and min-max stretched like 8-bit ones."""
    rng = np.random.default_rng(1)
    for index, (case, pred8, gt) in enumerate(generated_pairs(seed=1)[:24]):
        pred = pred8.astype(np.float64) / 255 * rng.uniform(0.2, 1)
        if index % 3 == 1:
            pred = pred.astype(np.float32)
        stretched = pred.astype(np.float64)
        if stretched.max() != stretched.min():
            stretched = (stretched - stretched.min()) / (stretched.max() - stretched.min())
        reference = _reference_image_scores(stretched, gt > 128, normalize=False)
        _assert_scores_match(score_image(pred, gt), reference, f"float {case}")


def test_parallel_pairs_equal_sequential_exactly():
    pairs = [(pred, gt) for _case, pred, gt in generated_pairs(seed=2) if not _nan_s_measure(pred, gt)]
    sequential = SODMetrics()
    for pred, gt in pairs:
        sequential.update(pred, gt)
    assert evaluate_pairs(pairs, workers=2, progress=False, chunksize=3) == sequential.results()


# --- input handling --------------------------------------------------------------------------------------------
def test_missing_predictions_are_listed(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    for name in ("a", "b", "c"):
        cv2.imwrite(str(tmp_path / "gt" / f"{name}.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(tmp_path / "pred" / "b.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match=r"2 of 3 masks .* a, c"):
        match_prediction_folder(tmp_path / "pred", tmp_path / "gt")


def test_invalid_inputs_are_rejected():
    gt = np.zeros((4, 5), np.uint8)
    with pytest.raises(ValueError, match="shape mismatch"):
        score_image(np.zeros((5, 4), np.uint8), gt)
    with pytest.raises(TypeError, match="uint8"):
        score_image(np.zeros((4, 5), np.int32), gt)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        score_image(np.full((4, 5), 2.0), gt)
    with pytest.raises(ValueError, match="no image"):
        SODMetrics().results()
