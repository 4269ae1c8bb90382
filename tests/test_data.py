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
