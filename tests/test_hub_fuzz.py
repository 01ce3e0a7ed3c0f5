"""The hub's API fuzzed from its own OpenAPI schema (schemathesis): no input gives a 5xx.

Every operation is called both signed out and as an admin (so the fuzzing
reaches past authentication), on a hub with a business, an owner, an
appliance and a camera already in it. schemathesis needs the schema when the
module is collected, so the hub is built then, in a temporary directory.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from hub.tables import Appliance, Camera
from tests.hub_support import HubApi

_ROOT = Path(tempfile.mkdtemp(prefix="canvass-fuzz-"))
HUB = HubApi(_ROOT)
schema = schemathesis.openapi.from_asgi("/openapi.json", HUB.app)


@pytest.fixture(scope="module", autouse=True)
def seeded_hub():
    business_id, _ = HUB.business_with_owner("Bakery")
    with HUB.hub.db.session() as session:
        appliance = Appliance(device_id="dev-aaaaaaaaaaaa", business_id=business_id, cert_serial="1",
                              certificate_pem="")
        session.add(appliance)
        session.flush()
        session.add(Camera(appliance_id=appliance.id, name="front", latitude=40.7, longitude=-74.0))
    yield HUB
    HUB.close()
    shutil.rmtree(_ROOT, ignore_errors=True)


#: Path parameters that name rows the seeded hub has, so generated bodies reach past the 404.
KNOWN = {"business_id": 1, "camera_id": 1, "user_id": 1, "entry_id": 1, "device_id": "dev-aaaaaaaaaaaa"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    generated = dict(case.path_parameters or {})
    known = {k: KNOWN.get(k, v) for k, v in generated.items()}
    generated_headers = dict(case.headers or {})
    for path_parameters in ([generated, known] if known != generated else [generated]):
        case.path_parameters = path_parameters
        for auth in (None, f"Bearer {HUB.admin_token}"):
            # The admin's token replaces whatever Authorization header was generated.
            case.headers = {**generated_headers, "Authorization": auth} if auth else generated_headers
            response = case.call()
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}")
