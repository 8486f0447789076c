"""The lake boundary: keys under a root URI, written atomically, committed by manifests.

Writers put data files first and a ``_manifest.json`` last; readers trust only what a manifest
lists, so a writer killed half-way leaves nothing visible. Locally (``file:///dir``) every write
lands in a temporary name in the same directory and is renamed into place, so no reader ever sees
a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from ingestion.errors import LakeError


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise LakeError(f"invalid lake key {key!r}")
    return key


class LocalLake:
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

    def put_json(self, key: str, value: object) -> None:
        self.put_bytes(key, json.dumps(value, indent=2, sort_keys=True, default=str).encode())

    def get_json(self, key: str) -> dict:
        return json.loads(self.get_bytes(key))

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

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.path(key).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


Lake = LocalLake


def open_lake(uri: str) -> Lake:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return LocalLake(Path(parsed.path))
    raise LakeError(f"unsupported lake URI {uri!r}: expected file:///absolute/dir")
