"""DAVIS J / F / J&F (evals.davis) against the official davis2017-evaluation numbers and known geometry.

tests/data/davis2016_sample holds 3 sequences of DAVIS-2016 GT, OSVOS results and what the official code reports
for them (expected_official_eval.json); every number must agree to 1e-6.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals.davis.evaluate import TooManyObjectsError, evaluate_davis
from evals.davis.io import (
    DavisLayoutError,
    MaskFormatError,
    MissingResultFrameError,
    davis_palette,
    open_davis,
    read_annotation,
    write_palette_mask,
)
from evals.davis.metrics import (
    boundary_f_measure,
    boundary_map,
    boundary_tolerance_px,
    disk_footprint,
    frame_scores,
    region_similarity,
    sequence_statistics,
    tolerance_footprint,
)
from evals.davis.report import format_tables, write_official_csvs

SAMPLE = Path(__file__).parent / "data" / "davis2016_sample"
SEQUENCES = ["blackswan", "dog", "libby"]
TOLERANCE = 1e-6


# ---------------------------------------------------------------- official numbers on the sample


@pytest.fixture(scope="module")
def sample_result():
    return evaluate_davis(SAMPLE, SAMPLE / "osvos_results", sequences=SEQUENCES, workers=2, progress=False)


def test_reproduces_official_numbers(sample_result):
    expected = json.loads((SAMPLE / "expected_official_eval.json").read_text())
    ours = sample_result.global_scores()
    assert list(ours) == ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]
    for key, value in expected["global"].items():
        assert ours[key] == pytest.approx(value, abs=TOLERANCE), key
    assert [o.name for o in sample_result.objects] == [f"{s}_1" for s in SEQUENCES]
    for obj in sample_result.objects:
        reference = expected["per_sequence"][obj.sequence]
        for metric, stats in (("J", obj.J), ("F", obj.F)):
            ours_mrd = (stats.mean, stats.recall, stats.decay)
            for stat, value in zip(ours_mrd, (reference[metric][k] for k in "MRD")):
                assert stat == pytest.approx(value, abs=TOLERANCE), (obj.name, metric)


def test_first_and_last_frames_are_not_scored(sample_result):
    n_annotations = {s: len(list((SAMPLE / "Annotations" / "480p" / s).glob("*.png"))) for s in SEQUENCES}
    for obj in sample_result.objects:
        assert len(obj.j_per_frame) == len(obj.f_per_frame) == n_annotations[obj.sequence] - 2


def test_serial_and_pool_give_identical_numbers(sample_result):
    serial = evaluate_davis(SAMPLE, SAMPLE / "osvos_results", sequences=SEQUENCES, workers=1, progress=False)
    assert serial.to_dict() == sample_result.to_dict()


def test_official_tables_and_csvs(sample_result, tmp_path):
    text = format_tables(sample_result)
    assert "Global results for val" in text and "Per sequence results for val" in text
    assert "blackswan_1  0.943  0.974" in text
    global_csv, per_sequence_csv = write_official_csvs(sample_result, tmp_path)
    assert global_csv.read_text().splitlines() == [
        "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay",
        "0.782,0.759,0.780,0.216,0.805,0.903,0.160",
    ]
    assert per_sequence_csv.read_text().splitlines()[:2] == ["Sequence,J-Mean,F-Mean", "blackswan_1,0.943,0.974"]


# ---------------------------------------------------------------- J and F on known geometry

SHAPE = (480, 854)  # DAVIS 480p: tolerance ceil(0.008 * 979.65) = 8 px


def square(top: int, left: int, size: int, shape=SHAPE) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[top : top + size, left : left + size] = True
    return mask


def scores(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(J, F) through the windowed path, checked against the whole-frame definitions."""
    j, f = frame_scores(gt, pred, tolerance_footprint(gt.shape))
    assert (j, f) == (region_similarity(gt, pred), boundary_f_measure(gt, pred))
    return j, f


def test_identical_masks_score_one():
    mask = square(100, 200, 50)
    assert scores(mask, mask) == (1.0, 1.0)


def test_empty_against_empty_scores_one():
    empty = np.zeros(SHAPE, dtype=bool)
    assert scores(empty, empty) == (1.0, 1.0)


def test_empty_against_object_scores_zero():
    empty, mask = np.zeros(SHAPE, dtype=bool), square(100, 200, 50)
    assert scores(mask, empty) == (0.0, 0.0)  # no predicted boundary: precision 1, recall 0
    assert scores(empty, mask) == (0.0, 0.0)  # no GT boundary: precision 0, recall 1


def test_disjoint_masks_score_zero():
    assert scores(square(50, 50, 40), square(300, 600, 40)) == (0.0, 0.0)


def test_one_pixel_shift_is_within_boundary_tolerance():
    gt = square(100, 200, 50)
    pred = square(100, 201, 50)
    j, f = scores(gt, pred)
    assert j == pytest.approx(49 * 50 / (51 * 50))
    assert f == 1.0


def test_shift_at_and_beyond_tolerance():
    gt = square(100, 200, 50)
    assert scores(gt, square(100, 208, 50))[1] == 1.0  # 8 px: every boundary pixel within the disk
    f_beyond = scores(gt, square(100, 209, 50))[1]  # 9 px: the vertical edges no longer match
    assert 0.0 < f_beyond < 1.0


def test_tolerance_in_pixels():
    assert boundary_tolerance_px((480, 854)) == 8
    assert boundary_tolerance_px((1080, 1920)) == 18  # ceil(0.008 * 2202.9)
    assert boundary_tolerance_px((480, 854), bound_th=3) == 3  # >= 1: pixels as given


def test_disk_footprint_matches_skimage_disk():
    morphology = pytest.importorskip("skimage.morphology")
    for radius in (1, 3, 8, 8.0, 18):
        assert np.array_equal(disk_footprint(radius), morphology.disk(radius))
    assert disk_footprint(8).shape == (17, 17)


def test_boundary_map_follows_seg2bmap():
    mask = np.zeros((5, 5), dtype=bool)
    mask[1:3, 1:3] = True
    expected = np.array(
        [
            [1, 1, 1, 0, 0],  # above/left of the square: its pixels are lower/right neighbours
            [1, 0, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    assert np.array_equal(boundary_map(mask), expected)
    # The image border is no boundary: a full mask has none; a mask on the last row/column only inside edges.
    assert not boundary_map(np.ones((6, 7), dtype=bool)).any()
    corner = np.zeros((4, 4), dtype=bool)
    corner[2:, 2:] = True
    assert np.array_equal(np.argwhere(boundary_map(corner)), [[1, 1], [1, 2], [1, 3], [2, 1], [3, 1]])


def test_window_path_equals_whole_frame_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(200):
        shape = (int(rng.integers(2, 60)), int(rng.integers(2, 90)))
        gt, pred = (rng.random(shape) < rng.random() for _ in range(2))
        if rng.random() < 0.5:  # blobs touching the frame edges
            gt = np.zeros(shape, dtype=bool)
            gt[int(rng.integers(0, shape[0])) :, int(rng.integers(0, shape[1])) :] = True
            pred = np.roll(gt, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 2)))
        scores(gt, pred)


def test_statistics_mean_recall_decay():
    values = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=float)
    # 4 bins of 8 frames: edges round(linspace(1, 8, 5) + 1e-10) - 1 = 0, 2, 4, 5, 7 -> first 0..2, last 5..7
    assert sequence_statistics(values) == (0.5, 0.5, 1.0)
    assert sequence_statistics(np.array([0.5, 0.5, 0.5]))[1] == 0.0  # recall counts > 0.5 only
    assert sequence_statistics(np.array([np.nan, 1.0, 0.0, 1.0]))[0] == pytest.approx(2 / 3)  # NaN ignored


# ---------------------------------------------------------------- reader, writer and protocol edge cases


def test_palette_is_the_davis_palette():
    from PIL import Image

    with Image.open(SAMPLE / "osvos_results" / "dog" / "00030.png") as image:
        assert image.getpalette() == davis_palette().ravel().tolist()
    assert davis_palette()[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]


def test_write_palette_mask_round_trip(tmp_path):
    from PIL import Image

    ids = np.arange(12 * 20, dtype=np.uint8).reshape(12, 20)
    write_palette_mask(tmp_path / "a" / "00000.png", ids)
    with Image.open(tmp_path / "a" / "00000.png") as image:
        assert image.mode == "P"
        assert np.array_equal(np.asarray(image), ids)
    with pytest.raises(MaskFormatError):
        write_palette_mask(tmp_path / "b.png", np.full((2, 2), 300))


def test_davis2016_binary_annotations_are_one_object():
    (blackswan,) = open_davis(SAMPLE, sequences=["blackswan"])
    assert blackswan.annotation_format == "davis2016"
    ids = blackswan.read_annotation(blackswan.frame_names[0])
    assert set(np.unique(ids).tolist()) == {0, 1}


def make_sequence(root: Path, name: str, gt_frames: list[np.ndarray], pred_frames: list[np.ndarray] | None):
    for t, ids in enumerate(gt_frames):
        write_palette_mask(root / "DAVIS" / "Annotations" / "480p" / name / f"{t:05d}.png", ids)
    for t, ids in enumerate(pred_frames or []):
        if ids is not None:
            write_palette_mask(root / "results" / name / f"{t:05d}.png", ids)


def two_objects(shape=(40, 60)) -> np.ndarray:
    ids = np.zeros(shape, dtype=np.uint8)
    ids[5:15, 5:20] = 1
    ids[20:35, 30:50] = 2
    return ids


def evaluate_tmp(root: Path, names: list[str], **kwargs):
    return evaluate_davis(root / "DAVIS", root / "results", sequences=names, workers=1, progress=False, **kwargs)


def test_first_and_last_result_frames_are_never_read(tmp_path):
    gt = [two_objects()] * 5
    garbage = np.full((40, 60), 9, dtype=np.uint8)  # would be an error if read: only 2 objects
    make_sequence(tmp_path, "seq", gt, [garbage, gt[1], gt[2], gt[3], None])  # last result missing
    result = evaluate_tmp(tmp_path, ["seq"])
    assert [o.name for o in result.objects] == ["seq_1", "seq_2"]
    assert result.global_scores()["J&F-Mean"] == 1.0


def test_fewer_objects_in_results_score_zero_for_the_missing_ones(tmp_path):
    gt = [two_objects()] * 4
    only_first = [np.where(ids == 1, 1, 0).astype(np.uint8) for ids in gt]
    make_sequence(tmp_path, "seq", gt, only_first)
    result = evaluate_tmp(tmp_path, ["seq"])
    first, second = result.objects
    assert (first.J.mean, first.F.mean) == (1.0, 1.0)
    assert (second.J.mean, second.F.mean, second.J.recall) == (0.0, 0.0, 0.0)
    assert result.global_scores()["J&F-Mean"] == 0.5


def test_the_standalone_evaluation_command(tmp_path, capsys):
    """`python -m evals.davis`: the official tables on the console, the numbers as JSON; a missing frame is rc 2."""
    from evals.davis.__main__ import main

    gt = [two_objects()] * 4
    make_sequence(tmp_path, "seq", gt, [ids.copy() for ids in gt])
    argv = ["--davis_root", str(tmp_path / "DAVIS"), "--results_path", str(tmp_path / "results"), "--sequences", "seq",
            "--workers", "1"]  # fmt: skip
    assert main([*argv, "--json", str(tmp_path / "scores.json")]) == 0
    assert "Global results for val" in capsys.readouterr().out
    assert json.loads((tmp_path / "scores.json").read_text())["global"]["J&F-Mean"] == 1.0
    (tmp_path / "results" / "seq" / "00001.png").unlink()
    assert main(argv) == 2
    assert "00001.png" in capsys.readouterr().err


def test_more_objects_in_results_is_an_error(tmp_path):
    gt = [two_objects()] * 4
    pred = [ids.copy() for ids in gt]
    pred[2][0, 0] = 3
    make_sequence(tmp_path, "bad", gt, pred)
    make_sequence(tmp_path, "good", gt, gt)
    with pytest.raises(TooManyObjectsError, match="object id 3"):  # raised in a worker, re-raised here
        evaluate_davis(tmp_path / "DAVIS", tmp_path / "results", sequences=["good", "bad"], workers=2, progress=False)


def test_objects_come_from_the_first_frame_and_void_is_background(tmp_path):
    first = np.zeros((40, 60), dtype=np.uint8)
    first[10:20, 10:20] = 1
    later = first.copy()
    later[30:35, 40:50] = 2  # appears after the first frame: not an object of the sequence
    later[9, 10:20] = 255  # void row above the object
    covering_void = first.copy()
    covering_void[9, 10:20] = 1
    make_sequence(tmp_path, "exact", [first, later, later, later], [first] * 4)
    make_sequence(tmp_path, "over_void", [first, later, later, later], [covering_void] * 4)
    assert read_annotation(tmp_path / "DAVIS" / "Annotations" / "480p" / "exact" / "00001.png")[9, 10] == 0
    exact, over_void = evaluate_tmp(tmp_path, ["exact", "over_void"]).objects
    assert [exact.name, over_void.name] == ["exact_1", "over_void_1"]  # id 2 (not in frame 0) is no object
    assert exact.J.mean == 1.0
    # Void counts as background in the semi-supervised task (no void mask), so covering it costs IoU.
    assert over_void.J.mean == pytest.approx(100 / 110)


def test_missing_result_frame_is_a_clear_error(tmp_path):
    gt = [two_objects()] * 5
    make_sequence(tmp_path, "seq", gt, [gt[0], gt[1], None, gt[3], gt[4]])
    with pytest.raises(MissingResultFrameError, match=r"00002\.png") as error:
        evaluate_tmp(tmp_path, ["seq"])
    assert "<sequence>/<frame>.png" in str(error.value)


def test_result_of_another_size_is_an_error(tmp_path):
    gt = [two_objects()] * 4
    make_sequence(tmp_path, "seq", gt, [two_objects((40, 61))] * 4)
    with pytest.raises(MaskFormatError, match="size"):
        evaluate_tmp(tmp_path, ["seq"])


def test_wrong_layout_prints_the_expected_tree(tmp_path):
    with pytest.raises(DavisLayoutError, match="Expected DAVIS layout") as error:
        open_davis(tmp_path)
    assert "Annotations/480p/<sequence>/00000.png" in str(error.value)
    (tmp_path / "Annotations" / "480p").mkdir(parents=True)
    with pytest.raises(DavisLayoutError, match="ImageSets/2017/val.txt"):
        open_davis(tmp_path)  # no sequence list and none given
    with pytest.raises(DavisLayoutError, match="No annotation PNGs"):
        open_davis(tmp_path, sequences=["absent"])


def test_sequence_list_is_read_from_imagesets(tmp_path):
    make_sequence(tmp_path, "b", [two_objects()] * 3, [two_objects()] * 3)
    make_sequence(tmp_path, "a", [two_objects()] * 3, [two_objects()] * 3)
    listing = tmp_path / "DAVIS" / "ImageSets" / "2017" / "val.txt"
    listing.parent.mkdir(parents=True)
    listing.write_text("b\na\n")
    result = evaluate_davis(tmp_path / "DAVIS", tmp_path / "results", workers=2, progress=False)
    assert [o.name for o in result.objects] == ["b_1", "b_2", "a_1", "a_2"]  # list order kept
