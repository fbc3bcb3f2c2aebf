"""Edge non-maximum suppression of P. Dollar's Structured Edge toolbox, vectorised in numpy.

The standard thinning step of BSDS edge detectors (SE, HED, ... and SAM's zero-shot edges, SAM paper
appendix D.2: "apply edge NMS to thin the edges"). Reimplemented from the definitions in these files (read
at pdollar/edges @ 94260b5 and pdollar/toolbox; no code copied):

- ``edgesDetect.m`` (pdollar/edges), the orientation used for NMS: the edge map smoothed by a triangle filter
  of radius 4 (``convTri(E, 4)``), its gradient ``(Ox, Oy)`` and second derivatives ``Oxx = d/dx Ox``,
  ``Oxy = d/dy Oy`` -- the toolbox takes the cross term from ``Oy`` -- ``Oyy = d/dy Oy``, and
  ``O = mod(atan(Oyy * sign(-Oxy) / (Oxx + 1e-5)), pi)``: the direction of greatest curvature, i.e. the normal
  of the edge ridge, in [0, pi). ``cos(O)`` steps along x (columns), ``sin(O)`` along y (rows).
  NMS is then called as ``edgesNmsMex(E, O, 1, 5, 1.01, nThreads)``: r = 1, s = 5, m = 1.01.
- ``private/edgesNmsMex.cpp`` (pdollar/edges), the NMS: a nonzero pixel is zeroed when ``m * E`` is below
  the edge map bilinearly interpolated at ``(x + d cos O, y + d sin O)`` for some d in [-r, r], d != 0
  (coordinates clamped to ``[0, w - 1.001] x [0, h - 1.001]`` before interpolating, so the interpolation
  never reads outside the image); comparisons use the *unsuppressed* map. Then the ``s`` pixels nearest each
  image side are faded linearly: the pixel at distance k < s from a side is multiplied by ``k / s`` (columns
  first, then rows; ``s`` is clipped to ``w // 2`` and ``h // 2``), so the outermost row/column becomes 0.
- ``channels/convTri.m`` (pdollar/toolbox), the triangle filter: the 1-D kernel
  ``[1 .. r, r + 1, r .. 1] / (r + 1)^2`` applied along both axes after symmetric padding by r (MATLAB
  ``padarray(I, [r r], 'symmetric')``: mirror including the edge pixel). The mex (``convConst.cpp``) computes
  the same convolution with running sums; its border indices were checked to be exactly the symmetric
  padding. For 0 < r <= 1 the kernel is ``[1 p 1] / (2 + p)`` with ``p = 12 / r / (r + 2) - 2``.
- ``channels/gradient2.m`` / ``private/gradientMex.cpp`` (pdollar/toolbox), the gradient: MATLAB's
  ``gradient`` with unit spacing, i.e. central differences ``(I[k+1] - I[k-1]) / 2`` inside and one-sided
  differences ``I[1] - I[0]``, ``I[n-1] - I[n-2]`` on the first/last row/column; needs h, w >= 2.

Arithmetic is single precision as in the toolbox (E and O are ``single`` there; the mex works in ``float``),
evaluated in the same order, so results agree with the MATLAB/mex path up to float rounding (compilers may
fuse multiply-adds). The convolution is done in double and rounded to single, which is at least as accurate
as the mex's running float sums. One deliberate deviation: an orientation that is NaN (only when
``Oxx == -1e-5`` exactly and the numerator is 0, i.e. 0/0) is undefined behaviour in the mex; it is taken
as 0 here.
"""
from __future__ import annotations

import numpy as np

# edgesDetect.m: smoothing radius of the map the orientation is computed from, and the NMS call's r, s, m.
ORIENTATION_SMOOTHING = 4
NMS_RADIUS = 1
NMS_BORDER = 5
NMS_MULTIPLIER = 1.01


def _symmetric_indices(n: int, r: int) -> np.ndarray:
    """Indices of a length-n axis padded by r on both sides as MATLAB's padarray 'symmetric' (any r)."""
    idx = np.arange(-r, n + r) % (2 * n)
    return np.where(idx >= n, 2 * n - 1 - idx, idx)


def tri_kernel(r: float) -> tuple[np.ndarray, int]:
    """The 1-D convTri kernel (float64) for radius r and the padding it needs."""
    if r <= 0:
        raise ValueError(f"convTri radius must be > 0, got {r}")
    if r <= 1:
        p = 12.0 / r / (r + 2) - 2
        return np.array([1.0, p, 1.0]) / (2 + p), 1
    if r != int(r):
        raise ValueError(f"convTri radius above 1 must be an integer, got {r}")
    r = int(r)
    kernel = np.concatenate([np.arange(1, r + 1), [r + 1], np.arange(r, 0, -1)]).astype(np.float64)
    return kernel / (r + 1) ** 2, r


def conv_tri(image: np.ndarray, r: float) -> np.ndarray:
    """``convTri(I, r)`` of a 2-D map (no downsampling): separable triangle filter with symmetric padding."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"conv_tri expects a 2-D map, got shape {image.shape}")
    if r == 0 or image.size == 0:
        return image.astype(np.float32, copy=True)
    kernel, pad = tri_kernel(r)
    h, w = image.shape
    padded = image.astype(np.float64)[_symmetric_indices(h, pad)][:, _symmetric_indices(w, pad)]
    size = len(kernel)
    # 'valid' convolution along rows then columns; the kernel is symmetric, so correlation == convolution.
    rows = sum(kernel[k] * padded[k : k + h, :] for k in range(size))
    out = sum(kernel[k] * rows[:, k : k + w] for k in range(size))
    return out.astype(np.float32)


def gradient2(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[Gx, Gy] = gradient2(I)`` in single precision: x along columns, y along rows."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError(f"gradient2 needs a 2-D map of at least 2x2, got shape {image.shape}")
    half = np.float32(0.5)
    gx = np.empty_like(image)
    gy = np.empty_like(image)
    gx[:, 1:-1] = (image[:, 2:] - image[:, :-2]) * half
    gx[:, 0] = image[:, 1] - image[:, 0]
    gx[:, -1] = image[:, -1] - image[:, -2]
    gy[1:-1] = (image[2:] - image[:-2]) * half
    gy[0] = image[1] - image[0]
    gy[-1] = image[-1] - image[-2]
    return gx, gy


def edge_orientation(edges: np.ndarray, smoothing: float = ORIENTATION_SMOOTHING) -> np.ndarray:
    """Normal direction of the edge ridges of `edges` in [0, pi), as ``edgesDetect.m`` computes it."""
    ox, oy = gradient2(conv_tri(np.asarray(edges, dtype=np.float32), smoothing))
    oxx, _ = gradient2(ox)
    oxy, oyy = gradient2(oy)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (oyy * np.sign(-oxy)) / (oxx + np.float32(1e-5))
    orientation = np.mod(np.arctan(ratio), np.float32(np.pi)).astype(np.float32)
    return np.nan_to_num(orientation, nan=0.0)


def _interp(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of `image` at float32 (x, y) with the mex's clamping, in float32."""
    h, w = image.shape
    x = np.where(x < 0, np.float32(0), np.where(x > w - 1.001, np.float32(w - 1.001), x))
    y = np.where(y < 0, np.float32(0), np.where(y > h - 1.001, np.float32(h - 1.001), y))
    x0 = x.astype(np.intp)  # truncation == floor: x >= 0 here
    y0 = y.astype(np.intp)
    dx0 = x - x0.astype(np.float32)
    dy0 = y - y0.astype(np.float32)
    one = np.float32(1)
    dx1 = one - dx0
    dy1 = one - dy0
    return (
        image[y0, x0] * dx1 * dy1
        + image[y0, x0 + 1] * dx0 * dy1
        + image[y0 + 1, x0] * dx1 * dy0
        + image[y0 + 1, x0 + 1] * dx0 * dy0
    )


def edge_nms(
    edges: np.ndarray,
    orientation: np.ndarray,
    r: int = NMS_RADIUS,
    s: int = NMS_BORDER,
    m: float = NMS_MULTIPLIER,
) -> np.ndarray:
    """``edgesNmsMex(E, O, r, s, m)``: thin `edges` across `orientation`, then fade the s-pixel image border.

    edges, orientation: (H, W) maps (cast to float32); r: radius of the comparison along the normal; s: width
    of the border ramp; m: a pixel survives only if ``m * E`` is not below any interpolated neighbour.
    """
    e0 = np.asarray(edges, dtype=np.float32)
    o = np.asarray(orientation, dtype=np.float32)
    if e0.ndim != 2 or e0.shape != o.shape:
        raise ValueError(f"edges and orientation must be 2-D maps of one shape, got {e0.shape} and {o.shape}")
    h, w = e0.shape
    if min(h, w) < 2:
        raise ValueError(f"edge_nms needs a map of at least 2x2, got shape {e0.shape}")
    r, s = int(r), int(s)
    out = e0.copy()
    ys, xs = np.nonzero(e0)
    if len(ys):
        e = e0[ys, xs] * np.float32(m)
        theta = o[ys, xs]
        cos_o, sin_o = np.cos(theta), np.sin(theta)
        xf, yf = xs.astype(np.float32), ys.astype(np.float32)
        suppressed = np.zeros(len(ys), dtype=bool)
        for d in range(-r, r + 1):
            if d:
                neighbour = _interp(e0, xf + np.float32(d) * cos_o, yf + np.float32(d) * sin_o)
                suppressed |= e < neighbour
        out[ys[suppressed], xs[suppressed]] = 0
    s = min(s, w // 2, h // 2)
    if s > 0:
        ramp = np.arange(s, dtype=np.float32) / np.float32(s)
        out[:, :s] *= ramp[None, :]
        out[:, w - s :] *= ramp[None, ::-1]
        out[:s, :] *= ramp[:, None]
        out[h - s :, :] *= ramp[::-1, None]
    return out
