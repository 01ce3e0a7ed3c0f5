"""The appliance config: the minimal file works, bad files name the field and start nothing."""

import subprocess
import sys
from pathlib import Path

import pytest

from edge.clips.upload import DEFAULT_CHUNK_BYTES
from edge.config import ConfigError, load_config, parse_config
from hub.settings import HubSettings
from wire.urls import redact_url

MINIMAL = """
[appliance]
id = "shop-1"
data_dir = "/var/lib/canvass"
[[cameras]]
name = "front"
url = "rtsp://127.0.0.1:8554/cam1"
"""


def _with_cameras(n: int, extra: str = "") -> str:
    cams = "".join(f'[[cameras]]\nname = "cam{i}"\nurl = "rtsp://127.0.0.1:8554/cam{i}"\n{extra}' for i in range(n))
    return f'[appliance]\nid = "shop-1"\ndata_dir = "/tmp/x"\n{cams}'


def test_minimal_config_from_the_issue_works_with_defaults():
    config = parse_config(MINIMAL)
    assert config.appliance.id == "shop-1"
    assert config.cameras[0].retention_days == 30
    assert config.recording.segment_seconds == 60


def test_the_default_upload_chunk_is_upload_clips_own_and_one_patch_the_hub_takes_by_default():
    chunk = parse_config(MINIMAL).clips.upload_chunk_bytes
    assert chunk == DEFAULT_CHUNK_BYTES == 4 * 1024 * 1024
    assert chunk <= HubSettings.model_fields["clip_upload_max_chunk_bytes"].default


def test_four_cameras_accepted_fifth_refused_with_a_clear_error():
    assert len(parse_config(_with_cameras(4)).cameras) == 4
    with pytest.raises(ConfigError, match=r"cameras: at most 4 cameras per appliance, got 5"):
        parse_config(_with_cameras(5))


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (MINIMAL.replace("rtsp://127.0.0.1", "http://127.0.0.1"), "cameras.0.url", "rtsp://"),
        (MINIMAL.replace('"rtsp://127.0.0.1:8554/cam1"', '"rtsp://"'), "cameras.0.url", "no host"),
        (MINIMAL.replace(":8554/", ":99999/"), "cameras.0.url", "not a valid URL"),
        (MINIMAL + "retention_days = -3\n", "cameras.0.retention_days", "greater than 0"),
        (MINIMAL + "colour = 'red'\n", "cameras.0.colour", "Extra inputs are not permitted"),
        (MINIMAL.replace('id = "shop-1"', 'id = "shop-1"\nsecret = 1'), "appliance.secret", "Extra inputs"),
        (MINIMAL + '[recording]\nsegment_seconds = 1\n', "recording.segment_seconds", "greater than or equal to 2"),
        (MINIMAL.replace('name = "front"', 'name = "../etc"'), "cameras.0.name", "pattern"),
        ('cameras = []\n[appliance]\nid = "a"\ndata_dir = "/x"\n', "cameras", "at least 1"),
    ],
)
def test_bad_config_names_the_field(text, field, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert f"{field}: " in str(caught.value)
    assert message in str(caught.value)


def test_duplicate_camera_names_refused():
    text = MINIMAL + '[[cameras]]\nname = "front"\nurl = "rtsp://127.0.0.1/x"\n'
    with pytest.raises(ConfigError, match="repeated: front"):
        parse_config(text)


def test_not_toml_is_a_clear_error():
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[appliance\n")


def test_credentials_never_appear_in_errors_or_repr():
    text = MINIMAL.replace("rtsp://127.0.0.1", "http://admin:hunter2@127.0.0.1")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert "hunter2" not in str(caught.value)
    config = parse_config(MINIMAL.replace("rtsp://127.0.0.1", "rtsp://admin:hunter2@127.0.0.1"))
    assert "hunter2" not in repr(config)
    assert config.cameras[0].safe_url == "rtsp://***@127.0.0.1:8554/cam1"


def test_redact_url_handles_ipv6_and_plain_urls():
    assert redact_url("rtsp://u:p@[::1]:554/s") == "rtsp://***@[::1]:554/s"
    assert redact_url("rtsp://10.0.0.5/s") == "rtsp://10.0.0.5/s"


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.toml")


def test_run_with_bad_config_exits_nonzero_and_creates_nothing(tmp_path: Path):
    data_dir = tmp_path / "data"
    config = tmp_path / "edge.toml"
    config.write_text(_with_cameras(5).replace("/tmp/x", str(data_dir)))
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "cameras: at most 4 cameras" in result.stderr
    assert not data_dir.exists()
