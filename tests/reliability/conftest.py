"""Fixtures shared by the reliability tests: the corpus face, a small model, a fake finder."""

from __future__ import annotations

import pytest

import fesgui.align.mediapipe_source as mps
from fesgui.core import MaskedRegression
from fesgui.synthetic import make_pairs

from .corpus import KnownFace, base_face


@pytest.fixture(scope="module")
def face():
    return base_face()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    X, T = make_pairs(20, 32, 32, seed=5)
    return MaskedRegression(size=3).fit(X, T).save(tmp_path_factory.mktemp("m") / "m.npz")


@pytest.fixture
def finder(monkeypatch, face):
    """MediaPipe replaced by :class:`KnownFace` for the commands that start it."""
    source = KnownFace(face[1])
    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: source)
    return source
