"""Make `trajectories.npz` and `reference.npz`: SAM-PT's own DAVIS evaluation on a real clip, its point tracker
replaced by a fixed rule.

    PYTHONPATH=/work/ref/sam_pt:/work/ref/mobile_sam \
        /work/refvenv/bin/python tests/data/protocols/davis/make_reference.py

/work/ref/sam_pt is an export of SysCV/sam-pt at commit c17ab94 (`git archive`, without the demo GIFs and video),
the v1 protocol our evals/protocols/sam_pt/options.py follows; /work/ref/mobile_sam is ChaoningZhang/MobileSAM's `mobile_sam/`
at 01ea8d0, the commit SAM-PT's requirements.txt pins. SAM-PT's command-line entry point
`sam_pt.vos_eval.eval.main` (hydra) runs unchanged, as `python -m sam_pt.vos_eval.eval` with the overrides of
`main()`:
- the model: SAM-PT's `model=sam_pt` config (configs/model/sam_pt.yaml: 8 k-medoid positive points and 1 'mixed'
  negative point per object, other objects' positives as negatives, IoU threshold 0.7, 12 refinement iterations,
  objects in groups of 5; the IoU threshold lowered to IOU_THRESHOLD for untrained weights) with its MobileSAM
  (`model/sam@model.sam_predictor.sam_model=sam_mobile_vit_tiny`,
  `MobileSamHydra`, segment_anything's `SamPredictor`), loading the weights derived from the key names
  (tests/parity_weights.py) from a file it reads as its checkpoint; the driver checks afterwards that every key of the
  network came from it (SAM-PT loads with strict=False). The image encoder computes in float64 between float32
  input and output (a
  `MobileSamHydra` subclass wraps it after loading), as the parity drivers run encoders: float32 summation order
  moves an untrained TinyViT's embedding by ~1e-5, enough to flip mask pixels; float64 makes the embedding the
  same on both sides. Prompt encoder, mask decoder and predictor in float32;
- the data: `dataset=D16 split=val` on a DAVIS tree holding the clip of tests/davis_protocol_clip.py (blackswan's
  first 5 frames, its object split in two) whose `JPEGImages/Full-Resolution` and `Annotations/Full-Resolution`,
  where SAM-PT reads its frames, hold the 480p files (our default `--source-resolution 480p`); frames resized to
  1024 px on the longest side (`longest_size: 1024`), masks written at the 480p size, `seed: 72`;
- the point tracker (`model/point_tracker=trajectory_rule`, a config the driver adds to hydra's search path, as
  SAM-PT's own trackers are chosen): `TrajectoryRule` below. On SAM-PT's query points it returns fixed
  trajectories (each point moved by its object's ground-truth centroid displacement, with EDITS that hide points,
  move one within 1% of the border, and hide every point of a frame) and records them: `trajectories.npz`, which
  our test replays through our task. Visibilities are 1.0 / 0.0 as SAM-PT's trackers return them.
`visualize_results=false` (wandb media only).
Shims, none on the evaluation path: the `sam_pt.point_tracker` package's `__init__` (it imports every tracker:
TensorFlow, co-tracker, RAFT, SuperGlue, PIPS) is a stand-in whose path is the real folder, so the real
`tracker.py` (the `PointTracker` base class) imports, with placeholder classes for the trackers eval.py and
sam_pt.py name only in `isinstance` checks; `sam_pt.vos_eval.davis2017eval` (needs davis2017-evaluation, not on
PyPI; called only for D17) is a stand-in; wandb 0.31 runs with WANDB_MODE=disabled.
Recorded by wrapping, not editing: every `torch.randperm` draw (SAM-PT's query-point sampling; its first
KMEDOIDS_SUBSAMPLE entries, the only ones read) and the per-frame predicted IoUs `SamPt._apply_sam_to_trajectories`
returns.
Environment: /work/refvenv (torch 2.14.1 as the project's, segment-anything 1.0, hydra-core 1.3.8) plus, from PyPI,
scikit-image, wandb and scikit-learn-extra 0.3.0 (SAM-PT's pin, built from source against numpy 2:
`pip install cython; pip install --no-binary scikit-learn-extra --no-build-isolation --no-deps
scikit-learn-extra==0.3.0`).
Outputs: `trajectories.npz` (query points, trajectories, visibilities at the working size, the randperm draws, the
sha256 of each of SAM-PT's working frames) and `reference.npz` (the id maps SAM-PT wrote for every frame, read back
from its PNGs, and its per-frame predicted IoUs, NaN where SAM was not asked).
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2]
sys.path.insert(0, str(TESTS))  # parity_weights.py, davis_protocol_clip.py
from davis_protocol_clip import CLIP_FRAMES, N_OBJECTS, VIDEO, frame_names, two_object_ids, write_clip  # noqa: E402
from parity_weights import parity_state_dict  # noqa: E402

REPOSITORY = "SysCV/sam-pt"
COMMIT = "c17ab949ee426c2ebf90d74727825cf415473b62"
MOBILE_SAM_COMMIT = "01ea8d0f5590082f0c1ceb0a3e2272593f20154b"
KMEDOIDS_SUBSAMPLE = 1800  # extract_kmedoid_points(subsample_size=1800): the randperm entries SAM-PT reads
THREADS = 2
# SAM-PT's 0.7 drops every mask of untrained weights (their predicted IoUs here: -0.06 to 0.08): this threshold
# keeps one object and drops the other on frame 1 (IoUs -0.045 and -0.061) and keeps both on frames 3 and 4.
IOU_THRESHOLD = -0.05
# (frame, object, points, visible, moved to (x, y)): edits of the rule's trajectories, each for one of SAM-PT's paths.
# Points 0-7 are an object's positives, 8 its negative.
EDITS = (
    (1, 0, [0], True, (4.0, 300.0)),  # within 1% of the border: hidden by SAM-PT's OUTSIDE_FRAME rule
    (1, 0, [3], False, None),  # one positive hidden
    (1, 1, list(range(9)), False, None),  # object 2 keeps only object 1's positives, as negatives: no positive
    (2, 0, list(range(9)), False, None),  # no point at all on frame 2: empty masks, SAM not asked
    (2, 1, list(range(9)), False, None),
    (3, 1, [8], False, None),  # object 2's negative hidden; frame 4 as the rule makes it
)


def check_environment() -> None:
    for name, path in (("sam_pt", "sam_pt"), ("mobile_sam", "mobile_sam")):
        try:
            __import__(path)
        except ImportError:
            sys.exit(f"{name} is not importable: put the exports on PYTHONPATH (see this script's docstring)")


def shim_imports() -> None:
    """The stand-ins listed in the docstring."""
    import sam_pt

    package = types.ModuleType("sam_pt.point_tracker")
    package.__path__ = [str(Path(sam_pt.__file__).parent / "point_tracker")]
    sys.modules["sam_pt.point_tracker"] = package
    from sam_pt.point_tracker.tracker import PointTracker

    package.PointTracker = PointTracker
    for name in ("PipsPointTracker", "RaftPointTracker", "SuperGluePointTracker", "TapirPointTracker",
                 "TapnetPointTracker", "CoTrackerPointTracker"):  # fmt: skip
        setattr(package, name, type(name, (), {}))
    cotracker = types.ModuleType("sam_pt.point_tracker.cotracker")
    cotracker.CoTrackerPointTracker = package.CoTrackerPointTracker
    sys.modules["sam_pt.point_tracker.cotracker"] = cotracker

    davis2017eval = types.ModuleType("sam_pt.vos_eval.davis2017eval")
    davis2017eval.Davis2017Evaluator = type("Davis2017Evaluator", (), {})
    sys.modules["sam_pt.vos_eval.davis2017eval"] = davis2017eval


class Recorder:
    """What the run drew and predicted (module state: SAM-PT builds the tracker itself, from the config)."""

    draws: list[tuple[int, np.ndarray]] = []  # (n, the first KMEDOIDS_SUBSAMPLE entries of randperm(n))
    query_points: np.ndarray | None = None  # K x P x 2
    trajectories: np.ndarray | None = None  # T x K x P x 2
    visibilities: np.ndarray | None = None  # T x K x P bool
    frames_sha256: list[str] = []  # per frame, of SAM-PT's working frames (H x W x 3 uint8)
    ious: list[np.ndarray] = []  # per call of _apply_sam_to_trajectories: T x K, -inf where SAM was not asked


def record_randperm() -> None:
    original = torch.randperm

    def randperm(n, *args, **kwargs):
        permutation = original(n, *args, **kwargs)
        Recorder.draws.append((int(n), permutation[:KMEDOIDS_SUBSAMPLE].numpy().copy()))
        return permutation

    torch.randperm = randperm


def record_ious() -> None:
    from sam_pt.modeling.sam_pt import SamPt

    original = SamPt._apply_sam_to_trajectories

    def apply_sam(self, images, trajectories, visibilities):
        scores, logits, scores_per_frame = original(self, images, trajectories, visibilities)
        Recorder.ious.append(scores_per_frame.numpy().copy())
        return scores, logits, scores_per_frame

    SamPt._apply_sam_to_trajectories = apply_sam


def centroid_shifts(height: int, width: int) -> np.ndarray:
    """T x K x 2 (x, y): each object's ground-truth centroid on frame t minus on frame 0, at the working size."""
    centroids = np.zeros((CLIP_FRAMES, N_OBJECTS, 2))
    for t, name in enumerate(frame_names()):
        ids = two_object_ids(name)
        for k in range(N_OBJECTS):
            ys, xs = np.nonzero(ids == k + 1)
            centroids[t, k] = xs.mean() * width / ids.shape[1], ys.mean() * height / ids.shape[0]
    return centroids - centroids[:1]


def rule_trajectories(query_points: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    n_objects, n_points, _ = query_points.shape
    trajectories = (query_points[None] + centroid_shifts(height, width)[:, :, None, :]).astype(np.float32)
    visibilities = np.ones((CLIP_FRAMES, n_objects, n_points), dtype=bool)
    for t, k, points, visible, moved in EDITS:
        visibilities[t, k, points] = visible
        if moved is not None:
            trajectories[t, k, points] = moved
    return trajectories, visibilities


def build_tracker_class():
    from sam_pt.point_tracker.tracker import PointTracker

    class TrajectoryRule(PointTracker):
        """SAM-PT's PointTracker interface: (1, T, 3, H, W) uint8 frames and (1, N, 3) (t, x, y) query points ->
        (1, T, N, 2) trajectories and (1, T, N) visibilities; one call per group of objects (one group here)."""

        def __init__(self):
            super().__init__()

        def forward(self, rgbs, query_points):
            batch, n_frames, _, height, width = rgbs.shape
            assert batch == 1 and n_frames == CLIP_FRAMES and Recorder.query_points is None
            assert (query_points[0, :, 0] == 0).all(), "every query point is on frame 0"
            points = query_points[0, :, 1:].cpu().numpy().reshape(N_OBJECTS, -1, 2)
            trajectories, visibilities = rule_trajectories(points, height, width)
            Recorder.query_points, Recorder.trajectories, Recorder.visibilities = points, trajectories, visibilities
            frames = rgbs[0].permute(0, 2, 3, 1).contiguous().cpu().numpy()
            Recorder.frames_sha256 = [hashlib.sha256(frame.tobytes()).hexdigest() for frame in frames]
            n = N_OBJECTS * points.shape[1]
            return (torch.from_numpy(trajectories.reshape(1, n_frames, n, 2)),
                    torch.from_numpy(visibilities.reshape(1, n_frames, n).astype(np.float32)))  # fmt: skip

    return TrajectoryRule


def build_model_class():
    from sam_pt.modeling.sam import MobileSamHydra

    class Float64Encoder(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder.double()
            self.img_size = encoder.img_size  # SamPredictor reads it

        def forward(self, x):
            return self.encoder(x.double()).float()

    class Float64EncoderMobileSam(MobileSamHydra):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.image_encoder = Float64Encoder(self.image_encoder)

    return Float64EncoderMobileSam


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


def parity_checkpoint(path: Path) -> None:
    """The parity weights of SAM-PT's MobileSAM, by the keys of the network its config builds."""
    from mobile_sam.modeling import MaskDecoder, PromptEncoder, Sam, TinyViT, TwoWayTransformer

    network = Sam(
        image_encoder=TinyViT(img_size=1024, in_chans=3, num_classes=1000, embed_dims=[64, 128, 160, 320],
                              depths=[2, 2, 6, 2], num_heads=[2, 4, 5, 10], window_sizes=[7, 7, 14, 7], mlp_ratio=4.0,
                              drop_rate=0.0, drop_path_rate=0.0, use_checkpoint=False, mbconv_expand_ratio=4.0,
                              local_conv_size=3, layer_lr_decay=0.8),
        prompt_encoder=PromptEncoder(embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
                                     mask_in_chans=16),
        mask_decoder=MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(depth=2, embedding_dim=256,
                                 mlp_dim=2048, num_heads=8), transformer_dim=256, iou_head_depth=3,
                                 iou_head_hidden_dim=256),
    )  # fmt: skip
    torch.save(parity_state_dict(network), path)


def check_loaded_keys(model, checkpoint: Path) -> None:
    """SAM-PT loads its checkpoint with strict=False: every key of the network must have come from the file."""
    state = torch.load(checkpoint, weights_only=True)
    encoder = model.sam_predictor.model.image_encoder.encoder
    loaded = {**{f"image_encoder.{k}": v for k, v in encoder.state_dict().items()},
              **{k: v for k, v in model.sam_predictor.model.state_dict().items() if not k.startswith("image_encoder")}}
    assert set(loaded) == set(state), "SAM-PT's MobileSAM does not have the parity checkpoint's keys"
    for key, value in state.items():
        assert torch.equal(loaded[key].to(value.dtype), value), key


def main() -> None:
    check_environment()
    torch.set_num_threads(THREADS)
    os.environ["WANDB_MODE"] = "disabled"
    os.environ["WANDB_SILENT"] = "true"
    shim_imports()
    record_randperm()
    record_ious()
    main_module = sys.modules["__main__"]
    main_module.TrajectoryRule = build_tracker_class()
    main_module.Float64EncoderMobileSam = build_model_class()

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
        parity_checkpoint(checkpoint)
        output = tmp / "output"
        tracker_config = tmp / "configs"  # a point-tracker config beside SAM-PT's (configs/model/point_tracker/)
        (tracker_config / "model" / "point_tracker").mkdir(parents=True)
        (tracker_config / "model" / "point_tracker" / "trajectory_rule.yaml").write_text(
            "_target_: __main__.TrajectoryRule\n"
        )
        overrides = [
            "model=sam_pt",
            f"model.sam_iou_threshold={IOU_THRESHOLD}",
            "model/sam@model.sam_predictor.sam_model=sam_mobile_vit_tiny",
            "model.sam_predictor.sam_model._target_=__main__.Float64EncoderMobileSam",
            f"model.sam_predictor.sam_model.checkpoint={checkpoint}",
            f"hydra.searchpath=[file://{tracker_config}]",
            "model/point_tracker=trajectory_rule",
            "dataset=D16", "split=val", f"d16_path={d16}", f"output={output}", "visualize_results=false",
            f"hydra.run.dir={tmp / 'hydra'}",
        ]  # fmt: skip
        # `python -m sam_pt.vos_eval.eval` finds configs/ beside the file it runs; called from here, hydra is told
        configs = Path(vos_eval.__file__).parents[2] / "configs"
        sys.argv = ["sam_pt.vos_eval.eval", f"--config-path={configs}", *overrides]
        vos_eval.main()
        check_loaded_keys(models[0], checkpoint)
        masks = np.stack([np.asarray(Image.open(output / VIDEO / f"{name}.png")) for name in frame_names()])

    assert len(Recorder.draws) == 2 * N_OBJECTS, "positives of each object, then its negative"
    assert len(Recorder.ious) == 1, "one group of objects"
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
    np.savez_compressed(HERE / "reference.npz", masks=masks, ious=ious, commit=np.array(COMMIT))
    print(f"masks {masks.shape}, ids per frame {[np.unique(m).tolist() for m in masks]}")
    print(f"predicted IoUs per frame and object:\n{ious}")


if __name__ == "__main__":
    main()
