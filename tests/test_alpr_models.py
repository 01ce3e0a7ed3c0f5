"""The model manifest and store: hashes checked, installs atomic, a bad file never replaces a good one."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import httpx
import pytest

from edge.alpr.base import ModelError
from edge.alpr.cli import main as alpr_main
from edge.alpr.registry import Manifest, ModelStore, load_manifest
from tests.alpr_support import FAST_MODEL_FILES, shared_models


def test_the_manifest_names_every_model_with_hash_licence_and_contract() -> None:
    manifest = load_manifest()
    names = {e.name for e in manifest.model}
    assert {"hyperlpr3-y5fu-320", "hyperlpr3-y5fu-640", "fast-plate-ocr-cct-xs-v1-global", "ppocr-v4-det",
            "ppocr-v4-rec"} <= names
    for entry in manifest.model:
        assert entry.licence in {"Apache-2.0", "MIT"}
        assert entry.input and entry.output and entry.url
        assert (Path(__file__).resolve().parents[1] / "models" / entry.card).is_file(), entry.card


def test_packaged_models_load_with_no_download(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "empty")
    data = store.load("ppocr-v4-rec")
    assert hashlib.sha256(data).hexdigest() == store.manifest.entry("ppocr-v4-rec").sha256


def test_a_missing_model_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="canvass-alpr models fetch"):
        ModelStore(tmp_path).load("hyperlpr3-y5fu-320")


def test_a_file_with_the_wrong_hash_is_refused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    (tmp_path / "cct_xs_v1_global.onnx").write_bytes(b"not the model")
    with pytest.raises(ModelError, match="SHA-256"):
        store.load("fast-plate-ocr-cct-xs-v1-global")
    with pytest.raises(ModelError, match="SHA-256"):
        store.install("fast-plate-ocr-cct-xs-v1-global", b"also not the model")


def test_install_from_a_folder_and_a_bad_copy_never_replaces_a_good_one(tmp_path: Path, capsys) -> None:
    source = shared_models()
    target = tmp_path / "models"
    assert alpr_main(["--model-dir", str(target), "models", "fetch", "--from", str(source)]) == 0
    store = ModelStore(target)
    for name in ("hyperlpr3-y5fu-320", "hyperlpr3-y5fu-640", "fast-plate-ocr-cct-xs-v1-global"):
        store.load(name)
    good = (target / "cct_xs_v1_global.onnx").read_bytes()

    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in FAST_MODEL_FILES:
        shutil.copy(source / name, tampered / name)
    (tampered / "cct_xs_v1_global.onnx").write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit flipped
    assert alpr_main(["--model-dir", str(target), "models", "fetch", "--from", str(tampered)]) == 1
    assert "SHA-256" in capsys.readouterr().err
    assert (target / "cct_xs_v1_global.onnx").read_bytes() == good
    assert not list(target.glob("*.part"))


def test_fetch_downloads_over_http_and_checks_every_file(tmp_path: Path) -> None:
    """A real HTTP server on loopback stands in for the upstream release pages."""
    source = shared_models()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(source))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        manifest = load_manifest()
        local = Manifest(model=[e.model_copy(update={"url": f"{base}/{e.file}"}) if not e.packaged else e
                                for e in manifest.model])
        store = ModelStore(tmp_path / "models", local)
        with httpx.Client(timeout=30) as client:
            installed, problems = store.fetch(client=client)
            assert sorted(installed) == ["fast-plate-ocr-cct-xs-v1-global", "hyperlpr3-y5fu-320", "hyperlpr3-y5fu-640"]
            assert problems == []
            assert store.fetch(client=client) == ([], [])  # already installed and intact: nothing to do
            broken = Manifest(model=[e.model_copy(update={"url": f"{base}/missing.onnx"}) for e in local.model
                                     if e.name == "hyperlpr3-y5fu-320"])
            (tmp_path / "models" / "hyperlpr3_y5fu_320x_sim.onnx").write_bytes(b"damaged")
            installed, problems = ModelStore(tmp_path / "models", broken).fetch(client=client)
            assert installed == [] and "404" in problems[0]
    finally:
        server.shutdown()
