"""Every benchmark at full size; the table goes to stdout and the figures to
``benchmarks/results/latest.json``. Same as ``fesgui bench`` (arguments are passed on,
e.g. ``python benchmarks/run_all.py --only predict,fit``)."""

from __future__ import annotations

import sys

from fesgui.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))
