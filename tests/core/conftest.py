"""Small training pairs shared by the core tests (no dataset needed)."""

from __future__ import annotations

import numpy as np
import pytest

LUMA = np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="session")
def rgb_pairs():
    """Small random RGB training pairs (N=7, 9x11): odd sizes catch row/column mix-ups."""
    rng = np.random.default_rng(7)
    X = rng.random((7, 9, 11, 3)).astype(np.float32)
    T = np.clip(0.6 * X + 0.3 * rng.random(X.shape), 0, 1).astype(np.float32)
    return X, T


@pytest.fixture(scope="session")
def gray_pairs(rgb_pairs):
    X, T = rgb_pairs
    return (X @ LUMA).astype(np.float32), (T @ LUMA).astype(np.float32)
