"""Fit the main window to the screen it opens on (laptops down to 1280x720 included).

:func:`fitted_geometry` is a pure function of the screen's available geometry (tested with
any screen size); :func:`fit_window` applies it, and :func:`keep_on_screen` repairs a
remembered geometry that no longer fits (the window was last closed on a larger monitor).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, QSize

#: the size the window would like on a large screen (client area, pixels)
PREFERRED = QSize(1280, 800)
#: the share of a screen larger than PREFERRED the window takes
SHARE = 0.85
#: room the window manager adds (unknown before the window is shown): the title bar above
#: the client area, and a border on the left, right and bottom
TITLE, BORDER = 32, 4
FRAME = QSize(2 * BORDER, TITLE + BORDER)
#: the smallest useful window; less than the screen in any case
MINIMUM = QSize(800, 560)


def fitted_geometry(available: QRect, preferred: QSize = PREFERRED,
                    frame: QSize = FRAME) -> QRect:
    """The window's client rectangle on a screen whose free area is ``available``.

    At least ``preferred`` (or :data:`SHARE` of a larger screen), never more than
    ``available`` minus the window frame, centred in ``available``.
    """
    room = QSize(max(1, available.width() - frame.width()),
                 max(1, available.height() - frame.height()))
    width = min(room.width(), max(preferred.width(), round(available.width() * SHARE)))
    height = min(room.height(), max(preferred.height(), round(available.height() * SHARE)))
    x = available.x() + (available.width() - width) // 2
    y = available.y() + TITLE + (room.height() - height) // 2
    return QRect(x, y, width, height)


def minimum_size(available: QRect, frame: QSize = FRAME) -> QSize:
    """:data:`MINIMUM`, made smaller where the screen is smaller."""
    return QSize(min(MINIMUM.width(), available.width() - frame.width()),
                 min(MINIMUM.height(), available.height() - frame.height()))


def _available(window: Any) -> QRect:
    screen = window.screen()
    if screen is None:
        from PySide6.QtGui import QGuiApplication

        screen = QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fit_window(window: Any) -> QRect:
    """Give ``window`` the fitted geometry and the minimum size of its screen."""
    available = _available(window)
    window.setMinimumSize(minimum_size(available))
    geometry = fitted_geometry(available)
    window.setGeometry(geometry)
    return geometry


def keep_on_screen(window: Any) -> bool:
    """Refit ``window`` if it is larger than its screen or lies outside it (a few pixels of
    window frame allowed); True if it did so."""
    available = _available(window)
    g = window.geometry()
    fits = g.width() <= available.width() and g.height() <= available.height() - FRAME.height()
    if (fits and available.adjusted(-16, -16, 16, 16).contains(g)) or window.isMaximized() \
            or window.isFullScreen():
        return False
    fit_window(window)
    return True
