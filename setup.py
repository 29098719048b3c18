"""pip install for people without ROS: the core, the command-line tools and (extra "train") training.

ROS 2 users build the package with colcon instead (package.xml / CMakeLists.txt), which also
generates the fer_ros.msg messages; the ROS node needs that build.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements(name: str) -> list[str]:
    """Requirement lines of scripts/<name>, without comments and ``-r`` includes (shared with the setup script)."""
    lines = (HERE / "scripts" / name).read_text().splitlines()
    entries = [line.split("#")[0].strip() for line in lines]
    return [e for e in entries if e and not e.startswith("-r")]


TEST_ONLY = ("pytest", "ruff")
RUNTIME = requirements("requirements-runtime.txt")
OPENCV = [r for r in requirements("requirements.txt") if r.startswith("opencv")]  # pip users: cv2 from PyPI
TOOLS = [r for r in requirements("requirements.txt") if r not in OPENCV and not r.startswith(TEST_ONLY)]

setup(
    name="fer_ros",
    version="0.1.0",
    description="Real-time face -> gender -> emotion perception (ROS 2 node, ROS-free core, training toolkit)",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["fer_ros", "fer_ros.*"]),
    include_package_data=True,
    package_data={"fer_ros": ["**/*.yaml", "**/*.json"]},
    data_files=[
        ("share/fer_ros/models", [str(p.relative_to(HERE)) for p in sorted((HERE / "models").glob("*"))
                                  if p.is_file() and p.name != ".keep"]),
        ("share/fer_ros/config", [str(p.relative_to(HERE)) for p in sorted((HERE / "config").glob("*"))
                                  if p.is_file() and p.name != ".keep"]),
        ("share/fer_ros/msg", [str(p.relative_to(HERE)) for p in sorted((HERE / "msg").glob("*.msg"))]),
    ],
    install_requires=RUNTIME + OPENCV,
    extras_require={
        "tools": TOOLS,  # fer-ros-models derive, evaluation and benchmark plots, test images
        "train": requirements("requirements-train.txt"),
        "test": TOOLS + [r for r in requirements("requirements.txt") if r.startswith(TEST_ONLY)],
    },
    entry_points={
        "console_scripts": [
            "fer-ros-infer = fer_ros.cli.infer:main",
            "fer-ros-eval = fer_ros.cli.eval:main",
            "fer-ros-eval-detection = fer_ros.cli.eval_detection:main",
            "fer-ros-models = fer_ros.cli.models:main",
            "fer-ros-bench = fer_ros.cli.bench:main",
            "fer-ros-train = fer_ros.cli.train:main",
            "fer-ros-export = fer_ros.cli.export:main",
            "fer-ros-explain = fer_ros.cli.explain:main",
        ],
    },
)
