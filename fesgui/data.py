"""Training data: image pairs from folders, aligned crops with a disk cache, identity split.

Three steps turn a folder of photos into training arrays:

1. :func:`find_pairs` finds the (source, target) photo of every person in a folder;
2. :func:`load_aligned` aligns every photo to the reference face (:mod:`fesgui.align`)
   at one crop size and caches the crops on disk, so the second run is fast;
3. :func:`split_ids` splits the people (never single photos) into train/val/test.

Folder layouts understood by :func:`find_pairs` (both may be mixed in one folder)::

    DIR/<expression>/<id>.<ext>      e.g. DIR/neutral/001_03.jpg, DIR/smiling/001_08.jpg
    DIR/<id>/<expression>.<ext>      e.g. DIR/anna/neutral.png,  DIR/anna/happy.png

**Id rule.** The id of a photo is its file stem (or, in the second layout, its folder name)
with one trailing ``_<digits>`` pose/shot suffix removed, if anything is left before it:
``001_03`` -> ``001``, ``anna_2`` -> ``anna``, ``007`` -> ``007``, ``_03`` -> ``_03``.
The same rule applies to expression file names (``smiling_08.jpg`` is "smiling").
So the London set's ``neutral/NNN_03.jpg`` and ``smiling/NNN_08.jpg`` pair up directly.

**Expression names** are compared case-insensitively after aliasing: "smiling", "smile",
"smiles", "happy" and "happiness" are all the expression ``happy``; "neutral" and
"neu" are ``neutral``. Any other name stands for itself ("surprise", "angry", ...).

Non-image files (e.g. the London set's ``.tem`` landmark files) and hidden files are
ignored without comment; every image that cannot be used is reported as a problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fesgui.atomic import write_bytes_atomic
from fesgui.errors import FesguiError
from fesgui.imageio import IMAGE_EXTENSIONS, read_image, write_image

_ALIASES = {
    "smiling": "happy",
    "smile": "happy",
    "smiles": "happy",
    "smiley": "happy",
    "happiness": "happy",
    "happy": "happy",
    "neutral": "neutral",
    "neu": "neutral",
}

_SHOT_SUFFIX = re.compile(r"^(.+?)_\d+$")

#: version of the cache layout; bump it when the cached content changes meaning
_CACHE_VERSION = 2  # 2: FaceMesh points in the landmark record


@dataclass(frozen=True)
class PairFiles:
    """The two photos of one person: ``source`` expression and ``target`` expression."""

    id: str
    source: Path
    target: Path


@dataclass
class AlignedSet:
    """Aligned training pairs.

    ``X`` and ``T`` are ``(N, H, W, 3)`` uint8 RGB crops (source and target expression of
    the people in ``ids``, in that order; :func:`load_aligned` crops both photos of a
    person in one frame); ``skipped`` lists ``(file, reason)`` for every
    photo that could not be used (its pair is left out too).
    """

    ids: list[str]
    X: np.ndarray
    T: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: (N, 468, 2) float32 FaceMesh points of the source / target face in the crop (x, y),
    #: or None when the landmark source gives no mesh
    mesh_X: np.ndarray | None = None
    mesh_T: np.ndarray | None = None
    #: how the crops were aligned (:data:`fesgui.align.ALIGNMENTS`); None: not aligned here
    alignment: str | None = None


# --------------------------------------------------------------------------- names
def canonical_expression(name: str) -> str:
    """The expression a folder or file name stands for: ``"Smiling_08"`` -> ``"happy"``."""
    base = strip_shot_suffix(name.strip()).lower()
    return _ALIASES.get(base, base)


def strip_shot_suffix(stem: str) -> str:
    """Remove one trailing ``_<digits>`` pose/shot suffix: ``"001_03"`` -> ``"001"``."""
    match = _SHOT_SUFFIX.match(stem)
    return match.group(1) if match else stem


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def _visible(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise FesguiError(f"cannot list {folder}: {exc.strerror or exc}; check its "
                          "permissions") from None


# --------------------------------------------------------------------------- pairs
def find_pairs(folder: str | os.PathLike, source: str = "neutral", target: str = "happy"
               ) -> tuple[list[PairFiles], list[str]]:
    """Pair the ``source`` and ``target`` photo of every person in ``folder``.

    Returns ``(pairs sorted by id, problems)``; each problem is one human-readable line
    (an id with only one of the two expressions, an id with several photos of one
    expression, an image that fits neither layout). See the module docstring for the
    layouts, the id rule and the expression aliases.

    Raises :class:`FesguiError` if ``folder`` is not a folder or ``source == target``.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FesguiError(f"training folder {folder} does not exist: check the path")
    src, tgt = canonical_expression(source), canonical_expression(target)
    if src == tgt:
        raise FesguiError(f"source and target are both {src!r}: choose two different expressions")

    found: dict[str, dict[str, list[Path]]] = {src: {}, tgt: {}}
    problems: list[str] = []

    def add(expression: str, ident: str, path: Path) -> None:
        found[expression].setdefault(ident, []).append(path)

    for entry in _visible(folder):
        if entry.is_file():
            if entry.suffix.lower() in IMAGE_EXTENSIONS:
                problems.append(f"{entry.name}: image at the top level ignored; put it in "
                                f"{folder.name}/{src}/ or {folder.name}/{tgt}/")
            continue
        if not entry.is_dir():
            continue
        images = [p for p in _visible(entry) if _is_image(p)]
        expression = canonical_expression(entry.name)
        if expression in found:  # DIR/<expression>/<id>.<ext>
            for path in images:
                add(expression, strip_shot_suffix(path.stem), path)
            continue
        # DIR/<id>/<expression>.<ext>, or a folder of some other expression
        per_person = [(canonical_expression(p.stem), p) for p in images]
        if any(e in found for e, _ in per_person):
            ident = strip_shot_suffix(entry.name)
            for expression_of_file, path in per_person:
                if expression_of_file in found:
                    add(expression_of_file, ident, path)
                else:
                    problems.append(f"{entry.name}/{path.name}: not a {src} or {tgt} "
                                    f"image (name it {src}{path.suffix} or {tgt}{path.suffix})")
        elif images:
            problems.append(f"{entry.name}/: {len(images)} image(s) ignored: the folder is "
                            f"neither a {src}/{tgt} folder nor a person with {src} and {tgt} "
                            "images")

    pairs: list[PairFiles] = []
    for ident in sorted(set(found[src]) | set(found[tgt])):
        sides = []
        for expression in (src, tgt):
            paths = sorted(found[expression].get(ident, []))
            if len(paths) > 1:
                names = ", ".join(_rel(p, folder) for p in paths)
                problems.append(f"id {ident}: {len(paths)} {expression} images ({names}); "
                                f"using {_rel(paths[0], folder)}")
            sides.append(paths[0] if paths else None)
        if sides[0] is None or sides[1] is None:
            have, lack = (tgt, src) if sides[0] is None else (src, tgt)
            problems.append(f"id {ident}: has a {have} image but no {lack} image; skipped")
            continue
        pairs.append(PairFiles(ident, sides[0], sides[1]))
    return pairs, problems


def find_named_pairs(inputs: str | os.PathLike, targets: str | os.PathLike
                     ) -> tuple[list[PairFiles], list[str]]:
    """Pair already-aligned images of two folders by file stem (``a/x.png`` <-> ``b/x.jpg``).

    Returns ``(pairs sorted by id, problems)``; the id is the common stem. Raises
    :class:`FesguiError` if a folder does not exist.
    """
    sides = []
    for folder in (Path(inputs).expanduser(), Path(targets).expanduser()):
        if not folder.is_dir():
            raise FesguiError(f"folder {folder} does not exist: check the path")
        by_stem: dict[str, list[Path]] = {}
        for path in _visible(folder):
            if _is_image(path):
                by_stem.setdefault(path.stem, []).append(path)
        sides.append((folder, by_stem))
    (in_dir, ins), (tg_dir, tgs) = sides
    problems: list[str] = []
    pairs = []
    for stem in sorted(set(ins) | set(tgs)):
        for folder, side in sides:
            if len(side.get(stem, [])) > 1:
                problems.append(f"{folder.name}/{stem}.*: {len(side[stem])} files with one "
                                f"name; using {side[stem][0].name}")
        if stem not in tgs:
            problems.append(f"{in_dir.name}/{ins[stem][0].name}: no image named {stem} in "
                            f"{tg_dir}; skipped")
        elif stem not in ins:
            problems.append(f"{tg_dir.name}/{tgs[stem][0].name}: no image named {stem} in "
                            f"{in_dir}; skipped")
        else:
            pairs.append(PairFiles(stem, ins[stem][0], tgs[stem][0]))
    return pairs, problems


def _rel(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- split
def split_ids(ids: Sequence[str], seed: int = 0,
              fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
              ) -> tuple[list[str], list[str], list[str]]:
    """Split identities into ``(train, val, test)`` lists, each sorted.

    Deterministic: the result depends only on the *set* of ids and ``seed`` (not on
    their order). Sizes: ``round(n * fractions[2])`` test and ``round(n * fractions[1])``
    validation ids, but at least one each when the fraction is positive; the rest train
    (at least one, else :class:`FesguiError`). Duplicate ids are one identity.
    """
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or np.any(fr < 0) or not np.isclose(fr.sum(), 1.0) or fr[0] <= 0:
        raise FesguiError(f"split fractions {tuple(fractions)} must be three non-negative "
                          "numbers summing to 1 with a positive train part, e.g. (0.8, 0.1, 0.1)")
    unique = sorted(set(ids))
    n = len(unique)
    n_test, n_val = (max(int(round(n * f)), 1) if f > 0 else 0 for f in (fr[2], fr[1]))
    if n - n_test - n_val < 1:
        raise FesguiError(f"only {n} identities: too few to split into train/val/test; "
                          f"add more pairs (at least {n_test + n_val + 1})")
    order = np.random.default_rng(seed).permutation(n)
    shuffled = [unique[i] for i in order]
    test = sorted(shuffled[:n_test])
    val = sorted(shuffled[n_test:n_test + n_val])
    train = sorted(shuffled[n_test + n_val:])
    return train, val, test


# --------------------------------------------------------------------------- alignment
def default_cache_dir() -> Path:
    """``$FESGUI_CACHE/aligned`` if set, else ``~/.cache/fesgui/aligned``."""
    root = os.environ.get("FESGUI_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "fesgui"
    return base / "aligned"


def _size_hw(size: int | Sequence[int]) -> tuple[int, int]:
    hw = (size, size) if np.isscalar(size) else tuple(size)
    if len(hw) != 2 or any(int(v) != v or int(v) < 8 for v in hw):
        raise FesguiError(f"crop size {size!r} is not valid: use one integer >= 8 "
                          "(e.g. 128) or (height, width)")
    return int(hw[0]), int(hw[1])


def _template_key(template, hw: tuple[int, int], alignment: str = "eyes-mouth") -> str:
    """A fingerprint of what the template does at this crop size.

    The similarity transform a template computes for a fixed reference set of landmarks
    determines the transform for every set, so hashing it identifies the template without
    relying on how the template stores its data.
    """
    from fesgui.align import FaceLandmarks

    rng = np.random.default_rng(12345)
    points = (np.array([[40, 50], [80, 50], [60, 75], [45, 95], [75, 95]], np.float32)
              + rng.uniform(-3, 3, (5, 2)).astype(np.float32))
    probe = FaceLandmarks(points=points, mesh=None, box=(20.0, 20.0, 100.0, 120.0))
    matrix = np.asarray(template.matrix(probe, hw, alignment), dtype=np.float64)
    return hashlib.sha256(np.round(matrix, 6).tobytes()).hexdigest()[:16]


def _points_ok(value: object, n: int | None = None) -> bool:
    """``value`` is a list of ``[x, y]`` finite numbers (``n`` of them, if given)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return (isinstance(value, list) and array.ndim == 2 and array.shape[1] == 2
            and (n is None or array.shape[0] == n) and bool(np.isfinite(array).all()))


def landmark_record_ok(record: object) -> bool:
    """A landmark cache record as :func:`load_aligned` writes it: a JSON object of this
    cache version holding either ``no_face: true`` or five finite ``points`` [x, y], a
    finite 4-number ``box`` and optionally ``manual`` (bool) and ``mesh`` ([x, y] list).
    Valid JSON of any other shape is a damaged record (recomputed, never a traceback)."""
    if not isinstance(record, dict) or record.get("version") != _CACHE_VERSION:
        return False
    if "points" not in record:
        return record.get("no_face") is True
    box = record.get("box")
    box_ok = (isinstance(box, list) and len(box) == 4
              and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      and np.isfinite(v) for v in box))
    mesh = record.get("mesh")
    return (_points_ok(record["points"], 5) and box_ok
            and isinstance(record.get("manual", False), bool)
            and (mesh is None or _points_ok(mesh)))


class _AlignCache:
    """Landmarks per file content (size independent) and crops per content+template+size."""

    def __init__(self, root: Path | None, source_name: str, template_key: str,
                 hw: tuple[int, int]):
        self.root = root
        self.source_name = source_name
        self.suffix = f"{source_name}_{template_key}_{hw[0]}x{hw[1]}"
        if root is not None:
            try:
                (root / "landmarks").mkdir(parents=True, exist_ok=True)
                (root / "crops").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FesguiError(f"cannot create the cache folder {root} ({exc.strerror}): "
                                  "set FESGUI_CACHE to a writable folder") from None

    def _landmark_path(self, digest: str) -> Path:
        return self.root / "landmarks" / f"{digest}_{self.source_name}.json"

    def _crop_path(self, digest: str) -> Path:
        return self.root / "crops" / f"{digest}_{self.suffix}.png"

    def crop(self, digest: str) -> np.ndarray | None:
        if self.root is None or not self._crop_path(digest).exists():
            return None
        try:
            return read_image(self._crop_path(digest))
        except FesguiError:
            return None  # a damaged cache file is recomputed

    def put_crop(self, digest: str, crop: np.ndarray) -> None:
        if self.root is not None:
            write_image(self._crop_path(digest), crop)

    def landmarks(self, digest: str) -> dict | None:
        if self.root is None or not self._landmark_path(digest).exists():
            return None
        try:
            record = json.loads(self._landmark_path(digest).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if landmark_record_ok(record) else None  # else recomputed

    def put_landmarks(self, digest: str, record: dict) -> None:
        if self.root is not None:
            record = {"version": _CACHE_VERSION, **record}
            write_bytes_atomic(self._landmark_path(digest),
                               json.dumps(record, sort_keys=True).encode("utf-8"))


@dataclass
class FoundFace:
    """The largest face of a photo: its content hash, landmarks, and the image when it had
    to be read (None when the landmarks came from the cache)."""

    digest: str
    face: object            # fesgui.align.FaceLandmarks
    image: np.ndarray | None
    path: Path


class FaceFinder:
    """Landmarks of photos through the landmark cache (see :func:`load_aligned`).

    ``find(path)`` returns a :class:`FoundFace` or the reason there is none (a line of
    text). The landmark source (default MediaPipe FaceMesh in photo mode) is started only
    when a photo is not cached; ``close()`` stops it if this finder started it.
    """

    def __init__(self, cache: _AlignCache, landmarks=None) -> None:
        self.cache = cache
        self.landmarks = landmarks
        self._own = None

    def _detect(self, image: np.ndarray):
        if self.landmarks is None:
            from fesgui.align.mediapipe_source import MediaPipeSource

            self._own = self.landmarks = MediaPipeSource(video=False, max_faces=1)
        return self.landmarks.detect(image)

    def find(self, path: Path) -> FoundFace | str:
        from fesgui.align import FaceLandmarks

        try:
            data = path.read_bytes()
        except OSError as exc:
            return f"cannot read the file ({exc.strerror})"
        digest = hashlib.sha256(data).hexdigest()
        record = self.cache.landmarks(digest)
        image = None
        if record is None:
            try:
                image = read_image(path)
            except FesguiError as exc:
                return f"unreadable image ({exc})"
            faces = self._detect(image)
            if faces:
                face = faces[0]
                record = {"points": np.asarray(face.points, np.float64).round(4).tolist(),
                          "box": [round(float(v), 4) for v in face.box],
                          "manual": bool(getattr(face, "manual", False))}
                if getattr(face, "mesh", None) is not None:
                    record["mesh"] = np.asarray(face.mesh, np.float64).round(3).tolist()
            else:
                record = {"no_face": True}
            self.cache.put_landmarks(digest, record)
        if "points" not in record:
            return "no face found"
        mesh = record.get("mesh")
        face = FaceLandmarks(points=np.asarray(record["points"], np.float32),
                             mesh=None if mesh is None else np.asarray(mesh, np.float32),
                             box=tuple(record["box"]), manual=bool(record.get("manual")))
        return FoundFace(digest, face, image, path)

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = self.landmarks = None


def load_aligned(pairs: Sequence[PairFiles], size: int | Sequence[int],
                 cache_dir: str | os.PathLike | None = None, landmarks=None,
                 progress: Callable[[int, int], None] | None = None,
                 template=None, use_cache: bool = True,
                 alignment: str = "eyes-mouth") -> AlignedSet:
    """Align both photos of every pair at crop ``size``, the target registered to the source.

    ``size`` is an int (square) or ``(H, W)``. ``landmarks`` is a
    :class:`fesgui.align.LandmarkSource` (default: MediaPipe FaceMesh, started only if some
    photo is not cached yet and closed afterwards); the largest face of a photo is used.
    ``template`` defaults to the shipped reference face.

    ``alignment`` (:data:`fesgui.align.ALIGNMENTS`): with ``"eyes-mouth"`` (the default) the
    *source* photo is aligned on its eyes and mouth centre and the *target* photo is first
    registered to the source photo on the eyes and nose tip (which an expression does not
    move), then cropped with the source's transform: both crops share one frame, so their
    difference is the expression alone (the mouth's motion included). ``"eyes-nose"``
    aligns each photo on its own eyes and nose tip (format-1 models).
    ``progress(done, total)`` is called after each pair.

    Cache (``cache_dir``, default :func:`default_cache_dir`; ``use_cache=False`` turns it
    off): the landmarks of each photo (key points, box and, when the source gives them, all
    FaceMesh points) are stored under the SHA-256 of its file content and the landmark
    source's class name (so every crop size reuses them, and "no face found" is remembered
    too), and each crop under content hash (+ the source photo's, for a registered target)
    + source + template fingerprint + size, as lossless PNG. All cache files are written
    atomically; a damaged cache file is recomputed.

    Returns an :class:`AlignedSet`; pairs with an unreadable or faceless photo are left
    out and reported in ``skipped``. ``mesh_X``/``mesh_T`` hold the FaceMesh points of both
    faces in the (shared) crop when every kept photo has them.
    """
    from fesgui.align import ALIGNMENTS, Template, compose, register_pair, warp_to_crop
    from fesgui.align.template import apply_matrix

    if alignment not in ALIGNMENTS:
        raise FesguiError(f"alignment {alignment!r} is unknown: use one of {', '.join(ALIGNMENTS)}")
    hw = _size_hw(size)
    template = Template.load() if template is None else template
    root = None
    if use_cache:
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    source_name = "MediaPipeSource" if landmarks is None else type(landmarks).__name__
    cache = _AlignCache(root, source_name, _template_key(template, hw, alignment), hw)

    finder = FaceFinder(cache, landmarks)

    def crop_of(found: FoundFace, matrix: np.ndarray, key: str) -> np.ndarray | str:
        image, path = found.image, found.path
        crop = cache.crop(key)
        if crop is not None and crop.shape[:2] == hw:
            return crop
        if image is None:
            try:
                image = read_image(path)
            except FesguiError as exc:
                return f"unreadable image ({exc})"
        crop = np.ascontiguousarray(warp_to_crop(image, matrix, hw), dtype=np.uint8)
        cache.put_crop(key, crop)
        return crop

    ids: list[str] = []
    xs: list[np.ndarray] = []
    ts: list[np.ndarray] = []
    meshes: list[tuple[np.ndarray | None, np.ndarray | None]] = []
    skipped: list[tuple[str, str]] = []
    try:
        for k, pair in enumerate(pairs):
            src, tgt = finder.find(Path(pair.source)), finder.find(Path(pair.target))
            x = t = None
            if not isinstance(src, str) and not isinstance(tgt, str):
                m_src = template.matrix(src.face, hw, alignment)
                if alignment == "eyes-mouth":
                    m_tgt = compose(m_src, register_pair(src.face.points, tgt.face.points))
                    tgt_key = f"{tgt.digest}_on{src.digest[:16]}"
                else:
                    m_tgt = template.matrix(tgt.face, hw, alignment)
                    tgt_key = tgt.digest
                x, t = crop_of(src, m_src, src.digest), crop_of(tgt, m_tgt, tgt_key)
            bad = [(str(p), r) for p, r in ((pair.source, src), (pair.target, tgt),
                                            (pair.source, x), (pair.target, t))
                   if isinstance(r, str)]
            if bad:
                skipped.extend(bad)
            else:
                ids.append(pair.id)
                xs.append(x)
                ts.append(t)
                meshes.append(tuple(
                    None if f.face.mesh is None else apply_matrix(m, f.face.mesh).astype(np.float32)
                    for f, m in ((src, m_src), (tgt, m_tgt))))
            if progress is not None:
                progress(k + 1, len(pairs))
    finally:
        finder.close()
    empty = np.zeros((0, *hw, 3), np.uint8)
    X = np.stack(xs) if xs else empty
    T = np.stack(ts) if ts else empty.copy()
    mesh_X = mesh_T = None
    if meshes and all(a is not None and b is not None for a, b in meshes):
        mesh_X = np.stack([a for a, _ in meshes])
        mesh_T = np.stack([b for _, b in meshes])
    return AlignedSet(ids, X, T, skipped, mesh_X, mesh_T, alignment)


def load_named(pairs: Sequence[PairFiles]) -> AlignedSet:
    """Read already-aligned pairs as they are (no alignment, no cache).

    All images must have one size; an unreadable image is reported in ``skipped``.
    Raises :class:`FesguiError` if the sizes differ.
    """
    ids, xs, ts, skipped = [], [], [], []
    shape = None
    for pair in pairs:
        images = []
        for path in (pair.source, pair.target):
            try:
                img = read_image(path)
            except FesguiError as exc:
                skipped.append((str(path), f"unreadable image ({exc})"))
                break
            if shape is None:
                shape = img.shape
            if img.shape != shape:
                raise FesguiError(f"{path} is {img.shape[1]}x{img.shape[0]} but the first image "
                                  f"is {shape[1]}x{shape[0]}: give aligned images of one size")
            images.append(img)
        if len(images) == 2:
            ids.append(pair.id)
            xs.append(images[0])
            ts.append(images[1])
    if not xs:
        empty = np.zeros((0, 1, 1, 3), np.uint8)
        return AlignedSet([], empty, empty.copy(), skipped)
    return AlignedSet(ids, np.stack(xs), np.stack(ts), skipped)
