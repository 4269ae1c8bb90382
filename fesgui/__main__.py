"""``python -m fesgui``: the command line (see :mod:`fesgui.cli`)."""
from fesgui.cli import main

try:
    code = main()
finally:
    # CPython remembers a KeyboardInterrupt that left code run by exec() or eval() of a
    # *string*, even one caught afterwards, and under ``python -m`` then ends the process
    # by SIGINT (status -2) instead of with the exit status (``-m`` checks that memory
    # since bpo-41602). Numba's compiler, dataclasses and namedtuples (MediaPipe makes one
    # per frame) eval strings, so Ctrl+C, SIGTERM or SIGHUP landing there turned the clean
    # exit 130 into a death by signal. Every string exec clears that memory first; an
    # interrupt that really escapes main() is remembered again on its way out.
    exec("")
raise SystemExit(code)
