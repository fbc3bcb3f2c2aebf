"""UVO videos -> PNG frames, as SAM-PT's scripts/uvo_video2frames.py and UVO's own script do.

    python -m evals.uvo.extract_frames datasets/UVOv1.0/uvo_videos_dense datasets/UVOv1.0/uvo_videos_dense_frames

Every `<video_id>.mp4` becomes `<frames_dir>/<video_id>/<frame>.png`, frames numbered 0, 1, ... (no padding), in the
order OpenCV's VideoCapture decodes them, written with cv2.imencode(".png") -- the names the UVO json's file_names
use. (SAM-PT's script at c17ab94 drops the "/" between the folder and the frame number; UVO's writes it.)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

from models.errors import SamzeroError

from ..errors import DataError


def extract_video_frames(video: Path, frames_dir: Path) -> int:
    """Write every frame of `video` to frames_dir/<index>.png; returns the number of frames."""
    capture = cv2.VideoCapture(str(video))
    count = 0
    try:
        if not capture.isOpened():
            raise DataError(f"{video}: OpenCV cannot open it (a damaged download, or an OpenCV without a video "
                            "backend such as FFmpeg)")  # fmt: skip
        frames_dir.mkdir(parents=True, exist_ok=True)
        while capture.isOpened():
            ok, frame = capture.read()
            if not ok:
                break
            ok, buffer = cv2.imencode(".png", frame)
            if not ok:
                raise DataError(f"{video}: OpenCV cannot encode its frame {count} as PNG")
            (frames_dir / f"{count}.png").write_bytes(buffer.tobytes())
            count += 1
    finally:
        capture.release()
    if count == 0:
        raise DataError(f"{video}: no frame could be decoded (a damaged or empty video)")
    return count


def extract_all(video_dir: Path, frames_dir: Path) -> dict[str, int]:
    """Every *.mp4 of video_dir into frames_dir/<video stem>/; returns {video stem: frames written}."""
    if not Path(video_dir).is_dir():
        raise DataError(f"{video_dir}: no such folder (the UVO v1.0 dense videos, uvo_videos_dense/*.mp4)")
    videos = sorted(Path(video_dir).glob("*.mp4"))
    if not videos:
        raise DataError(f"no .mp4 videos in {video_dir} (the UVO v1.0 dense videos, uvo_videos_dense/*.mp4)")
    return {video.stem: extract_video_frames(video, Path(frames_dir) / video.stem) for video in videos}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video_dir", type=Path, help="e.g. datasets/UVOv1.0/uvo_videos_dense")
    parser.add_argument("frames_dir", type=Path, help="e.g. datasets/UVOv1.0/uvo_videos_dense_frames")
    args = parser.parse_args(argv)
    try:
        counts = extract_all(args.video_dir, args.frames_dir)
    except SamzeroError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(counts)} videos, {sum(counts.values())} frames -> {args.frames_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
