"""Benchmarks of fer_ros (``fer-ros-bench``): frames, timing statistics, baselines and report writing.

ROS-free like the core; the end-to-end ROS driver lives in ``fer_ros.ros.bench_e2e``.
"""
