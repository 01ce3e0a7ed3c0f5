"""The clip store on an S3-compatible object store (AWS S3, MinIO, Ceph) through boto3.

`put` is one PUT, or a multipart upload for large objects (boto3's transfer manager), which S3 makes visible
only once complete; `open` streams the object's body without reading it whole, `open_range` asks S3 for the
range alone (GetObject's `Range`).
"""

from __future__ import annotations

from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hub.clips.store import BadRange, ClipNotFound, ClipStore, ClipStoreError, check_key, check_range

MISSING = {"404", "NoSuchKey", "NotFound"}


class _Counting:
    """A reader that counts what passes through it (boto3 does not say how much it uploaded)."""

    def __init__(self, source: BinaryIO):
        self.source, self.count = source, 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.count += len(data)
        return data


class S3ClipStore(ClipStore):
    def __init__(self, *, endpoint: str | None, bucket: str, region: str, access_key: str | None,
                 secret_key: str | None):
        self.bucket = bucket
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=access_key,
                                   aws_secret_access_key=secret_key,
                                   config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                                 s3={"addressing_style": "path"}))

    def put(self, key: str, source: BinaryIO) -> int:
        counting = _Counting(source)
        try:
            self.client.upload_fileobj(counting, self.bucket, check_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise ClipStoreError(f"storing {key} failed: {exc}") from exc
        return counting.count

    def open(self, key: str) -> BinaryIO:
        return self._get(key)

    def open_range(self, key: str, first: int, last: int) -> BinaryIO:
        check_range(first, last)
        return self._get(key, Range=f"bytes={first}-{last}")

    def _get(self, key: str, **arguments: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key), **arguments)["Body"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in MISSING:
                raise ClipNotFound(key) from None
            if code == "InvalidRange":
                raise BadRange(f"{key}: {arguments.get('Range')} starts past its end") from None
            raise ClipStoreError(f"reading {key} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise ClipStoreError(f"reading {key} failed: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise ClipStoreError(f"deleting {key} failed: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return False
            raise ClipStoreError(f"looking up {key} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise ClipStoreError(f"looking up {key} failed: {exc}") from exc
        return True
