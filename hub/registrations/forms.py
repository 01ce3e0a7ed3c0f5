"""What the public pages send and see: the registration form (every field bounded), what the owner's private
page shows of it, and what an upload link's page shows of its request. Separate from the tables on purpose."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_CAMERAS = 8


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not an e-mail address we can write to: {exc}") from None


Text = Annotated[str, StringConstraints(strip_whitespace=True)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254), AfterValidator(_email)]


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90, description="The camera's pin on the map (WGS 84).")
    longitude: float = Field(ge=-180, le=180)
    outdoor: bool = Field(description="Outside (true) or inside looking out (false).")
    view_direction_deg: float | None = Field(None, ge=0, lt=360, description=(
        "Which way it looks, clockwise from north; none if it looks all round or the owner does not know."))
    description: Annotated[Text, Field(max_length=500)] = ""
    retention_days: int = Field(ge=1, le=365, description="How many days the recorder keeps footage.")
    shares_past: bool = Field(description="The owner is willing to share past footage when asked.")


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_name: Annotated[Text, Field(min_length=1, max_length=100)]
    email: Email
    phone: Annotated[Text, Field(max_length=40, pattern=r"^[0-9+() .-]*$")] = ""
    address: Annotated[Text, Field(min_length=3, max_length=300)]
    cameras: list[CameraIn] = Field(min_length=1, max_length=MAX_CAMERAS)


class RegisteredCameraOut(CameraIn):
    id: int


class RegistrationOut(BaseModel):
    """The owner's own registration, as their private link shows it."""

    contact_name: str
    email: str
    phone: str
    address: str
    cameras: list[RegisteredCameraOut]
    status: Literal["unconfirmed", "confirmed", "stale"]
    offered: bool = Field(description="Analysts see these cameras in canvasses now.")
    confirmed_at: dt.datetime | None
    reconfirm_by: dt.datetime | None = Field(description="Re-confirm by then, or the cameras stop being offered.")


class Accepted(BaseModel):
    message: str


class LinkFile(BaseModel):
    filename: str
    bytes: int
    sha256: str
    uploaded_at: dt.datetime


class LinkOut(BaseModel):
    """What an upload link's page shows: the window, the case's public reference, the agency; never the reason."""

    state: Literal["open", "done", "declined", "expired"]
    agency: str
    case_reference: str
    window_from: dt.datetime
    window_to: dt.datetime
    expires_at: dt.datetime
    camera: str = Field(description="The owner's description of the camera asked about.")
    max_files: int
    max_file_bytes: int
    max_total_bytes: int
    chunk_bytes: int = Field(description="Send each file in pieces of at most this many bytes (tus PATCH bodies).")
    files: list[LinkFile]


class StatementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statement: Annotated[Text, Field(max_length=4000)] = ""


class PublicConfig(BaseModel):
    """What the public registration pages need to know of the deployment."""

    agency: str
    tile_url: str | None = Field(description="The map's base tiles (a Leaflet URL template); none: no base map.")
    tile_attribution: str
    tile_max_zoom: int
    center_latitude: float | None = Field(description="Where the map starts; none: the whole world.")
    center_longitude: float | None
    max_cameras: int
