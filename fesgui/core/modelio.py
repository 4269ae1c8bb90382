"""Model files: one ``.npz`` (a zip of ``.npy`` arrays) per model. Nothing is pickled and
nothing in a file is ever executed.

Format (``format_version`` 2; version 1 files, without shape field and alignment, still
load)::

    meta.npy     uint8 (L,)  UTF-8 JSON object: method, size, dilation, lam, sigma, color,
                             image_size [H, W], channels_in, storage, format_version,
                             source, target, training_data, metrics, name
    weights.npy  (K, H, W, size*size)  float32, or float16 when storage == "compact"
    shape.npy    (H, W, 2)             float32 / float16: the shape field (format 2;
                                       optional: without it the model moves nothing)
    bias.npy     (K, H, W)             float32 / float16            (MR, Pixel-RR)
    table.npy    (K, H, W, 256)        float32, or uint8 round(255 * value) when compact
                                                                     (Pixel-KR only)

Format 2 adds method ``"sparse"`` (:mod:`fesgui.core.sparse`; other methods are still
written as version 1, and version 1 files load as before). Its meta also holds ``taps``
(F), ``preprocess`` ``{"input": s, "output": s}`` (s: "none" | "minmax"), ``template``
(null or ``{"left_eye": [x, y], "right_eye": [x, y], "mouth_centre": [x, y]}``), ``lam``
null, size and dilation 1; its arrays::

    index.npy    (K, H, W, F)  int32 flat input positions (row-major), each < H * W
    weights.npy  (K, H, W, F)  float32 / float16
    bias.npy     (K, H, W)     float32 / float16

``K`` is 1 (colour "shared"/"gray", or grayscale) or 3 ("per-channel"). Taps are in
row-major order of the size x size window, spread by ``dilation``. Pixel-KR files hold
only the table; the linear summary ``weights_``/``bias_`` is recomputed on load.

Files are byte-deterministic: members are written in a fixed order with fixed zip
timestamps and attributes, and JSON keys are sorted, so the same model always gives the
same bytes. Loading uses ``allow_pickle=False`` and refuses, with one line, anything that
is not exactly this: missing, empty, truncated or non-zip files, pickled/object arrays,
unknown or newer versions, unknown method/colour, shapes that disagree with the
metadata, oversized members and NaN/Inf values.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from fesgui.atomic import atomic_write
from fesgui.core.base import COLORS, FORMAT_VERSION, METHODS, USER_META_KEYS, Model, check_is_fitted
from fesgui.core.geometry import MAX_WINDOW
from fesgui.errors import FesguiError
from fesgui.outputs import check_output

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_MAX_META_BYTES = 1 << 20
#: no member of a real model is near this (a 512 x 512 per-channel MR 9x9 is ~0.26 GB);
#: a file that declares more is refused before anything is decompressed
_MAX_MEMBER_BYTES = 1 << 30
#: the largest crop side a model may have: a face crop, not a photo (the shipped models are
#: 128 and 256; a model of 8192 x 4096 px would cost gigabytes per frame)
MAX_IMAGE_SIDE = 1024
#: everything that reading a hostile zip/npy can raise
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
                struct.error, NotImplementedError, RuntimeError, UnicodeDecodeError,
                TypeError, OverflowError, IndexError, AttributeError, SyntaxError)


# ---------------------------------------------------------------------------- writing
def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


def _meta_bytes(meta: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(meta, sort_keys=True, default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FesguiError(f"model metadata cannot be saved ({exc}): keep meta values to "
                          "text, numbers, lists and dicts") from None
    return text.encode("utf-8")


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def file_meta(model: Model, storage: str | None = None) -> dict[str, Any]:
    """The meta a model file holds for ``model`` (the one place it is assembled): its
    ``method``, its effective hyper-parameters (the fitted ``*_`` attributes; the
    parameters as given before fitting), image size, input channels, format version,
    ``storage`` (default: how the model's weights were stored when loaded), the class's
    own keys (:meth:`Model._meta_extras`) and the :class:`~fesgui.core.base.Provenance`
    fields. Values are the model's own, not copies."""
    fitted = model.fitted
    meta: dict[str, Any] = {"method": model.method}
    for key in ("size", "dilation", "lam", "sigma", "color"):
        meta[key] = getattr(model, key + "_" if fitted else key, None)
    if not fitted:  # the parameters as given; a method without a window has size 1
        meta["size"] = 1 if meta["size"] is None else meta["size"]
        meta["dilation"] = 1 if meta["dilation"] is None else meta["dilation"]
    meta.update({
        "image_size": list(model.image_size) if fitted else None,
        "channels_in": model.n_channels_in_ if fitted else None,
        "format_version": int(model._format_version()),
        "storage": storage or (model.storage_ if fitted else "full"),
    })
    meta.update(model._meta_extras())
    meta.update((key, getattr(model.provenance, key)) for key in USER_META_KEYS)
    return meta


def model_arrays(model: Model, compact: bool = False) -> dict[str, np.ndarray]:
    """The arrays stored for ``model`` (in file order after ``meta``): its
    :meth:`~Model._state_arrays`, with ``compact`` tables as uint8 levels and weights and
    biases as float16 (index arrays stay int32)."""
    out = {}
    for name, array in model._state_arrays().items():
        if name == "table":
            if compact:
                array = np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
        elif name != "index":
            array = array.astype(np.float16 if compact else np.float32)
        out[name] = array
    return out


def _shape_member(model: Model, compact: bool) -> dict[str, np.ndarray]:
    field = getattr(model, "shape_field_", None)
    if field is None:
        return {}
    return {"shape": field.astype(np.float16 if compact else np.float32)}


def save_model(model: Model, path: str | Path, compact: bool = False) -> Path:
    """Write ``model`` to ``path`` (``.npz``) atomically and byte-deterministically.

    ``compact=True`` stores weights/bias as float16 (about 3 significant digits) and
    Pixel-KR tables as uint8 levels (error <= 1/510 inside [0, 1], values clipped to it).
    """
    check_is_fitted(model)
    path = check_output(path, what="model file")
    if path.suffix != ".npz":
        raise FesguiError(f"model file name {path.name!r} must end in .npz: e.g. {path.stem}.npz")
    meta = file_meta(model, storage="compact" if compact else "full")
    members = {"meta": np.frombuffer(_meta_bytes(meta), dtype=np.uint8)}
    members.update(model_arrays(model, compact))
    members.update(_shape_member(model, compact))
    with atomic_write(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, array in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, _npy_bytes(array), compresslevel=6)
    return path


# ---------------------------------------------------------------------------- reading
def _bad(path: Path, why: str) -> FesguiError:
    return FesguiError(f"{path} is not a usable fesgui model ({why}): pick another .npz file "
                       "or rebuild it with `fesgui train`")


def _open(path: str | Path) -> tuple[Path, zipfile.ZipFile]:
    path = Path(path)
    if not path.exists():
        raise FesguiError(f"model file {path} does not exist: check the path")
    if path.is_dir():
        raise FesguiError(f"{path} is a folder, not a model file: give a .npz file")
    if path.stat().st_size == 0:
        raise _bad(path, "the file is empty")
    try:
        zf = zipfile.ZipFile(path)
    except _READ_ERRORS:
        raise _bad(path, "not a zip/npz file, or truncated") from None
    return path, zf


def _read_member(path: Path, zf: zipfile.ZipFile, name: str, limit: int) -> np.ndarray:
    try:
        info = zf.getinfo(f"{name}.npy")
    except KeyError:
        raise _bad(path, f"no {name!r} array in it") from None
    return read_npy_member(zf, info, limit, lambda why: _bad(path, f"the {name!r} array {why}"))


def read_npy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                    bad: Any) -> np.ndarray:
    """One ``.npy`` member of an ``.npz`` zip, read without pickling and only if it
    decompresses to at most ``limit`` bytes (checked from the zip's directory first, and
    again while reading, so a lying directory cannot bomb memory).

    ``bad(why)`` makes the exception raised for a refused member (``why``: "is larger
    than ...", "holds pickled objects", "is damaged or truncated").
    """
    if info.file_size > limit:
        raise bad(f"is larger than its metadata allows ({info.file_size} bytes)")
    try:
        with zf.open(info) as member:
            data = member.read(limit + 1)
        if len(data) > limit:
            raise bad(f"is larger than its metadata allows (over {limit} bytes)")
        array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except FesguiError:
        raise
    except MemoryError:
        raise bad("does not fit in memory") from None
    except _READ_ERRORS as exc:
        why = "holds pickled objects" if "pickle" in str(exc).lower() else \
            "is damaged or truncated"
        raise bad(why) from None
    if array.dtype.hasobject:
        raise bad("holds pickled objects")
    return array


def _parse_meta(path: Path, zf: zipfile.ZipFile) -> dict[str, Any]:
    raw = _read_member(path, zf, "meta", _MAX_META_BYTES)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _bad(path, "its metadata is not JSON text")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad(path, "its metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise _bad(path, "its metadata is not a JSON object")
    return _check_meta(path, meta)


def _is_int(v: Any, low: int = 1) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_pos(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _check_meta(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    version = meta.get("format_version")
    if not _is_int(version):
        raise _bad(path, "no format_version in its metadata")
    if version > FORMAT_VERSION:
        raise FesguiError(f"{path} uses model format {version}, newer than this fesgui "
                          f"understands ({FORMAT_VERSION}): update fesgui")
    method = meta.get("method")
    if method not in METHODS:
        raise _bad(path, f"unknown method {method!r}")
    if meta.get("color") not in COLORS:
        raise _bad(path, f"unknown color {meta.get('color')!r}")
    size, dilation = meta.get("size"), meta.get("dilation")
    if not (_is_int(size) and size % 2 == 1 and _is_int(dilation) and dilation <= 99):
        raise _bad(path, f"bad size/dilation {size!r}/{dilation!r}")
    if size > MAX_WINDOW:
        raise _bad(path, f"a {size}x{size} window; fesgui models have at most "
                   f"{MAX_WINDOW}x{MAX_WINDOW}")
    if method != "mr" and (size, dilation) != (1, 1):
        raise _bad(path, f"a {method} model must have size 1")
    if method == "sparse":
        _check_sparse_meta(path, meta, version)
    elif not (_is_pos(meta.get("lam")) or (method == "mr" and meta.get("lam") is None)):
        raise _bad(path, f"bad lam {meta.get('lam')!r}")
    if method == "pixel-kr" and not _is_pos(meta.get("sigma")):
        raise _bad(path, f"bad sigma {meta.get('sigma')!r}")
    hw = meta.get("image_size")
    if not (isinstance(hw, list) and len(hw) == 2 and all(_is_int(v) for v in hw)):
        raise _bad(path, f"bad image_size {hw!r}")
    if max(hw) > MAX_IMAGE_SIDE:
        raise _bad(path, f"a crop of {hw[0]}x{hw[1]} px; a face crop is at most "
                   f"{MAX_IMAGE_SIDE} px a side")
    if dilation * (size // 2) >= max(hw):
        raise _bad(path, f"a {size}x{size} window with dilation {dilation} reaches past its "
                   f"{hw[0]}x{hw[1]} crop")
    if meta.get("channels_in") not in (1, 3):
        raise _bad(path, f"bad channels_in {meta.get('channels_in')!r}")
    if meta.get("storage", "full") not in ("full", "compact"):
        raise _bad(path, f"unknown storage {meta.get('storage')!r}")
    _check_user_meta(path, meta)
    return meta


def _check_sparse_meta(path: Path, meta: dict[str, Any], version: int) -> None:
    """The keys a sparse receptive field model adds (format 2)."""
    from fesgui.core.sparse import MAX_TAPS, check_preprocess, check_template

    if version < 2:
        raise _bad(path, "method 'sparse' needs format_version 2")
    if meta.get("lam") is not None:
        raise _bad(path, f"bad lam {meta.get('lam')!r} (a sparse model has none)")
    taps = meta.get("taps")
    if not (_is_int(taps) and taps <= MAX_TAPS):
        raise _bad(path, f"bad taps {taps!r}")
    for key, check in (("preprocess", check_preprocess), ("template", check_template)):
        try:
            check(meta.get(key))
        except FesguiError:
            raise _bad(path, f"bad {key} {meta.get(key)!r}") from None


#: metric names whose values, wherever they appear in ``metrics``, must be numbers
_NUMERIC_METRICS = ("mse", "ssim", "test_mse", "mse_test", "n_test")
#: ... and those that must be JSON objects (``baselines`` holds one per baseline)
_DICT_METRICS = ("baselines", "selection", "compact", "test")


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_user_meta(path: Path, meta: dict[str, Any]) -> None:
    """The descriptive fields have the types every reader (model list, model card, app)
    relies on: text (or nothing) for names, a dict for ``metrics`` with numbers for the
    scores it holds."""
    for key in ("source", "target", "name"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise _bad(path, f"its {key!r} is a {type(meta[key]).__name__}, not text")
    data = meta.get("training_data")
    if data is not None and not isinstance(data, (str, dict)):
        raise _bad(path, f"its 'training_data' is a {type(data).__name__}, not text or a "
                   "JSON object")
    if meta.get("alignment") not in (None, "eyes-mouth", "eyes-nose"):
        raise _bad(path, f"unknown alignment {meta.get('alignment')!r}")
    if meta.get("shape") is not None and not isinstance(meta["shape"], dict):
        raise _bad(path, f"its 'shape' is a {type(meta['shape']).__name__}, not a JSON object")
    if meta.get("n_parameters") is not None and not _is_number(meta["n_parameters"]):
        raise _bad(path, f"its 'n_parameters' is {meta['n_parameters']!r}, not a number")
    metrics = meta.get("metrics")
    if metrics is None:
        return
    if not isinstance(metrics, dict):
        raise _bad(path, f"its 'metrics' is a {type(metrics).__name__}, not a JSON object")
    stack = [metrics]
    while stack:
        node = stack.pop()
        for key, value in node.items():
            if key in _DICT_METRICS and value is not None and not isinstance(value, dict):
                raise _bad(path, f"its metric {key!r} is a {type(value).__name__}, not a "
                           "JSON object")
            if key == "baselines" and isinstance(value, dict) and not all(
                    isinstance(v, dict) for v in value.values()):
                raise _bad(path, "its metric 'baselines' holds something other than JSON "
                           "objects")
            if isinstance(value, dict):
                stack.append(value)
            elif key in _NUMERIC_METRICS and value is not None and not _is_number(value):
                raise _bad(path, f"its metric {key!r} is {value!r}, not a number")


def read_meta(path: str | Path) -> dict[str, Any]:
    """The metadata of a model file without loading its arrays (FesguiError if not a model)."""
    path, zf = _open(path)
    with zf:
        return _parse_meta(path, zf)


def _expect(path: Path, zf: zipfile.ZipFile, name: str, shape: tuple[int, ...],
            dtypes: tuple[type, ...]) -> np.ndarray:
    itemsize = max(np.dtype(d).itemsize for d in dtypes)
    expected = int(np.prod(shape, dtype=np.int64)) * itemsize + 4096
    if expected > _MAX_MEMBER_BYTES:
        raise _bad(path, f"its {name!r} array would be {expected / 2**30:.1f} GB")
    array = _read_member(path, zf, name, expected)
    if array.shape != shape:
        raise _bad(path, f"{name!r} has shape {array.shape} but the metadata says {shape}")
    if array.dtype not in [np.dtype(d) for d in dtypes]:
        raise _bad(path, f"{name!r} has dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise _bad(path, f"{name!r} contains NaN or Inf")
    return array


def model_class(method: str) -> type[Model]:
    """The estimator class of a model file's ``method`` (one of METHODS)."""
    from fesgui.core.masked import MaskedRegression
    from fesgui.core.pixel import PixelKernelRegression, PixelRegression
    from fesgui.core.sparse import SparseReceptiveField

    classes = {cls.method: cls for cls in (MaskedRegression, PixelRegression,
                                           PixelKernelRegression, SparseReceptiveField)}
    return classes[method]


def load_model(path: str | Path) -> Model:
    """Load a model written by :meth:`Model.save`; refuses bad files with FesguiError."""
    path, zf = _open(path)
    with zf:
        meta = _parse_meta(path, zf)
        h, w = meta["image_size"]
        compact = meta.get("storage") == "compact"
        n_in = meta["channels_in"]
        k = 3 if meta["color"] == "per-channel" and n_in == 3 else 1
        cls = model_class(meta["method"])
        model = cls(**{name: meta.get(name) for name in cls._get_param_names()})
        floats = (np.float16,) if compact else (np.float32,)
        arrays = {}
        for name, shape in cls._state_shapes(meta, k, h, w).items():
            dtypes = (np.int32,) if name == "index" else (
                (np.uint8,) if compact else (np.float32,)) if name == "table" else floats
            array = _expect(path, zf, name, shape, dtypes)
            if name == "index" and array.size and (
                    int(array.min()) < 0 or int(array.max()) >= h * w):
                raise _bad(path, f"its 'index' array reads pixels outside the {h}x{w} image")
            if name == "table" and compact:
                array = array.astype(np.float32) / 255.0
            arrays[name] = array
        model._set_state(arrays, n_in)
        field = None
        if "shape.npy" in zf.namelist():
            field = _expect(path, zf, "shape", (h, w, 2), floats)
    model.set_provenance(**{key: meta.get(key) for key in USER_META_KEYS if key != "shape"})
    if field is not None:
        shape_info = meta.get("shape")
        model.set_shape(field, shape_info if isinstance(shape_info, dict) else None)
    model.storage_ = meta.get("storage", "full")
    return model
