"""Optional dependencies: what only some commands need, and the one line when it is missing.

The default install carries what the app and ``fesgui synth/batch/video/train/models``
need. ``fesgui evaluate`` (the MR paper's Lasso/OMP baselines, the report's figures) and
the fit benchmark of ``fesgui bench`` (scikit-learn's Ridge) need the ``eval`` extra:
``pip install "fesgui[eval]"``.
"""

from __future__ import annotations

from importlib.util import find_spec

from fesgui.errors import FesguiError

# extra name -> (import name, distribution name) of what it adds
EXTRAS: dict[str, tuple[tuple[str, str], ...]] = {
    "eval": (("sklearn", "scikit-learn"), ("matplotlib", "matplotlib")),
}


def missing(extra: str) -> list[str]:
    """Distribution names of the ``extra`` that cannot be imported."""
    gone = []
    for module, dist in EXTRAS[extra]:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or half-removed install
            found = False
        if not found:
            gone.append(dist)
    return gone


def require(extra: str, what: str, instead: str = "") -> None:
    """Raise :class:`FesguiError` naming the extra when any of its packages is missing;
    ``instead`` is a second way out (", or ...")."""
    gone = missing(extra)
    if gone:
        raise FesguiError(
            f"{what} needs {' and '.join(gone)}, which {'is' if len(gone) == 1 else 'are'} "
            f'not installed: pip install "fesgui[{extra}]"{instead}')
