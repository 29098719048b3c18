"""The ``fer`` package (PyPI ``fer==25.10.3``) as a baseline, run in its own virtual environment.

The venv is made by ``scripts/setup_fer_baseline.sh`` (default ``~/.cache/fer_ros/fer-baseline-venv``,
override with ``$FER_BASELINE_VENV``); this module only finds it, writes the frames to an .npz and runs
``fer_worker.py`` with the venv's python in a subprocess. When the venv is missing or broken the result
carries ``error`` with the reason (the benchmark then reports ``speedup_vs_fer = null``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO / "scripts" / "setup_fer_baseline.sh"
WORKER = Path(__file__).with_name("fer_worker.py")


def default_venv() -> Path:
    return Path(os.environ.get("FER_BASELINE_VENV", Path.home() / ".cache" / "fer_ros" / "fer-baseline-venv"))


def venv_problem(venv: Path) -> str:
    """"" when the venv is ready, else why not (including the setup script's recorded failure)."""
    if (venv / ".fer_baseline_ok").is_file() and (venv / "bin" / "python").exists():
        return ""
    failed = Path(str(venv) + ".failed")
    if failed.is_file():
        return f"fer baseline venv could not be set up: {failed.read_text().strip()}"
    return f"fer baseline venv {venv} not ready: run `bash {SETUP_SCRIPT.relative_to(REPO)}` (or --setup-fer)"


def setup_venv(venv: Path, log_path: Path) -> str:
    """Run the setup script (slow: downloads TensorFlow and torch); returns venv_problem() afterwards."""
    if not SETUP_SCRIPT.is_file():
        return f"{SETUP_SCRIPT} missing"
    with open(log_path, "wb") as log:
        subprocess.run(["bash", str(SETUP_SCRIPT)], env={**os.environ, "FER_BASELINE_VENV": str(venv)},
                       stdout=log, stderr=subprocess.STDOUT, check=False)
    return venv_problem(venv)


def run_fer(frames: list[np.ndarray], work_dir: Path, venv: Path, threads: int = 1, cpus: tuple[int, ...] = (0,),
            repeats: int = 1, warmup: int = 3, timeout_s: float = 1800.0) -> dict:
    """Time ``fer`` on ``frames`` (BGR uint8, same size); {"error": reason} when it cannot run."""
    problem = venv_problem(venv)
    if problem:
        return {"error": problem}
    work_dir.mkdir(parents=True, exist_ok=True)
    npz, out, log = work_dir / "fer_frames.npz", work_dir / "fer_result.json", work_dir / "fer_worker.log"
    np.savez(npz, frames=np.stack(frames))
    out.unlink(missing_ok=True)
    cmd = [str(venv / "bin" / "python"), str(WORKER), str(npz), str(out), "--threads", str(threads),
           "--cpus", ",".join(map(str, cpus)), "--repeats", str(repeats), "--warmup", str(warmup)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AMENT", "COLCON", "LD_LIBRARY"))}
    try:
        with open(log, "wb") as fh:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"fer worker timed out after {timeout_s:.0f} s (log {log})"}
    finally:
        npz.unlink(missing_ok=True)
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-8:])
        return {"error": f"fer worker exited {proc.returncode}: {tail}"}
    return json.loads(out.read_text())
