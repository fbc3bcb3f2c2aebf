"""Make `trajectories.npz`, `reference.npz` and `reference.json`: SAM-PT's own VIS evaluation on a real clip, its
point tracker replaced by a fixed rule.

    PYTHONPATH=/work/ref/sam_pt:/work/ref/mobile_sam:/work/ref/detectron2 \
        /work/refvenv/bin/python tests/data/protocols/uvo/make_reference.py

/work/ref/sam_pt is an export of SysCV/sam-pt at commit c17ab94 (`git archive`), the v1 protocol our
evals/uvo/protocol.py follows; /work/ref/mobile_sam is ChaoningZhang/MobileSAM's `mobile_sam/` at 01ea8d0 and
/work/ref/detectron2 facebookresearch/detectron2 at tag v0.6 (d1e0456), the commits SAM-PT's requirements.txt pins.
SAM-PT's command-line entry point `sam_pt.vis_eval.eval.main` (hydra; its configs/vis_eval_sam_pt.yaml) runs
unchanged, with the overrides of the VIS command of docs/04-running-experiments.md
(`model.model.iterative_refinement_iterations=0`, `model.model.add_other_objects_positive_points_as_negative_points=
false`, `DETECTRON2_CONFIG.SEED=36`) and those below. Its whole path runs: detectron2's test loader over the
registered `uvo_v1_val` split (datasets/builtin.py, the json and frames of tests/uvo_protocol_clip.py under
DETECTRON2_DATASETS), YTVISDatasetMapper (frames read by detectron2, ResizeShortestEdge(360, 1333) with PIL
bilinear), SamBasedVisToVosAdapter.forward (SAM's SamAutomaticMaskGenerator on frame 0, the first max_num_masks
masks, SamPt with query masks), YTVISEvaluator (instances_to_coco_json_video -> results.json, YTVOSeval).
Overrides for this CPU and these weights (the test gives our task the same values):
- the model: SAM-PT's MobileSAM config (`model/sam@model.sam_generator.model=sam_mobile_vit_tiny`; SamPt's predictor
  reuses it, vis_eval_sam_pt.yaml) loading the parity weights (tests/parity_weights.py) from a file it reads as its
  checkpoint; the driver checks afterwards that every key of both networks hydra built came from it (SAM-PT loads
  with strict=False). Its image encoder computes in float64 between float32 input and output (a `MobileSamHydra`
  subclass wraps it after loading) so that the embedding does not depend on the CPU's summation order; prompt
  encoder, mask decoder, generator and predictor in float32 as SAM-PT runs them;
- the generator: AMG_OVERRIDES. Untrained weights predict IoUs over about -0.6..1.3 on this frame and decode
  noise-like masks whose stability score is below 0.32 and whose box is the whole frame, so SAM-PT's 0.88 / 0.95 keep
  nothing and box NMS at 0.7 keeps one mask; a 4x4 grid (SAM-PT: 32x32) keeps the CPU time of the official
  generator (which upsamples every candidate) to ~45 s. These settings keep 13 of the 48 candidates;
  `model.max_num_masks=MAX_TRACKS` (SAM-PT: 100) then keeps the first 6, as the adapter keeps the first 100;
- `model.model.sam_iou_threshold=IOU_THRESHOLD` (SAM-PT: 0.7, which drops every mask of untrained weights);
- the point tracker (`model/point_tracker@model.model.point_tracker=trajectory_rule`, a config the driver adds to
  hydra's search path, as SAM-PT's own trackers are chosen): `TrajectoryRule` below. On SAM-PT's query points it
  returns fixed trajectories (each point moved by the bird's ground-truth centroid displacement, with EDITS that
  hide points, move one within 1% of the border, leave a track only its negative point and hide every point of a
  track on a frame) and records them: `trajectories.npz`, which our test replays through our task. Visibilities
  are 1.0 / 0.0 as SAM-PT's trackers return them;
- `device=cpu`, `model.visualize_results=false` (wandb media only), the output folder in a scratch directory.
Shims, none on the evaluation path: `detectron2._C` (its compiled operators: deformable convolution, rotated boxes;
imported by detectron2.layers, never called here) is a stand-in with the three version functions
collect_env_info logs; `PIL.Image.LINEAR`, the alias of BILINEAR that Pillow 10 removed, is restored (detectron2
0.6 names it in a default argument); the `sam_pt.point_tracker` package's `__init__` (it imports every tracker:
TensorFlow, co-tracker, RAFT, SuperGlue, PIPS) is a stand-in whose path is the real folder, so the real `tracker.py`
(the `PointTracker` base class) imports, with placeholder classes for the trackers sam_pt.py names only in
`isinstance` checks; wandb 0.31 runs with WANDB_MODE=disabled.
Recorded by wrapping, not editing: every `torch.randperm` draw (SAM-PT's query-point sampling; its first
KMEDOIDS_SUBSAMPLE entries, the only ones read), the records `SamAutomaticMaskGenerator.generate` returns, the
dict `SamBasedVisToVosAdapter.forward` returns (before the YTVIS results writer), the per-frame predicted IoUs
`SamPt._apply_sam_to_trajectories` returns, and what `Trainer.test` returns (the YTVIS metrics).
Environment: /work/refvenv (torch 2.14.1 as the project's, segment-anything 1.0, hydra-core 1.3.8, pycocotools)
plus, from PyPI, scikit-image, wandb, scikit-learn-extra 0.3.0 (tests/data/protocols/davis/make_reference.py says
how), fvcore, iopath, tabulate and pandas (detectron2's and SAM-PT's pure-Python dependencies).
Outputs: `trajectories.npz` (query points, trajectories, visibilities at the working size, the randperm draws, the
sha256 of each of SAM-PT's working frames); `reference.npz` (the adapter's per-track per-frame masks at the video's
size and scores, SAM's per-frame IoUs -- NaN where not asked --, the kept AMG masks at the working size, packed
with np.packbits, and every generated record's predicted IoU and stability score); `reference.json` (the YTVIS
records SAM-PT's evaluator wrote to results.json, each RLE as its size and the sha256 of its counts, and the
YTVIS metrics it reported).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2]
sys.path.insert(0, str(TESTS.parent))  # tests.uvo_protocol_clip
sys.path.insert(0, str(TESTS))  # parity_weights.py, reference_driver.py, the DAVIS driver
from tests.davis_protocol_clip import frame_names, two_object_ids  # noqa: E402
from tests.uvo_protocol_clip import CLIP_FRAMES, write_uvo_clip  # noqa: E402
from reference_driver import stub_module  # noqa: E402

# The DAVIS driver's MobileSAM (parity checkpoint, float64 encoder), its stand-in for SAM-PT's tracker package and
# its randperm prefix length: one definition for both SAM-PT drivers.
_spec = importlib.util.spec_from_file_location("davis_reference", HERE.parent / "davis" / "make_reference.py")
davis_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(davis_reference)
KMEDOIDS_SUBSAMPLE = davis_reference.KMEDOIDS_SUBSAMPLE

REPOSITORY = "SysCV/sam-pt"
COMMIT = "c17ab949ee426c2ebf90d74727825cf415473b62"
DETECTRON2_COMMIT = "d1e04565d3bec8719335b88be9e9b961bf3ec464"  # tag v0.6
COMMAND = ("PYTHONPATH=/work/ref/sam_pt:/work/ref/mobile_sam:/work/ref/detectron2 /work/refvenv/bin/python "
           "tests/data/protocols/uvo/make_reference.py")  # fmt: skip
THREADS = 2
AMG_OVERRIDES = {"points_per_side": 4, "pred_iou_thresh": 0.3, "stability_score_thresh": 0.02, "box_nms_thresh": 1.0}
MAX_TRACKS = 6
IOU_THRESHOLD = 0.0
POSITIVE_POINTS = 8  # sam_pt.yaml (v1); point 8 of a track is its negative
# (frame, track, points, visible, moved to (x, y)): edits of the rule's trajectories, each for one of SAM-PT's paths.
EDITS = (
    (1, 0, [0], True, (3.0, 200.0)),  # within 1% of the border (3 / 641): hidden by SAM-PT's OUTSIDE_FRAME rule
    (1, 1, [2, 5], False, None),  # two positives hidden
    (1, 2, [8], False, None),  # the negative hidden: both passes with positives only
    (2, 3, list(range(9)), False, None),  # no point of track 3 on frame 2: SAM not asked, score -inf
    (2, 4, list(range(8)), False, None),  # only track 4's negative: a first pass without points
)


class Recorder:
    """What the run drew, generated and predicted (module state: SAM-PT builds everything from its config)."""

    draws: list[tuple[int, np.ndarray]] = []  # (n, the first KMEDOIDS_SUBSAMPLE entries of randperm(n))
    query_points: np.ndarray | None = None  # K x P x 2
    trajectories: np.ndarray | None = None  # T x K x P x 2
    visibilities: np.ndarray | None = None  # T x K x P bool
    frames_sha256: list[str] = []
    amg_records: list[list[dict]] = []  # per generate call
    adapter_outputs: list[dict] = []
    ious: list[np.ndarray] = []  # per _apply_sam_to_trajectories call: T x K, -inf where SAM was not asked
    metrics: list[dict] = []
    models: list = []


def shim_detectron2() -> None:
    import PIL.Image

    PIL.Image.LINEAR = PIL.Image.BILINEAR
    stub_module("detectron2._C", get_compiler_version=lambda: "none (stand-in)",
                get_cuda_version=lambda: "none (stand-in)", has_cuda=lambda: False)  # fmt: skip


def record_calls() -> None:
    original_randperm = torch.randperm

    def randperm(n, *args, **kwargs):
        permutation = original_randperm(n, *args, **kwargs)
        Recorder.draws.append((int(n), permutation[:KMEDOIDS_SUBSAMPLE].numpy().copy()))
        return permutation

    torch.randperm = randperm

    from segment_anything import SamAutomaticMaskGenerator
    from sam_pt.modeling.sam_pt import SamPt
    from sam_pt.modeling.vis_to_vos_adapter import SamBasedVisToVosAdapter
    from sam_pt.vis_eval.train_net_video import Trainer

    generate = SamAutomaticMaskGenerator.generate

    def recorded_generate(self, image):
        records = generate(self, image)
        Recorder.amg_records.append(records)
        return records

    SamAutomaticMaskGenerator.generate = recorded_generate

    apply_sam = SamPt._apply_sam_to_trajectories

    def recorded_apply_sam(self, images, trajectories, visibilities):
        scores, logits, scores_per_frame = apply_sam(self, images, trajectories, visibilities)
        Recorder.ious.append(scores_per_frame.numpy().copy())
        return scores, logits, scores_per_frame

    SamPt._apply_sam_to_trajectories = recorded_apply_sam

    forward = SamBasedVisToVosAdapter.forward

    def recorded_forward(self, batched_inputs):
        Recorder.models.append(self)
        outputs = forward(self, batched_inputs)
        Recorder.adapter_outputs.append(outputs)
        return outputs

    SamBasedVisToVosAdapter.forward = recorded_forward

    test = Trainer.test.__func__

    def recorded_test(cls, cfg, model, evaluators=None):
        results = test(cls, cfg, model, evaluators)
        Recorder.metrics.append(results)
        return results

    Trainer.test = classmethod(recorded_test)


def centroid_shifts(height: int, width: int) -> np.ndarray:
    """T x 2 (x, y): the bird's (both objects') ground-truth centroid on frame t minus on frame 0, at the working
    size."""
    centroids = []
    for name in frame_names(CLIP_FRAMES):
        ys, xs = np.nonzero(two_object_ids(name))
        centroids.append((xs.mean() * width / 854, ys.mean() * height / 480))
    centroids = np.array(centroids)
    return centroids - centroids[:1]


def rule_trajectories(query_points: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    n_tracks, n_points, _ = query_points.shape
    trajectories = (query_points[None] + centroid_shifts(height, width)[:, None, None, :]).astype(np.float32)
    visibilities = np.ones((CLIP_FRAMES, n_tracks, n_points), dtype=bool)
    for t, k, points, visible, moved in EDITS:
        visibilities[t, k, points] = visible
        if moved is not None:
            trajectories[t, k, points] = moved
    return trajectories, visibilities


def build_tracker_class():
    from sam_pt.point_tracker.tracker import PointTracker

    class TrajectoryRule(PointTracker):
        """SAM-PT's PointTracker interface: (1, T, 3, H, W) uint8 frames and (1, N, 3) (t, x, y) query points ->
        (1, T, N, 2) trajectories and (1, T, N) visibilities; one call for all tracks (one group here)."""

        def __init__(self):
            super().__init__()

        def forward(self, rgbs, query_points):
            batch, n_frames, _, height, width = rgbs.shape
            assert batch == 1 and n_frames == CLIP_FRAMES and Recorder.query_points is None
            assert (query_points[0, :, 0] == 0).all(), "every query point is on frame 0"
            points = query_points[0, :, 1:].cpu().numpy().reshape(MAX_TRACKS, -1, 2)
            trajectories, visibilities = rule_trajectories(points, height, width)
            Recorder.query_points, Recorder.trajectories, Recorder.visibilities = points, trajectories, visibilities
            frames = rgbs[0].permute(0, 2, 3, 1).contiguous().cpu().numpy()
            Recorder.frames_sha256 = [hashlib.sha256(frame.tobytes()).hexdigest() for frame in frames]
            n = points.shape[0] * points.shape[1]
            return (torch.from_numpy(trajectories.reshape(1, n_frames, n, 2)),
                    torch.from_numpy(visibilities.reshape(1, n_frames, n).astype(np.float32)))  # fmt: skip

    return TrajectoryRule


def check_loaded_keys(network, checkpoint: Path) -> None:
    """SAM-PT loads its checkpoint with strict=False: every key of the network must have come from the file."""
    state = torch.load(checkpoint, weights_only=True)
    encoder = network.image_encoder.encoder
    loaded = {**{f"image_encoder.{k}": v for k, v in encoder.state_dict().items()},
              **{k: v for k, v in network.state_dict().items() if not k.startswith("image_encoder")}}
    assert set(loaded) == set(state), "SAM-PT's MobileSAM does not have the parity checkpoint's keys"
    for key, value in state.items():
        assert torch.equal(loaded[key].to(value.dtype), value), key


def record_summary(record: dict) -> dict:
    """A YTVIS results entry, each RLE as its size and the sha256 of its counts (what the test compares)."""
    segmentations = [{"size": s["size"], "counts_sha256": hashlib.sha256(s["counts"].encode()).hexdigest()}
                     for s in record["segmentations"]]  # fmt: skip
    return {"video_id": record["video_id"], "score": record["score"], "category_id": record["category_id"],
            "segmentations": segmentations}  # fmt: skip


def main() -> None:
    torch.set_num_threads(THREADS)
    os.environ["WANDB_MODE"] = "disabled"
    os.environ["WANDB_SILENT"] = "true"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["DETECTRON2_DATASETS"] = str(tmp / "datasets")  # read by datasets/builtin.py on import
        write_uvo_clip(tmp / "datasets", CLIP_FRAMES)
        shim_detectron2()
        davis_reference.shim_imports()
        record_calls()
        main_module = sys.modules["__main__"]
        main_module.TrajectoryRule = build_tracker_class()
        main_module.Float64EncoderMobileSam = davis_reference.build_model_class()
        from sam_pt.vis_eval import eval as vis_eval

        checkpoint = tmp / "mobile_sam_parity.pt"
        davis_reference.parity_checkpoint(checkpoint)
        output = tmp / "output"
        tracker_config = tmp / "configs"  # a point-tracker config beside SAM-PT's (configs/model/point_tracker/)
        (tracker_config / "model" / "point_tracker").mkdir(parents=True)
        (tracker_config / "model" / "point_tracker" / "trajectory_rule.yaml").write_text(
            "_target_: __main__.TrajectoryRule\n"
        )
        overrides = [
            "model@model.model=sam_pt",  # the VIS command
            "model.model.iterative_refinement_iterations=0",
            "model.model.add_other_objects_positive_points_as_negative_points=false",
            "DETECTRON2_CONFIG.SEED=36",
            "model/sam@model.sam_generator.model=sam_mobile_vit_tiny",  # this driver's (docstring)
            "model.sam_generator.model._target_=__main__.Float64EncoderMobileSam",
            f"model.sam_generator.model.checkpoint={checkpoint}",
            *(f"model.sam_generator.{key}={value}" for key, value in AMG_OVERRIDES.items()),
            f"model.max_num_masks={MAX_TRACKS}",
            f"model.model.sam_iou_threshold={IOU_THRESHOLD}",
            f"hydra.searchpath=[file://{tracker_config}]",
            "model/point_tracker@model.model.point_tracker=trajectory_rule",
            "device=cpu", "model.visualize_results=false", f"output={output}", f"hydra.run.dir={tmp / 'hydra'}",
        ]  # fmt: skip
        configs = Path(vis_eval.__file__).parents[2] / "configs"
        sys.argv = ["sam_pt.vis_eval.eval", f"--config-path={configs}", *overrides]
        vis_eval.main()
        adapter = Recorder.models[0]
        check_loaded_keys(adapter.sam_generator.predictor.model, checkpoint)
        check_loaded_keys(adapter.model.sam_predictor.model, checkpoint)
        results = json.loads((output / "inference" / "results.json").read_text())

    assert len(Recorder.amg_records) == len(Recorder.adapter_outputs) == len(Recorder.ious) == 1, "one video"
    assert len(Recorder.draws) == 2 * MAX_TRACKS, "positives of every track, then their negatives"
    records, outputs = Recorder.amg_records[0], Recorder.adapter_outputs[0]
    kept = np.stack([r["segmentation"] for r in records[:MAX_TRACKS]])
    masks = np.stack([m.numpy() for m in outputs["pred_masks"]])  # K x T x H x W
    ious = Recorder.ious[0].astype(np.float64)
    ious[np.isneginf(ious)] = np.nan  # SAM not asked
    np.savez_compressed(
        HERE / "trajectories.npz",
        query_points=Recorder.query_points,
        trajectories=Recorder.trajectories,
        visibilities=Recorder.visibilities,
        draw_sizes=np.array([n for n, _ in Recorder.draws]),
        **{f"draw_{i}": prefix for i, (_, prefix) in enumerate(Recorder.draws)},
        frames_sha256=np.array(Recorder.frames_sha256),
    )
    np.savez_compressed(
        HERE / "reference.npz",
        masks=np.packbits(masks, axis=-1), masks_shape=np.array(masks.shape),
        scores=np.array(outputs["pred_scores"], dtype=np.float64), ious=ious,
        amg_masks=np.packbits(kept, axis=-1), amg_masks_shape=np.array(kept.shape),
        amg_predicted_iou=np.array([r["predicted_iou"] for r in records]),
        amg_stability_score=np.array([r["stability_score"] for r in records]),
        commit=np.array(COMMIT),
    )  # fmt: skip
    reference = {"repository": REPOSITORY, "commit": COMMIT, "detectron2_commit": DETECTRON2_COMMIT,
                 "command": COMMAND, "amg_overrides": AMG_OVERRIDES, "max_num_masks": MAX_TRACKS,
                 "sam_iou_threshold": IOU_THRESHOLD, "results": [record_summary(r) for r in results],
                 "metrics": Recorder.metrics[0]["segm"]}  # fmt: skip
    (HERE / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"generated {len(records)} masks, kept {len(kept)}; masks {masks.shape}, pixels per track and frame "
          f"{masks.sum(axis=(2, 3)).tolist()}")  # fmt: skip
    print(f"scores {outputs['pred_scores']}\npredicted IoUs per frame and track:\n{ious}")
    print(f"metrics {Recorder.metrics[0]['segm']}")


if __name__ == "__main__":
    main()
