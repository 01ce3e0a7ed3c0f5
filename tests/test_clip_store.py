"""The clip store's contract, run against the local folder and against a real S3-compatible server (moto) on
loopback through boto3: the same test for both."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hub.clips.store import BadKey, BadRange, ClipNotFound, ClipStore, LocalClipStore
from hub.clips.stores import clip_store_from
from hub.settings import HubSettings
from tests.clip_support import MotoS3


@pytest.fixture(scope="module")
def moto_s3():
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path: Path) -> ClipStore:
    settings = dict(data_dir=tmp_path, environment="development")
    if request.param == "s3":
        settings.update(request.getfixturevalue("moto_s3").settings())
    return clip_store_from(HubSettings(**settings))


def test_the_factory_picks_the_store_the_settings_name(tmp_path: Path, moto_s3):
    from hub.clips.s3 import S3ClipStore

    local = clip_store_from(HubSettings(data_dir=tmp_path, environment="development"))
    assert isinstance(local, LocalClipStore) and local.root == tmp_path / "clips"
    assert isinstance(clip_store_from(HubSettings(data_dir=tmp_path, environment="development",
                                                  **moto_s3.settings())), S3ClipStore)


def test_what_is_put_reads_back_whole_and_streams_in_chunks(store: ClipStore):
    data = bytes(range(256)) * 20_000  # 5 MB: several chunks (and a multipart upload on S3)
    assert store.put("cases/1/2/clip.mp4", io.BytesIO(data)) == len(data)
    assert store.exists("cases/1/2/clip.mp4")
    with store.open("cases/1/2/clip.mp4") as f:
        assert f.read() == data
    chunks = list(store.stream("cases/1/2/clip.mp4", chunk_size=1 << 20))
    assert len(chunks) >= 5 and b"".join(chunks) == data


def test_a_range_reads_exactly_its_bytes_and_is_cut_at_the_end(store: ClipStore):
    data = bytes(range(256)) * 12_000  # 3 MB: a range spans several chunks
    store.put("cases/1/2/clip.mp4", io.BytesIO(data))
    for first, last in [(0, 0), (0, len(data) - 1), (1_000_000, 2_500_123), (len(data) - 1, len(data) - 1),
                        (len(data) - 10, len(data) + 10**12)]:
        with store.open_range("cases/1/2/clip.mp4", first, last) as f:
            assert f.read() == data[first:last + 1], (first, last)
    chunks = list(store.stream_range("cases/1/2/clip.mp4", 100, 2_200_099, chunk_size=1 << 20))
    assert [len(c) for c in chunks] == [1 << 20, 1 << 20, 2_200_000 - (2 << 20)]
    assert b"".join(chunks) == data[100:2_200_100]


def test_a_range_past_the_end_or_backwards_or_of_nothing_is_refused(store: ClipStore):
    store.put_bytes("cases/1/2/clip.mp4", b"0123456789")
    for first, last in [(10, 20), (10**12, 10**12 + 5), (5, 4), (-1, 3)]:
        with pytest.raises(BadRange):
            store.open_range("cases/1/2/clip.mp4", first, last)
    with pytest.raises(ClipNotFound):
        store.open_range("cases/9/9/clip.mp4", 0, 5)
    with pytest.raises(ClipNotFound):
        store.stream_range("cases/9/9/clip.mp4", 0, 5)


def test_put_replaces_and_delete_removes_once_and_again(store: ClipStore):
    store.put_bytes("cases/1/2/manifest.json", b"first")
    store.put_bytes("cases/1/2/manifest.json", b"second")
    assert store.open("cases/1/2/manifest.json").read() == b"second"
    store.delete("cases/1/2/manifest.json")
    assert not store.exists("cases/1/2/manifest.json")
    store.delete("cases/1/2/manifest.json")  # nothing there: no error


def test_a_missing_key_is_clip_not_found(store: ClipStore):
    assert not store.exists("cases/9/9/clip.mp4")
    with pytest.raises(ClipNotFound):
        store.open("cases/9/9/clip.mp4")
    with pytest.raises(ClipNotFound):
        store.stream("cases/9/9/clip.mp4")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "cases/../../x", "cases//x", "cases/x/", "a b", "..", "c\\d"])
def test_a_key_that_is_not_a_plain_relative_name_is_refused(store: ClipStore, key: str):
    with pytest.raises(BadKey):
        store.put_bytes(key, b"x")


def test_s3_settings_refuse_missing_or_development_credentials_outside_development(tmp_path: Path):
    from tests.hub_support import write_secret

    write_secret(tmp_path)
    with pytest.raises(ValueError, match="credentials are not set"):
        HubSettings(data_dir=tmp_path, clip_store="s3", clip_store_s3_bucket="clips")
    with pytest.raises(ValueError, match="development default"):
        HubSettings(data_dir=tmp_path, clip_store="s3", clip_store_s3_bucket="clips",
                    clip_store_s3_access_key="canvass-development",
                    clip_store_s3_secret_key="canvass-development-secret")
    with pytest.raises(ValueError, match="no bucket"):
        HubSettings(data_dir=tmp_path, clip_store="s3", clip_store_s3_access_key="key", clip_store_s3_secret_key="secret-1")
    dev = HubSettings(data_dir=tmp_path, environment="development", clip_store="s3", clip_store_s3_bucket="clips")
    assert dev.clip_store_s3_access_key == "canvass-development"
