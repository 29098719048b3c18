"""The ROS 2 (Kilted) type store of ``rosbags`` with fer_ros's messages registered from our ``msg/`` files.

The definitions come from the installed ``share/fer_ros/msg`` (colcon, pip) or the source checkout, so a
bag written with this store carries the same message definitions and RIHS01 type hashes the ROS build
generates: ``ros2 bag info`` / ``ros2 bag play`` on a ROS machine with fer_ros installed accept it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from fer_ros.bag import BagError
from fer_ros.core.share import share_dirs

MESSAGES = ("FaceEmotion", "FaceEmotionArray")


def msg_dir() -> Path:
    """The folder with FaceEmotion.msg and FaceEmotionArray.msg; BagError naming the places searched."""
    dirs = share_dirs("msg")
    for folder in dirs:
        if all((folder / f"{name}.msg").is_file() for name in MESSAGES):
            return folder
    raise BagError(f"fer_ros message definitions {', '.join(m + '.msg' for m in MESSAGES)} not found "
                   f"(searched {', '.join(str(d) for d in dirs)})")


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """Kilted's standard messages (sensor_msgs, std_msgs, ...) plus ``fer_ros/msg/*`` from msg_dir()."""
    store = get_typestore(Stores.ROS2_KILTED)
    folder = msg_dir()
    types: dict = {}
    for name in MESSAGES:
        types.update(get_types_from_msg((folder / f"{name}.msg").read_text(), f"fer_ros/msg/{name}"))
    store.register(types)
    return store
