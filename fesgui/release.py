"""The release build of ``fesgui/models/``: every shipped model fitted from the London set
by the training protocol (:func:`fesgui.training.train`), saved compact, scored as a user
sees it, then the model card and its figures (:mod:`fesgui.modelcard`).

``fesgui train --release DIR`` calls :func:`build_release`; ``tests/test_release_models.py``
rebuilds the files and compares them byte for byte. Everything here is deterministic: the
same data give byte-identical files in any number of processes.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fesgui.errors import FesguiError
from fesgui.evaluation.baselines import ridge_baseline
from fesgui.evaluation.metrics import to_float
from fesgui.names import file_tag
from fesgui.training import Log, TrainingData, split_data, train, warp_batch


def _quiet(_: str) -> None:
    pass


DATASET_NAME = "Face Research Lab London Set (neutral and smiling, front view)"
DATASET_ATTRIBUTION = ("DeBruine, L., & Jones, B. (2017). Face Research Lab London Set "
                       "(Version 5). figshare. https://doi.org/10.6084/m9.figshare.5047666.v5")
DATASET_LICENSE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
RELEASE_SEED = 0
#: Pixel-KR hyper-parameters are scored on a 32 x 32 sub-grid of pixels (every 4th row and
#: column at 128 px, every 8th at 256 px; exact, see :func:`select_hyperparameters`); its
#: sigma grid spans the paper's range around 1
RELEASE_KR_GRID_PIXELS = 32
RELEASE_KR_SIGMAS = (0.3, 1.0, 3.0)
DIRECTIONS = (("neutral", "happy"), ("happy", "neutral"))


@dataclass(frozen=True)
class ReleaseSpec:
    """One shipped model: mapping, method, window size, crop size and colour mode."""

    source: str
    target: str
    method: str
    crop: int
    size: int = 1
    color: str = "shared"

    @property
    def tag(self) -> str:
        return file_tag(self.method, self.size)

    @property
    def filename(self) -> str:
        """``neutral2happy_mr3_128.npz``."""
        return f"{self.source}2{self.target}_{self.tag}_{self.crop}.npz"


def release_specs() -> list[ReleaseSpec]:
    """Every shipped model, in build order.

    Both mappings; CMR (MR with shared colour) 3x3 and 5x5, Pixel-RR (shared colour) and
    Pixel-KR (per-channel: its fit costs N^3 per pixel and weight set, so shared colour,
    which stacks the 3 channels' samples, would cost 9 times more; gray-replicated tables,
    fitted on luminance, turn lips and teeth gray because a kernel model has no output far
    from its training levels) at 128 and 256 px.
    """
    specs = []
    for source, target in DIRECTIONS:
        for crop in (128, 256):
            specs += [ReleaseSpec(source, target, "mr", crop, 3),
                      ReleaseSpec(source, target, "mr", crop, 5),
                      ReleaseSpec(source, target, "pixel-rr", crop),
                      ReleaseSpec(source, target, "pixel-kr", crop, color="per-channel")]
    return specs


def compact_difference(model, X: np.ndarray) -> dict:
    """How much ``save(compact=True)`` changes the outputs of ``model`` on ``X``.

    Saves a compact copy to a temporary folder, loads it and compares predictions.
    Returns the largest absolute difference over all pixels in 8-bit levels
    (``max_abs_255``) and the RMS difference (``rms_255``), both after clipping to [0, 1].
    """
    from fesgui.core import load_model

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compact.npz"
        model.save(path, compact=True)
        compact = load_model(path)
    a = np.clip(model.predict(X), 0, 1).astype(np.float64) * 255.0
    b = np.clip(compact.predict(X), 0, 1).astype(np.float64) * 255.0
    d = np.abs(a - b)
    return {"max_abs_255": round(float(d.max()), 4),
            "rms_255": round(float(np.sqrt((d**2).mean())), 5)}


def _build_group(dataset: TrainingData, specs: list[ReleaseSpec], out_dir: Path,
                 cases: list | None = None, log: Log | None = None
                 ) -> tuple[list[Path], list[str]]:
    """Fit and save the release models of one mapping and crop size (one process).

    ``dataset``: the aligned pairs of the mapping (inputs, targets, meshes). ``cases``: the
    test people's photos (:func:`fesgui.evaluation.expression.load_cases`): each saved
    model is also run through the pipeline on them and scored as a user sees it
    (``metrics["expression"]``). Returns the written files and the log lines (also sent to
    ``log`` as they happen, if given).
    """
    lines: list[str] = []

    def say(message: str) -> None:
        lines.append(message)
        if log is not None:
            log(message)

    started = time.perf_counter()
    source, target, crop = specs[0].source, specs[0].target, specs[0].crop
    (_, Xtr, Ttr), (_, Xva, Tva), (_, Xte, Tte) = split_data(dataset, RELEASE_SEED)
    Xte = to_float(Xte)
    ridge = ridge_baseline(to_float(Xtr), to_float(Ttr), to_float(Xva), to_float(Tva), Xte,
                           to_float(Tte))
    scorer = smile = None
    if cases:
        from fesgui.align.mediapipe_source import MediaPipeSource
        from fesgui.evaluation.expression import Scorer

        smile = MediaPipeSource(video=False, max_faces=1)
        scorer = Scorer(cases, smile)
    written = []
    for spec in specs:
        say(f"{spec.filename}:")
        model = train(dataset, method=spec.method, size=spec.size, color=spec.color,
                      seed=RELEASE_SEED, source=source, target=target, ridge=ridge,
                      pixel_stride=max(1, crop // RELEASE_KR_GRID_PIXELS),
                      sigmas=RELEASE_KR_SIGMAS, log=lambda m: say("  " + m))
        metrics = dict(model.meta["metrics"])
        metrics["compact"] = compact_difference(model, warp_batch(Xte, model.shape_field_))
        model.set_provenance(metrics=metrics)
        path = model.save(out_dir / spec.filename, compact=True)
        say(f"  compact storage changes outputs by at most "
            f"{metrics['compact']['max_abs_255']:g}/255 "
            f"({time.perf_counter() - started:.0f} s into {source} -> {target}, {crop} px)")
        if scorer is not None:
            from fesgui.core import load_model
            from fesgui.evaluation.expression import run_pipeline

            shipped = load_model(path)   # what ships: the compact file
            result = scorer.score(spec.filename, run_pipeline(shipped, scorer.cases))
            metrics["expression"] = result.as_dict()
            model.set_provenance(metrics=metrics)
            path = model.save(path, compact=True)
            say(f"  as a user sees it: {describe_expression(result.as_dict())}")
        written.append(path)
    if smile is not None:
        smile.close()
    return written, lines


def describe_expression(e: dict) -> str:
    """One line of :class:`fesgui.evaluation.expression.ExpressionScores` numbers."""
    smile = "-" if e.get("smile") is None else f"{e['smile']:.2f}"
    return (f"smile {smile} of the real change, mouth colour kept {e['chroma']:.3f}, "
            f"detail kept {e['sharpness']:.3f}, MSE x10^2 {100 * e['mse']:.4f}, "
            f"SSIM {e['ssim']:.4f} ({e['n']} people)")


def build_release(dataset_dir: str | Path, out_dir: str | Path, only: str | None = None,
                  cache_dir: str | Path | None = None, use_cache: bool = True,
                  landmarks=None, jobs: int = 2, score: bool = True,
                  log: Log = _quiet) -> list[Path]:
    """Rebuild the shipped models from the London set into ``out_dir``, deterministically.

    ``only``: rebuild just the models whose file name contains this text (the model card
    and figures are then left alone). ``landmarks``: a landmark source (default
    MediaPipe). ``score``: also score every model through the pipeline on the test
    people's photos (``metrics["expression"]``; needs MediaPipe for the smile measure). ``jobs``: processes fitting (mapping, crop) groups side by side (the fits
    are single-threaded numpy; every model is computed the same way in any process, so the
    files do not depend on ``jobs``). Returns the written model files. Raises
    :class:`FesguiError` (one line) when the dataset folder is missing or holds no pairs.
    """
    from fesgui import data as fdata

    dataset_dir = Path(dataset_dir).expanduser()
    out_dir = Path(out_dir).expanduser()
    if not dataset_dir.is_dir():
        raise FesguiError(f"dataset folder {dataset_dir} does not exist: give the London set "
                          "folder (with neutral/ and smiling/)")
    if not out_dir.is_dir():
        raise FesguiError(f"output folder {out_dir} does not exist: create it first")
    specs = [s for s in release_specs() if only is None or only in s.filename]
    if not specs:
        raise FesguiError(f"--only {only!r} matches no shipped model: try e.g. mr3 or 128")
    pairs, problems = fdata.find_pairs(dataset_dir, "neutral", "happy")
    for problem in problems:
        log(f"warning: {problem}")
    if not pairs:
        raise FesguiError(f"no neutral/smiling pairs found in {dataset_dir}: expected "
                          "neutral/NNN_03.jpg and smiling/NNN_08.jpg")
    started = time.perf_counter()
    groups = []  # (dataset, specs), largest crop first so parallel jobs finish together
    for crop in sorted({s.crop for s in specs}, reverse=True):
        aligned = fdata.load_aligned(pairs, crop, cache_dir=cache_dir, use_cache=use_cache,
                                     landmarks=landmarks)
        data = TrainingData.from_aligned(
            aligned, name=DATASET_NAME, attribution=DATASET_ATTRIBUTION,
            license=DATASET_LICENSE,
            extra={"alignment": "fesgui.align reference template, MediaPipe FaceMesh: the "
                   "source photo on its eye centres + mouth centre, the target photo "
                   "registered to it on the eye centres + nose tip"})
        for path, reason in aligned.skipped:
            log(f"skipped {path}: {reason}")
        log(f"{len(aligned.ids)} pairs aligned at {crop} px "
            f"({time.perf_counter() - started:.0f} s)")
        for source, target in DIRECTIONS:
            todo = [s for s in specs if s.crop == crop and (s.source, s.target) == (source, target)]
            if todo:
                dataset = data if source == "neutral" else data.swapped()
                groups.append((dataset, todo))
    written: list[Path] = []
    from fesgui.evaluation.expression import load_cases

    test_ids = split_data(groups[0][0], RELEASE_SEED)[2][0] if groups else []
    cases = {}
    if score:
        log(f"loading the photos of the {len(test_ids)} test people")
        forward = load_cases(pairs, test_ids, cache_dir=cache_dir, landmarks=landmarks)
        reverse = load_cases([fdata.PairFiles(p.id, p.target, p.source) for p in pairs],
                             test_ids, cache_dir=cache_dir, landmarks=landmarks)
        cases = {("neutral", "happy"): forward, ("happy", "neutral"): reverse}
    groups = [(d, todo, cases.get((todo[0].source, todo[0].target))) for d, todo in groups]
    if jobs <= 1 or len(groups) == 1:
        for dataset, todo, group_cases in groups:
            written += _build_group(dataset, todo, out_dir, group_cases, log)[0]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        log(f"fitting {len(groups)} groups of models in {jobs} processes")
        context = multiprocessing.get_context("spawn")  # no fork of MediaPipe's threads
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(_build_group, dataset, todo, out_dir, group_cases)
                       for dataset, todo, group_cases in groups]
            for future in futures:
                paths, lines = future.result()
                written += paths
                for line in lines:
                    log(line)
        log(f"models written ({time.perf_counter() - started:.0f} s)")
    written.sort(key=lambda p: [s.filename for s in specs].index(p.name))
    if only is None:
        from fesgui import modelcard

        modelcard.render_figures(out_dir, landmarks=landmarks, log=log)
        modelcard.write_card(out_dir)
        log(f"wrote {out_dir / 'README.md'} ({time.perf_counter() - started:.0f} s in all)")
    return written
