"""Launch the fer_ros perception node (and, on request, the demo camera source).

    ros2 launch fer_ros perception.launch.py
    ros2 launch fer_ros perception.launch.py camera_topic:=/my_camera/image_raw params_file:=/path/my.yaml
    ros2 launch fer_ros perception.launch.py start_camera_source:=true camera_source:=synthetic
    ros2 launch fer_ros perception.launch.py camera_topic:=/my_camera/image transport:=compressed
    ros2 launch fer_ros perception.launch.py lifecycle:=true                    # managed, configured+activated
    ros2 launch fer_ros perception.launch.py lifecycle:=true autostart:=false   # managed, left unconfigured

With lifecycle:=true the managed variant (perception_lifecycle_node) is started as a launch_ros
LifecycleNode; with autostart (the default) this file requests its configure transition and, once that
has succeeded, its activate transition. A failed configure (e.g. a bad model) leaves it unconfigured,
with the reason in its log.

The Fast DDS profile (32 MB shared-memory segment, so best-effort camera images of 640x480 and more
arrive between processes) is set for every process this file starts, unless dds_profile is overridden;
the camera driver started elsewhere needs the same FASTDDS_DEFAULT_PROFILES_FILE.
"""

from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition


def flag(context, name: str) -> bool:
    """A true/false launch argument, read the way launch's IfCondition reads one."""
    text = LaunchConfiguration(name).perform(context).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError(f"launch argument {name}:={text!r}: expected true or false")
    return text in ("true", "1")


def lifecycle_start(node: LifecycleNode) -> list:
    """configure now, activate once the first configure has succeeded (configuring -> inactive).

    Matching the start state too, and only once, keeps a later manual deactivate (active -> deactivating
    -> inactive) or re-configure from being answered with another activate.
    """
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state="configuring", goal_state="inactive", handle_once=True,
        entities=[EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                              transition_id=Transition.TRANSITION_ACTIVATE))]))
    configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                            transition_id=Transition.TRANSITION_CONFIGURE))
    return [activate, node, configure]


def generate_launch_description():
    share = FindPackageShare("fer_ros")
    camera_topic = LaunchConfiguration("camera_topic")
    namespace = LaunchConfiguration("namespace")
    use_sim_time = LaunchConfiguration("use_sim_time")

    arguments = [
        DeclareLaunchArgument(
            "camera_topic", default_value="camera/image_raw",
            description="sensor_msgs/Image topic to process (relative names follow the namespace)"),
        DeclareLaunchArgument(
            "params_file", default_value=PathJoinSubstitution([share, "config", "perception.yaml"]),
            description="parameter YAML of the perception node"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the nodes and topics"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use the /clock topic"),
        DeclareLaunchArgument(
            "start_camera_source", default_value="false",
            description="also start camera_source publishing on camera_topic"),
        DeclareLaunchArgument(
            "camera_source", default_value="synthetic",
            description="what camera_source publishes: synthetic, a webcam index, an image folder or a video"
        ),
        DeclareLaunchArgument("camera_rate", default_value="10.0",
                              description="camera_source frames per second"),
        DeclareLaunchArgument(
            "transport", default_value="",
            description="raw or compressed (<camera_topic>/compressed); empty: as in params_file"),
        DeclareLaunchArgument(
            "reliability", default_value="",
            description="auto, best_effort or reliable; empty: as in params_file"),
        DeclareLaunchArgument(
            "lifecycle", default_value="false",
            description="start the managed (lifecycle) node perception_lifecycle_node instead of perception_node"),
        DeclareLaunchArgument(
            "autostart", default_value="true",
            description="with lifecycle:=true: configure and activate it right away (false: leave it unconfigured)"),
        DeclareLaunchArgument(
            "dds_profile",
            default_value=EnvironmentVariable(
                "FASTDDS_DEFAULT_PROFILES_FILE",
                default_value=PathJoinSubstitution([share, "config", "fastdds_profile.xml"])),
            description="Fast DDS XML profile for the started processes (default: "
                        "$FASTDDS_DEFAULT_PROFILES_FILE or the installed config/fastdds_profile.xml)"),
    ]

    def perception(context):
        # transport/reliability override the YAML only when given on the command line
        overrides = {name: LaunchConfiguration(name).perform(context) for name in ("transport", "reliability")}
        parameters = [LaunchConfiguration("params_file"), {"use_sim_time": use_sim_time}]
        parameters += [{k: v for k, v in overrides.items() if v}] if any(overrides.values()) else []
        options = dict(package="fer_ros", name="perception_node", namespace=namespace, parameters=parameters,
                       remappings=[("camera/image_raw", camera_topic)], output="screen")
        if not flag(context, "lifecycle"):
            return [Node(executable="perception_node", **options)]
        node = LifecycleNode(executable="perception_lifecycle_node", **options)
        return lifecycle_start(node) if flag(context, "autostart") else [node]

    camera = Node(
        package="fer_ros",
        executable="camera_source",
        name="camera_source",
        namespace=namespace,
        parameters=[{
            "source": LaunchConfiguration("camera_source"),
            "rate": LaunchConfiguration("camera_rate"),
            "use_sim_time": use_sim_time,
        }],
        remappings=[("camera/image_raw", camera_topic)],
        output="screen",
        condition=IfCondition(LaunchConfiguration("start_camera_source")),
    )
    return LaunchDescription([
        *arguments,
        SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", LaunchConfiguration("dds_profile")),
        camera,
        OpaqueFunction(function=perception),
    ])
