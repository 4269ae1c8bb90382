"""The desktop app (PySide6 + pyqtgraph): windows, panels, views and the worker thread.

Only wiring and drawing live here; every number is computed by :mod:`fesgui.pipeline`,
:mod:`fesgui.core` and :mod:`fesgui.align` on the worker thread. Importing this package
does not import Qt; :func:`fesgui.gui.app.run_app` does.
"""
