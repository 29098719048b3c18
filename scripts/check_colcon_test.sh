#!/usr/bin/env bash
# Checks that `colcon test` runs this package's pytest suite: builds with -DBUILD_TESTING=ON into its own
# bases under build/colcon-test/ (the normal build/ and install/ stay as `make build` made them), runs
# `colcon test`, then `colcon test-result` (non-zero when a test failed or none ran).
#   bash scripts/check_colcon_test.sh                      # the whole suite (as `make test`, ~4 min)
#   bash scripts/check_colcon_test.sh -k "tracking"        # pytest arguments select a part (PYTEST_ADDOPTS)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
say() { printf '\033[1m[colcon-test]\033[0m %s\n' "$*"; }
base=build/colcon-test
# colcon test must find the package through its own install base, not the one scripts/env.sh added
export AMENT_PREFIX_PATH="$VIRTUAL_ENV" PYTHONPATH="" LD_LIBRARY_PATH=""
say "colcon build -DBUILD_TESTING=ON into $base/"
colcon --log-base "$base/log" build --build-base "$base/build" --install-base "$base/install" \
  --event-handlers console_direct- \
  --cmake-args -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" -DBUILD_TESTING=ON -DCMAKE_BUILD_TYPE=Release -Wno-dev
grep -q fer_ros_pytest "$base/build/fer_ros/CTestTestfile.cmake" \
  || { say "no pytest test registered (ament_cmake_pytest missing?)"; exit 1; }
if [ $# -gt 0 ]; then
  export PYTEST_ADDOPTS="$(printf '%q ' "$@")"
  say "pytest arguments: $PYTEST_ADDOPTS"
fi
say "colcon test"
colcon --log-base "$base/log" test --build-base "$base/build" --install-base "$base/install" \
  --event-handlers console_direct- || true  # the verdict is test-result's
grep -E "^1: =+ .*(passed|failed|error)" "$base/log/latest_test/fer_ros/stdout_stderr.log" | tail -1 || true
say "colcon test-result"
colcon --log-base "$base/log" test-result --test-result-base "$base/build/fer_ros" --verbose
