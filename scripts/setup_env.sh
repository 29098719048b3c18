#!/usr/bin/env bash
# Creates the project's virtual environment on a bare machine: pinned ROS 2 Kilted wheels from PyPI,
# the project's Python dependencies, torch (CPU) for the training extra, and the CMake path fix the
# ROS wheels need. Idempotent: a second run with unchanged requirement files takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# The venv lives outside the source tree (CMake refuses exported include paths inside the source
# directory, and the ROS wheels' numpy include path ends up in the generated message targets);
# .venv in the repository is a symlink to it. Set VENV to choose another place.
if [ -z "${VENV:-}" ]; then
  VENV="${XDG_CACHE_HOME:-$HOME/.cache}/fer_ros/venv-$(pwd -P | sha256sum | cut -c1-12)"
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV ($($PY --version))"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
fi
if [ "$(readlink -f .venv 2>/dev/null)" != "$(readlink -f "$VENV")" ]; then
  rm -rf .venv
  ln -s "$VENV" .venv
fi

stamp="$VENV/.fer_ros_requirements.sha256"
want=$(cat scripts/requirements-ros.txt scripts/requirements-runtime.txt scripts/requirements.txt scripts/requirements-train.txt setup.py | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "python dependencies up to date ($VENV)"
else
  say "installing pinned ROS 2 Kilted wheels and python dependencies (first run: a few minutes)"
  "$VENV/bin/pip" install --disable-pip-version-check -q --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/pip" install --disable-pip-version-check -q \
    -r scripts/requirements-ros.txt -r scripts/requirements.txt -r scripts/requirements-train.txt
  say "installing fer_ros itself in editable mode (command-line tools)"
  "$VENV/bin/pip" install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi

say "pointing the ROS wheels' CMake exports at this machine's Python and numpy headers"
"$VENV/bin/python" scripts/fix_ros_wheel_cmake.py "$VENV"
say "environment ready: $VENV"
