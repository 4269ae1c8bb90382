"""Face alignment: landmarks -> similarity to the reference face -> aligned crop, and back.

MediaPipe is used only in :mod:`fesgui.align.mediapipe_source` (imported on demand).
"""

from fesgui.align.landmarks import (
    POINT_NAMES,
    FaceLandmarks,
    LandmarkSource,
    box_of,
    manual_landmarks,
    parse_landmarks,
)
from fesgui.align.smoothing import LandmarkSmoother, OneEuroFilter, SmoothedSource
from fesgui.align.template import (
    ALIGNMENTS,
    LEGACY_ALIGNMENT,
    Template,
    compose,
    crop_shape,
    register_pair,
    similarity_lstsq,
)
from fesgui.align.warp import face_mask, paste_back, warp_crop, warp_face, warp_to_crop

__all__ = [
    "ALIGNMENTS", "LEGACY_ALIGNMENT", "POINT_NAMES", "compose", "register_pair", "warp_crop",
    "warp_face", "FaceLandmarks", "LandmarkSmoother", "LandmarkSource", "OneEuroFilter",
    "SmoothedSource", "Template", "box_of", "crop_shape", "face_mask", "manual_landmarks",
    "parse_landmarks", "paste_back", "similarity_lstsq", "warp_to_crop",
]
