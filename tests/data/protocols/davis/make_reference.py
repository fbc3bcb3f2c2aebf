"""Make `trajectories.npz` and `reference.npz`: SAM-PT's own DAVIS evaluation on a real clip, its point tracker
replaced by a fixed rule.

    PYTHONPATH=/work/ref/sam_pt:/work/ref/mobile_sam \
        /work/refvenv/bin/python tests/data/protocols/davis/make_reference.py

/work/ref/sam_pt is an export of SysCV/sam-pt at commit c17ab94 (`git archive`, without the demo GIFs and video),
the v1 protocol our evals/protocols/sam_pt/options.py follows; /work/ref/mobile_sam is ChaoningZhang/MobileSAM's
`mobile_sam/` at 01ea8d0, the commit SAM-PT's requirements.txt pins. What this driver shares with the UVO one (the
model, the point-tracker rule, the shims, what is recorded, the environment) is described in
tests/sam_pt_reference_driver.py. SAM-PT's command-line entry point `sam_pt.vos_eval.eval.main` (hydra) runs
unchanged, as `python -m sam_pt.vos_eval.eval` with the overrides of `main()`:
- the model: SAM-PT's `model=sam_pt` config (configs/model/sam_pt.yaml: 8 k-medoid positive points and 1 'mixed'
  negative point per object, other objects' positives as negatives, IoU threshold 0.7, 12 refinement iterations,
  objects in groups of 5; the IoU threshold lowered to IOU_THRESHOLD for untrained weights) with its MobileSAM
  (`model/sam@model.sam_predictor.sam_model=sam_mobile_vit_tiny`) loading the parity weights, its image encoder in
  float64;
- the data: `dataset=D16 split=val` on a DAVIS tree holding the clip of tests/davis_protocol_clip.py (blackswan's
  first 5 frames, its object split in two) whose `JPEGImages/Full-Resolution` and `Annotations/Full-Resolution`,
  where SAM-PT reads its frames, hold the 480p files (our default `--source-resolution 480p`); frames resized to
  1024 px on the longest side (`longest_size: 1024`), masks written at the 480p size, `seed: 72`;
- the point tracker (`model/point_tracker=trajectory_rule`): the rule, each point moved by its object's ground-truth
  centroid displacement, with EDITS that hide points, move one within 1% of the border, and hide every point of a
  frame.
`visualize_results=false` (wandb media only).
Recorded besides the rule's `trajectories.npz`: the model SAM-PT built (`SamPt.forward`), to check its weights.
Outputs: `trajectories.npz` and `reference.npz` (the id maps SAM-PT wrote for every frame, read back from its PNGs,
and its per-frame predicted IoUs, NaN where SAM was not asked).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2]
sys.path.insert(0, str(TESTS))  # davis_protocol_clip.py, sam_pt_reference_driver.py
from davis_protocol_clip import N_OBJECTS, VIDEO, frame_names, two_object_ids, write_clip  # noqa: E402
import sam_pt_reference_driver as sam_pt_driver  # noqa: E402

# SAM-PT's 0.7 drops every mask of untrained weights (their predicted IoUs here: -0.06 to 0.08): this threshold
# keeps one object and drops the other on frame 1 (IoUs -0.045 and -0.061) and keeps both on frames 3 and 4.
IOU_THRESHOLD = -0.05
# The rule's edits (sam_pt_reference_driver.Edit), each for one of SAM-PT's paths; a track is an object here.
EDITS = (
    (1, 0, [0], True, (4.0, 300.0)),  # within 1% of the border: hidden by SAM-PT's OUTSIDE_FRAME rule
    (1, 0, [3], False, None),  # one positive hidden
    (1, 1, list(range(9)), False, None),  # object 2 keeps only object 1's positives, as negatives: no positive
    (2, 0, list(range(9)), False, None),  # no point at all on frame 2: empty masks, SAM not asked
    (2, 1, list(range(9)), False, None),
    (3, 1, [8], False, None),  # object 2's negative hidden; frame 4 as the rule makes it
)


def object_shifts(height: int, width: int) -> np.ndarray:
    """T x K x 1 x 2 (x, y): each object's ground-truth centroid displacement, the same for all its points."""
    frames = [two_object_ids(name) for name in frame_names()]
    objects = [[ids == k + 1 for ids in frames] for k in range(N_OBJECTS)]
    return np.stack([sam_pt_driver.centroid_shifts(masks, height, width) for masks in objects], axis=1)[:, :, None, :]


def write_tree(root: Path) -> Path:
    """The D16 layout SAM-PT's DAVISTestDataset reads (its 2016 image set is read from the 2017 folder)."""
    d16 = root / "2016"
    for resolution in ("Full-Resolution", "480p"):
        write_clip(d16 / "JPEGImages" / resolution / VIDEO, d16 / "Annotations" / resolution / VIDEO)
    (d16 / "ImageSets").mkdir()
    image_set = root / "2017" / "trainval" / "ImageSets" / "2016" / "val.txt"
    image_set.parent.mkdir(parents=True)
    image_set.write_text(VIDEO + "\n")
    return d16


def main() -> None:
    sam_pt_driver.check_importable("sam_pt", "mobile_sam")
    recording = sam_pt_driver.Recording()
    sam_pt_driver.set_up_sam_pt(recording, N_OBJECTS, object_shifts, EDITS)

    from sam_pt.modeling.sam_pt import SamPt
    from sam_pt.vos_eval import eval as vos_eval

    models = []
    original_forward = SamPt.forward

    def forward(self, video):  # records the model SAM-PT built, to check its weights after the run
        models.append(self)
        return original_forward(self, video)

    SamPt.forward = forward
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        d16 = write_tree(tmp / "DAVIS")
        checkpoint = tmp / "mobile_sam_parity.pt"
        sam_pt_driver.parity_checkpoint(checkpoint)
        output = tmp / "output"
        overrides = [
            "model=sam_pt",
            f"model.sam_iou_threshold={IOU_THRESHOLD}",
            "model/sam@model.sam_predictor.sam_model=sam_mobile_vit_tiny",
            "model.sam_predictor.sam_model._target_=__main__.Float64EncoderMobileSam",
            f"model.sam_predictor.sam_model.checkpoint={checkpoint}",
            f"hydra.searchpath=[file://{sam_pt_driver.write_tracker_config(tmp / 'configs')}]",
            "model/point_tracker=trajectory_rule",
            "dataset=D16", "split=val", f"d16_path={d16}", f"output={output}", "visualize_results=false",
            f"hydra.run.dir={tmp / 'hydra'}",
        ]  # fmt: skip
        sam_pt_driver.run_eval(vos_eval, overrides)
        sam_pt_driver.check_loaded_keys(models[0].sam_predictor.model, checkpoint)
        masks = np.stack([np.asarray(Image.open(output / VIDEO / f"{name}.png")) for name in frame_names()])

    assert len(recording.draws) == 2 * N_OBJECTS, "positives of each object, then its negative"
    ious = sam_pt_driver.frame_ious(recording)
    sam_pt_driver.save_trajectories(recording, HERE / "trajectories.npz")
    np.savez_compressed(HERE / "reference.npz", masks=masks, ious=ious, commit=np.array(sam_pt_driver.COMMIT))
    print(f"masks {masks.shape}, ids per frame {[np.unique(m).tolist() for m in masks]}")
    print(f"predicted IoUs per frame and object:\n{ious}")


if __name__ == "__main__":
    main()
