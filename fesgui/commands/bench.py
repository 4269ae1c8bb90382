"""``fesgui bench``: speed and memory against baselines, as a table and a JSON file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fesgui.errors import FesguiError

_REPO_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure speed and memory against baselines (ratios, medians with spread)",
        description="Time fesgui against baselines measured in the same run on the same "
        "data and print medians with their spread. Results also go to a JSON file "
        "(default in a source checkout: benchmarks/results/latest.json for a full run of "
        "all benchmarks, latest-quick.json with --quick, latest-partial.json with --only).",
    )
    p.add_argument("--quick", action="store_true",
                   help="fewer sizes and repetitions (about a minute)")
    p.add_argument("--only", default=None, metavar="NAMES",
                   help="comma-separated subset of: predict,fit,kr,pipeline,memory,gui,slider,video")
    p.add_argument("--json", default=None, metavar="OUT.json",
                   help="where to write the machine-readable results")
    p.set_defaults(run=run)


def default_json(quick: bool, partial: bool = False) -> Path | None:
    """Where results go without ``--json``: in a source checkout
    ``benchmarks/results/latest.json`` for a full run of everything (the figures under
    review), ``latest-quick.json`` / ``latest-partial.json`` otherwise; ``None`` in an
    installed package."""
    if not _REPO_RESULTS.parent.is_dir():
        return None
    name = "latest-quick.json" if quick else "latest-partial.json" if partial else "latest.json"
    return _REPO_RESULTS / name


def run(args: argparse.Namespace) -> int:
    from fesgui import benchmarks
    from fesgui.benchmarks.harness import format_table, to_json, write_json

    names = benchmarks.parse_only(args.only)
    if "fit" in names:
        from fesgui.extras import require

        rest = ",".join(n for n in names if n != "fit")
        require("eval", "the fit benchmark of fesgui bench",
                f", or leave it out: --only {rest}" if rest else "")
    partial = len(names) < len(benchmarks.BENCHMARKS)
    out = Path(args.json) if args.json else default_json(args.quick, partial)
    if out is not None and out.suffix.lower() != ".json":
        raise FesguiError(f"--json {out} must end in .json: e.g. --json results.json")
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FesguiError(f"cannot create the folder of --json {out}: {exc.strerror}; "
                              "choose another path") from None
    config = benchmarks.Config.quick() if args.quick else benchmarks.Config.full()
    sections = benchmarks.run(names, config,
                              progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_table(sections))
    if out is not None:
        data = to_json(sections, benchmarks.settings(config))
        flags = (["--quick"] if args.quick else []) + ([f"--only {args.only}"] if args.only
                                                       else [])
        data["command"] = " ".join(["fesgui bench", *flags])
        print(f"results written to {write_json(out, data)}")
    else:
        print("no JSON written (not a source checkout): use --json OUT.json")
    failed = [s.name for s in sections if s.skipped and s.skipped.startswith("error:")]
    return 1 if failed else 0
