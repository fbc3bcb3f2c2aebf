"""Reading images and annotation PNGs: every file is checked to be there, whole and decodable before it is used.

The decoders stay the ones each reference uses (cv2 for SAM's and SAA+'s scripts, PIL for DAVIS, UVO and
Grounding-DINO); they only read the bytes checked here. A truncated JPEG or PNG is an error, never a warning: cv2
decodes one silently with grey rows at the bottom, and every official dataset is distributed whole, so a truncated
file is a broken download whose score would not be the benchmark's. The check is exact and cheap: a JPEG is whole
when its end-of-image marker (FF D9) follows its last scan (entropy-coded data never holds FF D9: every FF in it is
followed by 00 or a restart marker), a PNG when it ends with its IEND chunk.
"""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .errors import DataError

JPEG_START, JPEG_SCAN, JPEG_END = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def read_checked(path: Path) -> bytes:
    """The bytes of image file `path`, after checking that a JPEG or PNG is whole."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read it ({err.strerror or err})") from None
    if data.startswith(JPEG_START):
        scan = data.rfind(JPEG_SCAN)
        if scan < 0 or data.find(JPEG_END, scan) < 0:
            raise DataError(f"{path}: truncated JPEG (no end-of-image marker after its image data); "
                            "replace it with a whole copy from the dataset's archive")  # fmt: skip
    elif data.startswith(PNG_START):
        if data.rfind(PNG_END) < 0:
            raise DataError(f"{path}: truncated PNG (no IEND chunk); replace it with a whole copy from the "
                            "dataset's archive")  # fmt: skip
    return data


def read_cv2(path: Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """`cv2.imread(path, flags)` of a checked file (cv2.imdecode decodes exactly as imread, EXIF orientation too)."""
    image = cv2.imdecode(np.frombuffer(read_checked(path), np.uint8), flags)
    if image is None:
        raise DataError(f"{path}: not an image OpenCV can decode")
    return image


def read_rgb(path: Path) -> np.ndarray:
    """H x W x 3 uint8 RGB decoded as SAM's scripts do: cv2.imread (BGR), then BGR -> RGB."""
    return cv2.cvtColor(read_cv2(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def open_pil(path: Path) -> Image.Image:
    """`PIL.Image.open(path)`, fully loaded, of a checked file; the caller converts it as its reference does."""
    try:
        image = Image.open(io.BytesIO(read_checked(path)))
        image.load()
    except (OSError, SyntaxError, ValueError) as err:  # PIL's errors for files it cannot decode
        raise DataError(f"{path}: not an image PIL can decode ({err})") from None
    return image


def image_size(path: Path) -> tuple[int, int]:
    """(W, H) of an image from its header (the pixels are decoded, and checked whole, when the image is read)."""
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: not an image PIL can read ({err})") from None
