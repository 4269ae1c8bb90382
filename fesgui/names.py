"""What models and methods are called: one home for every label the app, the CLI, the model
card and the model files show (Qt-free, imports nothing of fesgui).

* :data:`METHOD_NAMES`  method key in a model's ``meta["method"]`` -> its display name
* :func:`method_label`  "MR 3x3", "MR 3x3 dilation 2", "Pixel-RR" from a model's meta
* :func:`model_name`    "neutral -> happy, MR 3x3 (shared colour), 128 px": ``meta["name"]``
* :func:`file_tag`      "mr3", "pixelrr": the method part of the shipped file names
"""

from __future__ import annotations

#: display names, in the order lists and the model card show the methods
METHOD_NAMES = {"mr": "MR", "pixel-rr": "Pixel-RR", "pixel-kr": "Pixel-KR",
                "sparse": "Sparse RF"}  # sparse: imported LSRF / OMP (fesgui.core.sparse)


def method_label(meta: dict, times: str = "x") -> str:
    """``"MR 3x3"``, ``"MR 3x3 dilation 2"``, ``"Pixel-RR"`` from a model's metadata.

    ``times``: the sign between the window sides (the GUI passes ``"×"``). Missing or
    unknown entries read as "?" / the raw method key, never an error (any file's meta).
    """
    method = str(meta.get("method", "?"))
    label = METHOD_NAMES.get(method, method)
    if method == "mr":
        size = meta.get("size", "?")
        label += f" {size}{times}{size}"
        dilation = meta.get("dilation", 1) or 1
        if dilation != 1:
            label += f" dilation {dilation}"
    return label


def model_name(meta: dict, source: str, target: str) -> str:
    """``"neutral -> happy, MR 3x3 (shared colour), 128 px"``: the name a trained model
    carries in ``meta["name"]`` (``meta`` needs ``method``, ``size``, ``color`` and
    ``image_size``)."""
    h, w = meta["image_size"]
    crop = f"{h} px" if h == w else f"{h}x{w} px"
    return f"{source} -> {target}, {method_label(meta)} ({meta['color']} colour), {crop}"


def file_tag(method: str, size: int) -> str:
    """``"mr3"``, ``"pixelrr"``, ``"pixelkr"``: the method part of a model file name
    (``neutral2happy_mr3_128.npz``)."""
    return f"mr{size}" if method == "mr" else method.replace("-", "")
