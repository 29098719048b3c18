# fer_ros: the two commands a new machine needs are `make test` and `make demo`.
# Every target sets up what it needs first (scripts/setup_env.sh is idempotent).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := source scripts/env.sh &&

.PHONY: help setup build test lint demo bench models clean colcon-test debian-check

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## virtual environment with pinned ROS 2 Kilted wheels and python dependencies
	@bash scripts/setup_env.sh

build: setup  ## colcon build: messages, python package, executables, launch/config/models
	@bash scripts/build.sh

lint: setup  ## ruff over the whole repository
	@$(ENV) printf '\033[1m[test]\033[0m ruff check\n' && ruff check .

test: build lint  ## build, lint, then every test (unit, ROS over DDS, models, CLI, training)
	@$(ENV) printf '\033[1m[test]\033[0m pytest\n' && pytest test $(PYTEST_ARGS)

colcon-test: setup  ## `colcon test` runs the pytest suite (BUILD_TESTING=ON build in build/colcon-test/)
	@bash scripts/check_colcon_test.sh $(PYTEST_ARGS)

debian-check:  ## core, node and foundation tests on Debian's apt python3-opencv 4.6 / python3-numpy (own venv)
	@bash scripts/check_debian_stack.sh $(PYTEST_ARGS)

demo: build  ## run the node on a generated camera stream and print what /faces/emotion carries
	@$(ENV) python -m fer_ros.ros.demo $(DEMO_ARGS)

bench: build  ## benchmarks (reads ../shared/data when present); writes BENCHMARKS.md inputs
	@$(ENV) fer-ros-bench $(BENCH_ARGS)

models: setup  ## re-derive the shipped ONNX models from their source packages and check sha256s
	@$(ENV) fer-ros-models derive --check

clean:  ## remove build outputs (keeps the virtual environment)
	rm -rf build install log .pytest_cache .ruff_cache
