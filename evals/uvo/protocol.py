"""SAM-PT's video instance segmentation (VIS) protocol on UVO v1.0, with where each parameter comes from.

Sources, all in SysCV/sam-pt at commit c17ab94 (v1, as the DAVIS task; see evals/protocols/sam_pt/options.py):
- configs/vis_eval_root.yaml          AMG, number of masks, frame size, dataset ("vis_eval_root.yaml" below)
- configs/vis_eval_sam_pt.yaml        SAM-PT inside the VIS adapter ("vis_eval_sam_pt.yaml")
- docs/04-running-experiments.md      the command SAM-PT's VIS numbers come from ("the VIS command"):
      python -m sam_pt.vis_eval.eval model@model.model=sam_pt model.model.iterative_refinement_iterations=0
        model.model.add_other_objects_positive_points_as_negative_points=false DETECTRON2_CONFIG.SEED=36
- sam_pt/modeling/vis_to_vos_adapter.py   AMG on frame 0 -> the first max_num_masks masks -> SamPt ("adapter")
- sam_pt/modeling/sam_pt.py               tracking, SAM per frame, track scores ("sam_pt.py")
- sam_pt/vis_eval/mask2former_video/data_video/{augmentation.py, dataset_mapper.py, datasets/builtin.py,
  datasets/ytvis.py, ytvis_eval.py, datasets/ytvis_api/ytvoseval.py}   frames in, results and metric out
"""
from __future__ import annotations

from ..protocols.amg import AmgParams
from ..protocols.sam_pt.options import SamPtOptions

# datasets/builtin.py, _PREDEFINED_SPLITS_UVO_V1["uvo_v1_val"]: frames under UVOv1.0/uvo_videos_dense_frames/, the
# annotations in UVOv1.0/VideoDenseSet/UVO_video_val_dense.json (frame paths: the json's `file_names`, ytvis.py).
ANNOTATIONS = "VideoDenseSet/UVO_video_val_dense.json"
FRAMES_DIR = "uvo_videos_dense_frames"
VIDEOS_DIR = "uvo_videos_dense"  # the preprocessed videos the frames are extracted from (evals/uvo/extract_frames.py)

# vis_eval_root.yaml, DETECTRON2_CONFIG.INPUT: MIN_SIZE_TEST: 360, MAX_SIZE_TEST: 1333; augmentation.py,
# build_augmentation(is_train=False): detectron2's ResizeShortestEdge(360, 1333, "choice") (PIL bilinear). SAM-PT,
# the AMG and the tracker all work on these frames; masks go back to the video's size (evals/protocols/sam_pt/segment.py: bilinear logits).
SHORTER_SIDE = 360
MAX_LONGER_SIDE = 1333

# vis_eval_root.yaml, model.sam_generator (segment_anything's SamAutomaticMaskGenerator, the model under test).
# Every value there equals the generator's own default.
AMG_PARAMS = AmgParams()
# vis_eval_root.yaml, model.max_num_masks: 100 -- the adapter keeps `result_records[:max_num_masks]` of the AMG's
# output, in the AMG's order: with crop_n_layers 0, segment_anything 1.0's generate returns the masks in the order
# of its box NMS (torchvision batched_nms, scores = predicted IoU), i.e. by predicted IoU, highest first.
MAX_TRACKS = 100

# SAM-PT inside the VIS adapter: configs/model/sam_pt.yaml (v1: 8 positive kmedoids points, 1 negative "mixed" point,
# sam_iou_threshold 0.7, PIPS) with the VIS command's overrides:
# iterative_refinement_iterations=0, add_other_objects_positive_points_as_negative_points=false;
# vis_eval_sam_pt.yaml: point_tracker_mask_batch_size: 100 and vis_eval_root.yaml masks_batch_size: 100 -- all
# (at most 100) tracks in one group; the VIS command's DETECTRON2_CONFIG.SEED=36 (detectron2 seeds its process once;
# here the query-point generator is seeded with 36 per video, so a video's points do not depend on the others).
SAM_PT_VIS_OPTIONS = SamPtOptions(refinement_iterations=0, negatives_from_other_objects=False,
                                  object_group_size=100, seed=36)  # fmt: skip

# ytvis_eval.py, _evaluate_predictions_on_coco: YTVOSeval with maxDets [1, 10, 100]; ytvoseval.py Params: IoU
# thresholds .50:.05:.95, 101 recall thresholds, area ranges all / small < 128^2 / medium < 256^2 / large (on the
# mean of a track's non-empty per-frame areas). UVO is class-agnostic (datasets/uvo.py: one category).
MAX_DETS = [1, 10, 100]
AREA_RANGES = [[0**2, 1e5**2], [0**2, 128**2], [128**2, 256**2], [256**2, 1e5**2]]
AREA_LABELS = ["all", "small", "medium", "large"]
