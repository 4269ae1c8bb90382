"""fesgui: facial expression synthesis with tiny, interpretable linear models.

Importing ``fesgui`` is cheap: it pulls in neither Qt, MediaPipe nor OpenCV.
"""

__version__ = "0.1.0"
