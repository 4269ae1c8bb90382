"""The model card ``models/README.md``, generated from the metadata inside the model files.

Nothing in the card is typed by hand: :func:`generate_card` reads every model of a folder
(:func:`fesgui.catalog.list_models`) and writes what their ``meta`` says (data,
attribution, split, hyper-parameters, test metrics beside the baselines, the effect of
compact storage), plus parameter counts and file sizes. :func:`render_figures` draws the
public-domain astronaut photo (``skimage.data.astronaut()``) through the models; no image of
the training set ever enters the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from fesgui.atomic import write_bytes_atomic
from fesgui.errors import FesguiError
from fesgui.names import METHOD_NAMES, method_label

CARD_NAME = "README.md"
FIGURE_CROP = 128
COLOR_LABEL = {"shared": "shared (CMR)", "per-channel": "per-channel", "gray": "gray-replicated"}
#: MR, then Pixel-RR, then Pixel-KR (unknown methods last)
_METHOD_ORDER = {method: k for k, method in enumerate(METHOD_NAMES)}


def _quiet(_: str) -> None:
    pass


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _mse(v: float) -> str:
    return f"{100 * v:.3f}"


def parameter_count(model) -> int:
    """Stored numbers of a model: weights + bias (MR, Pixel-RR) or table entries (Pixel-KR)."""
    if model.has_table:
        return int(model.table_.size)
    return int(model.weights_.size + model.bias_.size)


def figure_name(source: str, target: str) -> str:
    return f"astronaut_{source}2{target}.png"


def _figure_models(infos, source: str, target: str) -> list:
    chosen = [i for i in infos if i.meta.get("source") == source and i.meta.get("target") == target
              and (i.meta.get("image_size") or [0])[0] == FIGURE_CROP]
    return sorted(chosen, key=lambda i: (_METHOD_ORDER.get(i.meta["method"], 9), i.meta["size"]))


def render_figures(folder: str | Path, landmarks=None, log: Callable[[str], None] = _quiet
                   ) -> list[Path]:
    """Draw the astronaut through the 128 px models of each mapping in ``folder``.

    One PNG per mapping: the aligned input crop, then each model's result as the app
    makes it (shape warp at the photo's resolution, appearance model, paste-back), then the
    RMR-refined result of the largest MR model, all cropped alike. ``landmarks`` defaults
    to MediaPipe. Returns the written files ([] if no face is found).
    """
    from skimage import data as skdata

    from fesgui.align import Template, warp_to_crop
    from fesgui.catalog import list_models
    from fesgui.core import load_model
    from fesgui.evaluation.expression import Photo, run_pipeline
    from fesgui.imageio import to_float, to_uint8, write_image

    folder = Path(folder)
    infos = list_models(folder)
    photo = skdata.astronaut()
    own = None
    if landmarks is None:
        from fesgui.align.mediapipe_source import MediaPipeSource

        own = landmarks = MediaPipeSource(video=False, max_faces=1)
    try:
        faces = landmarks.detect(photo)
    finally:
        if own is not None:
            own.close()
    if not faces:
        log("no face found in the astronaut photo: figures not drawn")
        return []
    matrix = Template.load().matrix(faces[0], FIGURE_CROP)
    crop = to_float(warp_to_crop(photo, matrix, FIGURE_CROP))
    case = Photo(photo, faces[0])

    def result(model, **params) -> np.ndarray:
        frame = run_pipeline(model, [case], **params)[0]
        return to_float(warp_to_crop(frame, matrix, FIGURE_CROP))

    gap = np.ones((FIGURE_CROP, 4, 3), np.float32)
    written = []
    for source, target in sorted({(i.meta.get("source"), i.meta.get("target")) for i in infos
                                  if i.meta.get("source") and i.meta.get("target")}):
        chosen = _figure_models(infos, source, target)
        if not chosen:
            continue
        panels = [crop]
        mr = None
        for info in chosen:
            model = load_model(info.path)
            panels.append(result(model))
            if model.method == "mr":
                mr = model
        if mr is not None:
            panels.append(result(mr, enabled=True))
        row = np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1)
        path = folder / figure_name(source, target)
        write_image(path, to_uint8(row))
        written.append(path)
    return written




def _figure_caption(infos, source: str, target: str) -> str:
    chosen = _figure_models(infos, source, target)
    labels = ["input (aligned crop)"] + [method_label(i.meta) for i in chosen]
    mrs = [i for i in chosen if i.meta["method"] == "mr"]
    if mrs:
        labels.append(f"RMR ({method_label(mrs[-1].meta)} refined, default k=10, tau=0.2)")
    return "Left to right: " + ", ".join(labels) + "."


#: what the default model must reach on the test people, as a user sees it
TARGETS = {"smile": 0.8, "chroma": 0.97, "sharpness": 0.9}


def _expression_section(w, infos) -> None:
    """The whole pipeline on the test people's photos (``metrics["expression"]``)."""
    from fesgui.catalog import DEFAULT_MODEL

    scored = [i for i in infos if (i.meta.get("metrics") or {}).get("expression")]
    if not scored:
        return
    w("## As a user sees it: whole photos through the app's pipeline\n")
    w("Each test person's photo goes through the pipeline (shape warp at the photo's "
      "resolution, appearance model, paste-back of the change) and is compared with that "
      "person's real photo of the target expression, registered to it on the eyes and nose "
      "tip; all models are measured on the same 256 px crop of the same photos "
      "(`fesgui/evaluation/expression.py`). *Smile*: the mouth-width change (FaceMesh "
      "mouth-corner distance over inter-ocular distance) as a fraction of the real change "
      "(1 = as much as the real photos), and relative to the input (mean and worst face). "
      "*Colour* and *detail* kept: LAB chroma and Laplacian variance of the mouth region, "
      "output over input. Targets for the default model: smile >= "
      f"{TARGETS['smile']:g}, colour >= {TARGETS['chroma']:g}, detail >= "
      f"{TARGETS['sharpness']:g}.\n")
    w("| model | smile (of real) | smile vs input, mean / worst | mouth colour kept "
      "| mouth detail kept | MSE x10^2 | SSIM |")
    w("|---|---|---|---|---|---|---|")
    for i in scored:
        e = i.meta["metrics"]["expression"]
        mark = " **(default)**" if i.path.stem == DEFAULT_MODEL else ""
        smile = "-" if e.get("smile") is None else f"{e['smile']:.2f}"
        rel = ("-" if e.get("smile_rel") is None else
               f"{100 * e['smile_rel']:+.1f} % / {100 * e['smile_worst']:+.1f} %")
        w(f"| `{i.path.stem}`{mark} | {smile} | {rel} | {e['chroma']:.3f} | "
          f"{e['sharpness']:.3f} | {_mse(e['mse'])} | {e['ssim']:.4f} |")
    w("")
    default = next((i for i in scored if i.path.stem == DEFAULT_MODEL), None)
    if default is not None:
        e = default.meta["metrics"]["expression"]
        met = [f"{k} {e[k]:.3f} {'>=' if (e[k] or 0) >= v else '<'} {v:g}"
               for k, v in TARGETS.items() if e.get(k) is not None]
        w(f"The default model `{DEFAULT_MODEL}`: " + "; ".join(met) + ".\n")


def generate_card(folder: str | Path) -> str:
    """The Markdown model card for every model in ``folder``.

    Raises :class:`FesguiError` if the folder has no models.
    """
    from fesgui.catalog import list_models
    from fesgui.core import load_model

    folder = Path(folder)
    infos = list_models(folder)
    if not infos:
        raise FesguiError(f"no models in {folder}: build them with fesgui train --release")
    infos.sort(key=lambda i: (i.meta.get("source") != "neutral", i.meta["image_size"][0],
                              _METHOD_ORDER.get(i.meta["method"], 9), i.meta["size"]))
    params = {i.name: parameter_count(load_model(i.path)) for i in infos}
    first = infos[0].meta
    data = first.get("training_data") or {}
    total = sum(i.size_bytes for i in infos)
    out: list[str] = []
    w = out.append

    w("# fesgui shipped models: model card\n")
    w("*Generated by `fesgui train --release DATASET_DIR` (`fesgui/modelcard.py`) from the "
      "metadata stored inside the model files. Do not edit by hand: rebuild instead.*\n")
    w(f"{len(infos)} models, {_mb(total)} in all. Every model maps an aligned face crop "
      "(RGB, values in [0, 1], aligned by `fesgui.align` to the reference face) to the "
      "same face with the other expression. Load one with `fesgui.core.load_model(path)` "
      "or by name in the app and CLI (`fesgui models` lists them).\n")

    w("## Models\n")
    w("| file | mapping | method | colour | crop | lam | sigma | parameters | file size "
      "| test MSE x10^2 | test SSIM |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for i in infos:
        m = i.meta
        met = m.get("metrics") or {}
        sigma = "-" if m.get("sigma") is None else f"{m['sigma']:g}"
        w(f"| `{i.path.name}` | {m.get('source')} -> {m.get('target')} | {method_label(m)} | "
          f"{COLOR_LABEL.get(m['color'], m['color'])} | {m['image_size'][0]}x"
          f"{m['image_size'][1]} | {m['lam']:g} | {sigma} | {params[i.name]:,} | "
          f"{_mb(i.size_bytes)} | {_mse(met['mse'])} | {met['ssim']:.4f} |")
    w("")
    w("Parameters are the stored numbers: MR and Pixel-RR keep one weight per tap and one "
      "bias per pixel and weight set (taps that fall outside the image are stored as 0); "
      "Pixel-KR keeps the fitted kernel-ridge function of every pixel tabulated at the 256 "
      "8-bit input levels (the exact function of an 8-bit input, so no training samples "
      "or kernel coefficients are needed at run time).\n")

    w("## Intended use and limits\n")
    w("For demonstrating and studying expression synthesis with interpretable linear "
      "models (the app's inspector shows every weight). The models were fitted on about "
      f"{data.get('n_train', 0) + data.get('n_val', 0)} adults photographed front-on under "
      "studio light against a plain background: expect weaker results for profile views, "
      "strong shadows, occlusions, children, or faces unlike the training people. The "
      "smile is a learned average motion plus an average change of shading, not a "
      "photograph of the person smiling; do not present it as real.\n")

    w("## Training data\n")
    w(f"**{data.get('name', 'unknown')}** (102 people, a neutral and a smiling front photo "
      "of each, 1350x1350 JPEG). The photos are not part of fesgui and no picture in this "
      "folder shows them.\n")
    if data.get("attribution"):
        w(f"> {data['attribution']}\n")
    if data.get("license"):
        lic = data["license"]
        w(f"License of the data: {lic}. The models are adapted material derived from it "
          "and carry this attribution.\n")
    w(f"- Alignment: {data.get('alignment', 'fesgui.align')}.")
    w(f"- Split by identity, seed {data.get('split_seed')}, fractions "
      f"{data.get('split_fractions')}: {data.get('n_train')} train, {data.get('n_val')} "
      f"validation, {data.get('n_test')} test people. The final models are fitted on "
      "train + validation; test people are never seen in fitting or selection.")
    w(f"- Test identities: {', '.join(data.get('test_ids') or [])}.")
    w(f"- Validation identities: {', '.join(data.get('val_ids') or [])}.\n")

    w("## How the hyper-parameters were chosen\n")
    sel = (first.get("metrics") or {}).get("selection") or {}
    lams = sorted({row[0] for i in infos
                   for row in ((i.meta.get("metrics") or {}).get("selection") or {}).get(
                       "tried", [])})
    sigmas = sorted({row[1] for i in infos
                     for row in ((i.meta.get("metrics") or {}).get("selection") or {}).get(
                         "tried", []) if row[1] is not None})
    change = "change" in str(data.get("fit", ""))
    grid_note = ("the change-fit grid: the prior is 'no change', so larger values keep more "
                 "of the input" if change else
                 "10 equally spaced values in [0.1, 10], as in the MR paper")
    w(f"lam was chosen by {sel.get('criterion', 'validation MSE')} over "
      f"{', '.join(f'{v:g}' for v in lams)} ({grid_note})"
      + (f"; Pixel-KR also over sigma = {', '.join(f'{v:g}' for v in sigmas)} "
         "(intensity units of [0, 1] images)" if sigmas else "") + ".")
    if change:
        from fesgui.training import KEEP_CHROMA, KEEP_DETAIL

        w(f"'Keeping the mouth' means: on the validation people, the model's output keeps at "
          f"least {KEEP_CHROMA:g} of the mouth region's LAB chroma and {KEEP_DETAIL:g} of its "
          "Laplacian variance (output over input, at the model's own crop). Validation MSE "
          "alone picks the blurriest candidate: averaging is what minimises squared error "
          "where faces differ.")
    strides = sorted({(i.meta["image_size"][0], ((i.meta.get("metrics") or {}).get(
        "selection") or {}).get("pixel_stride", 1)) for i in infos
        if i.meta["method"] in ("pixel-rr", "pixel-kr")})
    strides = [(crop, s) for crop, s in strides if s > 1]
    if strides:
        every = ", ".join(f"every {s}th pixel row and column at {crop} px" for crop, s in strides)
        w(f"Pixel-RR and Pixel-KR candidates were scored on a sub-grid of pixels ({every}): a pixel "
          "model fits each pixel on that pixel's data alone, so this is the exact "
          "validation error of the full model on those pixels, at a fraction of the cost.")
    edge = [i.path.name for i in infos
            if (i.meta.get("metrics") or {}).get("selection")
            and i.meta["lam"] in (min(lams), max(lams))]
    if edge:
        w(f"The chosen lam is at an end of the grid for {', '.join(f'`{e}`' for e in edge)}.")
    w("")
    _expression_section(w, infos)

    w("## Test-set results beside baselines (the model's own crops)\n")
    w("Scored as in the MR paper, on the aligned test crops (the shape warp, when the model "
      "has one, applied first). MSE x10^2 (as in the MR paper's tables) and SSIM "
      "(`skimage.metrics.structural_similarity`, `channel_axis=-1`, `data_range=1`, mean over "
      "the test people); outputs are clipped to [0, 1]. Baselines: *output = input* (no "
      "change), *mean target face* (the mean training target, whoever the input is), and "
      "*global ridge (l2)*: every output pixel sees every input pixel (MR paper Eq. 2), "
      "fitted in dual form `T^T (X X^T + lam I)^-1 X` with an intercept, lam chosen on "
      "validation among 10^-3 .. 10 times the mean diagonal of `X X^T`.\n")
    groups: dict[tuple, list] = {}
    for i in infos:
        groups.setdefault((i.meta["source"], i.meta["target"], i.meta["image_size"][0]),
                          []).append(i)
    verdicts = []
    for (source, target, crop), members in groups.items():
        base = members[0].meta["metrics"]["baselines"]
        w(f"**{source} -> {target}, {crop} px** ({members[0].meta['metrics']['n_test']} test "
          "people)\n")
        w("| model | MSE x10^2 | SSIM |")
        w("|---|---|---|")
        w(f"| output = input | {_mse(base['identity']['mse'])} | "
          f"{base['identity']['ssim']:.4f} |")
        w(f"| mean target face | {_mse(base['mean_target']['mse'])} | "
          f"{base['mean_target']['ssim']:.4f} |")
        if "shape_only" in base:
            r = base["shape_only"]
            w(f"| shape warp only | {_mse(r['mse'])} | {r['ssim']:.4f} |")
        if "ridge_l2" in base:
            r = base["ridge_l2"]
            w(f"| global ridge (l2) | {_mse(r['mse'])} | {r['ssim']:.4f} |")
        best = min(members, key=lambda i: i.meta["metrics"]["mse"])
        for i in members:
            met = i.meta["metrics"]
            mark = " (best)" if i is best else ""
            w(f"| {method_label(i.meta)}{mark} | {_mse(met['mse'])} | {met['ssim']:.4f} |")
        w("")
        mr = [i for i in members if i.meta["method"] == "mr"]
        rr = [i for i in members if i.meta["method"] == "pixel-rr"]
        if mr and rr:
            best_mr = min(mr, key=lambda i: i.meta["metrics"]["mse"])
            verdicts.append((source, target, crop, best_mr, rr[0]))

    beats = all(i.meta["metrics"]["mse"] < min(i.meta["metrics"]["baselines"]["identity"]["mse"],
                                                i.meta["metrics"]["baselines"]["mean_target"]["mse"])
                for i in infos)
    w("Every model has a lower test MSE than both baselines (output = input and the mean "
      "target face): " + ("**yes**." if beats else "**no** - see the tables above.") + "\n")
    ssim_wins = [i for i in infos
                 if i.meta["metrics"]["ssim"] > i.meta["metrics"]["baselines"]["identity"]["ssim"]]
    w(f"On SSIM, {len(ssim_wins)} of {len(infos)} models score above the unchanged input. "
      "A linear model predicts what is common to the training people, which smooths the "
      "fine texture (skin, hair, eyelashes) that SSIM rewards, while the unchanged input "
      "keeps all of it and differs from the target only around the mouth and eyes. The "
      "app's RMR refinement keeps the input outside the expression region for this "
      "reason.\n")
    lose = [(s, t, c, m, r) for s, t, c, m, r in verdicts
            if m.meta["metrics"]["mse"] >= r.meta["metrics"]["mse"]]
    if verdicts and not lose:
        w("MR has a lower test MSE than Pixel-RR in every mapping and crop size, as the "
          "papers lead one to expect: a window of neighbours lets a pixel follow a mouth "
          "corner that moves, which a 1x1 model cannot.\n")
    for s, t, c, m, r in lose:
        w(f"For {s} -> {t} at {c} px, Pixel-RR ({_mse(r.meta['metrics']['mse'])}) has a "
          f"lower test MSE than the best MR ({method_label(m.meta)}, "
          f"{_mse(m.meta['metrics']['mse'])}). With about 90 training people the extra "
          "taps of MR also fit noise of the training faces (hair, background, the residual "
          "misalignment of the two photos of a person), which the test people do not "
          "share; the single-tap Pixel-RR has less to overfit. The validation choice of lam "
          "guards against this only on 10 validation people.\n")

    w("## Compact storage\n")
    w("The files store MR/Pixel-RR weights and biases as float16 and Pixel-KR tables as "
      "uint8 levels (`save(path, compact=True)`). The largest and RMS change this makes to "
      "any output pixel of the test people, in 8-bit levels (1 = one step of a 0..255 "
      "image), measured against the float32 model before saving:\n")
    w("| file | largest change (/255) | RMS change (/255) |")
    w("|---|---|---|")
    for i in infos:
        c = (i.meta.get("metrics") or {}).get("compact")
        if c:
            w(f"| `{i.path.name}` | {c['max_abs_255']:g} | {c['rms_255']:g} |")
    w("")
    w("A change below 0.5/255 never changes a rounded 8-bit output by more than one level.\n")

    figures = [(s, t) for s, t in sorted({(i.meta["source"], i.meta["target"]) for i in infos})
               if (folder / figure_name(s, t)).exists()]
    if figures:
        w("## Pictures\n")
        w("The public-domain astronaut photo (Eileen Collins, NASA; `skimage.data.astronaut()`)"
          f" passed through the {FIGURE_CROP} px models as the app does it (shape warp at the "
          "photo's resolution, appearance model, paste-back of the change), each shown as "
          f"the same {FIGURE_CROP} px crop.\n")
        for s, t in figures:
            w(f"**{s} -> {t}.** {_figure_caption(infos, s, t)}\n")
            w(f"![astronaut, {s} -> {t}]({figure_name(s, t)})\n")

    w("## Evaluation\n")
    w("Further measurements (sharpness, a smile measure, out-of-dataset faces) are in "
      "[EVALUATION.md](EVALUATION.md).\n")

    w("## Rebuild\n")
    w("```\nfesgui train --release path/to/london-faces\n```\n")
    w("The build is deterministic (fixed split seed, fixed grids, byte-deterministic model "
      "files): on the same platform it reproduces these files byte for byte; "
      "`tests/test_release_models.py` checks it where the dataset is available.")
    return "\n".join(out) + "\n"


def write_card(folder: str | Path) -> Path:
    """Write :func:`generate_card` to ``folder/README.md`` (atomically)."""
    path = Path(folder) / CARD_NAME
    write_bytes_atomic(path, generate_card(folder).encode("utf-8"))
    return path
