#!/usr/bin/env python3
"""Check package.xml's dependency keys against rosdep's databases (ros/rosdistro) and record the result.

    python3 scripts/check_rosdep_keys.py --rosdistro /path/to/rosdistro --write   # re-check, rewrite record
    python3 scripts/check_rosdep_keys.py                                          # package.xml vs the record

With ``--rosdistro`` (a git checkout of github.com/ros/rosdistro) every key is looked up where rosdep
looks: system keys in ``rosdep/base.yaml`` and ``rosdep/python.yaml``, ROS package keys in the
``<distro>/distribution.yaml`` of each distro in ``--distros``; a key found nowhere is an error. ``--write``
stores the keys, where they were found, what they resolve to on Ubuntu 24.04 (noble) and the rosdistro
commit in ``scripts/rosdep_keys.txt``. Without ``--rosdistro`` (no network needed, what the tests run) it
only checks that every package.xml key is in that record; keys added since must be re-checked.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORD = REPO / "scripts" / "rosdep_keys.txt"
DEPEND_TAGS = ("depend", "build_depend", "buildtool_depend", "build_export_depend", "exec_depend",
               "test_depend", "doc_depend")
UBUNTU = "noble"


def package_keys(package_xml: Path = REPO / "package.xml") -> dict[str, str]:
    """{key: tag} of every dependency in package.xml (the first tag naming it)."""
    keys: dict[str, str] = {}
    for element in ET.parse(package_xml).getroot():
        if element.tag in DEPEND_TAGS and element.text:
            keys.setdefault(element.text.strip(), element.tag)
    return keys


def read_record(path: Path = RECORD) -> tuple[str, dict[str, tuple[str, str]]]:
    """(rosdistro commit, {key: (where found, noble resolution)}) from the record file."""
    commit, keys = "", {}
    for line in path.read_text().splitlines():
        if line.startswith("# rosdistro commit:"):
            commit = line.split(":", 1)[1].strip().split()[0]
        elif line.strip() and not line.startswith("#"):
            key, where, resolution = line.split("\t")
            keys[key] = (where, resolution)
    return commit, keys


def _noble(rule) -> str:
    """What a rosdep rule of one OS resolves to on Ubuntu noble, as 'apt: ...' or 'pip: ...'."""
    if isinstance(rule, dict) and not {"pip", "apt"} & set(rule):  # rules per release codename
        rule = rule.get(UBUNTU, rule.get("*"))
    if rule is None:
        return "not available on noble"
    if isinstance(rule, list):
        return "apt: " + " ".join(rule)
    for installer in ("pip", "apt"):
        if isinstance(rule, dict) and installer in rule:
            packages = rule[installer]
            packages = packages.get("packages", []) if isinstance(packages, dict) else packages
            return f"{installer}: " + " ".join(packages or [])
    return f"unusual rule {rule!r}"


def lookup(rosdistro: Path, distros: list[str]) -> tuple[str, dict[str, tuple[str, str]]]:
    """(commit, {key: (where, noble resolution)}) for every key in the rosdistro checkout."""
    import yaml

    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(rosdistro), "show", f"HEAD:{path}"], check=True,
                              capture_output=True, text=True).stdout

    commit = subprocess.run(["git", "-C", str(rosdistro), "log", "-1", "--format=%H %cs"], check=True,
                            capture_output=True, text=True).stdout.strip()
    found: dict[str, tuple[str, str]] = {}
    for database in ("rosdep/base.yaml", "rosdep/python.yaml"):
        for key, rules in yaml.safe_load(show(database)).items():
            found.setdefault(key, (database, _noble((rules or {}).get("ubuntu"))))
    ros_packages: dict[str, list[str]] = {}
    for distro in distros:
        for name, repository in yaml.safe_load(show(f"{distro}/distribution.yaml"))["repositories"].items():
            release = repository.get("release")
            if release:
                for package in release.get("packages") or [name]:
                    ros_packages.setdefault(package, []).append(distro)
    for package, in_distros in ros_packages.items():
        apt = "apt: ros-<distro>-" + package.replace("_", "-")
        found.setdefault(package, (",".join(f"{d}/distribution.yaml" for d in in_distros), apt))
    return commit, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rosdistro", type=Path, help="git checkout of github.com/ros/rosdistro")
    parser.add_argument("--distros", default="jazzy,kilted", help="ROS distros whose packages count")
    parser.add_argument("--write", action="store_true", help="rewrite scripts/rosdep_keys.txt")
    parser.add_argument("--package-xml", type=Path, default=REPO / "package.xml")
    args = parser.parse_args(argv)
    keys = package_keys(args.package_xml)
    if args.rosdistro is None:
        commit, record = read_record()
        missing = sorted(set(keys) - set(record))
        for key in missing:
            print(f"error: package.xml key {key!r} is not in {RECORD.name} (rosdistro {commit[:12]}); "
                  "re-check with --rosdistro", file=sys.stderr)
        return 1 if missing else 0
    distros = [d for d in args.distros.split(",") if d]
    commit, found = lookup(args.rosdistro, distros)
    missing = [k for k in keys if k not in found]
    for key in missing:
        print(f"error: package.xml key {key!r} ({keys[key]}) is in none of rosdep/base.yaml, rosdep/python.yaml, "
              f"{', '.join(d + '/distribution.yaml' for d in distros)}", file=sys.stderr)
    if missing:
        return 1
    partial = {k: v for k, v in found.items() if k in keys and not all(d in v[0] for d in distros)
               and "distribution.yaml" in v[0]}
    for key, (where, _) in partial.items():
        print(f"warning: {key} is only in {where}", file=sys.stderr)
    lines = ["# rosdep keys of package.xml, each found in ros/rosdistro by scripts/check_rosdep_keys.py --write",
             f"# rosdistro commit: {commit}",
             f"# distros: {','.join(distros)}; resolution shown for Ubuntu {UBUNTU} (24.04)",
             "# key\twhere found\tresolves to"]
    lines += [f"{k}\t{found[k][0]}\t{found[k][1]}" for k in sorted(keys)]
    if args.write:
        RECORD.write_text("\n".join(lines) + "\n")
        print(f"wrote {RECORD} ({len(keys)} keys, rosdistro {commit})")
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
