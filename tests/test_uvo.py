"""The uvo task (SAM-PT VIS on UVO v1.0): the YouTube-VIS metric (video IoU, exact reduction to pycocotools' segm
on one-frame videos), the whole protocol with a ground-truth oracle and the lk tracker on the bundled sample,
external predictions, layout errors, frame extraction, and an end-to-end engine run with the toy SAM."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from evals.base import DatasetLayoutError
from evals.engine import Run, execute
from evals.uvo.dataset import load_uvo_videos
from evals.uvo.extract_frames import extract_all
from evals.uvo.frames import working_size
from evals.uvo.protocol import AREA_LABELS, AREA_RANGES
from evals.uvo.task import UvoParams, UvoTask
from evals.uvo.vis import encode_mask, sam_pt_track_score
from evals.uvo.ytvis_eval import STAT_NAMES, Track, VideoSet, evaluate_videos, video_iou
from models.prompt_model import MaskPrediction
from tests.fakes import toy_prompt_model

SAMPLE = Path(__file__).resolve().parent.parent / "datasets" / "sample"


def rle(mask: np.ndarray) -> dict:
    return encode_mask(np.asarray(mask, bool))


# ---------------------------------------------------------------- the metric


def test_video_iou_sums_intersections_and_unions_over_frames():
    a, b = np.zeros((4, 5), bool), np.zeros((4, 5), bool)
    a[:2, :2] = True  # 4 px
    b[:2, 1:3] = True  # 4 px, 2 shared
    empty = np.zeros((4, 5), bool)
    # frame 0: i 2, u 6; frame 1: predicted only (u 4); frame 2: both empty (RLE / None) -- adds nothing;
    # frame 3: truth only (u 4)
    predicted = [rle(a), rle(a), rle(empty), None]
    truth = [rle(b), None, None, rle(b)]
    assert video_iou(predicted, truth) == 2 / (6 + 4 + 4)
    assert video_iou([None, rle(empty)], [rle(empty), None]) == 0.0  # empty union
    assert video_iou([rle(a)], [rle(a)]) == 1.0
    with pytest.raises(ValueError):
        video_iou([rle(a)], [rle(a), None])


def _random_masks(rng, n, size):
    masks = []
    for _ in range(n):
        mask = np.zeros(size, bool)
        h, w = rng.integers(5, size[0], 2)
        y, x = rng.integers(0, size[0] - h + 1), rng.integers(0, size[1] - w + 1)
        mask[y : y + h, x : x + w] = True
        masks.append(mask)
    return masks


def test_one_frame_videos_reduce_exactly_to_pycocotools_segm():
    rng = np.random.default_rng(3)
    size = (300, 320)  # areas across ytvis' small / medium / large ranges
    videos, images, gt_anns, dt_anns = VideoSet(), [], [], []
    for image_id in (1, 2, 3):
        videos.sizes[image_id] = size
        images.append({"id": image_id, "height": size[0], "width": size[1]})
        truth = _random_masks(rng, 4, size)
        predicted = [np.roll(m, int(rng.integers(-8, 8)), axis=1) for m in truth[:3]] + _random_masks(rng, 3, size)
        for mask in truth:
            videos.truth.append(Track(image_id, [rle(mask)], areas=[float(mask.sum())]))
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                            "area": float(mask.sum()), "segmentation": rle(mask)})  # fmt: skip
        for mask in predicted:
            score = float(rng.uniform())
            videos.predictions.append(Track(image_id, [rle(mask)], score=score))
            dt_anns.append({"image_id": image_id, "category_id": 1, "score": score, "segmentation": rle(mask)})
    ours = evaluate_videos(videos)

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": gt_anns, "categories": [{"id": 1}]}
        gt.createIndex()
        coco_eval = COCOeval(gt, gt.loadRes(dt_anns), iouType="segm")
        coco_eval.params.areaRng, coco_eval.params.areaRngLbl = AREA_RANGES, AREA_LABELS
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    expected = [100 * float(v) if v >= 0 else None for v in coco_eval.stats]
    assert [ours[name] for name in STAT_NAMES] == expected
    assert 0 < ours["AR100"] < 100 and ours["AR1"] < ours["AR10"]


def test_unscored_tracks_rank_last_and_recall_ignores_order():
    mask = np.zeros((10, 10), bool)
    mask[2:6, 2:6] = True
    videos = VideoSet(sizes={7: (10, 10)}, truth=[Track(7, [rle(mask), None])])
    wrong = np.zeros((10, 10), bool)
    wrong[7:, 7:] = True
    videos.predictions = [Track(7, [rle(mask), None], score=float("-inf")), Track(7, [rle(wrong), None], score=0.5)]
    metrics = evaluate_videos(videos)
    assert metrics["AR100"] == 100.0 and metrics["AR1"] == 0.0
    assert sam_pt_track_score([0.5, 1.0]) == 0.75 and sam_pt_track_score([0.9, None]) is None


# ---------------------------------------------------------------- the protocol with a ground-truth oracle


class GroundTruthOracle:
    """AMG = the ground-truth masks of frame 0; predict = the ground-truth mask of the object under most of the
    positive points it gets (at the working size, nearest-upsampled)."""

    device = torch.device("cpu")
    provenance = {"model": "gt_oracle", "trained": False}

    def __init__(self, data_root: Path):
        self.frames: list[tuple[np.ndarray, list[np.ndarray]]] = []  # (working frame, its objects' masks)
        for video in load_uvo_videos(data_root):
            from evals.uvo.frames import read_working_frame

            working = [read_working_frame(p) for p in video.frame_paths]
            size = working[0].shape[:2]
            for t, frame in enumerate(working):
                masks = []
                for track in video.ground_truth():
                    segmentation = track.segmentations[t]
                    mask = mask_utils.decode(segmentation) if segmentation else np.zeros((video.height, video.width))
                    masks.append(cv2.resize(mask.astype(np.uint8), size[::-1], interpolation=cv2.INTER_NEAREST) > 0)
                self.frames.append((frame, masks))
        self.current: list[np.ndarray] = []

    def _masks_of(self, image):
        return next(masks for frame, masks in self.frames if frame.shape == image.shape and np.array_equal(frame, image))

    def generate(self, image, **params):
        assert params["points_per_side"] == 32 and params["pred_iou_thresh"] == 0.88
        return [{"segmentation": m, "predicted_iou": 1.0} for m in self._masks_of(image) if m.any()]

    def set_image(self, image):
        self.current = self._masks_of(image)

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
        coords = point_coords[0][point_labels[0] == 1].astype(int)
        votes = [m[coords[:, 1], coords[:, 0]].sum() if len(coords) else 0 for m in self.current]
        mask = self.current[int(np.argmax(votes))] if max(votes, default=0) > 0 else np.zeros_like(self.current[0])
        logits = torch.from_numpy(np.where(mask, 10.0, -10.0)).float()[None, None]
        return MaskPrediction(logits=logits, iou=torch.tensor([[0.95]]), low_res=torch.zeros(1, 1, 256, 256))


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("uvo_oracle")
    task = UvoTask(UvoTask.sam_pt_params("lk"))
    results = execute(Run(task=task, run_name="gt_oracle", out=out, data_root=SAMPLE), GroundTruthOracle(SAMPLE))
    return task, results, out


def test_ground_truth_oracle_with_lk_scores_ar100_of_100(oracle_run):
    _, results, _ = oracle_run
    metrics = results["metrics"]
    assert metrics["AR100"] == 100.0 and metrics["AP"] == 100.0
    assert metrics["num_videos"] == 2 and metrics["num_gt_tracks"] == metrics["num_predicted_tracks"] == 4
    assert results["variant"] == "lk" and results["paper_comparable"] is False
    assert results["provenance"]["protocol"]["amg"]["points_per_side"] == 32


def test_stored_prediction_is_per_track_rles_and_scores(oracle_run):
    from evals.store import decode_prediction

    _, _, out = oracle_run
    stored = decode_prediction((out / "uvo" / "gt_oracle.predictions" / "video_b.npz").read_bytes())
    assert stored["video_id"] == 2 and len(stored["segmentations"]) == 2
    assert all(len(track) == 4 and isinstance(track[0]["counts"], str) for track in stored["segmentations"])
    assert stored["segmentations"][0][0]["size"] == [96, 128]
    assert stored["working_size"] == [360, 480] and stored["trajectories"].shape == (4, 2, 9, 2)
    json.dumps({k: stored[k] for k in ("segmentations", "scores", "ious")})  # JSON-able


# ---------------------------------------------------------------- external predictions, layout, engine


def test_external_youtube_vis_results(tmp_path):
    truth = json.loads((SAMPLE / "UVOv1.0/VideoDenseSet/UVO_video_val_dense.json").read_text())["annotations"]
    results = [{"video_id": a["video_id"], "score": 0.9, "category_id": 5, "segmentations": a["segmentations"]}
               for a in truth[:3]]  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    task = UvoTask(UvoParams(masks_from="predictions", predictions=str(path)))
    scored = execute(Run(task=task, run_name="other", out=tmp_path / "out", data_root=SAMPLE,
                         external_predictions=path), None)  # fmt: skip
    assert scored["metrics"]["AR100"] == 75.0 and scored["paper_comparable"] is True
    again = execute(Run(task=UvoTask(task.params), run_name="other", out=tmp_path / "out", data_root=SAMPLE,
                        external_predictions=tmp_path), None)  # fmt: skip  (a folder with results.json)
    assert again["metrics"]["AR100"] == 75.0


def test_layout_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="UVO_video_val_dense.json"):
        UvoTask(UvoTask.sam_pt_params("lk")).load_dataset(tmp_path)
    shutil.copytree(SAMPLE / "UVOv1.0", tmp_path / "UVOv1.0")
    (tmp_path / "UVOv1.0/uvo_videos_dense_frames/video_a/2.png").unlink()
    with pytest.raises(DatasetLayoutError, match="1 of the 4 frames of video video_a"):
        UvoTask(UvoTask.sam_pt_params("lk")).load_dataset(tmp_path)
    shutil.rmtree(tmp_path / "UVOv1.0/uvo_videos_dense_frames")
    with pytest.raises(DatasetLayoutError, match="no frames folder"):
        UvoTask(UvoTask.sam_pt_params("lk")).load_dataset(tmp_path)
    # Scoring external predictions needs the annotations only.
    assert len(UvoTask(UvoParams(masks_from="predictions")).load_dataset(tmp_path).samples) == 2


def test_toy_sam_on_the_sample_through_the_engine(tmp_path):
    task = UvoTask(UvoTask.sam_pt_params("lk", amg_points_per_side=4))
    results = execute(Run(task=task, run_name="toy", out=tmp_path, data_root=SAMPLE), toy_prompt_model())
    assert results["variant"] == "lk.amg4" and results["run"] == "toy"
    assert 0 <= results["metrics"]["AR100"] <= 100 and results["metrics"]["num_videos"] == 2


def test_variants_and_demo_arguments():
    from evals.cli import build_parser

    args = build_parser().parse_args(["--task", "uvo", "--model", "repvit", *UvoTask.demo_args])
    task = UvoTask(UvoTask.params_from_args(args))
    assert task.variant() == "lk.amg8" and not task.paper_comparable()
    assert task.params.sam_pt.refinement_iterations == 0
    assert task.params.sam_pt.negatives_from_other_objects is False and task.params.sam_pt.seed == 36
    assert UvoTask.columns[0].paper["repvit"] == 25.3
    assert working_size(96, 128) == (360, 480) and working_size(720, 1280) == (360, 640)
    assert working_size(100, 1000) == (133, 1333)  # longer side capped at 1333


def test_extract_frames_writes_numbered_pngs(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    writer = cv2.VideoWriter(str(videos / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    if not writer.isOpened():
        pytest.skip("OpenCV cannot write mp4 here")
    for t in range(3):
        writer.write(np.full((48, 64, 3), 40 * t, np.uint8))
    writer.release()
    assert extract_all(videos, tmp_path / "frames") == {"clip": 3}
    assert sorted(p.name for p in (tmp_path / "frames" / "clip").iterdir()) == ["0.png", "1.png", "2.png"]
