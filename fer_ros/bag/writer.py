"""A new rosbag2 bag (sqlite3 or mcap) with one ``fer_ros/msg/FaceEmotionArray`` per processed image.

Each answer is written at the bag time of the image it answers, with the image's header (stamp and
frame_id) copied, on ``/faces/emotion`` with the node's publisher QoS (reliable, keep last 10). The
connection carries the message definition and RIHS01 hash generated from our ``msg/`` files
(fer_ros/bag/types.py), so ROS tools on a machine with fer_ros installed read it like a recording of
the node.
"""

from __future__ import annotations

from pathlib import Path

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer

from fer_ros.bag import FACES_TYPE, STORAGES, BagError
from fer_ros.bag.types import typestore
from fer_ros.core.results import Face, face_emotion_fields

FACES_TOPIC = "/faces/emotion"
_PLUGINS = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}
_NO_TIME = QosTime(sec=0, nsec=0)
NODE_PUBLISHER_QOS = Qos(  # what perception_node offers on faces/emotion
    history=QosHistory.KEEP_LAST, depth=10, reliability=QosReliability.RELIABLE,
    durability=QosDurability.VOLATILE, deadline=_NO_TIME, lifespan=_NO_TIME,
    liveliness=QosLiveliness.AUTOMATIC, liveliness_lease_duration=_NO_TIME,
    avoid_ros_namespace_conventions=False,
)


class FacesBagWriter:
    """Context manager writing FaceEmotionArray messages; refuses to overwrite an existing path."""

    def __init__(self, path: str | Path, storage: str = "mcap", topic: str = FACES_TOPIC,
                 custom_data: dict[str, str] | None = None) -> None:
        if storage not in STORAGES:
            raise BagError(f"bag storage {storage!r} is not one of {', '.join(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"output bag {self.path} exists already (rosbag2 never overwrites): remove it or "
                           "choose another --out-bag")
        self.storage = storage
        self.topic = topic
        self.custom_data = {"generated_by": "fer_ros", **(custom_data or {})}  # metadata.yaml custom_data
        self.written = 0
        self._store = typestore()
        self._array = self._store.types[FACES_TYPE]
        self._face = self._store.types["fer_ros/msg/FaceEmotion"]
        self._writer: Writer | None = None
        self._connection = None

    def __enter__(self) -> FacesBagWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=_PLUGINS[self.storage])
        for key, value in self.custom_data.items():
            writer.set_custom_data(key, value)
        writer.open()
        self._connection = writer.add_connection(self.topic, FACES_TYPE, typestore=self._store,
                                                 offered_qos_profiles=[NODE_PUBLISHER_QOS])
        self._writer = writer
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def write(self, bag_time_ns: int, header, faces: list[Face], labels: tuple[str, ...]) -> None:
        """One answer: ``header`` is the image message's own (rosbags std_msgs/Header)."""
        msg = self._array(header=header, emotion_labels=list(labels),
                          faces=[self._face(**face_emotion_fields(f)) for f in faces])
        self._writer.write(self._connection, bag_time_ns, self._store.serialize_cdr(msg, FACES_TYPE))
        self.written += 1
