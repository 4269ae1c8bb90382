"""A damaged alignment cache is recomputed, never a traceback (issue 14, item 9).

Valid JSON of the wrong shape in a landmark cache file used to break ``fesgui train``
(``'list' object has no attribute 'get'``, ``KeyError: 'box'``, ...).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_data import FakeSource, write_synthetic_set

from fesgui.data import _CACHE_VERSION, find_pairs, landmark_record_ok, load_aligned

GOOD = {"version": _CACHE_VERSION, "points": [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]],
        "box": [0, 0, 40, 50], "manual": False}

DAMAGED = {
    "a list": [],
    "a string": "points",
    "null": None,
    "a number": 42,
    "no points, no no_face": {"version": _CACHE_VERSION},
    "points a string": {**GOOD, "points": "x"},
    "four points": {**GOOD, "points": GOOD["points"][:4]},
    "ragged points": {**GOOD, "points": [[1, 2], [3], [4, 5], [6, 7], [8, 9]]},
    "points of text": {**GOOD, "points": [["a", "b"]] * 5},
    "box missing": {k: v for k, v in GOOD.items() if k != "box"},
    "box a string": {**GOOD, "box": "0 0 40 50"},
    "box of three": {**GOOD, "box": [0, 0, 40]},
    "box of booleans": {**GOOD, "box": [True, False, True, True]},
    "manual a string": {**GOOD, "manual": "yes"},
    "mesh not points": {**GOOD, "mesh": {"a": 1}},
    "no_face not true": {"version": _CACHE_VERSION, "no_face": "maybe"},
}


def test_good_records_pass():
    assert landmark_record_ok(GOOD)
    assert landmark_record_ok({"version": _CACHE_VERSION, "no_face": True})
    assert landmark_record_ok({**GOOD, "mesh": [[1.0, 2.0]] * 468})
    assert not landmark_record_ok({**GOOD, "version": 0})


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_damaged_record_is_refused(kind):
    assert not landmark_record_ok(DAMAGED[kind])


@pytest.mark.parametrize("kind", ["a list", "no points, no no_face", "box missing",
                                  "ragged points", "points of text"])
def test_training_data_with_a_damaged_landmark_cache_is_recomputed(kind, tmp_path):
    source = FakeSource()
    write_synthetic_set(tmp_path / "faces", 3, source, layout="person")
    pairs, _ = find_pairs(tmp_path / "faces")
    cache = tmp_path / "c"
    first = load_aligned(pairs, 32, cache_dir=cache, landmarks=source)
    calls = source.calls
    for crop in (cache / "crops").iterdir():
        crop.unlink()  # so that the landmarks are read from the cache
    records = sorted((cache / "landmarks").iterdir())
    for path in records:
        path.write_text(json.dumps(DAMAGED[kind]), encoding="utf-8")
    again = load_aligned(pairs, 32, cache_dir=cache, landmarks=source)
    assert source.calls == calls + len(records)  # every damaged record was recomputed
    assert again.ids == first.ids and not again.skipped
    assert np.array_equal(again.X, first.X) and np.array_equal(again.T, first.T)
    for path in records:  # and the cache is sound again
        assert landmark_record_ok(json.loads(path.read_text(encoding="utf-8")))
