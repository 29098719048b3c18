"""ROS-free perception core: numpy, OpenCV and onnxruntime only (never rclpy, never torch)."""
