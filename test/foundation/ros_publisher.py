"""Child process for the foundation tests: publishes one kind of message until killed.

usage: python ros_publisher.py faces|image WIDTH HEIGHT
"""

import sys
import time

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from fer_ros.msg import FaceEmotion, FaceEmotionArray


def face_array(seq: int) -> FaceEmotionArray:
    msg = FaceEmotionArray()
    msg.header.stamp.sec = seq
    msg.header.stamp.nanosec = 123
    msg.header.frame_id = "camera_optical"
    msg.emotion_labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    face = FaceEmotion(id="7", x=10.5, y=20.0, width=30.0, height=40.0, detection_confidence=0.9,
                       landmarks=[float(i) for i in range(10)], emotion="happy", emotion_confidence=0.8,
                       emotion_scores=[0.05, 0.0, 0.05, 0.8, 0.05, 0.0, 0.05], gender="female",
                       gender_confidence=0.75)
    msg.faces = [face, FaceEmotion(id="8", emotion="sad")]
    return msg


def image(seq: int, width: int, height: int) -> Image:
    msg = Image()
    msg.header.stamp.sec = seq
    msg.header.frame_id = "camera_optical"
    msg.width, msg.height, msg.encoding, msg.step = width, height, "bgr8", width * 3
    pixels = np.full((height, width, 3), seq % 256, np.uint8)
    pixels[0, 0] = (1, 2, 3)
    msg.data = pixels.tobytes()
    return msg


def main() -> None:
    kind, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rclpy.init()
    node = rclpy.create_node("foundation_publisher")
    if kind == "faces":
        pub = node.create_publisher(FaceEmotionArray, "/faces/emotion", 10)
    else:
        pub = node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
    seq = 0
    try:
        while rclpy.ok():
            pub.publish(face_array(seq) if kind == "faces" else image(seq, width, height))
            seq += 1
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
