"""Quality evaluation of the fesgui methods (``fesgui evaluate``).

The measures (also used by :mod:`fesgui.training`, the model card and the release build):

* :mod:`~fesgui.evaluation.metrics`    MSE, SSIM, sharpness (Laplacian variance, gradient
  energy); ``scores``, the pair a trained model records
* :mod:`~fesgui.evaluation.smile`      a smile measure from FaceMesh landmarks
* :mod:`~fesgui.evaluation.expression` whole photos through the pipeline, scored as a user
  sees them; the mouth's colour and detail kept
* :mod:`~fesgui.evaluation.baselines`  the MR paper's global baselines (PCA, l2, l1, l0, ...),
  the global ridge solve and the baselines a trained model records

The study behind ``fesgui evaluate`` (models/EVALUATION.md):

* :mod:`~fesgui.evaluation.runner`     fit / choose on validation / score on test, both
  directions
* :mod:`~fesgui.evaluation.statistics` paired standard errors, comparisons, number formats
* :mod:`~fesgui.evaluation.claims`     the papers' claims set against our numbers
* :mod:`~fesgui.evaluation.figures`    the PNG figures
* :mod:`~fesgui.evaluation.report`     the markdown assembly; ``write_report``
* :mod:`~fesgui.evaluation.contact`    a contact sheet of the expression on real faces
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
