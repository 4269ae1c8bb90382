"""Entry point of the one-folder app (packaging/build_app.py freezes this file).

The frozen ``fesgui`` behaves like the installed command: no arguments open the window,
``fesgui synth ...`` and every other command work the same.
"""

import multiprocessing
import sys

from fesgui.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
