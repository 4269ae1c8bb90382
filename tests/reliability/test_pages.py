"""Multi-page TIFF and animated GIF: the first page is used, and that is said (issue 14,
item 11). Before, the other pages were dropped without a word."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fesgui.cli import main
from fesgui.errors import FesguiWarning
from fesgui.imageio import read_image, read_thumbnail


def _pages(face: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(face), Image.fromarray(face[::-1].copy()),
            Image.fromarray(255 - face)]


@pytest.mark.parametrize("ext", [".tif", ".gif"])
def test_read_image_uses_the_first_page_and_says_so(ext, tmp_path, face):
    first, *rest = _pages(face[0])
    path = tmp_path / f"p{ext}"
    first.save(path, save_all=True, append_images=rest)
    with pytest.warns(FesguiWarning, match=rf"p\{ext} has 3 pages or animation frames: only "
                      "the first is used"):
        image = read_image(path)
    single = tmp_path / f"one{ext}"
    first.save(single)
    assert np.array_equal(image, read_image(single))  # no warning for one page
    read_thumbnail(path)  # a preview says nothing (pytest turns a FesguiWarning into an error)


def test_synth_and_batch_print_the_warning(tmp_path, face, model_path, finder, capsys):
    first, *rest = _pages(face[0])
    src = tmp_path / "in"
    src.mkdir()
    first.save(src / "p.tif", save_all=True, append_images=rest)
    assert main(["synth", str(src / "p.tif"), "-m", str(model_path), "-o",
                 str(tmp_path / "o.png")]) == 0
    err = capsys.readouterr().err
    assert "warning: p.tif has 3 pages or animation frames: only the first is used" in err
    assert main(["batch", str(src), str(tmp_path / "out"), "-m", str(model_path)]) == 0
    assert "warning: p.tif has 3 pages" in capsys.readouterr().err
