"""The template derivation: Procrustes mean on synthetic shapes, and (with the dataset)
that the shipped template is what the documented command reproduces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fesgui.align import Template
from fesgui.align.derive_template import derive_template, procrustes_mean
from fesgui.align.template import apply_matrix

DATASET = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "london-faces"


def _random_similarity(rng):
    a = rng.uniform(-0.5, 0.5)
    s = rng.uniform(200, 800)
    return np.array([[s * np.cos(a), -s * np.sin(a), rng.uniform(0, 500)],
                     [s * np.sin(a), s * np.cos(a), rng.uniform(0, 500)]])


def test_procrustes_mean_undoes_random_similarities():
    rng = np.random.default_rng(0)
    base = np.array([[-0.3, 0], [0.3, 0], [0, 0.35], [-0.22, 0.6], [0.22, 0.6],
                     [0, -0.5], [0, 1.1], [-0.6, 0.3], [0.6, 0.3]])
    shapes = np.array([apply_matrix(_random_similarity(rng), base) for _ in range(20)])
    mean = procrustes_mean(shapes)
    ref = (base - base.mean(axis=0)) / np.linalg.norm(base - base.mean(axis=0))
    # the mean equals the base shape up to a rotation (fix it by a least-squares fit)
    from fesgui.align import similarity_lstsq

    m = similarity_lstsq(mean, ref)
    np.testing.assert_allclose(apply_matrix(m, mean), ref, atol=1e-9)


def test_derived_template_has_the_requested_framing():
    rng = np.random.default_rng(1)
    base = np.array([[-0.3, 0], [0.3, 0], [0, 0.35], [-0.22, 0.6], [0.22, 0.6],
                     [0, -0.5], [0, 1.1], [-0.6, 0.3], [0.6, 0.3]])
    shapes = np.array([apply_matrix(_random_similarity(rng), base) for _ in range(10)])
    t = derive_template(shapes, eye_height=0.4, iod=0.27)
    np.testing.assert_allclose(t.points[:2], [[0.365, 0.4], [0.635, 0.4]], atol=1e-9)
    np.testing.assert_allclose(t.points[2], [0.5, 0.4 + 0.35 * 0.27 / 0.6], atol=1e-9)
    cx, cy = t.mask_centre
    ax, ay = t.mask_axes
    assert cx == 0.5 and 0 < cy - ay and cy + ay < 1 and 0 < cx - ax


def test_shipped_template_is_reproduced_from_the_dataset():
    neutral = DATASET / "neutral"
    if not neutral.is_dir():
        pytest.skip(f"london-faces dataset not found at {DATASET}")
    try:
        import mediapipe  # noqa: F401
    except Exception as exc:
        pytest.skip(f"mediapipe cannot be imported here ({exc})")
    from fesgui.align.derive_template import collect_points
    from fesgui.imageio import list_images

    shapes = collect_points(list_images(neutral))
    again = derive_template(shapes)
    shipped = Template.load()
    np.testing.assert_allclose(again.points, shipped.points, atol=2e-3)
    np.testing.assert_allclose(again.mask_axes, shipped.mask_axes, atol=2e-3)
