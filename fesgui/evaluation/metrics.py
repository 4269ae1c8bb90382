"""Image-quality numbers for synthesized faces: MSE, SSIM, sharpness.

All functions take batches of images as float arrays in [0, 1], shape ``(N, H, W)`` or
``(N, H, W, 3)`` (a single image ``(H, W[, 3])`` is accepted where noted). Results are
plain floats or ``(N,)`` float64 arrays.

* MSE is reported by the evaluation x 10^2, as in Tables 2-3 of the MR paper; the
  functions here return the unscaled mean.
* SSIM is :func:`skimage.metrics.structural_similarity` (Wang et al. 2004, 7 x 7 uniform
  window, ``data_range=1``), averaged over images; colour images use ``channel_axis=-1``.
* Sharpness is measured on the luminance: the variance of the 3 x 3 Laplacian (the
  "variance of Laplacian" focus measure; the same operator as ``cv2.Laplacian`` with its
  default reflect-101 border) and the gradient energy, mean of squared Sobel derivatives.
* :func:`scores` is the ``{"mse", "ssim"}`` pair a trained model records in its metadata
  (rounded for short, stable JSON).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from fesgui.errors import FesguiError

LUMA = np.array([0.299, 0.587, 0.114])


def _pair(outputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(outputs, dtype=np.float64)
    b = np.asarray(targets, dtype=np.float64)
    if a.shape != b.shape:
        raise FesguiError(f"outputs {a.shape} and targets {b.shape} differ in shape: "
                          "compare images of the same size")
    return a, b


def _batch(images: np.ndarray) -> np.ndarray:
    """(N, H, W[, 3]) float64; a single (H, W) or (H, W, 3) image becomes a batch of 1."""
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3):
        a = a[None]
    if a.ndim not in (3, 4):
        raise FesguiError(f"images of shape {a.shape} are not (N, H, W[, 3]): "
                          "pass a batch of gray or RGB images")
    return a


def to_gray(images: np.ndarray) -> np.ndarray:
    """Luminance (ITU-R BT.601) of ``(N, H, W, 3)`` images; gray batches pass through."""
    a = _batch(images)
    return a @ LUMA if a.ndim == 4 else a


def mse_per_image(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``(N,)`` mean squared error of each image over its pixels (and channels)."""
    a, b = _pair(_batch(outputs), _batch(targets))
    return ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)


def mse(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error over every pixel, channel and image (values in [0, 1])."""
    return float(mse_per_image(outputs, targets).mean())


def ssim_per_image(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``(N,)`` SSIM of each output against its target (``data_range=1``)."""
    from skimage.metrics import structural_similarity

    a, b = _pair(_batch(outputs), _batch(targets))
    axis = -1 if a.ndim == 4 else None
    return np.array([structural_similarity(x, y, data_range=1.0, channel_axis=axis)
                     for x, y in zip(a, b, strict=True)])


def ssim(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean SSIM over the batch, in [-1, 1] (1 = identical)."""
    return float(ssim_per_image(outputs, targets).mean())


def laplacian_variance(images: np.ndarray) -> np.ndarray:
    """``(N,)`` variance of the 3 x 3 Laplacian of each image's luminance.

    Larger = sharper. Units: intensity^2 for intensities in [0, 1].
    """
    gray = to_gray(images)
    return np.array([ndimage.laplace(g, mode="mirror").var() for g in gray])


def gradient_energy(images: np.ndarray) -> np.ndarray:
    """``(N,)`` mean of ``gx^2 + gy^2`` (Sobel derivatives) over each image's luminance."""
    gray = to_gray(images)
    return np.array([(ndimage.sobel(g, axis=1, mode="mirror") ** 2
                      + ndimage.sobel(g, axis=0, mode="mirror") ** 2).mean() for g in gray])


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1]; float images pass through as float32."""
    from fesgui.imageio import to_float as uint8_to_float

    images = np.asarray(images)
    return uint8_to_float(images) if images.dtype == np.uint8 else images.astype(np.float32)


def round_sig(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant digits (short, stable JSON)."""
    return float(f"{value:.{digits}g}")


def scores(outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``{"mse": ..., "ssim": ...}`` of a batch (outputs clipped to [0, 1] first); MSE
    unscaled (values in [0, 1]), to 6 significant digits; SSIM to 6 decimals."""
    outputs = np.clip(to_float(outputs), 0.0, 1.0)
    targets = to_float(targets)
    return {"mse": round_sig(mse(outputs, targets)), "ssim": round(ssim(outputs, targets), 6)}
