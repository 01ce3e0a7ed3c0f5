"""Real pieces for the clip tests: an S3-compatible server on loopback (moto), a small real MP4 (ffmpeg), an
appliance enrolled with the hub's own CA, a case with an approved clip request and its upload token, and a
manifest signed with the appliance's key."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from edge.clips.upload import upload_clip
from hub.services import HubServices
from hub.tables import Appliance, Business, Camera, Case, FootageRequest, utcnow
from provisioning.keys import make_csr, new_key
from sim.process import free_port
from tests.hub_support import ApiHelpers
from wire.evidence import Manifest, SignedManifest, SourceSegment, file_sha256, sign_manifest

REPO = Path(__file__).resolve().parents[1]


class MotoS3:
    """moto's S3-compatible server on 127.0.0.1 (in this process, its own thread), with one bucket."""

    def __init__(self, bucket: str = "canvass-clips"):
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.bucket = bucket
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoS3":
        import boto3

        self.server.start()
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test-key",
                     aws_secret_access_key="test-secret").create_bucket(Bucket=self.bucket)
        return self

    def stop(self) -> None:
        self.server.stop()

    def settings(self) -> dict:
        return dict(clip_store="s3", clip_store_s3_endpoint=self.endpoint, clip_store_s3_bucket=self.bucket,
                    clip_store_s3_access_key="test-key", clip_store_s3_secret_key="test-secret")


def noisy_mp4(cache: Path, seconds: int = 4) -> Path:
    """A real H.264 MP4 (faststart) of a test pattern under noise (about 300 kB a second, so an upload takes
    many chunks), made once and kept in `cache`."""
    path = cache / f"noisy-testsrc-{seconds}s.mp4"
    if not path.exists():
        tmp = path.with_suffix(".tmp.mp4")
        source = f"testsrc=size=320x240:rate=15:duration={seconds},noise=alls=40:allf=t"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "libx264",
                        "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp)], check=True)
        tmp.replace(path)
    return path


@dataclass
class Box:
    """An enrolled appliance: its row's ids, device id, key and certificate issued by the hub's CA."""

    appliance_id: int
    camera_id: int
    device_id: str
    camera: str
    key: ec.EllipticCurvePrivateKey
    certificate_pem: str


def enrol_box(hub: HubServices, name: str = "bakery", camera: str = "cam1") -> Box:
    key = new_key()
    device_id = "dev-" + secrets.token_hex(6)
    certificate = hub.ca.issue_client(device_id, make_csr(key)).pem.decode()
    with hub.db.session() as session:
        business = Business(name=f"{name}-{device_id}")
        session.add(business)
        session.flush()
        appliance = Appliance(device_id=device_id, business_id=business.id, name=name, cert_serial="1",
                              certificate_pem=certificate)
        session.add(appliance)
        session.flush()
        row = Camera(appliance_id=appliance.id, name=camera, latitude=40.0, longitude=-75.0)
        session.add(row)
        session.flush()
        return Box(appliance.id, row.id, device_id, camera, key, certificate)


@dataclass
class ClipRequest:
    request_id: int
    case_id: int
    case_number: str
    token: str
    window_from: dt.datetime
    window_to: dt.datetime


def approved_request(hub: HubServices, box: Box, *, case_number: str = "2026-000123",
                     minutes: int = 10, retain_days: int = 365) -> ClipRequest:
    """A case (made if new) and an approved clip request for `box`'s camera, with its upload token, as the
    footage-request service leaves them when it sends the clip order."""
    token = secrets.token_urlsafe(32)
    end = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    start = end - dt.timedelta(minutes=minutes)
    with hub.db.session() as session:
        case = session.query(Case).filter_by(case_number=case_number).one_or_none()
        if case is None:
            case = Case(case_number=case_number, public_reference="C-" + secrets.token_hex(4), created_by="analyst",
                        retain_until=utcnow() + dt.timedelta(days=retain_days))
            session.add(case)
            session.flush()
        request = FootageRequest(camera_id=box.camera_id, mode="clip", window_from=start, window_to=end,
                                 duration_s=minutes * 60, analyst="analyst", reason="robbery on Main St",
                                 case_number=case_number, purpose="investigation", status="approved",
                                 decided_by="owner-1", decided_at=utcnow(), decided_how="owner", case_id=case.id,
                                 approved_from=start, approved_to=end, expires_at=utcnow() + dt.timedelta(days=7),
                                 upload_token_hash=hashlib.sha256(token.encode()).hexdigest())
        session.add(request)
        session.flush()
        return ClipRequest(request.id, case.id, case_number, token, start, end)


def signed_manifest(box: Box, request: ClipRequest, clip: Path, *, key: ec.EllipticCurvePrivateKey | None = None,
                    certificate_pem: str | None = None, actual_from: dt.datetime | None = None,
                    actual_to: dt.datetime | None = None, **changes) -> SignedManifest:
    """The manifest `box` would sign for `clip` answering `request` (fields overridable to make bad ones)."""
    digest, size = file_sha256(clip)
    start, end = actual_from or request.window_from, actual_to or request.window_to
    fields = dict(device_id=box.device_id, camera=box.camera, requested_from=request.window_from,
                  requested_to=request.window_to, actual_from=start, actual_to=end,
                  segments=[SourceSegment(start=start, end=end, sha256="ab" * 32, bytes=size)],
                  clip_sha256=digest, clip_bytes=size, request_id=request.request_id, created_at=utcnow(),
                  certificate_pem=certificate_pem or box.certificate_pem)
    fields.update(changes)
    return sign_manifest(Manifest(**fields), key or box.key)


def write_manifest(path: Path, signed: SignedManifest) -> Path:
    path.write_text(signed.model_dump_json(), encoding="utf-8")
    return path


def deliver(hub: "ClipHub", box: Box, request: ClipRequest, clip: Path, folder: Path) -> None:
    """Upload `clip` for `request` as `box` would (tus, with its signed manifest written under `folder`)."""
    manifest = write_manifest(folder / f"manifest-{request.request_id}.json", signed_manifest(box, request, clip))
    upload_clip(clip_path=clip, manifest_path=manifest, url=hub.uploads, token=request.token,
                request_id=request.request_id)


class ClipHub(ApiHelpers):
    """A hub (no broker) served by uvicorn on loopback, for clip uploads and the case library."""

    def __init__(self, root: Path, **settings):
        from hub.cli import write_secret
        from hub.settings import HubSettings
        from tests.hub_support import HubServer

        write_secret(root / "hub")
        self.settings = HubSettings(data_dir=root / "hub", mqtt_enabled=False, **settings)
        self.hub = HubServices(self.settings)
        self.server = HubServer(self.hub)
        self.url = self.server.url
        self.uploads = f"{self.url}/api/uploads"

    def start(self) -> "ClipHub":
        self.server.start()
        return self

    def client(self, token: str | None = None):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def signed_in(self, username: str, role: str) -> str:
        """A new user with `role`, signed in: their session token."""
        from hub.tables import Role

        self.add_user(username, f"{username}-password-1", Role(role))
        return self.login(username, f"{username}-password-1")

    def stop(self) -> None:
        self.server.stop()

    @property
    def recorder(self):
        """The app's access recorder (reads, failed attempts, clip downloads; flush it to see the repeats)."""
        return self.server.app.state.access_recorder

    def clip_of(self, request_id: int):
        from sqlalchemy import select

        from hub.tables import Clip

        with self.hub.db.session() as session:
            return session.scalar(select(Clip).where(Clip.request_id == request_id))

    def request(self, request_id: int) -> FootageRequest:
        with self.hub.db.session() as session:
            return session.get(FootageRequest, request_id)

    def audit_entries(self, action: str) -> list:
        from sqlalchemy import select

        from hub.tables import AuditEntry

        with self.hub.db.session() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                        .order_by(AuditEntry.leaf_index)))

    def staged(self) -> list[str]:
        directory = self.settings.uploads_dir
        return sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.exists() else []
