"""ROS 2 adapter of fer_ros: the only code that imports rclpy or message types."""
