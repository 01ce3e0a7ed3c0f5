"""The registrations' pure rules: when a registration is offered, what FFmpeg's probe report counts as video,
how an owner's file name is shown and kept."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.registrations.intake import clean_filename, storage_key
from hub.registrations.probe import NotVideo, verdict
from hub.registrations.service import offered

NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("status, reconfirm_by, expected", [
    ("confirmed", None, True),
    ("confirmed", NOW + dt.timedelta(days=1), True),  # reminded, still within its 30 days
    ("confirmed", NOW, False),  # the deadline passed (before the upkeep marks it stale)
    ("stale", None, False),
    ("unconfirmed", None, False),
])
def test_only_confirmed_registrations_within_their_deadline_are_offered(status, reconfirm_by, expected):
    assert offered(status, reconfirm_by, NOW) is expected


def _report(container: str, *streams: dict, duration: str | None = "12.5") -> dict:
    return {"format": {"format_name": container, **({"duration": duration} if duration else {})},
            "streams": list(streams)}


VIDEO = {"codec_type": "video", "codec_name": "h264"}


def test_a_container_with_a_video_stream_is_video():
    found = verdict(_report("mov,mp4,m4a,3gp,3g2,mj2", VIDEO, {"codec_type": "audio", "codec_name": "aac"}))
    assert (found.container, found.video_codec, found.duration_s) == ("mov,mp4,m4a,3gp,3g2,mj2", "h264", 12.5)
    assert verdict(_report("mpegts", VIDEO, duration=None)).duration_s is None


@pytest.mark.parametrize("report, why", [
    ({}, "not a video container"),
    (_report("mp3", {"codec_type": "audio", "codec_name": "mp3"}), "no video stream"),
    (_report("mp3", {"codec_type": "video", "codec_name": "mjpeg", "disposition": {"attached_pic": 1}},
             {"codec_type": "audio"}), "no video stream"),  # cover art is not footage
    (_report("jpeg_pipe", {"codec_type": "video", "codec_name": "mjpeg"}), "a picture"),
    (_report("image2", {"codec_type": "video", "codec_name": "png"}), "a picture"),
    (_report("gif", {"codec_type": "video", "codec_name": "gif"}), "a picture"),
])
def test_what_is_not_video_says_why(report, why):
    with pytest.raises(NotVideo, match=why):
        verdict(report)


@pytest.mark.parametrize("given, shown", [
    ("front door.mp4", "front door.mp4"),
    ("C:\\Users\\rosa\\Videos\\cam1.MOV", "cam1.MOV"),
    ("../../etc/passwd", "passwd"),
    ("bad\x00name\n.mp4", "bad_name_.mp4"),
    ("", "upload"),
    ("x" * 300 + ".mp4", "x" * 255),
])
def test_an_owners_file_name_is_shown_without_path_or_control_characters(given, shown):
    assert clean_filename(given) == shown


def test_the_stored_key_never_carries_the_owners_name():
    assert storage_key(7, 12, "a" * 32, "my house.MP4") == f"cases/7/owner-12/{'a' * 32}.mp4"
    assert storage_key(7, 12, "a" * 32, "clip.tar.gz;rm") == f"cases/7/owner-12/{'a' * 32}.bin"
    assert storage_key(7, 12, "a" * 32, "noextension") == f"cases/7/owner-12/{'a' * 32}.bin"
