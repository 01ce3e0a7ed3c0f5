"""Upload a cut clip to the hub: the signed manifest first, then the clip over tus (tuspy), resumable.

    PUT  <url>/<request id>/manifest    the manifest file's bytes; the hub checks it at once
    POST <url>                          tus creation (Upload-Length = the clip's size)
    PATCH <upload url>                  chunk after chunk, paced to stay under `rate_limit_bytes_per_s`

`url` is the clip order's `upload_url` (the hub's tus endpoint, …/api/uploads) and `token` its `upload_token`.
The upload's URL is kept in `state_path` as soon as the hub gives it, so after a crash, a restart or a lost
connection the next call continues where the hub's offset says (HEAD) instead of starting again. The last
PATCH returns only when the hub has verified and stored the clip.

Blocking from start to end: run it in a thread. Recording never waits for it: it only reads the clip file,
and with a rate limit it sleeps between chunks so it takes a bounded share of the uplink.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.request import TusRequest
from tusclient.uploader import Uploader

from wire.evidence import ManifestError, parse_signed

log = logging.getLogger(__name__)

DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
MIN_CHUNK_BYTES = 64 * 1024
TIMEOUT_S = 60


class UploadError(RuntimeError):
    """The clip is not at the hub (yet); the message says why."""


class UploadRefused(UploadError):
    """The hub answered no (`status`, its `detail`): the same upload again would be refused again."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"the hub refused the upload ({status}): {detail}")
        self.status, self.detail = status, detail


class AlreadyDelivered(UploadRefused):
    """The hub already has this request's clip (409): nothing more to do."""


class ClipRejected(UploadRefused):
    """Every byte arrived but the clip does not verify against its manifest at the hub (422 on the last chunk)."""


class UploadInterrupted(UploadError):
    """The connection failed or the hub was unavailable; call again to resume from where the hub stands."""


class UploadStopped(UploadInterrupted):
    """`stop` was set: the upload paused between chunks and resumes on the next call."""


class _Request(TusRequest):
    """tuspy's PATCH with the hub's CA (tuspy reduces `verify` to a bool) and a timeout (it sets none)."""

    def __init__(self, uploader: "_Uploader"):
        super().__init__(uploader)
        self.verify_tls_cert = uploader.verify_tls_cert

    def perform(self) -> None:
        try:
            chunk = self.file.read(self._content_length)
            response = requests.patch(self._url, data=chunk, headers=self._request_headers,
                                      verify=self.verify_tls_cert, timeout=TIMEOUT_S)
        except requests.exceptions.RequestException as error:
            raise TusUploadFailed(error) from None
        self.status_code = response.status_code
        self.response_content = response.content
        self.response_headers = {k.lower(): v for k, v in response.headers.items()}


class _Uploader(Uploader):
    """tuspy's uploader with `_Request`, and timeouts on its HEAD and POST."""

    def _do_request(self) -> None:
        self.request = _Request(self)
        self.request.perform()
        if not 200 <= self.request.status_code < 300:
            raise TusUploadFailed("", self.request.status_code, self.request.response_content)

    def get_offset(self) -> int:
        try:
            response = requests.head(self.url, headers=self.get_headers(), verify=self.verify_tls_cert,
                                     timeout=TIMEOUT_S)
        except requests.exceptions.RequestException as error:
            raise TusCommunicationError(error) from None
        offset = response.headers.get("upload-offset")
        if response.status_code != 200 or offset is None:
            raise TusCommunicationError("", response.status_code, response.content)
        return int(offset)

    def create_url(self) -> str:
        try:
            response = requests.post(self.client.url, headers=self.get_url_creation_headers(),
                                     verify=self.verify_tls_cert, timeout=TIMEOUT_S)
        except requests.exceptions.RequestException as error:
            raise TusCommunicationError(error) from None
        location = response.headers.get("location")
        if response.status_code != 201 or location is None:
            raise TusCommunicationError("", response.status_code, response.content)
        return urljoin(self.client.url, location)


def _detail(content: bytes | str | None) -> str:
    text = content.decode(errors="replace") if isinstance(content, bytes) else str(content or "")
    try:
        return str(json.loads(text)["detail"])
    except (ValueError, KeyError, TypeError):
        return text[:500] or "no reason given"


def _refusal(status: int | None, content: bytes | str | None) -> UploadError:
    """The error for the hub's answer: a refusal for 4xx (409 delivered, 422 rejected), else an interruption."""
    detail = _detail(content)
    if status is None or status >= 500 or status in (408, 429):
        return UploadInterrupted(f"the upload was interrupted ({status or 'no answer'}): {detail}")
    if status == 409 and "already" in detail:
        return AlreadyDelivered(status, detail)
    if status == 422:
        return ClipRejected(status, detail)
    return UploadRefused(status, detail)


class _State:
    """Where an upload stands, kept across restarts: its URL at the hub, for one request and one clip."""

    def __init__(self, path: Path | None, request_id: int, clip_sha256: str):
        self.path, self.key = path, {"request_id": request_id, "clip_sha256": clip_sha256}

    def url(self) -> str | None:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8")) if self.path else {}
        except (FileNotFoundError, ValueError):
            return None
        same = all(saved.get(k) == v for k, v in self.key.items())
        return saved.get("url") if same and isinstance(saved.get("url"), str) else None

    def save(self, url: str) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({**self.key, "url": url}), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _send_manifest(url: str, request_id: int, manifest: bytes, headers: dict, verify: str | bool) -> bool:
    """PUT the manifest; whether the hub has an upload of this clip under way."""
    try:
        response = requests.put(f"{url.rstrip('/')}/{request_id}/manifest", data=manifest, verify=verify,
                                headers={**headers, "Content-Type": "application/json"}, timeout=TIMEOUT_S)
    except requests.exceptions.RequestException as error:
        raise UploadInterrupted(f"the hub cannot be reached: {error}") from None
    if response.status_code != 200:
        raise _refusal(response.status_code, response.content)
    return bool(response.json().get("resumes"))


def _open_upload(make: Callable[..., _Uploader], state: _State, resumes: bool) -> _Uploader:
    """The upload to continue (its stored URL, offset from the hub) or a new one (its URL stored at once)."""
    stored = state.url() if resumes else None
    if stored is not None:
        try:
            return make(url=stored)  # asks the hub for the offset (HEAD)
        except TusCommunicationError as error:
            if error.status_code not in (403, 404, 410):
                raise _refusal(error.status_code, error.response_content) from None
            log.info("the hub no longer has upload %s (%s): starting again", stored, error.status_code)
    uploader = make()
    try:
        uploader.set_url(uploader.create_url())
    except TusCommunicationError as error:
        raise _refusal(error.status_code, error.response_content) from None
    uploader.offset = 0
    state.save(uploader.url)
    return uploader


def _send(uploader: _Uploader, size: int, rate: int | None, stop: threading.Event | None,
          progress: Callable[[int, int], None] | None) -> None:
    """PATCH chunk after chunk until the hub has every byte, paced under `rate` bytes a second."""
    started, sent = time.monotonic(), 0
    while uploader.offset < size:
        if stop is not None and stop.is_set():
            raise UploadStopped(f"stopped at {uploader.offset} of {size} bytes")
        before = uploader.offset
        try:
            uploader.upload_chunk()
        except TusCommunicationError as error:
            if error.status_code == 409 and b"Offset mismatch" in (error.response_content or b""):
                uploader.offset = uploader.get_offset()  # an answer was lost: continue from the hub's offset
                continue
            raise _refusal(error.status_code, error.response_content) from None
        sent += uploader.offset - before
        if progress is not None:
            progress(uploader.offset, size)
        wait = sent / rate - (time.monotonic() - started) if rate else 0
        if wait > 0 and uploader.offset < size:
            (stop.wait if stop is not None else time.sleep)(wait)


def upload_clip(*, clip_path: Path, manifest_path: Path, url: str, token: str, request_id: int,
                rate_limit_bytes_per_s: int | None = None, state_path: Path | None = None,
                ca_path: Path | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                stop: threading.Event | None = None, progress: Callable[[int, int], None] | None = None) -> str:
    """Upload `clip_path` with its signed manifest for request `request_id`; the upload's URL at the hub once
    the hub has verified and stored the clip. `ca_path`: the hub's CA for an https `url` (the box's
    identity.ca). Raises AlreadyDelivered, ClipRejected or UploadRefused when the hub says no, and
    UploadInterrupted (UploadStopped when `stop` was set) when calling again will resume."""
    manifest = Path(manifest_path).read_bytes()
    try:
        clip_sha256 = parse_signed(manifest).read().clip_sha256
    except ManifestError as error:
        raise UploadError(f"{manifest_path} is not a signed clip manifest: {error}") from None
    verify: str | bool = str(ca_path) if ca_path else True
    headers = {"Authorization": f"Bearer {token}"}
    resumes = _send_manifest(url, request_id, manifest, headers, verify)
    state = _State(Path(state_path) if state_path else None, request_id, clip_sha256)
    if rate_limit_bytes_per_s:
        chunk_bytes = min(chunk_bytes, max(MIN_CHUNK_BYTES, rate_limit_bytes_per_s // 4))
    size = Path(clip_path).stat().st_size
    metadata = {"request_id": str(request_id), "filename": "clip.mp4", "filetype": "video/mp4"}
    with open(clip_path, "rb") as clip:
        def make(**kwargs) -> _Uploader:
            return _Uploader(file_stream=clip, client=TusClient(url, headers=dict(headers)), chunk_size=chunk_bytes,
                             metadata=metadata, verify_tls_cert=verify, **kwargs)
        try:
            uploader = _open_upload(make, state, resumes)
            _send(uploader, size, rate_limit_bytes_per_s, stop, progress)
        except UploadRefused:
            state.clear()  # nothing left to resume
            raise
    state.clear()
    return uploader.url
