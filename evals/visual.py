"""Drawing helpers for the report's qualitative examples (evals/report): masks, points and boxes over an image, maps
as colour images, and the data URI a panel is embedded with.

Images are H x W x 3 uint8 RGB in and out; nothing is drawn in place. Line widths and point sizes grow with the
image, so that marks stay visible after the report shrinks a panel to its display width.
"""
from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np

# Distinct colours (matplotlib's tab10), cycled: mask / object / track i gets PALETTE[i % 10].
PALETTE = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
], dtype=np.uint8)  # fmt: skip
MASK_ALPHA = 0.5
JPEG_QUALITY = 90  # panels are photos with overlays: JPEG keeps the report a few MB where PNG would be tens
FILE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def color(index: int) -> tuple[int, int, int]:
    return tuple(int(c) for c in PALETTE[index % len(PALETTE)])


def line_width(image: np.ndarray) -> int:
    """About 1.5 display pixels once a panel is shrunk to ~400 px wide."""
    return max(1, round(max(image.shape[:2]) / 250))


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A copy as H x W x 3 uint8: grey images repeated, booleans as 0 / 255."""
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image, dtype=np.uint8).copy()


def read_rgb(path) -> np.ndarray | None:
    """An image file as RGB, or None when it cannot be read."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def blank(height: int, width: int) -> np.ndarray:
    """A grey canvas, for drawing on when the input image is not there."""
    return np.full((height, width, 3), 128, dtype=np.uint8)


def no_mask(height: int, width: int, text: str = "no mask") -> np.ndarray:
    """The panel of an empty prediction: a light grey canvas of the image's size, crossed and saying so in the
    middle (an all-zero map drawn as it is would be a black image, easily read as a drawing error)."""
    out = np.full((height, width, 3), 225, dtype=np.uint8)
    width_px = line_width(out)
    cv2.line(out, (0, 0), (width - 1, height - 1), (190, 190, 190), width_px, cv2.LINE_AA)
    cv2.line(out, (0, height - 1), (width - 1, 0), (190, 190, 190), width_px, cv2.LINE_AA)
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(1, width_px)
    (text_w, text_h), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = max(0.3, min(width * 0.6 / text_w, height * 0.2 / text_h))  # ~60% of the width, 20% of the height
    (text_w, text_h), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = ((width - text_w) // 2, (height + text_h) // 2)
    cv2.rectangle(out, (origin[0] - width_px * 2, origin[1] - text_h - width_px * 2),
                  (origin[0] + text_w + width_px * 2, origin[1] + width_px * 3), (225, 225, 225), -1)  # fmt: skip
    cv2.putText(out, text, origin, font, scale, (70, 70, 70), thickness, cv2.LINE_AA)
    return out


def resize_to(image: np.ndarray, shape: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """`image` at (H, W) = `shape` (unchanged when it has that size)."""
    if image.shape[:2] == tuple(shape):
        return image
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(image, (shape[1], shape[0]), interpolation=interpolation)


def overlay_masks(image: np.ndarray, masks, colors: list[int] | None = None) -> np.ndarray:
    """`image` with each boolean H x W mask tinted and outlined in its colour (`colors`: palette indices)."""
    out = as_rgb(image)
    width = line_width(out)
    for i, mask in enumerate(masks):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            continue
        rgb = color(colors[i] if colors is not None else i)
        out[mask] = (out[mask] * (1 - MASK_ALPHA) + np.array(rgb, np.float32) * MASK_ALPHA).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, rgb, width)
    return out


def overlay_ids(image: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """`image` with every object of an id map (0 = background) tinted in colour `id - 1`, as `draw_points` colours
    that object's points."""
    present = [int(v) for v in np.unique(ids) if v != 0]
    return overlay_masks(image, [ids == v for v in present], [v - 1 for v in present])


def draw_points(image: np.ndarray, points: np.ndarray, color_index: int, positive: bool = True) -> np.ndarray:
    """(x, y) points as filled dots (positive prompts) or rings (negative prompts), outlined in white."""
    out = as_rgb(image)
    width = line_width(out)
    radius = 3 * width
    for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2):
        centre = (int(round(x)), int(round(y)))
        cv2.circle(out, centre, radius + width, (255, 255, 255), -1 if positive else width * 3, cv2.LINE_AA)
        cv2.circle(out, centre, radius, color(color_index), -1 if positive else width, cv2.LINE_AA)
    return out


def draw_object_points(image: np.ndarray, points: np.ndarray, visible: np.ndarray, positives: int,
                       color_index: int) -> np.ndarray:  # fmt: skip
    """One object's P prompt points (P x 2, x y): the first `positives` positive, the rest negative (SAM-PT's
    order); points not `visible` are left out."""
    points, visible = np.asarray(points).reshape(-1, 2), np.asarray(visible, dtype=bool).reshape(-1)
    positive = np.arange(len(points)) < positives
    out = draw_points(image, points[visible & positive], color_index, positive=True)
    return draw_points(out, points[visible & ~positive], color_index, positive=False)


def draw_boxes(image: np.ndarray, boxes, colors: list[int] | None = None) -> np.ndarray:
    """(x0, y0, x1, y1) boxes outlined in their colours (`colors`: palette indices)."""
    out = as_rgb(image)
    width = line_width(out)
    for i, (x0, y0, x1, y1) in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
        corners = (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1)))
        cv2.rectangle(out, *corners, color(colors[i] if colors is not None else i), width)
    return out


def grey_map(values: np.ndarray, invert: bool = False) -> np.ndarray:
    """A map of values in [0, 1] as a grey image (`invert`: high values dark, as edge maps are printed)."""
    scaled = np.clip(np.asarray(values, dtype=np.float64), 0, 1)
    if invert:
        scaled = 1 - scaled
    return as_rgb(np.round(scaled * 255).astype(np.uint8))


def heat_map(values: np.ndarray, image: np.ndarray | None = None) -> np.ndarray:
    """A map scaled to its own maximum in the 'jet' colours, blended over `image` (resized to it) when given."""
    values = np.asarray(values, dtype=np.float64)
    top = values.max() if values.size else 0.0
    scaled = values / top if top > 0 else np.zeros_like(values)
    scaled = np.round(np.clip(scaled, 0, 1) * 255).astype(np.uint8)
    heat = cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    if image is None:
        return heat
    heat = resize_to(heat, image.shape[:2])
    return cv2.addWeighted(as_rgb(image), 0.5, heat, 0.5, 0)


def fit_width(image: np.ndarray, max_width: int) -> np.ndarray:
    """`image` shrunk (area interpolation) to at most `max_width` pixels wide."""
    height, width = image.shape[:2]
    if width <= max_width:
        return image
    return cv2.resize(image, (max_width, max(1, round(height * max_width / width))), interpolation=cv2.INTER_AREA)


def jpeg_data_uri(image: np.ndarray) -> str:
    """An RGB image as a `data:image/jpeg;base64,...` URI, to embed in a self-contained page."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(as_rgb(image), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])  # fmt: skip
    if not ok:
        raise ValueError(f"cannot encode an image of shape {image.shape} as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def file_data_uri(path: Path) -> str:
    """An image file (a task's figure: PNG, SVG, JPEG) as a base64 data URI."""
    path = Path(path)
    if path.suffix.lower() not in FILE_TYPES:
        raise ValueError(f"{path}: not an image type the report embeds ({', '.join(FILE_TYPES)})")
    return f"data:{FILE_TYPES[path.suffix.lower()]};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
