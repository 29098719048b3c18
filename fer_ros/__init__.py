"""fer_ros: real-time face -> gender -> emotion perception for ROS 2 and plain Python."""

__version__ = "0.1.0"
