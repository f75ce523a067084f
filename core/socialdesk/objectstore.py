"""The object store, through the S3 API: attachments kept as evidence (docs/media.md).

Any S3-compatible store serves: AWS S3, MinIO or Ceph in a force's cluster, and moto's
server on the local stack and in the tests. boto3 is synchronous, so every call runs in a
worker thread; its own retries are off, because the callers wait out an outage with
socialdesk.backoff and must know when the store is away (readiness, no commit)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from socialdesk.settings import DEV_SECRET

R = TypeVar("R")


class ContentType(StrEnum):
    """What the store holds (the media service keeps nothing else), by the file's own
    magic bytes: the type it is served back with."""

    jpeg = "image/jpeg"
    png = "image/png"
    gif = "image/gif"
    webp = "image/webp"
    mp4 = "video/mp4"
    pdf = "application/pdf"


# Shown in a page (as a thumbnail) and served inline; anything else is a download.
RASTER = frozenset({ContentType.jpeg, ContentType.png, ContentType.gif, ContentType.webp})


class AttachmentStatus(StrEnum):
    """The attachments index's `status`: written by media, read by console and erasure."""

    stored = "stored"  # the bytes are in the store, their SHA-256 recorded
    refused = "refused"  # not kept, by rule: type, size, host (reason says which)
    failed = "failed"  # could not be fetched: the link had expired or the platform failed


_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
_DELETE_PAGE = 1000  # the most keys one DeleteObjects request takes


class ObjectStoreSettings(BaseSettings):
    """Where the store is and the keys to it. In Kubernetes the keys come from a Secret
    mounted as environment (deploy/helm: objectStore.existingSecret)."""

    model_config = SettingsConfigDict(env_prefix="SOCIALDESK_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    s3_endpoint_url: str | None = Field(
        "http://127.0.0.1:9000", description="S3 API endpoint; empty for AWS itself"
    )
    s3_bucket: str = Field("socialdesk-attachments", min_length=3, max_length=63)
    s3_region: str = "eu-west-2"
    s3_access_key_id: SecretStr = SecretStr(DEV_SECRET)
    s3_secret_access_key: SecretStr = SecretStr(DEV_SECRET)
    s3_timeout_s: float = Field(10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> ObjectStoreSettings:
        if self.environment == "production":
            for name in ("s3_access_key_id", "s3_secret_access_key"):
                if getattr(self, name).get_secret_value() == DEV_SECRET:
                    raise ValueError(
                        f"SOCIALDESK_{name.upper()} is still the development default; "
                        "set the object store's real key"
                    )
        return self


class StoreUnavailable(Exception):
    """The store did not answer, or answered with an error other than "not there"."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class StoredObject:
    info: ObjectInfo
    body: bytes


class ObjectStore:
    """put/get/head/delete/list_prefix/delete_prefix on one bucket, made if missing."""

    def __init__(self, settings: ObjectStoreSettings) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        timeout = settings.s3_timeout_s
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id.get_secret_value(),
            aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
            config=Config(
                connect_timeout=min(timeout, 5.0),
                read_timeout=timeout,
                retries={"max_attempts": 1, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )
        self._bucket_ready = False

    async def _call(self, fn: Callable[..., R], **kwargs: Any) -> R:
        try:
            return await asyncio.to_thread(functools.partial(fn, **kwargs))
        except ClientError:
            raise
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    async def ensure_bucket(self) -> None:
        """Make the bucket if it is not there (once per process)."""
        if self._bucket_ready:
            return
        try:
            await self._call(self._client.head_bucket, Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise StoreUnavailable(_code(exc)) from exc
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if self.settings.s3_region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {
                    "LocationConstraint": self.settings.s3_region
                }
            try:
                await self._call(self._client.create_bucket, **kwargs)
            except ClientError as again:
                if _code(again) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise StoreUnavailable(_code(again)) from again
        self._bucket_ready = True

    async def ping(self) -> bool:
        """For /readyz: the bucket answers."""
        try:
            await self.ensure_bucket()
            await self._call(self._client.head_bucket, Bucket=self.bucket)
            return True
        except (StoreUnavailable, ClientError):
            return False

    async def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        await self.ensure_bucket()
        try:
            await self._call(
                self._client.put_object,
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=metadata or {},
            )
        except ClientError as exc:
            raise StoreUnavailable(_code(exc)) from exc

    async def head(self, key: str) -> ObjectInfo | None:
        await self.ensure_bucket()
        try:
            resp = await self._call(self._client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise StoreUnavailable(_code(exc)) from exc
        return _info(key, resp)

    async def get(self, key: str) -> StoredObject | None:
        await self.ensure_bucket()

        def read() -> StoredObject | None:
            try:
                resp = self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
            with resp["Body"] as body:
                return StoredObject(_info(key, resp), body.read())

        try:
            return await self._call(read)
        except ClientError as exc:
            raise StoreUnavailable(_code(exc)) from exc

    async def delete(self, key: str) -> None:
        await self.ensure_bucket()
        try:
            await self._call(self._client.delete_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise StoreUnavailable(_code(exc)) from exc

    async def list_prefix(self, prefix: str) -> list[str]:
        """Every key under the prefix, however many pages."""
        await self.ensure_bucket()

        def keys() -> list[str]:
            out: list[str] = []
            pages = self._client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
                out.extend(obj["Key"] for obj in page.get("Contents", []))
            return out

        try:
            return await self._call(keys)
        except ClientError as exc:
            raise StoreUnavailable(_code(exc)) from exc

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the prefix; how many went. An empty prefix is
        refused: it would empty the bucket."""
        if not prefix:
            raise ValueError("delete_prefix needs a prefix; an empty one is the whole bucket")
        keys = await self.list_prefix(prefix)
        for start in range(0, len(keys), _DELETE_PAGE):
            page = [{"Key": k} for k in keys[start : start + _DELETE_PAGE]]
            try:
                resp = await self._call(
                    self._client.delete_objects,
                    Bucket=self.bucket,
                    Delete={"Objects": page, "Quiet": True},
                )
            except ClientError as exc:
                raise StoreUnavailable(_code(exc)) from exc
            if resp.get("Errors"):
                raise StoreUnavailable(f"{len(resp['Errors'])} keys not deleted")
        return len(keys)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))


def _info(key: str, resp: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=int(resp.get("ContentLength", 0)),
        content_type=resp.get("ContentType"),
        metadata={str(k): str(v) for k, v in (resp.get("Metadata") or {}).items()},
    )
