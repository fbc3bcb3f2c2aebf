"""The uvo task's SAM-PT VIS protocol against SAM-PT's own VIS evaluation: identical automatic masks, query points,
per-track per-frame masks, scores and YTVIS records on the same clip, tracks and weights.

Reference (tests/data/protocols/uvo/make_reference.py): SysCV/sam-pt @ c17ab94's `python -m sam_pt.vis_eval.eval`
with the VIS command of its docs (vis_eval_sam_pt.yaml, no refinement, no other tracks' points as negatives, seed
36), detectron2 0.6's loader and YTVIS evaluator, SamBasedVisToVosAdapter (SAM's automatic mask generator on frame 0,
the first max_num_masks masks tracked by SamPt), its MobileSAM on the parity weights (image encoder in float64), on
three real frames in UVO's layout (tests/uvo_protocol_clip.py), its point tracker replaced by a rule whose tracks it
recorded (trajectories.npz: points hidden, one within 1% of the border, a track left with its negative only, a
track with no point on a frame). For untrained weights the reference lowers the generator's thresholds (a 4x4 grid,
predicted IoU 0.3, stability 0.02, box NMS 1.0), keeps 6 tracks and lowers SAM-PT's IoU threshold to 0.0; the
values are in reference.json and given to our task here.

Ours: `UvoTask` with SAM-PT v1's VIS parameters (`sam_pt_params`, as `run_eval.py --task uvo` makes them), those
values replacing the generator's, max_tracks and the IoU threshold, through `load_dataset`, `load_inputs` and
`predict`, on the same model, with
- the tracker: `ReplayTracker` of trajectories.npz, which asserts that it is asked about SAM-PT's query points and
  that our working frames are SAM-PT's (sha256);
- the query points' random draws: SAM-PT's torch.randperm draws (`ReplayedDraws`) in place of our seeded numpy
  generator (tests/test_protocol_parity_davis.py says why).
The default run checks what needs no model: our query points on SAM-PT's automatic masks, and our records, scores
and YTVIS metrics from SAM-PT's stored masks and IoUs (~2 s); the slow test runs the whole prediction (~1.5 min).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from evals.base import Sample
from evals.protocols.sam_pt.query_points import object_query_points
from evals.uvo import task as uvo_task
from evals.uvo import vis
from evals.uvo.evaluator import UvoEvaluator
from evals.uvo.task import UvoTask
from evals.uvo.vis import encode_mask, sam_pt_track_score
from tests.replay_tracker import recorded_replay
from tests.test_parity import fixed_threads, parity_prompt_model  # noqa: F401  (autouse: 2 threads, as the reference)
from tests.uvo_protocol_clip import CLIP_FRAMES, HEIGHT, WIDTH, write_uvo_clip

DATA = Path(__file__).parent / "data" / "protocols" / "uvo"
SCORE_TOLERANCE = 1e-6


def reference() -> tuple[dict, dict, dict]:
    with np.load(DATA / "trajectories.npz") as tracks, np.load(DATA / "reference.npz") as ref:
        tracks, ref = dict(tracks), dict(ref)
    ref["masks"] = np.unpackbits(ref["masks"], axis=-1, count=int(ref["masks_shape"][-1])).astype(bool)
    ref["amg_masks"] = np.unpackbits(ref["amg_masks"], axis=-1, count=int(ref["amg_masks_shape"][-1])).astype(bool)
    return tracks, ref, json.loads((DATA / "reference.json").read_text())



def reference_task(records: dict) -> UvoTask:
    """Our task with SAM-PT's VIS parameters and the reference's values for untrained weights."""
    params = UvoTask.sam_pt_params(require_weights=False)
    return UvoTask(params.replace(sam_pt=dataclasses.replace(params.sam_pt, iou_threshold=records["sam_iou_threshold"]),
                                  amg=params.amg.replace(**records["amg_overrides"]), max_tracks=records["max_num_masks"]))


def clip_sample(task: UvoTask, data_root: Path) -> Sample:
    write_uvo_clip(data_root)
    (sample,) = task.load_dataset(data_root).samples
    return sample


def counts_sha256(rle: dict) -> str:
    return hashlib.sha256(rle["counts"].encode()).hexdigest()


def test_reference_exercises_every_path():
    """The committed reference is not trivial: the generator's thresholds and the max_num_masks cut both act, masks
    are dropped and kept, a track is not asked on a frame (-inf score), a first pass runs without points."""
    tracks, ref, records = reference()
    kept = len(ref["amg_masks"])
    assert kept == records["max_num_masks"] < len(ref["amg_predicted_iou"])  # the first max_num_masks of more
    assert (ref["amg_predicted_iou"] >= records["amg_overrides"]["pred_iou_thresh"]).all()
    assert np.all(np.diff(ref["amg_predicted_iou"]) <= 0)  # the generator's order: by predicted IoU
    assert ref["masks"].shape == (kept, CLIP_FRAMES, HEIGHT, WIDTH)
    asked = ~np.isnan(ref["ious"])
    assert asked.sum() == asked.size - 1 and np.isneginf(ref["scores"]).sum() == 1
    dropped = asked & (ref["ious"] < records["sam_iou_threshold"])
    assert dropped.any() and (asked & ~dropped).any()
    for t, k in zip(*np.nonzero(dropped | ~asked)):
        assert not ref["masks"][k, t].any()
    visible = tracks["visibilities"]
    assert visible[2, 4, 8] and not visible[2, 4, :8].any()  # only a negative: SAM's first pass has no point
    border, working_width = tracks["trajectories"][1, 0, 0], ref["amg_masks"].shape[-1]
    assert border[0] / working_width < 0.01 and visible[1, 0, 0]  # visible to the tracker, hidden by SAM-PT's border rule


def test_query_points_equal_sam_pt():
    """Our k-medoid positives and random negative on SAM-PT's automatic masks, from SAM-PT's draws, are SAM-PT's
    query points."""
    tracks, ref, _ = reference()
    _, draws = recorded_replay(tracks)
    options = uvo_task.SAM_PT_VIS_OPTIONS
    points = object_query_points(list(ref["amg_masks"]), options.positive_points, options.negative_points, draws,
                                 options.kmedoids_subsample)  # fmt: skip
    np.testing.assert_array_equal(points, tracks["query_points"])
    assert not draws.draws


def test_records_scores_and_metrics_from_sam_pt_masks(tmp_path):
    """From SAM-PT's masks and per-frame IoUs: our RLEs are its results.json's (same counts), our track scores its
    scores (-inf as None), and our evaluator's YTVIS numbers on the clip its YTVOSeval's."""
    _, ref, records = reference()
    segmentations = [[encode_mask(mask) for mask in track] for track in ref["masks"]]
    scores = [sam_pt_track_score([None if np.isnan(iou) else float(iou) for iou in ref["ious"][:, k]])
              for k in range(len(ref["masks"]))]  # fmt: skip
    assert len(records["results"]) == len(segmentations)
    for result, track, score in zip(records["results"], segmentations, scores):
        assert [counts_sha256(rle) for rle in track] == [s["counts_sha256"] for s in result["segmentations"]]
        assert [rle["size"] for rle in track] == [s["size"] for s in result["segmentations"]]
        if score is None:
            assert result["score"] == float("-inf")
        else:
            assert score == pytest.approx(result["score"], abs=SCORE_TOLERANCE)

    task = reference_task(records)
    sample = clip_sample(task, tmp_path)
    evaluator = UvoEvaluator()
    evaluator.reset()
    evaluator.process(sample, {"segmentations": segmentations, "scores": scores})
    metrics = evaluator.evaluate()
    for name, value in records["metrics"].items():
        assert (metrics[name] is None) if np.isnan(value) else metrics[name] == pytest.approx(value, abs=1e-9), name


@pytest.mark.slow
def test_prediction_equals_sam_pt(tmp_path, monkeypatch):
    tracks, ref, records = reference()
    model = parity_prompt_model("mobilesam", float64=True)
    task = reference_task(records)
    tracker, draws = recorded_replay(tracks)
    monkeypatch.setattr(task, "tracker", lambda device: tracker)
    monkeypatch.setattr(vis, "object_query_points",
                        lambda masks, positive, negative, rng, subsample:
                        object_query_points(masks, positive, negative, draws, subsample))  # fmt: skip
    generated = []
    first_frame_masks = vis.first_frame_masks

    def recorded_first_frame_masks(*args):
        generated.append(first_frame_masks(*args))
        return generated[-1]

    monkeypatch.setattr(vis, "first_frame_masks", recorded_first_frame_masks)

    sample = clip_sample(task, tmp_path)
    prediction = task.predict(model, sample, task.load_inputs(sample))

    ((masks, num_generated),) = generated
    assert num_generated == len(ref["amg_predicted_iou"])
    np.testing.assert_array_equal(np.stack(masks), ref["amg_masks"])
    assert not draws.draws, "SAM-PT drew more than we did"
    assert tracker.calls == 1  # one group of tracks, tracked once
    np.testing.assert_array_equal(prediction["query_points"], tracks["query_points"])
    for k, track in enumerate(prediction["segmentations"]):
        for t, rle in enumerate(track):
            ours = mask_utils.decode(rle).astype(bool)
            differ = int((ours != ref["masks"][k, t]).sum())
            assert differ == 0, f"track {k}, frame {t}: {differ} pixels differ"
        assert [counts_sha256(rle) for rle in track] == [
            s["counts_sha256"] for s in records["results"][k]["segmentations"]]
    ious = np.array([[np.nan if iou is None else iou for iou in track] for track in prediction["ious"]]).T
    np.testing.assert_allclose(ious, ref["ious"], rtol=0, atol=SCORE_TOLERANCE)  # NaN: not asked
    scores = np.array([-np.inf if s is None else s for s in prediction["scores"]])
    np.testing.assert_allclose(scores, ref["scores"], rtol=0, atol=SCORE_TOLERANCE)
