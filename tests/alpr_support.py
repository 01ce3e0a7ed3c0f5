"""Where the third-party plate models and the real evaluation photos are, when this machine has them."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
SHARED_ALPR_DATA = REPO.parent / "shared" / "data" / "alpr"
FAST_MODEL_FILES = ("hyperlpr3_y5fu_320x_sim.onnx", "hyperlpr3_y5fu_640x_sim.onnx", "cct_xs_v1_global.onnx")


def shared_models() -> Path:
    if not all((SHARED_MODELS / name).is_file() for name in FAST_MODEL_FILES):
        pytest.skip(f"the fast backend's models are not in {SHARED_MODELS}")
    return SHARED_MODELS


def shared_alpr_data() -> Path:
    if not SHARED_ALPR_DATA.is_dir():
        pytest.skip(f"no evaluation photos in {SHARED_ALPR_DATA}")
    return SHARED_ALPR_DATA
