"""Stores of large values (the ``Blobs`` port, ``runtime/payloads.py``): the app's S3 bucket, or memory."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.exceptions import ClientError


class S3Blobs:
    """The app's payload bucket. One ``PutObject`` per value: S3 takes up to 5 GB in a single PUT (S3 User
    Guide, "Uploading objects"), far above stepbridge's 50 MiB maximum, so no multipart upload is needed."""

    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self.bucket = bucket
        self._s3 = client if client is not None else boto3.client("s3")

    def put_blob(self, key: str, data: bytes) -> None:
        """Write the object (encrypted at rest by the bucket's default SSE)."""
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/json")

    def get_blob(self, key: str) -> bytes | None:
        """Read the object; ``None`` when it does not exist (expired by the lifecycle rule, or deleted).

        The roles hold ``s3:GetObject`` on the payload objects and no ``s3:ListBucket``, and without it S3
        answers a missing key with 403 AccessDenied instead of 404 NoSuchKey (S3 API Reference, GetObject,
        "Permissions"): both mean the object cannot be had, and the execution fails with ``PayloadMissing``
        rather than retrying for ever.
        """
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied", "403"):
                return None
            raise
        data: bytes = body.read()
        return data


class MemoryBlobs:
    """Objects in a dict, for unit tests and LocalCloud's memory backend."""

    def __init__(self, bucket: str = "memory-payloads") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put_blob(self, key: str, data: bytes) -> None:
        """Keep a copy of ``data``."""
        with self._lock:
            self.objects[key] = bytes(data)

    def get_blob(self, key: str) -> bytes | None:
        """The stored bytes, or ``None``."""
        with self._lock:
            return self.objects.get(key)
