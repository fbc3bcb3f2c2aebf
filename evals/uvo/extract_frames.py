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


def extract_video_frames(video: Path, frames_dir: Path) -> int:
    """Write every frame of `video` to frames_dir/<index>.png; returns the number of frames."""
    frames_dir.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    count = 0
    try:
        while capture.isOpened():
            ok, frame = capture.read()
            if not ok:
                break
            ok, buffer = cv2.imencode(".png", frame)
            if not ok:
                raise RuntimeError(f"could not encode frame {count} of {video}")
            (frames_dir / f"{count}.png").write_bytes(buffer.tobytes())
            count += 1
    finally:
        capture.release()
    return count


def extract_all(video_dir: Path, frames_dir: Path) -> dict[str, int]:
    """Every *.mp4 of video_dir into frames_dir/<video stem>/; returns {video stem: frames written}."""
    videos = sorted(Path(video_dir).glob("*.mp4"))
    if not videos:
        raise FileNotFoundError(f"no .mp4 videos in {video_dir}")
    return {video.stem: extract_video_frames(video, Path(frames_dir) / video.stem) for video in videos}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video_dir", type=Path, help="e.g. datasets/UVOv1.0/uvo_videos_dense")
    parser.add_argument("frames_dir", type=Path, help="e.g. datasets/UVOv1.0/uvo_videos_dense_frames")
    args = parser.parse_args(argv)
    counts = extract_all(args.video_dir, args.frames_dir)
    print(f"{len(counts)} videos, {sum(counts.values())} frames -> {args.frames_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
