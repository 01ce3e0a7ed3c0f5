"""onnxruntime sessions the way this box needs them.

One intra-op thread and no spinning: with onnxruntime's defaults two sessions
on the 2-core box ran 2-3x slower (FIELD-NOTES), and the recorder and the
streamer need the other core.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def session_options(*, threads: int = 1) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


def open_session(model: bytes | Path, *, threads: int = 1) -> ort.InferenceSession:
    """An inference session on the CPU from a model's bytes (already hash-checked) or path."""
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=session_options(threads=threads), providers=["CPUExecutionProvider"])
