#!/usr/bin/env bash
# Runs the core, node and foundation tests on Debian's Python stack, as a rosdep install gives it:
# numpy, OpenCV (4.6, no cv2.data), tqdm, scikit-image, matplotlib and pytest from apt for the system
# python3, in a venv made with --system-site-packages that gets only what apt cannot give: the pinned ROS 2
# wheels (standing in for apt's ros-<distro>-* packages), onnxruntime (rosdep's pip key) and the dev tools of
# scripts/requirements.txt that apt does not provide here (onnx, tflite, ruff; h5py too: Debian names its
# dist-info differently, so pip does not see it). Whatever apt provides is
# pinned to apt's version (a constraints file) so pip cannot replace it, and no OpenCV wheel is installed;
# the script fails when numpy, cv2 or skimage come from anywhere but /usr/lib/python3/dist-packages.
#   bash scripts/check_debian_stack.sh                # missing apt packages are installed when run as root
#   bash scripts/check_debian_stack.sh -k tracking    # extra pytest arguments
#   bash scripts/check_debian_stack.sh test/ros/test_node_fuzz.py   # other test paths instead of the three
# The venv lives under ~/.cache/fer_ros/ (VENV chooses another), the colcon build in build/debian/.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[debian]\033[0m %s\n' "$*"; }
start=$(date +%s)
PY=/usr/bin/python3
APT_PACKAGES=(python3-numpy python3-opencv python3-tqdm python3-skimage python3-matplotlib python3-pytest python3-h5py
              python3-venv python3-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing apt packages: sudo apt-get install ${missing[*]}"; exit 2
  fi
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -z "${VENV:-}" ]; then
  VENV="${XDG_CACHE_HOME:-$HOME/.cache}/fer_ros/venv-debian-$(pwd -P | sha256sum | cut -c1-12)"
fi
export VENV
[ -x "$VENV/bin/python" ] || { say "creating $VENV (--system-site-packages, $($PY --version))";
                                mkdir -p "$(dirname "$VENV")"; $PY -m venv --system-site-packages "$VENV"; }
# constraints.txt pins every apt-provided requirement to apt's version; pip-tools.txt lists the rest of
# requirements.txt (dev tools apt lacks), without OpenCV; a requirement apt provides is listed by name only
$PY - "$VENV" <<'EOF'
import re, sys
from importlib import metadata
from pathlib import Path
venv = Path(sys.argv[1])
names = []
for line in Path("scripts/requirements.txt").read_text().splitlines():
    line = line.split("#")[0].strip()
    if line and not line.startswith("-r") and not line.startswith("opencv"):
        names.append((re.split(r"[<>=!~ ;]", line)[0], line))
pins, tools = ["numpy==" + metadata.version("numpy")], []
for name, line in names:
    try:
        pins.append(f"{name}=={metadata.version(name)}")  # from apt: keep it
        tools.append(name)
    except metadata.PackageNotFoundError:
        tools.append(line)
(venv / "constraints.txt").write_text("\n".join(pins) + "\n")
(venv / "pip-tools.txt").write_text("\n".join(tools) + "\n")
EOF
constraints="$VENV/constraints.txt"
stamp="$VENV/.fer_ros_requirements.sha256"
want=$(cat scripts/requirements-ros.txt scripts/requirements-runtime.txt "$constraints" "$VENV/pip-tools.txt" \
       | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "pip: ROS wheels, onnxruntime, dev tools apt lacks (apt's versions pinned: $(paste -sd' ' "$constraints"))"
  "$VENV/bin/pip" install --disable-pip-version-check -q -c "$constraints" \
    -r scripts/requirements-ros.txt -r scripts/requirements-runtime.txt -r "$VENV/pip-tools.txt"
  echo "$want" > "$stamp"
fi
"$VENV/bin/python" - <<'EOF'
import sys
import cv2, numpy, skimage, onnxruntime
apt = "/usr/lib/python3/dist-packages/"
for module in (cv2, numpy, skimage):
    if not module.__file__.startswith(apt):
        sys.exit(f"[debian] {module.__name__} comes from {module.__file__}, not from apt ({apt})")
print(f"[debian] cv2 {cv2.__version__} (cv2.data: {hasattr(cv2, 'data')}), numpy {numpy.__version__}, "
      f"skimage {skimage.__version__} from apt; onnxruntime {onnxruntime.__version__} from pip")
EOF
"$VENV/bin/python" scripts/fix_ros_wheel_cmake.py "$VENV"

export FER_ROS_INSTALL="$PWD/build/debian/install"
source scripts/env.sh
say "colcon build into build/debian/ with $(python --version)"
colcon --log-base build/debian/log build --build-base build/debian/build --install-base "$FER_ROS_INSTALL" \
  --event-handlers console_direct- \
  --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release -Wno-dev \
  >/dev/null
paths=(test/core test/ros test/foundation)
if [ $# -gt 0 ] && [ -e "${1%%::*}" ]; then paths=(); fi  # the arguments name the tests themselves
say "pytest ${paths[*]} $*"
status=0
python -m pytest "${paths[@]}" -q -p no:cacheprovider "$@" || status=$?
say "done in $(( $(date +%s) - start )) s (exit $status)"
exit $status
