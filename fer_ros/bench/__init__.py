"""Benchmarks of fer_ros (``fer-ros-bench``): frames, timing statistics, baselines and report writing.

ROS-free like the core, except ``fer_ros.bench.e2e``, which drives the perception node over DDS (rclpy is
imported there only inside the functions that talk to ROS).
"""
