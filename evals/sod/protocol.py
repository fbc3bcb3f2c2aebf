"""The SOD protocol's parameters, each with the file of the reference code that fixes it.

Reference: lartpang/PySODMetrics (PyPI ``pysodmetrics`` 1.6.2; files ``py_sod_metrics/utils.py`` and
``py_sod_metrics/sod_metrics.py``), which follows D.-P. Fan's MATLAB evaluation code: ``StructureMeasure.m``
(DengPingFan/S-measure), ``Enhancedmeasure.m`` (DengPingFan/E-measure) and Margolin et al.'s ``WFb.m`` (CVPR
2014, "How to evaluate foreground maps?"), as shipped in Fan's SOD/COD evaluation toolboxes.
"""
from __future__ import annotations

import math

import numpy as np

# --- reading the maps ---------------------------------------------------------------------------------------
# py_sod_metrics/utils.py, prepare_data: ``gt = gt > 128`` (an 8-bit mask is foreground where it is > 128).
GT_THRESHOLD = 128
# py_sod_metrics/utils.py, prepare_data: ``pred = pred / 255`` (MATLAB im2double), then, when the map is not
# constant, ``(pred - pred.min()) / (pred.max() - pred.min())`` (MATLAB mapminmax) per image.
PRED_SCALE = 255
# py_sod_metrics/utils.py: ``EPS = np.spacing(1)``, MATLAB's ``eps`` (2.2e-16), added to denominators.
EPS = float(np.spacing(1))

# --- thresholds -----------------------------------------------------------------------------------------------
# py_sod_metrics/sod_metrics.py, Fmeasure.cal_pr and Emeasure.cal_em_with_cumsumhistogram: the normalised map
# is quantised as ``(pred * 255).astype(np.uint8)`` (truncation) and binarised at every integer threshold
# t = 0..255 (a pixel is foreground when its quantised value is >= t): 256 points per curve.
NUM_THRESHOLDS = 256
# py_sod_metrics/utils.py, get_adaptive_threshold: ``min(2 * pred.mean(), 1)``; the map is then binarised as
# ``pred >= threshold`` on the normalised (not quantised) values (Fmeasure.cal_adaptive_fm,
# Emeasure.cal_em_with_threshold).
ADAPTIVE_THRESHOLD_FACTOR = 2.0
ADAPTIVE_THRESHOLD_CAP = 1.0

# --- F-measure (Achanta et al., CVPR 2009) ---------------------------------------------------------------------
# py_sod_metrics/sod_metrics.py, Fmeasure.__init__(beta=0.3): the value called ``beta`` there is beta^2;
# F = (1 + beta^2) P R / (beta^2 P + R), and F = 0 where P R = 0 (Fmeasure.cal_pr, cal_adaptive_fm).
FMEASURE_BETA_SQUARED = 0.3

# --- S-measure (Fan et al., ICCV 2017) --------------------------------------------------------------------------
# py_sod_metrics/sod_metrics.py, Smeasure.__init__(alpha=0.5); ``alpha = 0.5`` in StructureMeasure.m:
# S = alpha * S_object + (1 - alpha) * S_region, clipped below at 0.
SMEASURE_ALPHA = 0.5

# --- weighted F-measure (Margolin et al., CVPR 2014) ------------------------------------------------------------
# py_sod_metrics/sod_metrics.py, WeightedFmeasure.__init__(beta=1); ``Q = (1+Beta^2)*(R*P)./(eps+R+(Beta.*P))``
# with Beta = 1 in WFb.m.
WFMEASURE_BETA_SQUARED = 1.0
# py_sod_metrics/sod_metrics.py, WeightedFmeasure.cal_wfm / matlab_style_gauss2D; ``K = fspecial('gaussian',
# 7, 5)`` then ``EA = imfilter(Et, K)`` (zero padding) in WFb.m.
WFMEASURE_GAUSSIAN_SIZE = 7
WFMEASURE_GAUSSIAN_SIGMA = 5.0
# py_sod_metrics/sod_metrics.py, WeightedFmeasure.cal_wfm: ``B = 2 - exp(log(0.5) / 5 * Dst)`` on background
# pixels (``B(~GT) = 2-1*exp(log(1-0.5)/5.*Dst(~GT))`` in WFb.m), where Dst is the Euclidean distance to the
# nearest foreground pixel: a background error costs up to twice as much far from the object.
WFMEASURE_DISTANCE_DECAY = math.log(0.5) / 5


def gaussian_kernel_1d(size: int = WFMEASURE_GAUSSIAN_SIZE, sigma: float = WFMEASURE_GAUSSIAN_SIGMA) -> np.ndarray:
    """The 1-D factor of MATLAB's ``fspecial('gaussian', size, sigma)``, normalised to sum 1.

    fspecial's 2-D kernel is ``exp(-(x^2 + y^2) / (2 sigma^2))`` normalised to sum 1 (entries below
    ``eps * max`` zeroed, which removes none for 7 x 7, sigma 5), i.e. the outer product of this vector with
    itself. Filtering with the two 1-D passes gives the 2-D result up to rounding (~1e-16).
    """
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(offsets * offsets) / (2 * sigma * sigma))
    return kernel / kernel.sum()
