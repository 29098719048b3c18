"""Command-line tools: fer-ros-infer, fer-ros-eval, fer-ros-models (plus bench/train/export/explain)."""
