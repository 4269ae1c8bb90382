"""The one exception type that reaches users.

Every error a person can cause (a bad file, a wrong size, a missing face) is raised as
:class:`FesguiError` with a one-line message that names the problem and the way out.
The CLI prints ``error: <message>`` and exits with status 2; the GUI shows the message in
its status bar or a dialog. Anything else escaping is a bug.
"""


#: the one line for a :class:`MemoryError` (CLI and app): never a traceback or a bug dialog
OUT_OF_MEMORY = ("out of memory: close other programs, or use a smaller photo, video or "
                 "model")


class FesguiError(Exception):
    """A user-facing problem, explained in one line."""


class FesguiWarning(UserWarning):
    """A problem worth telling the user that does not stop the work."""
