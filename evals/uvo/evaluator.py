"""`--task uvo` metric: every video's ground truth and predicted tracks through the YouTube-VIS evaluation
(ytvis_eval.py): AR100 and the rest of its numbers."""
from __future__ import annotations

from typing import Any

from ..base import Evaluator, Sample
from ..errors import DataError
from .dataset import UvoVideo


class UvoEvaluator(Evaluator):
    """Collects every video's ground truth and predicted tracks; `evaluate` runs the YouTube-VIS evaluation once."""

    def reset(self) -> None:
        from .ytvis_eval import VideoSet

        self.videos = VideoSet()

    def process(self, sample: Sample, prediction: dict) -> None:
        from .ytvis_eval import Track, to_rle

        video: UvoVideo = sample.data
        self.videos.sizes[video.id] = (video.height, video.width)
        self.videos.truth += video.ground_truth()
        for segmentations, score in zip(prediction["segmentations"], prediction["scores"]):
            if len(segmentations) != len(video.frame_paths):
                raise DataError(f"UVO video {video.name} (id {video.id}): a predicted track of {len(segmentations)} "
                                f"frames, the video has {len(video.frame_paths)}")  # fmt: skip
            rles = [to_rle(s, video.height, video.width) for s in segmentations]
            for rle in rles:
                if rle is not None and list(rle["size"]) != [video.height, video.width]:
                    raise DataError(f"UVO video {video.name} (id {video.id}): a predicted mask of size {rle['size']} "
                                    f"(height, width), the annotations are {[video.height, video.width]}")  # fmt: skip
            self.videos.predictions.append(Track(video.id, rles, score=float("-inf") if score is None else float(score)))

    def evaluate(self) -> dict[str, Any]:
        from .ytvis_eval import evaluate_videos

        return evaluate_videos(self.videos)
