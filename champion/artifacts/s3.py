"""Blobs in S3-compatible object storage, read through a local cache that checks every download's digest.

boto3 because it reads the standard variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION...), so MinIO, Ceph or R2 need no setting of champion's; because s3transfer streams a large file up
in parts from disk; and because it is the most widely deployed S3 client. This module is imported only when
CHAMPION_ARTIFACTS_URL names a bucket (`open_store`): a default server never loads boto3.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped]
from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError  # type: ignore[import-untyped]

from champion.artifacts.errors import DamagedBlob, StoreUnavailable
from champion.artifacts.store import LocalArtifactStore, StagedFile, sha256_of

logger = logging.getLogger(__name__)

T = TypeVar("T")

MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
LOCK_STRIPES = 64
"""Downloads of one blob in one process wait for each other (striped by digest, so the locks stay few)."""

TRANSFER = TransferConfig(multipart_threshold=8 * 1024**2, multipart_chunksize=8 * 1024**2, max_concurrency=4)
"""Files over 8 MiB go up (and down) in 8 MiB parts, four at a time, read from disk as they are sent."""


class S3ArtifactStore:
    """Blobs at `<prefix>/sha256/<first two hex>/<digest>` in a bucket.

    Staging and the cache are a `LocalArtifactStore` rooted at `cache_dir`: uploads are staged and hashed
    on local disk as before, `keep` sends the file up (once: an object already there is left alone) and
    moves it into the cache, and `open_path` answers from the cache, downloading on a miss. Derived files
    (`<digest>.<kind>/`, e.g. compiled graphs) live beside the cached blob, per host.
    """

    def __init__(self, url: str, cache_dir: Path) -> None:
        self.url = url
        self.bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.root = f"{prefix.strip('/')}/sha256/" if prefix.strip("/") else "sha256/"
        self.cache = LocalArtifactStore(cache_dir)
        self.staging = self.cache.staging
        self._client = _client()
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._check_bucket()

    def stage_dir(self) -> Path:
        return self.cache.stage_dir()

    def stage(self, path: Path) -> StagedFile:
        return self.cache.stage(path)

    def keep(self, staged: StagedFile) -> str:
        if not self.cache.is_staged(staged.path):
            raise ValueError(f"refusing to keep {staged.path}: it is not in the staging folder")
        key = self._key(staged.sha256)
        if not self._has(key):
            doing = f"store blob {staged.sha256}"
            self._call(doing, self._client.upload_file, str(staged.path), self.bucket, key, Config=TRANSFER)
        # Into the cache: the process that uploaded a blob never downloads it.
        return self.cache.keep(staged)

    def open_path(self, sha256: str) -> Path:
        """The cached copy, downloaded first on a miss.

        A blob the bucket does not hold gives a path that does not exist, as the local store does for a
        lost file. A download whose bytes do not hash to `sha256` is never cached: it raises `DamagedBlob`
        (logged with the digest), so a changed object cannot be served, or trusted later, in its place.
        """
        path = self.cache.open_path(sha256)
        if path.is_file():
            return path
        with self._locks[int(sha256[:2], 16) % LOCK_STRIPES]:
            if not path.is_file():  # another thread may have fetched it while this one waited
                self._download(sha256, path)
        return path

    def cached_path(self, sha256: str) -> Path | None:
        """The cached copy, if this host has one; never a download."""
        return self.cache.cached_path(sha256)

    def exists(self, sha256: str) -> bool:
        return self._has(self._key(sha256))

    def delete(self, sha256: str) -> None:
        """Remove the object, then the cached copy and the `<digest>.<kind>/` folders derived from it here
        (other hosts' caches keep their copies; they are never read once no row names the blob)."""
        self._call(f"delete blob {sha256}", self._client.delete_object, Bucket=self.bucket, Key=self._key(sha256))
        self.cache.delete(sha256)

    def digests(self, *, older_than: float = 0) -> Iterable[str]:
        # A blob is written once, so LastModified is when it was first kept.
        cutoff = time.time() - older_than

        def listed() -> list[str]:
            found = []
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.root):
                for item in page.get("Contents", ()):
                    digest = str(item["Key"]).rsplit("/", 1)[-1]
                    if _is_digest(digest) and (not older_than or item["LastModified"].timestamp() <= cutoff):
                        found.append(digest)
            return found

        return self._call("list blobs", listed)

    def clear_staging(self, *, older_than: float = 0) -> None:
        self.cache.clear_staging(older_than=older_than)

    def _download(self, sha256: str, path: Path) -> None:
        # Into staging first (the same disk as the cache), then renamed: a reader never sees half a file,
        # and two processes fetching the same blob each rename a whole, checked copy into place.
        part = self.staging / f"{uuid.uuid4().hex}.download"
        try:
            try:
                self._client.download_file(self.bucket, self._key(sha256), str(part), Config=TRANSFER)
            except ClientError as exc:
                if _code(exc) in MISSING:
                    return
                raise StoreUnavailable(self._say(f"fetch blob {sha256}", exc)) from None
            except (BotoCoreError, Boto3Error) as exc:
                raise StoreUnavailable(self._say(f"fetch blob {sha256}", exc)) from None
            got = sha256_of(part)
            if got != sha256:
                logger.warning("blob %s in %s hashes to %s: not cached, not served", sha256, self.url, got)
                raise DamagedBlob(f"the stored copy of blob {sha256} in {self.url} is damaged (it hashes to {got})")
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, path)
        finally:
            part.unlink(missing_ok=True)

    def _has(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in MISSING:
                return False
            raise StoreUnavailable(self._say(f"look up {key}", exc)) from None
        except BotoCoreError as exc:
            raise StoreUnavailable(self._say(f"look up {key}", exc)) from None
        return True

    def _check_bucket(self) -> None:
        """Fail at start-up, in one line, rather than at the first upload."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError:
            raise StoreUnavailable(
                f"cannot use {self.url}: no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            ) from None
        except ClientError as exc:
            code = _code(exc)
            if code in {"404", "NoSuchBucket"}:
                reason = f"the bucket {self.bucket!r} does not exist at {self._endpoint()}"
            elif code in {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                reason = (
                    f"access to the bucket {self.bucket!r} at {self._endpoint()} was denied "
                    "(check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                )
            else:
                reason = _reason(exc)
            raise StoreUnavailable(f"cannot use {self.url}: {reason}") from None
        except BotoCoreError as exc:
            raise StoreUnavailable(f"cannot use {self.url}: {_reason(exc)}") from None

    def _call(self, doing: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return call(*args, **kwargs)
        except (BotoCoreError, ClientError, Boto3Error) as exc:  # Boto3Error: s3transfer's, after its retries
            raise StoreUnavailable(self._say(doing, exc)) from None

    def _say(self, doing: str, exc: Exception) -> str:
        return f"could not {doing} in {self.url}: {_reason(exc)}"

    def _endpoint(self) -> str:
        return str(self._client.meta.endpoint_url)

    def _key(self, sha256: str) -> str:
        if not _is_digest(sha256):  # no key is ever built from other text
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return f"{self.root}{sha256[:2]}/{sha256}"


def _client() -> Any:
    """A client configured by the environment alone (retries, checksums, endpoint: the AWS_* variables).

    botocore reads AWS_DEFAULT_REGION itself; AWS_REGION is the name the other SDKs and most tools use."""
    return boto3.session.Session().client("s3", region_name=os.environ.get("AWS_REGION") or None)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _reason(exc: Exception) -> str:
    """botocore's message on one line (a start-up error is one line)."""
    return " ".join(str(exc).split())


def _is_digest(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)
