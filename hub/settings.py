"""Hub settings: pydantic-settings from the environment (CANVASS_HUB_*) and the command line.

Everything a hub keeps lives under `data_dir` unless a setting points
elsewhere: the SQLite database, the CA and signing keys, the broker's files,
and the server secret (`keys/server-secret`, written by `canvass-hub init`,
or `CANVASS_HUB_SECRET_KEY`). The environment is production unless it is
explicitly development; only development has a default secret, and a hub
without a secret of its own refuses to start.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"
#: The S3 clip store's credentials in development only (moto and MinIO accept any); production must set its own.
DEVELOPMENT_S3_ACCESS_KEY = "canvass-development"
DEVELOPMENT_S3_SECRET_KEY = "canvass-development-secret"
SECRET_FILE = "server-secret"
#: A tile URL template: a host (a leading {s}. allowed) or a path on the hub, then {z}; no character that could
#: end a Content-Security-Policy source.
TILE_URL = r"^(https?://(\{s\}\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?|)/[^\s;,']*\{z\}[^\s;,']*$"


class SettingsError(ValueError):
    pass


def read_secret(path: Path) -> str | None:
    """The server secret stored at `path`, or None if there is none."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return secret or None


def new_secret() -> str:
    return secrets.token_urlsafe(48)


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANVASS_HUB_", extra="forbid")

    environment: Annotated[Literal["development", "production"], Field(
        description="`production` (the default) refuses default secrets and development conveniences.")
    ] = "production"
    data_dir: Annotated[Path, Field(description="Where the hub keeps its database, keys and broker files.")] = Path("hub-data")
    database_url: Annotated[str | None, Field(
        description="SQLAlchemy URL; default SQLite in data_dir (postgresql+psycopg://… for PostgreSQL).")] = None
    secret_key: Annotated[str | None, Field(min_length=16, max_length=512, repr=False, description=(
        "Server secret (pepper for claim codes and tokens); default: data_dir/keys/server-secret, written by "
        "`canvass-hub init`."))] = None
    session_ttl_s: Annotated[int, Field(ge=60, le=7 * 86400, description="Sign-in session lifetime.")] = 12 * 3600
    lockout_failures: Annotated[int, Field(ge=1, le=100, description=(
        "Failed sign-ins from one address that lock that address out of the account (hub.throttle)."))] = 5
    lockout_window_s: Annotated[int, Field(ge=60, le=86400, description="Window for counting failed sign-ins.")] = 15 * 60
    sign_in_source_failures: Annotated[int, Field(ge=5, le=10_000, description=(
        "Failed sign-ins from one address (across all user names) in the window before it gets 429."))] = 20
    sign_in_account_ceiling: Annotated[int, Field(ge=5, le=10_000, description=(
        "Failed sign-ins to one account in the window (from addresses it has not signed in from) before "
        "password checks for it are slowed down."))] = 50
    sign_in_account_interval_s: Annotated[int, Field(ge=1, le=3600, description=(
        "Past the ceiling, an account allows one password check per this many seconds on average."))] = 15
    sign_in_trust_s: Annotated[int, Field(ge=0, le=365 * 86400, description=(
        "How long an address an account signed in from skips the account's slow-down."))] = 30 * 86400
    claim_code_ttl_s: Annotated[int, Field(ge=60, le=30 * 86400, description="Default lifetime of a claim code.")] = 24 * 3600
    broker_host: Annotated[str, Field(description="MQTT broker address given to appliances and used by the hub.")] = "127.0.0.1"
    broker_port: Annotated[int, Field(ge=1, le=65535, description="MQTT TLS port.")] = 8883
    broker_pid_file: Annotated[Path | None, Field(
        description="The broker's pid file; the hub sends it SIGHUP after changing the ACL or CRL.")] = None
    broker_user: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description=(
        "Account mosquitto drops to when started as root; it must be able to read the broker files."))] = "mosquitto"
    mqtt_enabled: Annotated[bool, Field(description="Connect to the broker and ingest appliance events.")] = True
    audit_origin: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/:-]{1,200}$", description=(
        "Name of this hub's audit log in its signed checkpoints (unique per log, e.g. hub.example.org/audit)."))
    ] = "canvass-hub/audit"
    checkpoint_interval_s: Annotated[float, Field(ge=0.2, le=60, description=(
        "How often a new signed checkpoint is issued while audit entries arrive."))] = 2.0
    footage_max_age_days: Annotated[int, Field(ge=1, le=366, description=(
        "Oldest footage anyone may ask for: what an appliance's buffer holds (30 days by design)."))] = 30
    footage_max_window_s: Annotated[int, Field(ge=60, le=86400, description=(
        "Longest footage window of one request or playback session, per camera."))] = 2 * 3600
    request_expiry_days: Annotated[int, Field(ge=1, le=90, description=(
        "A footage request nobody decided in this many days expires (audited); its hold on the box ends."))] = 7
    request_expiry_check_s: Annotated[float, Field(ge=0.1, le=3600, description=(
        "How often the hub looks for footage requests to expire."))] = 60
    canvass_max_radius_m: Annotated[float, Field(gt=0, le=20_000, description=(
        "Largest canvass radius (metres) an analyst may search or request footage within."))] = 2000
    public_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", description=(
        "Where people reach this hub (links in e-mails), e.g. https://hub.example.org."))] = "http://127.0.0.1:8000"
    map_tile_url: Annotated[str | None, Field(
        max_length=500, pattern=TILE_URL, description=(
            "The console map's base tiles: a URL template of the city's own tile server with {z}, {x} and {y} "
            "(and optionally {s}, {r}), e.g. https://gis.example.org/tiles/{z}/{x}/{y}.png, or a path on this "
            "hub. None: no base map (a plain background with a scale and coordinates); never a public tile "
            "server by default. Its origin is added to the console's Content-Security-Policy."))] = None
    map_tile_attribution: Annotated[str, Field(max_length=300, description=(
        "Attribution shown on the map for the configured tiles (plain text)."))] = ""
    map_tile_max_zoom: Annotated[int, Field(ge=1, le=24, description="Deepest zoom level the tile server has.")] = 19
    web_dist_dir: Annotated[Path | None, Field(description=(
        "The built web front end (hub/web/dist, made by scripts/setup.sh); default: beside the hub's code."))
    ] = None
    smtp_host: Annotated[str | None, Field(description="SMTP server for e-mail to owners; none: no e-mail.")] = None
    smtp_port: Annotated[int, Field(ge=1, le=65535, description="SMTP port.")] = 587
    smtp_starttls: Annotated[bool, Field(description="Upgrade the SMTP connection with STARTTLS.")] = True
    smtp_username: str | None = None
    smtp_password: Annotated[str | None, Field(repr=False)] = None
    mail_from: Annotated[str, Field(max_length=320, description="The From address of the hub's e-mail.")
    ] = "canvass-hub@localhost"
    signed_out_attempts_per_minute: Annotated[int, Field(ge=1, le=10_000, description=(
        "Enrolment and key-rotation attempts one address may make per minute (429 beyond; first refusal audited)."))
    ] = 10
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024, description=(
        "Largest request body the API reads; larger ones are refused with 413 before they are parsed."))
    ] = 1024 * 1024
    ice_host_addresses: Annotated[list[str], Field(max_length=8, description=(
        "Addresses the hub offers as WebRTC host candidates (empty: every interface); list 127.0.0.1 when "
        "appliances or browsers are on the same machine."))] = []
    turn_urls: Annotated[list[str], Field(max_length=4, description=(
        "TURN servers (coturn) for WebRTC, e.g. turn:turn.example.org:3478?transport=udp; handed to viewers with "
        "time-limited credentials made from turn_secret."))] = []
    turn_username: Annotated[str | None, Field(max_length=200, description=(
        "A fixed TURN user for the hub's own aiortc peers (the relay fallback only)."))] = None
    turn_password: Annotated[str | None, Field(repr=False)] = None
    turn_secret: Annotated[str | None, Field(min_length=16, max_length=512, repr=False, description=(
        "The TURN server's shared secret (coturn `static-auth-secret`): viewers get credentials made from it "
        "(TURN REST API convention) that expire after turn_credential_ttl_s; never handed out itself."))] = None
    turn_credential_ttl_s: Annotated[int, Field(ge=60, le=48 * 3600, description=(
        "How long a viewer's TURN credentials work (allocations are refreshed with them; at least a session)."))
    ] = 24 * 3600
    stream_media: Annotated[Literal["sfu", "relay"], Field(description=(
        "How streams reach browsers: `sfu` (Janus forwards the box's RTP; the hub only signals) or `relay` (the "
        "hub decodes and re-encodes per viewer with aiortc: a fallback for deployments without Janus)."))
    ] = "sfu"
    janus_url: Annotated[str | None, Field(max_length=500, pattern=r"^https?://", description=(
        "Janus's HTTP API (e.g. http://127.0.0.1:8088/janus); reachable by the hub only."))] = None
    janus_admin_url: Annotated[str | None, Field(max_length=500, pattern=r"^https?://", description=(
        "Janus's admin API (e.g. http://127.0.0.1:7088/admin), where the hub adds its token."))] = None
    janus_admin_secret: Annotated[str | None, Field(min_length=16, max_length=512, repr=False, description=(
        "Janus's admin_secret."))] = None
    janus_room_admin_key: Annotated[str | None, Field(min_length=16, max_length=512, repr=False, description=(
        "The VideoRoom plugin's admin_key: only holders may create rooms."))] = None
    viewer_token_ttl_s: Annotated[int, Field(ge=5, le=300, description=(
        "How long a viewer token (single use) may wait before it is redeemed."))] = 30
    viewer_ice_transport_policy: Annotated[Literal["all", "relay"], Field(description=(
        "`relay`: browsers reach the SFU only through TURN (networks that allow nothing else)."))] = "all"
    ca_dir: Annotated[Path | None, Field(description="CA key and certificate; default data_dir/ca.")] = None
    clip_store: Annotated[Literal["local", "s3"], Field(description=(
        "Where clips are kept: `local` (a folder, clip_store_dir) or `s3` (an S3-compatible object store)."))
    ] = "local"
    clip_store_dir: Annotated[Path | None, Field(description="The local clip store's folder; default data_dir/clips.")
                              ] = None
    clip_store_s3_endpoint: Annotated[str | None, Field(max_length=500, description=(
        "The S3-compatible store's URL (MinIO, Ceph, …); none: AWS S3 itself."))] = None
    clip_store_s3_bucket: Annotated[str | None, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description=(
        "The bucket clips are kept in (must exist)."))] = None
    clip_store_s3_region: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$", description="The bucket's region.")
                                    ] = "us-east-1"
    clip_store_s3_access_key: Annotated[str | None, Field(min_length=3, max_length=200, repr=False, description=(
        "Access key id for the store; required outside development."))] = None
    clip_store_s3_secret_key: Annotated[str | None, Field(min_length=8, max_length=200, repr=False, description=(
        "Secret access key for the store; required outside development."))] = None
    clip_upload_dir: Annotated[Path | None, Field(description=(
        "Where clip uploads in progress are kept until they complete; default data_dir/uploads."))] = None
    clip_max_bytes: Annotated[int, Field(ge=1024 * 1024, le=1 << 40, description=(
        "Largest clip a box may upload (413 beyond); a 2-hour 1080p clip at 4 Mbit/s is about 3.6 GB."))
    ] = 16 * 1024 ** 3
    clip_upload_max_chunk_bytes: Annotated[int, Field(ge=64 * 1024, le=256 * 1024 * 1024, description=(
        "Largest body of one upload PATCH (413 beyond): the hub holds one PATCH in memory while it writes it."))
    ] = 16 * 1024 * 1024
    clip_upload_abandoned_s: Annotated[int, Field(ge=60, le=90 * 86400, description=(
        "An unfinished upload untouched this long is deleted (the box starts again if it comes back)."))
    ] = 3 * 86400
    case_retention_days: Annotated[int, Field(ge=1, le=36500, description=(
        "How long a new case's clips are kept (from the case's creation) unless an admin extends it."))] = 365
    clip_play_ticket_ttl_s: Annotated[int, Field(ge=30, le=3600, description=(
        "How long a play ticket (a clip's download URL a <video> can use without the sign-in header) lasts; a "
        "page playing longer asks for a new one."))] = 300
    maintenance_interval_s: Annotated[float, Field(ge=0.5, le=86400, description=(
        "How often the hub's maintenance pass runs (case retention, abandoned uploads)."))] = 3600
    owner_alert_check_s: Annotated[float, Field(ge=0.2, le=3600, description=(
        "How often the hub checks for owners' e-mail alerts due (a camera offline past its owner's threshold, a "
        "footage request waiting past the reminder time): an alert goes out at most this long after it is due."
    ))] = 15
    hit_stream_keepalive_s: Annotated[float, Field(ge=0.05, le=300, description=(
        "A live hit stream with nothing to say sends a keep-alive comment this often, and checks then that its "
        "client's sign-in still holds."))] = 15
    hit_stream_queue: Annotated[int, Field(ge=1, le=100_000, description=(
        "Events waiting for one hit stream at most; a client further behind is dropped (it reconnects with "
        "Last-Event-ID)."))] = 256
    hit_stream_max_clients: Annotated[int, Field(ge=1, le=10_000, description=(
        "Live hit streams open at once at most (503 beyond)."))] = 200

    agency_name: Annotated[str, Field(min_length=1, max_length=200, description=(
        "The agency named to the public (registration e-mails, upload pages), e.g. City of Example RTCC."))
    ] = "the city's Real-Time Crime Center"
    public_map_latitude: Annotated[float | None, Field(ge=-90, le=90, description=(
        "Where the public registration map starts (the city's centre); none: the whole world."))] = None
    public_map_longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    upload_link_ttl_h: Annotated[int, Field(ge=1, le=30 * 24, description=(
        "How long a registered camera owner's upload link works (hours) unless the owner presses done first."))
    ] = 72
    owner_upload_max_files: Annotated[int, Field(ge=1, le=100, description=(
        "Files an owner may upload through one link."))] = 16
    owner_upload_max_file_bytes: Annotated[int, Field(ge=1024 * 1024, le=1 << 40, description=(
        "Largest file an owner may upload (413 beyond)."))] = 4 * 1024 ** 3
    owner_upload_max_total_bytes: Annotated[int, Field(ge=1024 * 1024, le=1 << 42, description=(
        "Largest total an owner may upload through one link (413 beyond)."))] = 16 * 1024 ** 3
    registrations_per_address_per_hour: Annotated[int, Field(ge=1, le=10_000, description=(
        "Registrations (and registration changes) one address may send per hour (429 beyond)."))] = 10
    registrations_per_email_per_day: Annotated[int, Field(ge=1, le=1000, description=(
        "Registrations one e-mail address may receive a confirmation for per day (429 beyond)."))] = 3
    registration_reconfirm_days: Annotated[int, Field(ge=30, le=3 * 365, description=(
        "A registration not affirmed for this many days gets a reminder to re-confirm it."))] = 365
    registration_grace_days: Annotated[int, Field(ge=1, le=365, description=(
        "A registration not re-confirmed this many days after its reminder is stale: kept, never offered in a "
        "canvass."))] = 30

    @model_validator(mode="after")
    def _has_its_own_secret(self) -> "HubSettings":
        if self.secret_key is None:
            self.secret_key = read_secret(self.keys_dir / SECRET_FILE)
        if self.secret_key is None and self.environment == "development":
            self.secret_key = DEVELOPMENT_SECRET
        if self.secret_key is None:
            raise ValueError(f"no server secret: run `canvass-hub --data {self.data_dir} init` (it writes "
                             f"{self.keys_dir / SECRET_FILE}) or set CANVASS_HUB_SECRET_KEY")
        if self.environment != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("secret_key is the development default; set CANVASS_HUB_SECRET_KEY outside development")
        self._s3_credentials()
        return self

    def _s3_credentials(self) -> None:
        if self.clip_store != "s3":
            return
        if self.clip_store_s3_bucket is None:
            raise ValueError("clip_store is s3 but no bucket is set (CANVASS_HUB_CLIP_STORE_S3_BUCKET)")
        given = (self.clip_store_s3_access_key, self.clip_store_s3_secret_key)
        if None in given and self.environment == "development":
            self.clip_store_s3_access_key = self.clip_store_s3_access_key or DEVELOPMENT_S3_ACCESS_KEY
            self.clip_store_s3_secret_key = self.clip_store_s3_secret_key or DEVELOPMENT_S3_SECRET_KEY
        elif None in given:
            raise ValueError("clip_store is s3 but its credentials are not set (CANVASS_HUB_CLIP_STORE_S3_ACCESS_KEY "
                             "and CANVASS_HUB_CLIP_STORE_S3_SECRET_KEY)")
        elif self.environment != "development" and DEVELOPMENT_S3_SECRET_KEY in given:
            raise ValueError("the clip store's secret key is the development default; set one outside development")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @property
    def map_tile_origin(self) -> str | None:
        """The scheme and host the map's tiles come from (None: this hub, or no tiles)."""
        if not self.map_tile_url or self.map_tile_url.startswith("/"):
            return None
        scheme, _, rest = self.map_tile_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0].replace('{s}.', '*.')}"

    @property
    def web_dist(self) -> Path:
        return self.web_dist_dir or Path(__file__).resolve().parent / "web" / "dist"

    @property
    def ca_path(self) -> Path:
        return self.ca_dir or self.data_dir / "ca"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def clips_dir(self) -> Path:
        return self.clip_store_dir or self.data_dir / "clips"

    @property
    def uploads_dir(self) -> Path:
        return self.clip_upload_dir or self.data_dir / "uploads"
