"""One-Euro filter and the landmark smoother."""

from __future__ import annotations

import numpy as np

from fesgui.align import FaceLandmarks, LandmarkSmoother, OneEuroFilter, SmoothedSource


def _noisy_track(n=300, sigma=2.0, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.array([[100.0, 80.0], [160.0, 80.0], [130.0, 120.0], [105.0, 150.0],
                      [155.0, 150.0]])
    return truth, truth + rng.normal(0, sigma, (n, 5, 2))


def test_one_euro_reduces_jitter_on_a_still_signal():
    truth, noisy = _noisy_track()
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    out = np.array([f(x, i / 30) for i, x in enumerate(noisy)])
    raw_err = np.abs(noisy[30:] - truth).mean()
    smooth_err = np.abs(out[30:] - truth).mean()
    assert smooth_err < 0.5 * raw_err
    jitter_raw = np.abs(np.diff(noisy[30:], axis=0)).mean()
    jitter = np.abs(np.diff(out[30:], axis=0)).mean()
    assert jitter < 0.25 * jitter_raw


def test_one_euro_follows_a_fast_move_with_little_lag():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    xs = np.concatenate([np.zeros(30), np.linspace(0, 300, 30)])  # 300 px in one second
    out = np.array([f(np.array([x]), i / 30)[0] for i, x in enumerate(xs)])
    slow = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    out_slow = np.array([slow(np.array([x]), i / 30)[0] for i, x in enumerate(xs)])
    assert abs(out[-1] - 300) < 0.5 * abs(out_slow[-1] - 300)


def test_first_value_passes_and_reset_forgets():
    f = OneEuroFilter()
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(f(x, 0.0), x)
    f(np.array([5.0, 5.0]), 1 / 30)
    f.reset()
    np.testing.assert_array_equal(f(np.array([9.0, 9.0]), 2 / 30), [9.0, 9.0])


def test_smoother_restarts_after_a_jump_and_when_the_face_is_lost():
    truth, noisy = _noisy_track(60)
    s = LandmarkSmoother()
    for i, pts in enumerate(noisy):
        (out,) = s.update([FaceLandmarks(pts.astype(np.float32))], i / 30)
    assert np.abs(out.points - truth).mean() < np.abs(noisy[-1] - truth).mean() + 0.5
    moved = (truth + [200.0, 0.0]).astype(np.float32)  # a cut: the face is elsewhere
    (out,) = s.update([FaceLandmarks(moved)], 61 / 30)
    np.testing.assert_allclose(out.points, moved)
    assert s.update([], 62 / 30) == []
    (out,) = s.update([FaceLandmarks(truth.astype(np.float32))], 63 / 30)
    np.testing.assert_allclose(out.points, truth)


def test_smoothed_source_uses_its_clock():
    truth, noisy = _noisy_track(40)
    frames = iter(noisy)

    class Fake:
        closed = False

        def detect(self, image):
            return [FaceLandmarks(next(frames).astype(np.float32))]

        def close(self):
            self.closed = True

    ticks = iter(range(1000))
    src = SmoothedSource(Fake(), clock=lambda: next(ticks) / 30)
    outs = [src.detect(None)[0].points for _ in range(40)]
    assert np.abs(np.diff(outs[10:], axis=0)).mean() < np.abs(np.diff(noisy[10:], axis=0)).mean()
    src.close()
    assert src.source.closed
