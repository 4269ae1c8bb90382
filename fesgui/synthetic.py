"""Synthetic faces for tests, benchmarks and demos: no dataset needed.

A cartoon face (skin ellipse, eyes, brows, nose, mouth) on a textured background whose
mouth curves up with ``smile`` in [0, 1]. The true key points are returned with it, so a
fake landmark source can align it exactly. Pure numpy + OpenCV drawing.
"""

from __future__ import annotations

import cv2
import numpy as np


def face_points(h: int, w: int, cx: float | None = None, cy: float | None = None,
                scale: float = 1.0, angle_deg: float = 0.0) -> np.ndarray:
    """(5, 2) float32 key points (x, y): left eye, right eye, nose tip, mouth corners."""
    cx = w / 2 if cx is None else cx
    cy = h / 2 if cy is None else cy
    s = min(h, w) * scale
    base = np.array([[-0.15, -0.08], [0.15, -0.08], [0.0, 0.06], [-0.12, 0.2], [0.12, 0.2]])
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (base @ rot.T * s + [cx, cy]).astype(np.float32)


def make_face(h: int = 128, w: int = 128, smile: float = 0.0, seed: int = 0,
              cx: float | None = None, cy: float | None = None, scale: float = 1.0,
              angle_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw one face. Returns ``(image (h, w, 3) uint8 RGB, points (5, 2) float32)``.

    ``seed`` varies identity (skin tone, eye size, face width, background texture);
    ``smile`` in [0, 1] lifts the mouth corners and opens the mouth (teeth appear).
    """
    rng = np.random.default_rng(seed)
    img = (rng.integers(40, 90, size=(h, w, 3))).astype(np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 3)
    pts = face_points(h, w, cx, cy, scale, angle_deg)
    s = min(h, w) * scale
    centre = ((pts[0] + pts[1]) / 2 + (pts[3] + pts[4]) / 2) / 2
    skin = tuple(int(v) for v in rng.integers([150, 110, 90], [235, 180, 150]))
    face_w = s * rng.uniform(0.27, 0.33)
    cv2.ellipse(img, (int(centre[0]), int(centre[1])), (int(face_w), int(s * 0.4)),
                angle_deg, 0, 360, skin, -1, cv2.LINE_AA)
    eye_r = max(1, int(s * rng.uniform(0.03, 0.045)))
    for p in pts[:2]:
        cv2.circle(img, (int(p[0]), int(p[1])), eye_r + 1, (250, 250, 250), -1, cv2.LINE_AA)
        cv2.circle(img, (int(p[0]), int(p[1])), max(1, eye_r // 2), (40, 30, 20), -1, cv2.LINE_AA)
        brow = (int(p[0] - eye_r * 1.5), int(p[1] - eye_r * 2.5 + smile * eye_r * -0.5))
        cv2.line(img, brow, (int(p[0] + eye_r * 1.5), brow[1]), (60, 40, 30),
                 max(1, eye_r // 2), cv2.LINE_AA)
    nose = pts[2]
    cv2.line(img, (int(nose[0]), int(nose[1] - s * 0.08)), (int(nose[0]), int(nose[1])),
             tuple(int(c * 0.7) for c in skin), max(1, int(s * 0.015)), cv2.LINE_AA)
    left, right = pts[3].copy(), pts[4].copy()
    lift = smile * s * 0.05
    left[1] -= lift
    right[1] -= lift
    mid = (left + right) / 2 + [0, s * (0.01 + 0.05 * smile)]
    curve = np.array([left, mid, right])
    t = np.linspace(0, 1, 24)[:, None]
    bez = ((1 - t) ** 2 * curve[0] + 2 * (1 - t) * t * curve[1] + t**2 * curve[2])
    lip = (150, 60, 60)
    if smile > 0.3:
        upper = np.array([left, (left + right) / 2 + [0, s * 0.01], right])
        top = ((1 - t) ** 2 * upper[0] + 2 * (1 - t) * t * upper[1] + t**2 * upper[2])
        poly = np.vstack([top, bez[::-1]]).astype(np.int32)
        cv2.fillPoly(img, [poly], (245, 245, 240), cv2.LINE_AA)
        cv2.polylines(img, [top.astype(np.int32)], False, lip, max(1, int(s * 0.012)),
                      cv2.LINE_AA)
    cv2.polylines(img, [bez.astype(np.int32)], False, lip, max(1, int(s * 0.015)), cv2.LINE_AA)
    pts_out = pts.copy()
    pts_out[3], pts_out[4] = left, right
    return img, pts_out


def make_pairs(n: int, h: int = 32, w: int = 32, color: bool = True, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` aligned (neutral, smiling) training pairs as float32 in [0, 1].

    Shapes ``(n, h, w, 3)`` (or ``(n, h, w)`` with ``color=False``).
    """
    xs, ts = [], []
    for i in range(n):
        x, _ = make_face(h, w, smile=0.0, seed=seed * 100003 + i)
        t, _ = make_face(h, w, smile=1.0, seed=seed * 100003 + i)
        xs.append(x)
        ts.append(t)
    X = np.stack(xs).astype(np.float32) / 255.0
    T = np.stack(ts).astype(np.float32) / 255.0
    if not color:
        lum = np.array([0.299, 0.587, 0.114], np.float32)
        X, T = X @ lum, T @ lum
    return X, T


def sparse_smile_csr(size: int = 128, taps: int = 1, far: bool = False, seed: int = 0):
    """A ``scipy.sparse`` CSR matrix ``(D, D + 1)`` float64 with the structure of the MR
    authors' published sparse models, for tests, benchmarks and demos (issue 16).

    Every output pixel reads the input a few pixels below itself around the mouth
    corners of the authors' framing (mouth centre at (0.5, 0.72) of the crop, corners
    0.12 of the width to each side), so the corners rise as in a smile, up to
    ``0.03 * size`` pixels (4 px at 128: the reach of LSRF f=1). ``taps=1``: that one
    pixel (LSRF f=1). ``taps=5`` (``far=False``): it and its 4 neighbours (LSRF f=5,
    within +-2 px of the displaced point). ``far=True``: the displaced pixel plus
    ``taps - 1`` small weights anywhere in the image (OMP). Each row ends with a bias.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    h = w = int(size)
    d = h * w
    ii, jj = np.mgrid[0:h, 0:w].astype(np.float64)
    bump = sum(np.exp(-((jj - (0.5 + side) * w) ** 2 + (ii - 0.72 * h) ** 2)
                      / (2 * (0.06 * w) ** 2)) for side in (-0.12, 0.12))
    src_i = np.clip(np.rint(ii + 0.03 * size * bump), 0, h - 1).astype(np.int64)
    centre = (src_i * w + jj.astype(np.int64)).ravel()
    rows = [np.arange(d)]
    cols = [centre]
    if taps == 1:
        vals = [np.full(d, 1.0)]
    elif not far:
        vals = [np.full(d, 0.6)]
        ci, cj = centre // w, centre % w
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            ni, nj = np.clip(ci + dy, 0, h - 1), np.clip(cj + dx, 0, w - 1)
            rows.append(np.arange(d))
            cols.append(ni * w + nj)
            vals.append(np.full(d, 0.1))
    else:
        vals = [np.full(d, 0.95)]
        for _ in range(taps - 1):
            rows.append(np.arange(d))
            cols.append(rng.integers(0, d, d))
            vals.append(rng.normal(0.0, 0.01, d))
    rows.append(np.arange(d))
    cols.append(np.full(d, d))
    vals.append(rng.normal(0.0, 0.002, d))
    mat = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(d, d + 1))
    mat.sum_duplicates()  # a clipped neighbour may repeat a tap at the border
    return mat
