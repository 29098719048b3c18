#!/usr/bin/env bash
# Builds the ROS 2 package (messages + Python + executables) with colcon into build/ and install/.
# --symlink-install: edits to Python sources, launch and config files need no rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
printf '\033[1m[build]\033[0m colcon build (fer_ros)\n'
colcon --log-base log build --symlink-install --event-handlers console_direct- \
  --cmake-args -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=Release -Wno-dev
printf '\033[1m[build]\033[0m install tree ready: install/fer_ros\n'
