"""Child process for the ROS tests: an ordinary camera driver we do not configure.

It publishes ``sensor_msgs/Image`` with rclpy's default QoS (reliable, keep last 10), as most camera
drivers do, and is started without our Fast DDS profile. Once a subscriber is matched it publishes
``frames`` frames of the synthetic face stream at ``rate`` Hz (stamp: sec = ``run``, nanosec = index),
then logs how many it sent and keeps running (the topic keeps its publisher) until SIGINT.

    python camera_publisher.py --ros-args -r __ns:=/ns -p width:=640 -p height:=480 -p frames:=100
"""

from __future__ import annotations

import time

import rclpy
from rclpy.executors import ExternalShutdownException
from sensor_msgs.msg import Image

from fer_ros.core.image_convert import fill_image_msg
from fer_ros.ros.synthetic_stream import SyntheticFaceStream


def main() -> None:
    rclpy.init()
    node = rclpy.create_node("camera_publisher")
    params = {name: node.declare_parameter(name, default).value for name, default in
              (("width", 640), ("height", 480), ("rate", 10.0), ("frames", 100), ("run", 1))}
    stream = SyntheticFaceStream(params["width"], params["height"])
    images = [stream.frame(i) for i in range(0, 200, 10)]
    pub = node.create_publisher(Image, "camera/image_raw", 10)  # rclpy's default: reliable, depth 10
    try:
        while pub.get_subscription_count() == 0:
            rclpy.spin_once(node, timeout_sec=0.05)
        node.get_logger().info("subscriber matched: publishing")
        period = 1.0 / params["rate"]
        next_time = time.monotonic()
        for index in range(params["frames"]):
            msg = fill_image_msg(Image(), images[index % len(images)])
            msg.header.stamp.sec, msg.header.stamp.nanosec = params["run"], index
            msg.header.frame_id = "plain_camera"
            pub.publish(msg)
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))
        node.get_logger().info(f"published {params['frames']} frames")
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
