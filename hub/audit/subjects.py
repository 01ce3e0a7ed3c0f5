"""Which cameras an audit entry is about, kept as index rows beside the log (`audit_subjects`).

An entry names what it acted on in `object` ("camera:12", "camera:shop-1/front", "request:7", "clip:3", or the
path a recorded read fetched: "GET /api/cameras/12/consent", "GET /api/clips/3/manifest",
"GET /api/reads/9/thumbnail") and
sometimes in its details (a request id, a camera id, the cameras a plate search was limited to or found reads
from). `cameras_named` reads those names (pure); `subject_rows` resolves them to camera and business ids in the
same transaction as the entry, so the auditor's camera and business search and the owner's access log are
indexed lookups instead of scans of a log that grows without bound. The rows are not part of the hashed entry:
they can be rebuilt from the log at any time (the migration that added them did).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hub.tables import Appliance, Camera, Clip, FootageRequest, PlateReadRow

_CAMERA_ID = re.compile(r"^camera:(\d{1,18})$")
_CAMERA_NAME = re.compile(r"^camera:([^/]{1,32})/(.{1,32})$")
_REQUEST = re.compile(r"^request:(\d{1,18})$")
_CLIP = re.compile(r"^clip:(\d{1,18})$")
# Reads on the record name the method and path read (`hub.api.access_audit`: "GET /api/reads/9/thumbnail").
_CAMERA_PATH = re.compile(r"^(?:GET )?/api/cameras/(\d{1,18})(/[a-z/]*)?$")
_CLIP_PATH = re.compile(r"^(?:GET )?/api/clips/(\d{1,18})/[a-z]+$")
_READ_PATH = re.compile(r"^(?:GET )?/api/reads/(\d{1,18})/thumbnail$")
#: Details that name cameras by id (one, or a list).
CAMERA_DETAILS = ("camera_id", "camera_ids", "read_cameras")


@dataclass
class Named:
    """The references an entry makes to cameras, before they are looked up."""

    camera_ids: set[int] = field(default_factory=set)
    by_name: set[tuple[str, str]] = field(default_factory=set)  # (device id, camera name)
    request_ids: set[int] = field(default_factory=set)
    clip_ids: set[int] = field(default_factory=set)
    read_ids: set[int] = field(default_factory=set)  # plate reads (a thumbnail looked at)

    def __bool__(self) -> bool:
        return bool(self.camera_ids or self.by_name or self.request_ids or self.clip_ids or self.read_ids)


def _ints(value: Any) -> set[int]:
    values = value if isinstance(value, list) else [value]
    return {v for v in values if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**62}


def cameras_named(object: str, details: dict[str, Any]) -> Named:
    """The cameras, requests and clips an entry's object and details name."""
    named = Named()
    if match := _CAMERA_ID.match(object):
        named.camera_ids.add(int(match[1]))
    elif match := _CAMERA_NAME.match(object):
        named.by_name.add((match[1], match[2]))
    elif match := _REQUEST.match(object):
        named.request_ids.add(int(match[1]))
    elif match := _CLIP.match(object) or _CLIP_PATH.match(object):
        named.clip_ids.add(int(match[1]))
    elif match := _CAMERA_PATH.match(object):
        named.camera_ids.add(int(match[1]))
    elif match := _READ_PATH.match(object):
        named.read_ids.add(int(match[1]))
    for key in CAMERA_DETAILS:
        named.camera_ids |= _ints(details.get(key))
    named.request_ids |= _ints(details.get("request_id"))
    return named


def _ids_in(column, key_column):
    return select(column).where(key_column.in_(bindparam("ids", expanding=True)))


# Built once: each runs inside an append, the hot path of every audited request (building a SELECT costs more
# than running it).
_REQUEST_CAMERAS = _ids_in(FootageRequest.camera_id, FootageRequest.id)
_CLIP_CAMERAS = _ids_in(Clip.camera_id, Clip.id)
_READ_CAMERAS = _ids_in(PlateReadRow.camera_id, PlateReadRow.id)
_CAMERA_BUSINESS = (select(Camera.id, Appliance.business_id).join(Appliance, Appliance.id == Camera.appliance_id)
                    .where(Camera.id.in_(bindparam("ids", expanding=True))))
_NAMED_CAMERA = (select(Camera.id, Appliance.business_id).join(Appliance, Appliance.id == Camera.appliance_id)
                 .where(Appliance.device_id == bindparam("device"), Camera.name == bindparam("name")))


def subject_rows(session: Session, leaf_index: int, named: Named) -> list[dict[str, int]]:
    """The `audit_subjects` rows for an entry: each camera it names that exists, with its business."""
    if not named:
        return []
    connection = session.connection()
    ids = set(named.camera_ids)
    for query, wanted in ((_REQUEST_CAMERAS, named.request_ids), (_CLIP_CAMERAS, named.clip_ids),
                          (_READ_CAMERAS, named.read_ids)):
        if wanted:
            ids |= set(connection.execute(query, {"ids": sorted(wanted)}).scalars())
    rows = list(connection.execute(_CAMERA_BUSINESS, {"ids": sorted(ids)})) if ids else []
    for device_id, name in named.by_name:
        rows += connection.execute(_NAMED_CAMERA, {"device": device_id, "name": name}).all()
    found = {camera_id: business_id for camera_id, business_id in rows}
    return [{"leaf_index": leaf_index, "camera_id": camera_id, "business_id": business_id}
            for camera_id, business_id in sorted(found.items())]
