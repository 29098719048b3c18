"""The images of one topic of a rosbag2 bag (sqlite3 or mcap), in bag time order, without ROS.

``ImageTopicReader(path, topic)`` opens a bag folder (``metadata.yaml`` + storage files) or a single
``.db3`` / ``.mcap`` file and checks the topic: missing, or not ``sensor_msgs/msg/Image`` /
``CompressedImage``, is a :class:`~fer_ros.bag.BagError` that names the topic and the image topics the
bag has. Iterating yields one :class:`BagImage` per message of that topic in the order of the bag's
timestamps (rosbags sorts sqlite3 rows and merges mcap chunks); other topics are never deserialized.
A message that cannot be deserialized is yielded with its ``error`` (the caller skips it, as the node
skips a bad frame); a truncated or corrupt file is a BagError naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader

from fer_ros.bag import COMPRESSED_TYPE, IMAGE_TYPE, STORAGE_SUFFIXES, BagError
from fer_ros.bag.types import typestore

IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)


@dataclass
class BagImage:
    """One message of the image topic: bag (receive) time, the deserialized message or why not."""

    index: int  # position on the topic, from 0
    bag_time_ns: int  # the bag's timestamp of the message (when it was recorded)
    msg: Any = None  # rosbags sensor_msgs Image / CompressedImage (fields as in ROS); None on error
    error: str = ""


def storage_files(path: Path) -> list[Path]:
    """The storage files of a bag folder (or the file itself), e.g. ``[bag/bag_0.mcap]``."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir()
                  if p.suffix in STORAGE_SUFFIXES or p.name.endswith(tuple(s + ".zstd" for s in STORAGE_SUFFIXES)))


class ImageTopicReader:
    """Context manager over one image topic of a bag; see the module docstring."""

    def __init__(self, path: str | Path, topic: str | None = None) -> None:
        self.path = Path(path)
        self.requested_topic = topic
        self.topic = ""
        self.msgtype = ""
        self.count = 0  # messages on the topic (from the bag's index)
        self.files: list[Path] = []
        self.storage = ""  # "sqlite3" or "mcap"
        self.start_time_ns = 0
        self.duration_ns = 0
        self._reader: Reader | None = None
        self._connections: list = []

    # --- opening and checks ---
    def __enter__(self) -> ImageTopicReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if not self.path.exists():
            raise BagError(f"bag {self.path} does not exist")
        if self.path.is_dir() and not (self.path / "metadata.yaml").is_file():
            raise BagError(f"{self.path} is not a rosbag2 bag: it has no metadata.yaml")
        self.files = storage_files(self.path)
        suffixes = {STORAGE_SUFFIXES.get(p.suffix, STORAGE_SUFFIXES.get(Path(p.stem).suffix)) for p in self.files}
        self.storage = "mcap" if "mcap" in suffixes else "sqlite3"
        try:
            reader = Reader(self.path)
            reader.open()
        except Exception as exc:  # noqa: BLE001 - rosbags, apsw and OS errors alike: name the files
            raise BagError(self._unreadable(exc)) from exc
        self._reader = reader
        self._select_topic(reader)
        self.start_time_ns = reader.start_time if reader.message_count else 0
        self.duration_ns = reader.duration

    def _select_topic(self, reader: Reader) -> None:
        topics = {name: info.msgtype for name, info in reader.topics.items()}
        image_topics = sorted(t for t, kind in topics.items() if kind in IMAGE_TYPES)
        listed = ", ".join(f"{t} ({topics[t]})" for t in image_topics) or "none"
        topic = self.requested_topic
        if topic is None:
            if len(image_topics) != 1:
                self.close()
                raise BagError(f"bag {self.path}: name the image topic with --topic; image topics in it: "
                               f"{listed}")
            topic = image_topics[0]
        if topic not in topics:
            self.close()
            raise BagError(f"topic {topic} is not in bag {self.path}; image topics in it: {listed}")
        if topics[topic] not in IMAGE_TYPES:
            self.close()
            kind = topics[topic] or "several types"
            raise BagError(f"topic {topic} in bag {self.path} has type {kind}, not {' or '.join(IMAGE_TYPES)}; "
                           f"image topics in it: {listed}")
        self.topic, self.msgtype = topic, topics[topic]
        self._connections = [c for c in reader.connections if c.topic == topic]
        self.count = sum(c.msgcount for c in self._connections)

    def _unreadable(self, exc: Exception) -> str:
        names = ", ".join(str(p) for p in self.files) or str(self.path)
        return (f"cannot read bag {self.path}: {'file' if len(self.files) < 2 else 'one of the files'} {names} "
                f"is truncated or corrupt ({type(exc).__name__}: {exc})")

    def close(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.close()

    # --- messages ---
    def __iter__(self) -> Iterator[BagImage]:
        if self._reader is None:
            raise BagError(f"bag {self.path} is not open")
        store = typestore()
        messages = self._reader.messages(connections=self._connections)
        index = 0
        while True:
            try:
                connection, timestamp, raw = next(messages)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - a file cut short shows up here for sqlite3
                raise BagError(self._unreadable(exc) + f" (after {index} messages of {self.topic})") from exc
            try:
                image = BagImage(index, timestamp, msg=store.deserialize_cdr(raw, connection.msgtype))
            except Exception as exc:  # noqa: BLE001 - one corrupt message: the caller skips it and says why
                image = BagImage(index, timestamp, error=f"cannot deserialize {connection.msgtype} message "
                                                         f"{index} of {self.topic} (bag time {timestamp} ns): "
                                                         f"{type(exc).__name__}: {exc}")
            yield image
            index += 1
