"""rosbag2 in and out without a ROS install, on the pure-Python ``rosbags`` library (never rclpy).

``types`` (the ROS 2 type store with fer_ros's messages registered from ``msg/``), ``reader`` (the
images of one topic of a sqlite3 or mcap bag, in bag time order, with clear errors) and ``writer``
(a new bag with one ``fer_ros/msg/FaceEmotionArray`` per image). ``fer-ros-infer BAG_DIR --topic T``
(fer_ros/cli/infer_bag.py) runs the node's pipeline and tracker over them.
"""

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
FACES_TYPE = "fer_ros/msg/FaceEmotionArray"
STORAGES = ("sqlite3", "mcap")
STORAGE_SUFFIXES = {".db3": "sqlite3", ".mcap": "mcap"}  # a single-file bag, by its storage


class BagError(RuntimeError):
    """A bag that cannot be used as asked; the text names the topic or file and what is wrong."""
