"""Training data: pair discovery in both layouts, identity split, alignment cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fesgui.data import (
    PairFiles,
    canonical_expression,
    find_named_pairs,
    find_pairs,
    split_ids,
    strip_shot_suffix,
)
from fesgui.errors import FesguiError


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- names
@pytest.mark.parametrize(("stem", "expected"), [
    ("001_03", "001"), ("anna_2", "anna"), ("007", "007"), ("_03", "_03"),
    ("a_b_12", "a_b"), ("x_1_2", "x_1"), ("12", "12"),
])
def test_strip_shot_suffix(stem, expected):
    assert strip_shot_suffix(stem) == expected


@pytest.mark.parametrize("name", ["smiling", "Smile", "HAPPY", "smiling_08", "happiness"])
def test_smile_aliases_are_one_expression(name):
    assert canonical_expression(name) == "happy"


def test_other_expressions_stand_for_themselves():
    assert canonical_expression("Neutral_03") == "neutral"
    assert canonical_expression("Surprise") == "surprise"


# --------------------------------------------------------------------------- find_pairs
def test_london_naming_pairs_directly(tmp_path):
    for i in (1, 2, 3):
        _touch(tmp_path / "neutral" / f"{i:03d}_03.jpg")
        _touch(tmp_path / "neutral" / f"{i:03d}_03.tem")  # sidecar: ignored silently
        _touch(tmp_path / "smiling" / f"{i:03d}_08.jpg")
    pairs, problems = find_pairs(tmp_path)
    assert problems == []
    assert [p.id for p in pairs] == ["001", "002", "003"]
    assert pairs[0] == PairFiles("001", tmp_path / "neutral" / "001_03.jpg",
                                 tmp_path / "smiling" / "001_08.jpg")


def test_reverse_direction_swaps_source_and_target(tmp_path):
    _touch(tmp_path / "neutral" / "7.png")
    _touch(tmp_path / "happy" / "7.png")
    pairs, _ = find_pairs(tmp_path, source="smile", target="neutral")
    assert pairs == [PairFiles("7", tmp_path / "happy" / "7.png", tmp_path / "neutral" / "7.png")]


def test_person_folder_layout(tmp_path):
    _touch(tmp_path / "anna" / "neutral.png")
    _touch(tmp_path / "anna" / "Smiling.JPG")
    _touch(tmp_path / "bob_2" / "neutral_1.jpg")
    _touch(tmp_path / "bob_2" / "happy_5.jpg")
    _touch(tmp_path / "bob_2" / "angry.jpg")  # an image of another expression: reported
    pairs, problems = find_pairs(tmp_path)
    assert [(p.id, p.source.name, p.target.name) for p in pairs] == [
        ("anna", "neutral.png", "Smiling.JPG"), ("bob", "neutral_1.jpg", "happy_5.jpg")]
    assert len(problems) == 1 and "angry.jpg" in problems[0]


def test_mixed_layouts_in_one_folder(tmp_path):
    _touch(tmp_path / "neutral" / "001_03.jpg")
    _touch(tmp_path / "smiling" / "001_08.jpg")
    _touch(tmp_path / "carol" / "neutral.png")
    _touch(tmp_path / "carol" / "happy.png")
    pairs, problems = find_pairs(tmp_path)
    assert [p.id for p in pairs] == ["001", "carol"]
    assert problems == []


def test_unmatched_duplicate_and_stray_images_are_reported(tmp_path):
    _touch(tmp_path / "neutral" / "001_03.jpg")
    _touch(tmp_path / "neutral" / "001_04.jpg")  # second neutral shot of 001
    _touch(tmp_path / "smiling" / "001_08.jpg")
    _touch(tmp_path / "neutral" / "002_03.jpg")  # no smile
    _touch(tmp_path / "smiling" / "003_08.jpg")  # no neutral
    _touch(tmp_path / "stray.jpg")
    _touch(tmp_path / "angry" / "001_02.jpg")
    pairs, problems = find_pairs(tmp_path)
    assert [p.id for p in pairs] == ["001"]
    assert pairs[0].source.name == "001_03.jpg"  # the first in name order is used
    text = "\n".join(problems)
    assert len(problems) == 5, text
    for needle in ("id 001: 2 neutral", "id 002: has a neutral image but no happy",
                   "id 003: has a happy image but no neutral", "stray.jpg", "angry/"):
        assert needle in text
    assert all("\n" not in p for p in problems)


def test_missing_folder_and_same_expression_are_one_line_errors(tmp_path):
    with pytest.raises(FesguiError, match="does not exist"):
        find_pairs(tmp_path / "nope")
    with pytest.raises(FesguiError, match="two different expressions"):
        find_pairs(tmp_path, source="smile", target="happy")


def test_empty_folder_gives_no_pairs(tmp_path):
    assert find_pairs(tmp_path) == ([], [])


def test_named_pairs_match_by_stem(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _touch(a / "x.png")
    _touch(b / "x.jpg")
    _touch(a / "y.png")
    _touch(b / "z.png")
    _touch(b / "notes.txt")
    pairs, problems = find_named_pairs(a, b)
    assert pairs == [PairFiles("x", a / "x.png", b / "x.jpg")]
    assert len(problems) == 2 and "y.png" in problems[0] and "z.png" in problems[1]
    with pytest.raises(FesguiError, match="does not exist"):
        find_named_pairs(a, tmp_path / "missing")


# --------------------------------------------------------------------------- split
def test_split_is_deterministic_disjoint_and_complete():
    ids = [f"{i:03d}" for i in range(102)]
    train, val, test = split_ids(ids, seed=3)
    assert (len(train), len(val), len(test)) == (82, 10, 10)
    assert set(train) | set(val) | set(test) == set(ids)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    shuffled = list(reversed(ids)) + ids[:5]  # order and duplicates do not matter
    assert split_ids(shuffled, seed=3) == (train, val, test)
    assert split_ids(ids, seed=4) != (train, val, test)


def test_split_small_sets_keep_one_of_each():
    train, val, test = split_ids(["a", "b", "c"], seed=0)
    assert (len(train), len(val), len(test)) == (1, 1, 1)
    assert split_ids(["a", "b"], fractions=(1.0, 0.0, 0.0)) == (["a", "b"], [], [])


@pytest.mark.parametrize("fractions", [(0.5, 0.5, 0.5), (-0.1, 0.6, 0.5), (0, 0.5, 0.5)])
def test_split_rejects_bad_fractions(fractions):
    with pytest.raises(FesguiError, match="fractions"):
        split_ids(["a", "b", "c"], fractions=fractions)


def test_split_rejects_too_few_ids():
    with pytest.raises(FesguiError, match="too few"):
        split_ids(["a", "b"])
    assert np.all([isinstance(s, list) for s in split_ids(list("abcdef"))])


# --------------------------------------------------------------------------- alignment
class FakeSource:
    """A landmark source that knows the true key points of the synthetic faces it is
    given (``register``) and counts its calls; unknown images have no face."""

    def __init__(self):
        self.known: dict[bytes, np.ndarray] = {}
        self.calls = 0

    def register(self, image: np.ndarray, points: np.ndarray) -> None:
        self.known[np.ascontiguousarray(image).tobytes()] = points

    def detect(self, image):
        from fesgui.align import FaceLandmarks, box_of

        self.calls += 1
        points = self.known.get(np.ascontiguousarray(image).tobytes())
        if points is None:
            return []
        return [FaceLandmarks(points=points, mesh=None, box=box_of(points, 0.5))]

    def close(self):
        pass


def write_synthetic_set(folder: Path, n: int, source: FakeSource, size: int = 96,
                        layout: str = "expression") -> None:
    """``n`` synthetic people (shifted/rotated/scaled differently in each photo) as PNGs."""
    from fesgui.imageio import write_image
    from fesgui.synthetic import make_face

    rng = np.random.default_rng(7)
    for i in range(n):
        for expression, smile, shot in (("neutral", 0.0, 3), ("smiling", 1.0, 8)):
            img, pts = make_face(size, size, smile=smile, seed=i, scale=rng.uniform(0.8, 1.0),
                                 cx=size / 2 + rng.uniform(-5, 5), cy=size / 2 + rng.uniform(-5, 5),
                                 angle_deg=rng.uniform(-8, 8))
            source.register(img, pts)
            if layout == "expression":
                path = folder / expression / f"{i:03d}_{shot:02d}.png"
            else:
                path = folder / f"p{i:02d}" / f"{expression}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_image(path, img)


def test_load_aligned_aligns_skips_and_caches(tmp_path):
    from fesgui.align import Template
    from fesgui.data import load_aligned
    from fesgui.imageio import write_image

    source = FakeSource()
    write_synthetic_set(tmp_path / "faces", 4, source)
    write_image(tmp_path / "faces" / "neutral" / "009_03.png", np.full((40, 40, 3), 90, np.uint8))
    _touch(tmp_path / "faces" / "smiling" / "009_08.png")  # garbage bytes: unreadable
    write_image(tmp_path / "faces" / "neutral" / "010_03.png", np.zeros((50, 50, 3), np.uint8))
    write_image(tmp_path / "faces" / "smiling" / "010_08.png", np.ones((50, 50, 3), np.uint8))
    pairs, problems = find_pairs(tmp_path / "faces")
    assert problems == [] and len(pairs) == 6
    cache = tmp_path / "cache"
    seen = []
    first = load_aligned(pairs, 64, cache_dir=cache, landmarks=source,
                         progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (6, 6)
    assert first.ids == ["000", "001", "002", "003"]
    assert first.X.shape == first.T.shape == (4, 64, 64, 3) and first.X.dtype == np.uint8
    reasons = dict(first.skipped)
    assert "unreadable" in reasons[str(tmp_path / "faces" / "smiling" / "009_08.png")]
    assert reasons[str(tmp_path / "faces" / "neutral" / "010_03.png")] == "no face found"
    calls = source.calls
    assert calls == 4 * 2 + 3  # 8 faces, 009 neutral (faceless), both faceless 010 photos

    # aligned: the eyes of every crop sit on the template's eyes (within a pixel)
    eyes = Template.load().in_crop(64)[:2]
    for crop in first.X:
        gray = crop.astype(float).mean(axis=2)
        for x, y in eyes:
            patch = gray[round(y) - 2:round(y) + 3, round(x) - 2:round(x) + 3]
            assert patch.min() < 130 and patch.max() > 200  # dark pupil in the eye white

    second = load_aligned(pairs, 64, cache_dir=cache, landmarks=source)
    assert source.calls == calls  # everything came from the cache, "no face" included
    assert second.ids == first.ids and np.array_equal(second.X, first.X)
    assert np.array_equal(second.T, first.T) and second.skipped == first.skipped

    other = load_aligned(pairs, (48, 40), cache_dir=cache, landmarks=source)
    assert source.calls == calls  # a new crop size reuses the cached landmarks
    assert other.X.shape == (4, 48, 40, 3)
    assert not [p for p in cache.rglob("*") if p.name.startswith(".")]  # no partial files


def test_damaged_cache_file_is_recomputed(tmp_path):
    from fesgui.data import load_aligned

    source = FakeSource()
    write_synthetic_set(tmp_path / "faces", 3, source, layout="person")
    pairs, _ = find_pairs(tmp_path / "faces")
    first = load_aligned(pairs, 32, cache_dir=tmp_path / "c", landmarks=source)
    for crop_file in (tmp_path / "c" / "crops").iterdir():
        crop_file.write_bytes(b"broken")
    again = load_aligned(pairs, 32, cache_dir=tmp_path / "c", landmarks=source)
    assert np.array_equal(again.X, first.X)
    no_cache = load_aligned(pairs, 32, landmarks=source, use_cache=False)
    assert np.array_equal(no_cache.T, first.T)


def test_default_cache_dir_follows_environment(tmp_path, monkeypatch):
    from fesgui.data import default_cache_dir

    monkeypatch.setenv("FESGUI_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "aligned"
    monkeypatch.delenv("FESGUI_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "fesgui" / "aligned"


def test_bad_crop_size_is_one_line_error(tmp_path):
    from fesgui.data import load_aligned

    with pytest.raises(FesguiError, match="crop size"):
        load_aligned([], 4, cache_dir=tmp_path)


def test_load_named_reads_as_is_and_rejects_mixed_sizes(tmp_path):
    from fesgui.data import load_named
    from fesgui.imageio import write_image

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    img = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    write_image(a / "x.png", img)
    write_image(b / "x.png", img[::-1])
    pairs, _ = find_named_pairs(a, b)
    got = load_named(pairs)
    assert got.ids == ["x"] and np.array_equal(got.X[0], img) and np.array_equal(got.T[0], img[::-1])
    write_image(a / "y.png", np.zeros((8, 8, 3), np.uint8))
    write_image(b / "y.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FesguiError, match="one size"):
        load_named(find_named_pairs(a, b)[0])
