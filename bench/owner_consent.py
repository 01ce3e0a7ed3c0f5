"""Owner-signed consent: what checking the owner's signature costs the box, and how fast a pause reaches it.

1. CPU seconds per verification at the box (process CPU time, `time.process_time`): a policy signed with an
   owner passkey (WebAuthn assertion, ES256: `wire.owner.open_owner_signed`) against the baseline of the
   same document signed with the hub's Ed25519 grant key (`wire.consent.open_signed`, what the box checked
   before owners held keys). Median of `--trials` trials of `--count` verifications each.
2. Pause → box (wall time): the owner's "Pause sharing" as the console does it (prepare the document, sign
   it with a test passkey, PUT it) until the box's consent guard holds the new version, over a real hub,
   mosquitto and an appliance link on loopback; median and max of `--pauses` rounds. Baseline in the same run:
   a `ping` command's round trip over the same link. Target (issue 17): ≤ 2 s.

    .venv/bin/python bench/owner_consent.py --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench.measure import print_figures  # noqa: E402
from tests.owner_support import OwnerAtHub, SoftwareAuthenticator  # noqa: E402
from wire import consent as c  # noqa: E402
from wire import messages as m  # noqa: E402
from wire import owner as wo  # noqa: E402

POLICY = c.Policy(sharing="always", modes=["live", "playback"], privacy_masks=[[(0, 0), (0.5, 0), (0.5, 1)]])


def _cpu_per_call(call, count: int, trials: int) -> float:
    runs = []
    for _ in range(trials):
        start = time.process_time()
        for _ in range(count):
            call()
        runs.append((time.process_time() - start) / count)
    return statistics.median(runs)


def verification_costs(count: int, trials: int) -> dict:
    document = c.PolicyDocument(device_id="dev-aaaaaaaaaaaa", camera="front", version=1,
                                issued_at=dt.datetime.now(dt.timezone.utc), policy=POLICY)
    owner = SoftwareAuthenticator()
    keys = {owner.credential_id: owner.owner_key()}
    owner_signed = owner.sign(c.canonical(document))
    hub_key = Ed25519PrivateKey.generate()
    hub_signed = c.sign(document, hub_key)
    owner_s = _cpu_per_call(lambda: wo.open_owner_signed(owner_signed, keys, c.PolicyDocument), count, trials)
    hub_s = _cpu_per_call(lambda: c.open_signed(hub_signed, hub_key.public_key(), c.PolicyDocument), count, trials)
    return {"verify_owner_es256_us": round(owner_s * 1e6, 1), "verify_hub_ed25519_us_baseline": round(hub_s * 1e6, 1)}


def pause_latency(rounds: int) -> dict:
    from tests.hub_support import HubStack, eventually
    from tests.test_consent_link import appliance_with_guard
    from tests.test_mqtt_link import enrol

    with tempfile.TemporaryDirectory() as root:
        stack = HubStack(Path(root)).start()
        identity, _, token = enrol(stack, Path(root) / "box", "Bakery")
        appliance, guard = appliance_with_guard(Path(root) / "box", identity)
        try:
            appliance.link.publish_event(m.CameraStatus(camera="front", status="recording"))
            camera_id = eventually(lambda: stack.recording_camera("front"), what="camera")
            pauses, pings = [], []
            with stack.client(token) as client:
                owner = OwnerAtHub(client)
                owner.pair(guard)
                for n in range(rounds):
                    policy = {"sharing": "off"} if n % 2 == 0 else {"sharing": "always", "modes": ["live"]}
                    started = time.monotonic()
                    assert owner.put_consent(camera_id, policy).status_code == 200
                    eventually(lambda n=n: guard.policy("front").version == n + 1, what="policy on the box")
                    pauses.append(time.monotonic() - started)
                    started = time.monotonic()
                    reply = stack.hub.link.request(identity.device_id, m.Ping(), timeout_s=5)
                    assert reply is not None and reply.ok
                    pings.append(time.monotonic() - started)
        finally:
            appliance.stop()
            guard.close()
            stack.stop()
    return {"pause_to_box_median_s": round(statistics.median(pauses), 3), "pause_to_box_max_s": round(max(pauses), 3),
            "ping_round_trip_median_s_baseline": round(statistics.median(pings), 3), "pause_rounds": rounds,
            "pause_target_s": 2.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--pauses", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {"machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}",
              **verification_costs(args.count, args.trials), **pause_latency(args.pauses)}
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
