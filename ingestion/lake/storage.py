"""The lake boundary: keys under a root URI, written atomically, committed by manifests.

Writers put data files first and a ``_manifest.json`` last; readers trust only what a manifest
lists, so a writer killed half-way leaves nothing visible. Locally (``file:///dir``) every write
lands in a temporary name in the same directory and is renamed into place, so no reader ever sees
a half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from ingestion.errors import LakeError


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise LakeError(f"invalid lake key {key!r}")
    return key


class _JsonObjects:
    """JSON documents (manifests, state, catalog entries) on top of put_bytes/get_bytes."""

    def put_json(self, key: str, value: object) -> None:
        self.put_bytes(key, json.dumps(value, indent=2, sort_keys=True, default=str).encode())

    def get_json(self, key: str) -> dict:
        return json.loads(self.get_bytes(key))


class LocalLake(_JsonObjects):
    """A lake in a local directory (the offline stand-in for an S3 bucket and prefix)."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        # Not Path.as_uri(): it percent-encodes '=' (run=..., batch=...), which Hadoop keeps as is.
        self.uri = f"file://{self.root}"

    def __repr__(self) -> str:
        return f"LocalLake({self.uri})"

    def path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def url(self, key: str) -> str:
        """What Spark reads and writes for a key or prefix (``file://`` here, ``s3://`` on AWS)."""
        if key.endswith("/"):
            return f"file://{self.path(key.rstrip('/'))}/"
        return f"file://{self.path(key)}"

    def key_of(self, url: str) -> str:
        """The key of a URL inside this lake (inverse of ``url``)."""
        for root in (self.uri + "/", f"file:{self.root}/"):  # Hadoop may drop the '//'
            if url.startswith(root):
                return url[len(root) :]
        raise LakeError(f"{url} is not inside the lake {self.uri}")

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except OSError as exc:
            raise LakeError(f"cannot read {self.url(key)}: {exc.strerror or exc}") from None

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.name)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise LakeError(f"cannot write {self.url(key)}: {exc.strerror or exc}") from None

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if nothing is there yet; False when it exists. Atomic: the data is
        written to a temporary name and hard-linked into place, which fails if the key exists."""
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.name)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.link(tmp, target)
            finally:
                os.unlink(tmp)
        except FileExistsError:
            return False
        except OSError as exc:
            raise LakeError(f"cannot write {self.url(key)}: {exc.strerror or exc}") from None
        return True

    def put_file(self, key: str, source: Path) -> None:
        """Move a finished local file into the lake under ``key`` (atomic)."""
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".tmp-{target.name}")
            shutil.move(str(source), tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise LakeError(f"cannot write {self.url(key)}: {exc.strerror or exc}") from None

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise LakeError(f"missing in lake: {self.url(key)}") from None
        except OSError as exc:
            raise LakeError(f"cannot read {self.url(key)}: {exc.strerror or exc}") from None

    def list(self, prefix: str, suffix: str = "") -> list[str]:
        """Keys under ``prefix`` ending with ``suffix``, sorted; temporary files are skipped."""
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        keys = []
        for path in base.rglob(f"*{suffix}"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                keys.append(path.relative_to(self.root).as_posix())
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the object (for readers that stream, e.g. gzip)."""
        try:
            return self.path(key).open("rb")
        except OSError as exc:
            raise LakeError(f"cannot read {self.url(key)}: {exc.strerror or exc}") from None

    def tail(self, key: str, size: int) -> bytes:
        """The object's last ``size`` bytes (all of it when smaller)."""
        try:
            with self.path(key).open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - size))
                return f.read()
        except OSError as exc:
            raise LakeError(f"cannot read {self.url(key)}: {exc.strerror or exc}") from None


class S3Lake(_JsonObjects):
    """A lake under ``s3://bucket/prefix``: boto3, multipart uploads above a threshold.

    S3 writes are atomic per object, so the same rule holds as locally: data first, the
    manifest last. The endpoint comes from boto3's own settings (``AWS_ENDPOINT_URL`` points it
    at an emulator in tests).
    """

    def __init__(
        self, bucket: str, prefix: str = "", *, multipart_threshold: int = 64 * 2**20, client=None
    ):
        from boto3.s3.transfer import TransferConfig

        from ingestion.aws import client as aws_client

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.client = client or aws_client("s3")
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold, 5 * 2**20),
        )

    def __repr__(self) -> str:
        return f"S3Lake({self.uri})"

    def _key(self, key: str) -> str:
        key = _check_key(key.rstrip("/")) + ("/" if key.endswith("/") else "")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> LakeError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return LakeError(f"cannot {action} {self.url(key)}: {code}")

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def key_of(self, url: str) -> str:
        root = self.uri + "/"
        if not url.startswith(root):
            raise LakeError(f"{url} is not inside the lake {self.uri}")
        return url[len(root) :]

    def path(self, key: str) -> Path:
        raise LakeError(f"{self.url(key)} has no local path; read it with open()")

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail("check", key, exc) from None

    def size(self, key: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("check", key, exc) from None

    def put_bytes(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("write", key, exc) from None

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if nothing is there yet (S3's conditional put, ``If-None-Match``);
        False when it exists."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in (
                "PreconditionFailed",
                "412",
                "ConditionalRequestConflict",
            ):
                return False
            raise self._fail("write", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("write", key, exc) from None
        return True

    def put_file(self, key: str, source: Path) -> None:
        """Upload a finished local file (multipart when large), then remove the local copy."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.upload_file(str(source), self.bucket, self._key(key), Config=self.transfer)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise self._fail("write", key, exc) from None
        source.unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes:
        return self.open(key).read()

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("read", key, exc) from None

    def tail(self, key: str, size: int) -> bytes:
        """The object's last ``size`` bytes (all of it when smaller): one ranged GET."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_object(
                Bucket=self.bucket, Key=self._key(key), Range=f"bytes=-{size}"
            )
            return reply["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("read", key, exc) from None

    def _objects(self, prefix: str) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix) if prefix else self.prefix
        )
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][strip:]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", prefix or "", exc) from None

    def list(self, prefix: str, suffix: str = "") -> list[str]:
        return sorted(k for k in self._objects(prefix) if k.endswith(suffix))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> None:
        keys = list(self._objects(prefix.rstrip("/") + "/"))
        for i in range(0, len(keys), 1000):
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(k)} for k in keys[i : i + 1000]]},
            )


Lake = LocalLake | S3Lake

PARQUET_MAGIC = b"PAR1"


def parquet_rows(lake: Lake, key: str) -> int:
    """A Parquet file's row count from its footer, the metadata its writer put at its end: only
    the footer is read (one or two ranged reads), never the data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tail = lake.tail(key, 64 * 1024)
    if len(tail) < 12 or tail[-4:] != PARQUET_MAGIC:
        raise LakeError(f"{lake.url(key)} is not a Parquet file (no footer)")
    length = int.from_bytes(tail[-8:-4], "little") + 8  # the footer, its length and the magic
    if length > len(tail):
        tail = lake.tail(key, length)
    try:  # the footer alone behind a header magic reads as a file whose data is elsewhere
        return pq.read_metadata(pa.BufferReader(PARQUET_MAGIC + tail[-length:])).num_rows
    except (OSError, pa.ArrowException) as exc:
        raise LakeError(f"{lake.url(key)}: unreadable Parquet footer: {exc}") from None


def open_lake(uri: str) -> Lake:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return LocalLake(Path(parsed.path))
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Lake(parsed.netloc, parsed.path)
    raise LakeError(
        f"unsupported lake URI {uri!r}: expected file:///absolute/dir or s3://bucket/prefix"
    )
