"""Class labels, defined once for the whole package.

The emotion order is the FER-2013 / Arriaga et al. 2017 order, which is also the order of every
``emotion_scores`` vector the core, the CLI and the ROS messages produce.
"""

EMOTION_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
GENDER_LABELS: tuple[str, ...] = ("female", "male")
