"""Any image a user uploads -> the H x W x 3 uint8 RGB array every model takes, and what was converted, in words.

Models take 8-bit RGB (`PromptModel.set_image`); uploads come as grey, grey + alpha, RGBA, palette, 1-bit, 16-bit,
float, CMYK ... and any size. Each conversion is stated in the page, so a user knows what the models saw. Transparent
pixels are composited over white, as a browser shows them on a white page. Images larger than MAX_SIDE on their
longest side are downscaled (area interpolation): SAM-family encoders see at most 1024 px anyway, and masks at full
resolution of a huge image would make every click slow to draw and send.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from evals.images import open_pil
from models.errors import SamzeroError

MAX_SIDE = 2048
MAX_PIXELS = 50_000_000  # refused above: converting one would take gigabytes (PIL itself refuses from ~179 MP)
EXIF_ORIENTATION = 0x0112
# PIL modes numpy cannot read as pixel values (palettes, 1-bit, other colour spaces): converted by PIL first.
PIL_CONVERSIONS = {"P": "RGBA", "PA": "RGBA", "1": "L", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}
NUMPY_MODES = ("L", "LA", "RGB", "RGBA", "I", "F", "I;16", "I;16B", "I;16L")


class ImageProblem(SamzeroError):
    """An upload that is not an image the demo can use; the message says why."""


@dataclass(frozen=True)
class LoadedImage:
    rgb: np.ndarray  # H x W x 3 uint8, what every model is given
    key: str  # SHA-256 of the pixels and their shape: the embedding cache's key
    notes: tuple[str, ...]  # the conversions made, in words ("16-bit values scaled to 8 bits", ...)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return self.rgb.shape[0], self.rgb.shape[1]


def load_image(source: str | Path | Image.Image | np.ndarray, max_side: int = MAX_SIDE) -> LoadedImage:
    """`source` (a file, a PIL image or an array) as 8-bit RGB of at most `max_side` pixels on its longest side."""
    notes: list[str] = []
    if isinstance(source, (str, Path)):
        try:
            source = open_pil(Path(source))
        except Image.DecompressionBombError as err:  # PIL refuses images of hundreds of megapixels
            raise ImageProblem(f"{Path(source).name}: refused, too many pixels ({err})") from None
    if isinstance(source, Image.Image):
        check_pixels(source.width, source.height)
        source = pil_to_array(source, notes)
    rgb = to_rgb8(source, notes)
    rgb = limit_size(rgb, max_side, notes)
    return LoadedImage(rgb=rgb, key=content_key(rgb), notes=tuple(notes))


def pil_to_array(image: Image.Image, notes: list[str]) -> np.ndarray:
    """The pixel values of a PIL image, upright (EXIF orientation applied), in a mode numpy reads."""
    if image.getexif().get(EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
        notes.append("turned upright as its EXIF orientation says")
    mode = image.mode
    if mode == "P" and "transparency" not in image.info:
        image, target = image.convert("RGB"), "RGB"
    elif mode in PIL_CONVERSIONS:
        image, target = image.convert(PIL_CONVERSIONS[mode]), PIL_CONVERSIONS[mode]
    elif mode not in NUMPY_MODES:
        image, target = image.convert("RGB"), "RGB"
    else:
        target = None
    if target is not None:
        notes.append(f"{describe_mode(mode)} converted to {describe_mode(target)}")
    return np.asarray(image)


def describe_mode(mode: str) -> str:
    return {"P": "palette image", "PA": "palette image with alpha", "1": "1-bit image", "L": "grey",
            "RGB": "RGB", "RGBA": "RGBA"}.get(mode, f"{mode} image")  # fmt: skip


def to_rgb8(array: np.ndarray, notes: list[str]) -> np.ndarray:
    """H x W (grey), H x W x 2 (grey + alpha), x 3 (RGB) or x 4 (RGBA) of any numeric type -> H x W x 3 uint8."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)) or 0 in array.shape:
        raise ImageProblem(f"expected an image of 1 to 4 channels, got an array of shape {array.shape}")
    check_pixels(array.shape[1], array.shape[0])
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        return np.ascontiguousarray(array)
    values = to_unit_range(array, notes)  # float32 in [0, 1]
    if values.ndim == 2:
        values = values[..., None]
    if values.shape[2] in (2, 4):
        colour, alpha = values[..., :-1], values[..., -1:]
        opaque = bool((alpha == 1).all())
        notes.append("alpha channel removed (all opaque)" if opaque else "transparent pixels composited over white")
        values = colour * alpha + (1 - alpha)
    if values.shape[2] == 1:
        notes.append("grey image repeated into R, G and B")
        values = np.repeat(values, 3, axis=2)
    return np.ascontiguousarray(np.clip(np.round(values * 255), 0, 255).astype(np.uint8))


def check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageProblem(f"refused: the image is {width}x{height} ({width * height / 1e6:.0f} megapixels); the demo "
                           f"takes at most {MAX_PIXELS / 1e6:.0f} megapixels (it shows at most {MAX_SIDE} px a side)")


def to_unit_range(array: np.ndarray, notes: list[str]) -> np.ndarray:
    """Pixel values as float32 in [0, 1]: 8-bit / 255, 16-bit / 65535, booleans as 0 / 1; floats are taken to be in
    [0, 1] when they are, else in [0, 255]; wider integers (PIL's 32-bit mode "I" of 16-bit files) as 16-bit."""
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255
    if kind == "b":
        notes.append("1-bit values mapped to 0 and 255")
        return array.astype(np.float32)
    if kind in "iu" and array.dtype.itemsize == 1:
        notes.append("signed 8-bit values read as 8-bit, negative ones set to 0")
        return np.clip(array.astype(np.float32), 0, 255) / 255
    if kind in "iu" and array.dtype.itemsize == 2:
        notes.append("16-bit values scaled to 8 bits")
        return np.clip(array.astype(np.float32), 0, 65535) / 65535.0
    if kind in "iu":
        notes.append(f"{array.dtype.itemsize * 8}-bit integer values read as 16-bit (clipped to 0-65535), "
                     "scaled to 8 bits")  # fmt: skip
        return np.clip(array.astype(np.float32), 0, 65535) / 65535.0
    if kind == "f":
        finite = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        if finite.min() >= 0 and finite.max() <= 1:
            notes.append("floating-point values in 0-1 scaled to 8 bits")
            return finite
        notes.append("floating-point values clipped to 0-255")
        return np.clip(finite, 0, 255) / 255.0
    raise ImageProblem(f"pixel values of type {array.dtype} are not an image")


def limit_size(rgb: np.ndarray, max_side: int, notes: list[str]) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max(height, width) <= max_side:
        return rgb
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    notes.append(f"downscaled from {width}x{height} to {size[0]}x{size[1]} (longest side at most {max_side} px)")
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def content_key(rgb: np.ndarray) -> str:
    digest = hashlib.sha256(repr(rgb.shape).encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()
