"""The one place onnxruntime sessions are created: execution providers, explicit threads, inter-op 1, no spinning.

Execution providers are named by short names (``PROVIDERS``: cpu, cuda, tensorrt, openvino), in order of
preference, e.g. ``("cuda", "cpu")``. A provider that this onnxruntime build lacks (``onnxruntime`` has
only cpu; ``onnxruntime-gpu`` adds cuda and tensorrt, ``onnxruntime-openvino`` adds openvino) is an error
when none of the listed providers is left, and a logged warning naming it and the one used instead when
the list has a fall-back. The same holds for a provider that is in the build but cannot start (e.g. no
CUDA driver): onnxruntime would fall back to its CPU provider silently; here it is an error or a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort

from fer_ros.core.model_registry import FIX_HINT, ModelFileError

log = logging.getLogger(__name__)

# short name -> onnxruntime provider id, and what installs it
PROVIDERS: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
_INSTALL = {"cuda": "onnxruntime-gpu", "tensorrt": "onnxruntime-gpu (with TensorRT)",
            "openvino": "onnxruntime-openvino"}
DEFAULT_PROVIDERS: tuple[str, ...] = ("cpu",)


class ProviderError(ValueError):
    """None of the requested execution providers can be used (or a name is unknown)."""


def check_provider_names(names: Sequence[str]) -> tuple[str, ...]:
    """The names as a tuple; ValueError for an empty list, an unknown name or a repeated one."""
    names = tuple(names)
    if not names:
        raise ProviderError(f"providers must list at least one of {tuple(PROVIDERS)}")
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown:
        raise ProviderError(f"unknown execution provider(s) {unknown}; known: {tuple(PROVIDERS)}")
    if len(set(names)) != len(names):
        raise ProviderError(f"providers lists a provider twice: {list(names)}")
    return names


def _unavailable_text(missing: Sequence[str], reason: str) -> str:
    hints = "; ".join(f"{n} needs {_INSTALL[n]}" for n in missing if n in _INSTALL)
    return f"execution provider(s) {', '.join(missing)} {reason}" + (f" ({hints})" if hints else "")


def resolve_providers(names: Sequence[str]) -> tuple[str, ...]:
    """The listed providers this onnxruntime build has, in the given order.

    Raises ProviderError when none is left; logs a warning naming the missing ones (and the ones used)
    when only some are missing.
    """
    names = check_provider_names(names)
    available = set(ort.get_available_providers())
    usable = tuple(n for n in names if PROVIDERS[n] in available)
    missing = [n for n in names if n not in usable]
    if not usable:
        raise ProviderError(_unavailable_text(missing, "not available in this onnxruntime build "
                                              f"(onnxruntime {ort.__version__} has "
                                              f"{', '.join(ort.get_available_providers())})")
                            + "; install that build or list cpu, e.g. providers: [cpu]")
    if missing:
        log.warning("%s; using %s", _unavailable_text(missing, "not available in this onnxruntime build"),
                    ", ".join(usable))
    return usable


def create_session(path: str | Path, num_threads: int = 1,
                   providers: Sequence[str] = DEFAULT_PROVIDERS) -> ort.InferenceSession:
    """An InferenceSession on the first usable of ``providers`` (short names, see ``PROVIDERS``)."""
    usable = resolve_providers(providers)
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
        session = ort.InferenceSession(str(path), options, providers=[PROVIDERS[n] for n in usable])
    except Exception as exc:  # onnxruntime raises several unrelated exception types
        raise ModelFileError(f"model file {path} cannot be loaded by onnxruntime ({exc}); {FIX_HINT}") from exc
    # onnxruntime drops a provider that fails to start (no driver, no device) and silently runs on CPU
    started = set(session.get_providers())
    failed = [n for n in usable if PROVIDERS[n] not in started]
    if failed:
        running = [n for n in usable if n not in failed]
        if not running:
            raise ProviderError(_unavailable_text(failed, f"could not be started by onnxruntime for {path}")
                                + "; check the driver and device, or list cpu as a fall-back")
        log.warning("%s; using %s", _unavailable_text(failed, f"could not be started for {path}"),
                    ", ".join(running))
    return session


def session_providers(session: ort.InferenceSession) -> tuple[str, ...]:
    """Short names of the providers a session runs on (onnxruntime's implicit CPU fall-back included)."""
    by_id = {v: k for k, v in PROVIDERS.items()}
    return tuple(by_id.get(p, p) for p in session.get_providers())
