"""The generated message classes have exactly the fields the .msg files and the README document."""

from __future__ import annotations

import re

from testsupport import REPO, require_ros_messages

require_ros_messages()

from fer_ros.msg import FaceEmotion, FaceEmotionArray  # noqa: E402


def msg_file_fields(name: str) -> dict[str, str]:
    """Field name -> type, parsed from msg/<name>.msg (comments and blank lines skipped)."""
    fields = {}
    for line in (REPO / "msg" / f"{name}.msg").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            ftype, fname = line.split()[:2]
            fields[fname] = ftype
    return fields


def readme_fields(name: str) -> set[str]:
    """Field names in the README table that follows the `### <name>` heading."""
    text = (REPO / "README.md").read_text()
    section = text.split(f"### {name}\n", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))


def normalise(ros_type: str) -> str:
    """Type name as rosidl reports it for the .msg spelling."""
    if ros_type.endswith("[]"):
        return f"sequence<{normalise(ros_type[:-2])}>"
    return {"FaceEmotion": "fer_ros/FaceEmotion", "float32": "float", "float64": "double"}.get(ros_type, ros_type)


def test_generated_fields_match_msg_files_and_readme():
    for cls in (FaceEmotion, FaceEmotionArray):
        name = cls.__name__
        generated = cls.get_fields_and_field_types()
        documented = msg_file_fields(name)
        assert list(generated) == list(documented), name
        for field, ftype in documented.items():
            assert generated[field] == normalise(ftype), (name, field)
        assert readme_fields(name) == set(documented), f"README table of {name} out of date"
