"""The numerical core: estimators, refinement and model files (numpy + scipy; numba in
``kernels.py`` only, imported on the first MR predict; threadpoolctl for the fit solves).

See docs/architecture.md ("The estimators") for the contract the rest of the app uses.
"""

from fesgui.core import interpret
from fesgui.core.base import Model, Provenance, check_is_fitted, fit_change
from fesgui.core.csr import from_csr, to_csr
from fesgui.core.masked import MaskedRegression
from fesgui.core.modelio import load_model, read_meta
from fesgui.core.pixel import PixelKernelRegression, PixelRegression
from fesgui.core.refine import (
    alpha_map,
    alpha_stages,
    blend_intensity,
    default_blur_sigma,
    default_dilation_radius,
    l1_map,
    refine,
)
from fesgui.core.sparse import SparseReceptiveField

__all__ = [
    "Model",
    "Provenance",
    "check_is_fitted",
    "fit_change",
    "MaskedRegression",
    "PixelRegression",
    "PixelKernelRegression",
    "SparseReceptiveField",
    "load_model",
    "read_meta",
    "alpha_map",
    "alpha_stages",
    "refine",
    "blend_intensity",
    "l1_map",
    "from_csr",
    "to_csr",
    "default_dilation_radius",
    "default_blur_sigma",
    "interpret",
]
