"""An owner's large upload through the resumable endpoint on loopback: a 2 GB video file (tus, as the upload
page's tus-js-client sends it: one PATCH per `--chunk-mb`) into `canvass-hub run` in its own process, local clip
store. The hub must stream to disk and never hold the file: its RSS is sampled every 0.2 s over the upload and
must stay flat.

The file is real video FFmpeg probes: a short noisy H.264 MPEG-TS segment repeated to `--mb` MB (TS packets
concatenate into one valid stream). Each run is a fresh request and link; figures are medians over `--runs`:

- MB/s from the first byte sent to the hub's answer to the last PATCH (probed, hashed, stored, recorded);
- the hub's CPU seconds (user + system, /proc) per run and per GB: process CPU time, not wall time, because
  the machine is shared;
- the hub's RSS: idle before the first upload (the baseline), the highest and the median sample during the
  uploads, and highest − idle;
- baseline in the same run: the same file copied on the same disk with SHA-256 (`shutil.copyfileobj` of 1 MB
  blocks through hashlib), the floor of what the hub does with it after the last byte.

    .venv/bin/python bench/upload_large.py --mb 2048 --runs 3 --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.measure import cpu_times, print_figures, rss_bytes  # noqa: E402
from hub.cli import write_secret  # noqa: E402
from hub.registrations import tokens  # noqa: E402
from hub.services import HubServices  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from hub.tables import (Case, OwnerRequest, OwnerUpload, RegisteredCamera, Registration,  # noqa: E402
                        RegistrationStatus, utcnow)
from sim.process import free_port, port_open  # noqa: E402
from tests.edge_support import wait_for  # noqa: E402

MB = 1 << 20


def make_video(path: Path, mb: int, root: Path) -> None:
    """`mb` MB of valid MPEG-TS video: a noisy 10 s segment, repeated."""
    segment = root / "segment.ts"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=640x360:rate=15:duration=10,noise=alls=60:allf=t", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts", str(segment)], check=True)
    block = segment.read_bytes()
    with path.open("wb") as out:
        while out.tell() < mb * MB:
            out.write(block[:mb * MB - out.tell()])


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.samples.append(rss_bytes(self.pid))


def seed_link(services: HubServices, n: int) -> str:
    """A confirmed registration's camera, a case and an open request to its owner; the link's token."""
    token, now = tokens.new_link_token(), utcnow()
    with services.db.session() as session:
        registration = Registration(contact_name="Bench Owner", email=f"bench{n}@example.org", address="1 Bench St",
                                    manage_salt=tokens.new_salt(), manage_token_hash=secrets.token_hex(32),
                                    status=RegistrationStatus.CONFIRMED.value, confirmed_at=now, affirmed_at=now)
        registration.cameras = [RegisteredCamera(latitude=40.0, longitude=-75.0, outdoor=True, retention_days=30,
                                                 shares_past=True)]
        case = Case(case_number=f"BENCH-{n}-{secrets.token_hex(3)}", public_reference=f"C-{secrets.token_hex(5)}",
                    created_by="bench", retain_until=now + dt.timedelta(days=1))
        session.add_all([registration, case])
        session.flush()
        session.add(OwnerRequest(registered_camera_id=registration.cameras[0].id, case_id=case.id, analyst="bench",
                                 purpose="other", reason="benchmark upload", case_number=case.case_number,
                                 window_from=now - dt.timedelta(hours=1), window_to=now, status="open",
                                 link_token_hash=tokens.digest(token),
                                 link_expires_at=now + dt.timedelta(hours=1)))
    return token


def upload(url: str, token: str, path: Path, chunk: int) -> None:
    size = path.stat().st_size
    auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    with httpx.Client(base_url=url, timeout=600) as client, path.open("rb") as source:
        created = client.post("/api/owner-uploads", headers={
            **auth, "Upload-Length": str(size), "Upload-Metadata": "filename YmVuY2gudHM=,filetype dmlkZW8vbXAydA=="})
        created.raise_for_status()
        location = created.headers["location"]
        offset = 0
        while offset < size:
            data = source.read(chunk)
            answer = client.patch(location, content=data, headers={
                **auth, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
            if answer.status_code != 204:
                raise RuntimeError(f"PATCH at {offset}: {answer.status_code} {answer.text[:300]}")
            offset += len(data)


def copy_baseline(path: Path, root: Path) -> float:
    """MB/s of copying the file on the same disk through SHA-256."""
    digest, target = hashlib.sha256(), root / "copy.bin"
    t0 = time.monotonic()
    with path.open("rb") as source, target.open("wb") as out:
        while block := source.read(MB):
            digest.update(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.monotonic() - t0
    target.unlink()
    return path.stat().st_size / MB / elapsed


def one_run(hub_pid: int, services: HubServices, url: str, video: Path, chunk: int, n: int,
            sampler_samples: list[int]) -> dict:
    token = seed_link(services, n)
    c0, t0 = cpu_times(hub_pid), time.monotonic()
    first_sample = len(sampler_samples)
    upload(url, token, video, chunk)
    elapsed = time.monotonic() - t0
    c1 = cpu_times(hub_pid)
    with services.db.session() as session:
        row = session.query(OwnerUpload).order_by(OwnerUpload.id.desc()).first()
        assert row is not None and row.bytes == video.stat().st_size, "the upload was not stored whole"
        key = row.storage_key
    services.clip_store.delete(key)  # keep the disk free for the next run
    cpu = sum(c1) - sum(c0)
    return {"mb_s": video.stat().st_size / MB / elapsed, "cpu_s": cpu,
            "cpu_s_per_gb": cpu / (video.stat().st_size / (1 << 30)),
            "rss": sampler_samples[first_sample:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=2048, help="file size in MB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk-mb", type=float, default=16, help="bytes per PATCH (the hub's default cap)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < 3.5 * args.mb * MB:
        print(f"not enough free disk in {tempfile.gettempdir()}: {free // MB} MB, need {int(3.5 * args.mb)} MB",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="canvass-upload-bench-") as tmp:
        return _run(args, Path(tmp))


def _run(args: argparse.Namespace, root: Path) -> int:
    data, port = root / "hub", free_port()
    write_secret(data)
    limit = str(4 * args.mb * MB)
    services = HubServices(HubSettings(data_dir=data, mqtt_enabled=False))
    video = root / "video.ts"
    make_video(video, args.mb, root)
    env = {**os.environ, "CANVASS_HUB_MQTT_ENABLED": "false", "PYTHONPATH": str(REPO),
           "CANVASS_HUB_OWNER_UPLOAD_MAX_FILE_BYTES": limit, "CANVASS_HUB_OWNER_UPLOAD_MAX_TOTAL_BYTES": limit}
    log = (root / "hub.log").open("wb")
    hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "--data", str(data), "run", "--port", str(port)],
                           env=env, stdout=log, stderr=log, cwd=REPO)
    try:
        wait_for(lambda: port_open(port), timeout=60, what="hub up")
        httpx.get(f"http://127.0.0.1:{port}/api/health").raise_for_status()
        time.sleep(1)
        idle = rss_bytes(hub.pid)
        sampler = RssSampler(hub.pid)
        sampler.start()
        runs = [one_run(hub.pid, services, f"http://127.0.0.1:{port}", video, int(args.chunk_mb * MB), n,
                        sampler.samples) for n in range(args.runs)]
        sampler.stop.set()
        sampler.join()
        baselines = [copy_baseline(video, root) for _ in range(args.runs)]
    except Exception:
        sys.stderr.write((root / "hub.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        hub.terminate()
        hub.wait(30)
        services.close()
    print_figures(_figures(args, runs, baselines, idle), args.json)
    return 0


def _figures(args: argparse.Namespace, runs: list[dict], baselines: list[float], idle: int) -> dict:
    samples = [s for run in runs for s in run["rss"]]
    return {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "file_mb": args.mb, "chunk_mb": args.chunk_mb, "runs": len(runs),
            "upload_mb_s_median": round(statistics.median(r["mb_s"] for r in runs), 1),
            "upload_mb_s_each": [round(r["mb_s"], 1) for r in runs],
            "baseline_copy_sha256_mb_s_median": round(statistics.median(baselines), 1),
            "hub_cpu_s_median": round(statistics.median(r["cpu_s"] for r in runs), 1),
            "hub_cpu_s_per_gb_median": round(statistics.median(r["cpu_s_per_gb"] for r in runs), 2),
            "hub_rss_idle_mb": round(idle / MB, 1),
            "hub_rss_max_mb": round(max(samples) / MB, 1),
            "hub_rss_median_mb": round(statistics.median(samples) / MB, 1),
            "hub_rss_growth_mb": round((max(samples) - idle) / MB, 1),
            "rss_samples": len(samples)}


if __name__ == "__main__":
    sys.exit(main())
