"""The prompts of one image: the clicks in the order made, from which points and the box follow; undo drops the last.

Point mode adds a positive or a negative point per click. Box mode takes two clicks at opposite corners (Gradio's
image select event gives the pixel of one click, not a drag): the first is drawn as a pending corner, the second
completes the box; a third starts a new box, which replaces the old one when completed. Points and a box may be
combined, as SAM's predictor allows. Coordinates are (x, y) pixels of the image the models see.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POSITIVE, NEGATIVE, CORNER = "positive", "negative", "corner"
LABELS = {POSITIVE: 1, NEGATIVE: 0}  # SAM's point labels


@dataclass(frozen=True)
class Click:
    x: int
    y: int
    kind: str  # POSITIVE, NEGATIVE or CORNER


@dataclass(frozen=True)
class Prompts:
    clicks: tuple[Click, ...] = ()

    @property
    def points(self) -> tuple[Click, ...]:
        return tuple(click for click in self.clicks if click.kind in LABELS)

    @property
    def _corners(self) -> tuple[Click, ...]:
        return tuple(click for click in self.clicks if click.kind == CORNER)

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the last two corners that make a box, or None."""
        corners = self._corners
        complete = len(corners) - len(corners) % 2
        if complete == 0:
            return None
        a, b = corners[complete - 2], corners[complete - 1]
        return min(a.x, b.x), min(a.y, b.y), max(a.x, b.x), max(a.y, b.y)

    @property
    def pending_corner(self) -> Click | None:
        """The first corner of a box whose opposite corner is not clicked yet."""
        corners = self._corners
        return corners[-1] if len(corners) % 2 else None

    @property
    def ready(self) -> bool:
        """Whether there is a prompt to predict from (a point or a whole box)."""
        return bool(self.points) or self.box is not None

    @property
    def single_point(self) -> bool:
        """One point and no box: the ambiguous prompt, answered with the best of the multimask outputs."""
        return len(self.points) == 1 and self.box is None

    def undo(self) -> Prompts:
        return Prompts(self.clicks[:-1])

    def arrays(self) -> dict:
        """`PromptModel.predict`'s prompt arguments for one prompt (batch of one)."""
        points = self.points
        box = self.box
        return {
            "point_coords": np.array([[[p.x, p.y] for p in points]], dtype=np.float64) if points else None,
            "point_labels": np.array([[LABELS[p.kind] for p in points]]) if points else None,
            "boxes": np.array([box], dtype=np.float64) if box is not None else None,
        }


def add_click(prompts: Prompts, size: tuple[int, int], x: int | None, y: int | None, kind: str) -> tuple[Prompts, str]:
    """`prompts` with a click at pixel (x, y) of an image of `size` (H, W), and what happened, in words. A click
    outside the image (None: the browser saw it outside) and a corner that would make a box of zero area are
    refused, and the prompts stay as they were."""
    height, width = size
    if x is None or y is None or not (0 <= x < width and 0 <= y < height):
        where = "" if x is None or y is None else f" at ({x}, {y})"
        return prompts, f"The click{where} is outside the {width}x{height} image: ignored."
    click = Click(int(x), int(y), kind)
    if kind != CORNER:
        return Prompts(prompts.clicks + (click,)), f"{kind.capitalize()} point at ({click.x}, {click.y})."
    first = prompts.pending_corner
    if first is None:
        return Prompts(prompts.clicks + (click,)), f"First corner at ({click.x}, {click.y}): click the opposite corner."
    if click.x == first.x or click.y == first.y:
        return prompts, (f"Box refused: corners ({first.x}, {first.y}) and ({click.x}, {click.y}) enclose no area. "
                         "Click the opposite corner of the box.")  # fmt: skip
    added = Prompts(prompts.clicks + (click,))
    return added, "Box ({}, {}) - ({}, {}).".format(*added.box)
