"""The clip store the settings name (`clip_store`): the local folder (default) or the S3-compatible store."""

from __future__ import annotations

from hub.clips.store import ClipStore, LocalClipStore
from hub.settings import HubSettings


def clip_store_from(settings: HubSettings) -> ClipStore:
    if settings.clip_store == "s3":
        from hub.clips.s3 import S3ClipStore  # boto3 is loaded only by a hub that uses it

        return S3ClipStore(endpoint=settings.clip_store_s3_endpoint, bucket=settings.clip_store_s3_bucket,
                           region=settings.clip_store_s3_region, access_key=settings.clip_store_s3_access_key,
                           secret_key=settings.clip_store_s3_secret_key)
    return LocalClipStore(settings.clips_dir)
