"""Quality evaluation of the fesgui methods (``fesgui evaluate``).

* :mod:`~fesgui.evaluation.metrics`   MSE, SSIM, sharpness (Laplacian variance, gradient energy)
* :mod:`~fesgui.evaluation.smile`     a smile measure from FaceMesh landmarks
* :mod:`~fesgui.evaluation.baselines` the MR paper's global baselines (PCA, l2, l1, l0, ...)
* :mod:`~fesgui.evaluation.runner`    fit / choose on validation / score on test, both directions
* :mod:`~fesgui.evaluation.report`    markdown tables and PNG figures (models/EVALUATION.md)
"""

from fesgui.evaluation.metrics import (
    gradient_energy,
    laplacian_variance,
    mse,
    mse_per_image,
    ssim,
    ssim_per_image,
)
from fesgui.evaluation.smile import SmileMeasure, smile_gain, smile_measure

__all__ = ["gradient_energy", "laplacian_variance", "mse", "mse_per_image", "ssim",
           "ssim_per_image", "SmileMeasure", "smile_gain", "smile_measure"]
