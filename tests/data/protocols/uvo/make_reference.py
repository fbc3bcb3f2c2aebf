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
What this driver shares with the DAVIS one (the model, the point-tracker rule, the shims of sam_pt, what is
recorded, the environment) is described in tests/sam_pt_reference_driver.py.
Overrides for this CPU and these weights (the test gives our task the same values):
- the model: SAM-PT's MobileSAM config (`model/sam@model.sam_generator.model=sam_mobile_vit_tiny`; SamPt's predictor
  reuses it, vis_eval_sam_pt.yaml) loading the parity weights, its image encoder in float64; the driver checks
  afterwards that every key of both networks hydra built came from the checkpoint; the generator in float32 as
  SAM-PT runs it;
- the generator: AMG_OVERRIDES. Untrained weights predict IoUs over about -0.6..1.3 on this frame and decode
  noise-like masks whose stability score is below 0.32 and whose box is the whole frame, so SAM-PT's 0.88 / 0.95 keep
  nothing and box NMS at 0.7 keeps one mask; a 4x4 grid (SAM-PT: 32x32) keeps the CPU time of the official
  generator (which upsamples every candidate) to ~45 s. These settings keep 13 of the 48 candidates;
  `model.max_num_masks=MAX_TRACKS` (SAM-PT: 100) then keeps the first 6, as the adapter keeps the first 100;
- `model.model.sam_iou_threshold=IOU_THRESHOLD` (SAM-PT: 0.7, which drops every mask of untrained weights);
- the point tracker (`model/point_tracker@model.model.point_tracker=trajectory_rule`): the rule, each point moved
  by the bird's (both objects') ground-truth centroid displacement, with EDITS that hide points, move one within 1%
  of the border, leave a track only its negative point and hide every point of a track on a frame;
- `device=cpu`, `model.visualize_results=false` (wandb media only), the output folder in a scratch directory.
Shims, none on the evaluation path: `detectron2._C` (its compiled operators: deformable convolution, rotated boxes;
imported by detectron2.layers, never called here) is a stand-in with the three version functions
collect_env_info logs; `PIL.Image.LINEAR`, the alias of BILINEAR that Pillow 10 removed, is restored (detectron2
0.6 names it in a default argument); and the shared shims of sam_pt's packages.
Recorded by wrapping, not editing, besides the shared recordings: the records `SamAutomaticMaskGenerator.generate`
returns, the dict `SamBasedVisToVosAdapter.forward` returns (before the YTVIS results writer) and its model, and what
`Trainer.test` returns (the YTVIS metrics).
Environment: the shared one, plus pycocotools and, from PyPI, fvcore, iopath, tabulate and pandas (detectron2's and
SAM-PT's pure-Python dependencies).
Outputs: `trajectories.npz` (the rule's); `reference.npz` (the adapter's per-track per-frame masks at the video's
size and scores, SAM's per-frame IoUs -- NaN where not asked --, the kept AMG masks at the working size, packed
with np.packbits, and every generated record's predicted IoU and stability score); `reference.json` (the YTVIS
records SAM-PT's evaluator wrote to results.json, each RLE as its size and the sha256 of its counts, and the
YTVIS metrics it reported).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2]
sys.path.insert(0, str(TESTS.parent))  # tests.uvo_protocol_clip
sys.path.insert(0, str(TESTS))  # reference_driver.py, sam_pt_reference_driver.py
from tests.davis_protocol_clip import frame_names, two_object_ids  # noqa: E402
from tests.uvo_protocol_clip import CLIP_FRAMES, write_uvo_clip  # noqa: E402
from reference_driver import stub_module  # noqa: E402
import sam_pt_reference_driver as sam_pt_driver  # noqa: E402

DETECTRON2_COMMIT = "d1e04565d3bec8719335b88be9e9b961bf3ec464"  # tag v0.6
COMMAND = ("PYTHONPATH=/work/ref/sam_pt:/work/ref/mobile_sam:/work/ref/detectron2 /work/refvenv/bin/python "
           "tests/data/protocols/uvo/make_reference.py")  # fmt: skip
AMG_OVERRIDES = {"points_per_side": 4, "pred_iou_thresh": 0.3, "stability_score_thresh": 0.02, "box_nms_thresh": 1.0}
MAX_TRACKS = 6
IOU_THRESHOLD = 0.0
# The rule's edits (sam_pt_reference_driver.Edit), each for one of SAM-PT's paths.
EDITS = (
    (1, 0, [0], True, (3.0, 200.0)),  # within 1% of the border (3 / 641): hidden by SAM-PT's OUTSIDE_FRAME rule
    (1, 1, [2, 5], False, None),  # two positives hidden
    (1, 2, [8], False, None),  # the negative hidden: both passes with positives only
    (2, 3, list(range(9)), False, None),  # no point of track 3 on frame 2: SAM not asked, score -inf
    (2, 4, list(range(8)), False, None),  # only track 4's negative: a first pass without points
)


@dataclasses.dataclass
class VisRecording(sam_pt_driver.Recording):
    """Besides the shared recordings: what the generator, the adapter and the evaluator returned, one entry a call."""

    amg_records: list[list[dict]] = dataclasses.field(default_factory=list)
    adapter_outputs: list[dict] = dataclasses.field(default_factory=list)
    models: list = dataclasses.field(default_factory=list)  # the adapters hydra built
    metrics: list[dict] = dataclasses.field(default_factory=list)


def shim_detectron2() -> None:
    import PIL.Image

    PIL.Image.LINEAR = PIL.Image.BILINEAR
    stub_module("detectron2._C", get_compiler_version=lambda: "none (stand-in)",
                get_cuda_version=lambda: "none (stand-in)", has_cuda=lambda: False)  # fmt: skip


def record_vis(recording: VisRecording) -> None:
    from segment_anything import SamAutomaticMaskGenerator
    from sam_pt.modeling.vis_to_vos_adapter import SamBasedVisToVosAdapter
    from sam_pt.vis_eval.train_net_video import Trainer

    generate = SamAutomaticMaskGenerator.generate

    def recorded_generate(self, image):
        records = generate(self, image)
        recording.amg_records.append(records)
        return records

    SamAutomaticMaskGenerator.generate = recorded_generate

    forward = SamBasedVisToVosAdapter.forward

    def recorded_forward(self, batched_inputs):
        recording.models.append(self)
        outputs = forward(self, batched_inputs)
        recording.adapter_outputs.append(outputs)
        return outputs

    SamBasedVisToVosAdapter.forward = recorded_forward

    test = Trainer.test.__func__

    def recorded_test(cls, cfg, model, evaluators=None):
        results = test(cls, cfg, model, evaluators)
        recording.metrics.append(results)
        return results

    Trainer.test = classmethod(recorded_test)


def bird_shifts(height: int, width: int) -> np.ndarray:
    """T x 1 x 1 x 2 (x, y): the bird's (both objects') ground-truth centroid displacement, for every point."""
    birds = [two_object_ids(name) > 0 for name in frame_names(CLIP_FRAMES)]
    return sam_pt_driver.centroid_shifts(birds, height, width)[:, None, None, :]


def record_summary(record: dict) -> dict:
    """A YTVIS results entry, each RLE as its size and the sha256 of its counts (what the test compares)."""
    segmentations = [{"size": s["size"], "counts_sha256": hashlib.sha256(s["counts"].encode()).hexdigest()}
                     for s in record["segmentations"]]  # fmt: skip
    return {"video_id": record["video_id"], "score": record["score"], "category_id": record["category_id"],
            "segmentations": segmentations}  # fmt: skip


def main() -> None:
    sam_pt_driver.check_importable("sam_pt", "mobile_sam", "detectron2")
    recording = VisRecording()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["DETECTRON2_DATASETS"] = str(tmp / "datasets")  # read by datasets/builtin.py on import
        write_uvo_clip(tmp / "datasets", CLIP_FRAMES)
        shim_detectron2()
        sam_pt_driver.set_up_sam_pt(recording, MAX_TRACKS, bird_shifts, EDITS)
        record_vis(recording)
        from sam_pt.vis_eval import eval as vis_eval

        checkpoint = tmp / "mobile_sam_parity.pt"
        sam_pt_driver.parity_checkpoint(checkpoint)
        output = tmp / "output"
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
            f"hydra.searchpath=[file://{sam_pt_driver.write_tracker_config(tmp / 'configs')}]",
            "model/point_tracker@model.model.point_tracker=trajectory_rule",
            "device=cpu", "model.visualize_results=false", f"output={output}", f"hydra.run.dir={tmp / 'hydra'}",
        ]  # fmt: skip
        sam_pt_driver.run_eval(vis_eval, overrides)
        adapter = recording.models[0]
        sam_pt_driver.check_loaded_keys(adapter.sam_generator.predictor.model, checkpoint)
        sam_pt_driver.check_loaded_keys(adapter.model.sam_predictor.model, checkpoint)
        results = json.loads((output / "inference" / "results.json").read_text())

    assert len(recording.amg_records) == len(recording.adapter_outputs) == 1, "one video"
    assert len(recording.draws) == 2 * MAX_TRACKS, "positives of every track, then their negatives"
    records, outputs = recording.amg_records[0], recording.adapter_outputs[0]
    kept = np.stack([r["segmentation"] for r in records[:MAX_TRACKS]])
    masks = np.stack([m.numpy() for m in outputs["pred_masks"]])  # K x T x H x W
    ious = sam_pt_driver.frame_ious(recording)
    sam_pt_driver.save_trajectories(recording, HERE / "trajectories.npz")
    np.savez_compressed(
        HERE / "reference.npz",
        masks=np.packbits(masks, axis=-1), masks_shape=np.array(masks.shape),
        scores=np.array(outputs["pred_scores"], dtype=np.float64), ious=ious,
        amg_masks=np.packbits(kept, axis=-1), amg_masks_shape=np.array(kept.shape),
        amg_predicted_iou=np.array([r["predicted_iou"] for r in records]),
        amg_stability_score=np.array([r["stability_score"] for r in records]),
        commit=np.array(sam_pt_driver.COMMIT),
    )  # fmt: skip
    reference = {"repository": sam_pt_driver.REPOSITORY, "commit": sam_pt_driver.COMMIT,
                 "detectron2_commit": DETECTRON2_COMMIT, "command": COMMAND, "amg_overrides": AMG_OVERRIDES,
                 "max_num_masks": MAX_TRACKS, "sam_iou_threshold": IOU_THRESHOLD,
                 "results": [record_summary(r) for r in results], "metrics": recording.metrics[0]["segm"]}  # fmt: skip
    (HERE / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"generated {len(records)} masks, kept {len(kept)}; masks {masks.shape}, pixels per track and frame "
          f"{masks.sum(axis=(2, 3)).tolist()}")  # fmt: skip
    print(f"scores {outputs['pred_scores']}\npredicted IoUs per frame and track:\n{ious}")
    print(f"metrics {recording.metrics[0]['segm']}")


if __name__ == "__main__":
    main()
