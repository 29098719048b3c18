"""The one place onnxruntime sessions are created: explicit threads, inter-op 1, no spinning."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from fer_ros.core.model_registry import FIX_HINT, ModelFileError


def create_session(path: str | Path, num_threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(num_threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn the shared cores between runs (three spinning sessions on two cores run 2x slower).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated exception types
        raise ModelFileError(f"model file {path} cannot be loaded by onnxruntime ({exc}); {FIX_HINT}") from exc
