# Source this file (bash) to use the project's venv and colcon install tree:
#   source scripts/env.sh
# It exports what rclpy, the generated fer_ros messages and colcon need on a pip-wheel ROS 2 install.
_fer_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# .venv is a symlink made by scripts/setup_env.sh; resolve it so no path points into the source tree.
# VENV and FER_ROS_INSTALL (colcon install base) choose others (scripts/check_debian_stack.sh does).
_fer_venv="$(readlink -f "${VENV:-$_fer_root/.venv}")"
_fer_install="${FER_ROS_INSTALL:-$_fer_root/install}"
export VIRTUAL_ENV="$_fer_venv"
export PATH="$_fer_venv/bin:$PATH"
# The ROS wheels install their share/ and lib/ into the venv: it is the underlay.
export AMENT_PREFIX_PATH="$_fer_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
if [ -d "$_fer_install/fer_ros" ]; then
  AMENT_PREFIX_PATH="$_fer_install/fer_ros:$AMENT_PREFIX_PATH"
fi
export CMAKE_PREFIX_PATH="$_fer_venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export PYTHONPATH="$_fer_install/fer_ros/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$_fer_install/fer_ros/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
# Camera images over Fast DDS need a larger shared-memory segment (see config/fastdds_profile.xml).
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_fer_root/config/fastdds_profile.xml}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
unset _fer_root _fer_venv _fer_install
