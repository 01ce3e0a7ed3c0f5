"""The model manifest and the store of model files on this box.

Every model is named in `models/manifest.toml` with its SHA-256. `ModelStore.load`
hands out a model's bytes only when they hash to the manifest's value, so the
bytes given to onnxruntime are the bytes that were checked. Files are installed
atomically (temporary file, fsync, rename) from a download or a local folder;
a file with the wrong hash is refused and never replaces a good one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tomllib
from pathlib import Path
from typing import Annotated

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.alpr.base import ModelError
from models import MANIFEST

logger = logging.getLogger(__name__)

PACKAGE_SCHEME = "package:"


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", description="Name used in code and config.")]
    file: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+\.onnx$", description="File name in the model directory.")]
    version: str
    url: Annotated[str, Field(description="https:// download, or package:<module>/<path> inside an installed wheel.")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    licence: str
    card: str
    input: str
    output: str

    @property
    def packaged(self) -> bool:
        return self.url.startswith(PACKAGE_SCHEME)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: list[ModelEntry]

    def entry(self, name: str) -> ModelEntry:
        for entry in self.model:
            if entry.name == name:
                return entry
        raise ModelError(f"no model named {name!r} in the manifest (known: {', '.join(e.name for e in self.model)})")


def load_manifest(path: Path = MANIFEST) -> Manifest:
    try:
        return Manifest.model_validate(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ModelError(f"model manifest {path} is unreadable: {exc}") from exc


def default_model_dir() -> Path:
    """$CANVASS_MODEL_DIR, else $XDG_DATA_HOME/canvass/models, else ~/.local/share/canvass/models."""
    if configured := os.environ.get("CANVASS_MODEL_DIR"):
        return Path(configured)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "canvass" / "models"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _packaged_path(url: str) -> Path | None:
    module, _, relative = url.removeprefix(PACKAGE_SCHEME).partition("/")
    spec = importlib.util.find_spec(module)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / relative


class ModelStore:
    """The model files of this box, checked against the manifest."""

    def __init__(self, directory: Path, manifest: Manifest | None = None) -> None:
        self.directory = directory
        self.manifest = manifest or load_manifest()

    def path_of(self, name: str) -> Path | None:
        entry = self.manifest.entry(name)
        if entry.packaged:
            return _packaged_path(entry.url)
        return self.directory / entry.file

    def available(self, name: str) -> bool:
        path = self.path_of(name)
        return path is not None and path.is_file()

    def load(self, name: str) -> bytes:
        """The model's bytes, only if they hash to the manifest's SHA-256."""
        entry = self.manifest.entry(name)
        path = self.path_of(name)
        if path is None or not path.is_file():
            hint = "install rapidocr-onnxruntime (scripts/setup.sh)" if entry.packaged else (
                f"run `canvass-alpr models fetch` (or `--from DIR`) to install it into {self.directory}")
            raise ModelError(f"model {name} ({entry.file}) is not installed: {hint}")
        data = path.read_bytes()
        if (digest := sha256_of(data)) != entry.sha256:
            raise ModelError(f"model {name} at {path} has SHA-256 {digest}, the manifest says {entry.sha256}: refused")
        return data

    def install(self, name: str, data: bytes) -> Path:
        """Write a model's bytes into the store after checking their hash; atomic."""
        entry = self.manifest.entry(name)
        if (digest := sha256_of(data)) != entry.sha256:
            raise ModelError(f"{entry.file} has SHA-256 {digest}, the manifest says {entry.sha256}: not installed")
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / entry.file
        tmp = target.with_name(target.name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return target

    def downloadable(self) -> list[ModelEntry]:
        return [entry for entry in self.manifest.model if not entry.packaged]

    def install_from(self, source: Path) -> tuple[list[str], list[str]]:
        """Install every downloadable model found in `source`; returns (installed, problems)."""
        installed, problems = [], []
        for entry in self.downloadable():
            candidate = source / entry.file
            if not candidate.is_file():
                problems.append(f"{entry.name}: {entry.file} not found in {source}")
                continue
            try:
                self.install(entry.name, candidate.read_bytes())
                installed.append(entry.name)
            except ModelError as exc:
                problems.append(f"{entry.name}: {exc}")
        return installed, problems

    def fetch(self, *, client: httpx.Client, max_bytes: int = 200 << 20) -> tuple[list[str], list[str]]:
        """Download every downloadable model not already installed; returns (installed, problems)."""
        installed, problems = [], []
        for entry in self.downloadable():
            if self.intact(entry.name):
                continue
            try:
                self.install(entry.name, _download(client, entry.url, max_bytes))
                installed.append(entry.name)
            except (httpx.HTTPError, ModelError) as exc:
                problems.append(f"{entry.name}: {exc}")
        return installed, problems

    def intact(self, name: str) -> bool:
        """Installed and hashing to the manifest's SHA-256."""
        if not self.available(name):
            return False
        try:
            self.load(name)
        except ModelError:
            return False
        return True


def _download(client: httpx.Client, url: str, max_bytes: int) -> bytes:
    chunks, size = [], 0
    with client.stream("GET", url, follow_redirects=True) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ModelError(f"{url} is larger than {max_bytes} bytes: not a model this box expects")
            chunks.append(chunk)
    return b"".join(chunks)
