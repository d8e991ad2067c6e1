"""Evidence files written through Airflow's ObjectStoragePath, once each, inside one base.

The base is a local folder by default (``launch/evidence`` under the project) and any fsspec URL
(``s3://bucket/launch``) in production, so tasks on different machines share one evidence tree.
A file is written once: a second write of the same name is refused unless the caller says the
file is meant to be replaced (a re-run of a daily scorecard), and the ledger row then points at
the new hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from include.launch.core.errors import EvidenceError

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # include/launch/evidence/store.py -> the project
BASE_ENV = "LAUNCH_EVIDENCE_BASE"


@dataclass(frozen=True)
class EvidenceRef:
    """What the ledger records about a file: where it is, its SHA-256 and its size."""

    path: str
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


def resolve_base(configured: str) -> str:
    """The evidence base as a URL: env override first, relative folders under the project root."""
    base = os.environ.get(BASE_ENV) or configured
    if "://" in base:
        return base.rstrip("/")
    path = Path(base)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    return path.resolve().as_uri()


def _storage_path(url: str):  # type: ignore[no-untyped-def]
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EvidenceStore:
    """Writes and reads evidence under ``base/folder``; refuses names that escape it."""

    def __init__(self, base: str, folder: str = "") -> None:
        self.base_url = resolve_base(base)
        self.folder = self._clean(folder, "folder") if folder else ""

    def url_for(self, name: str) -> str:
        relative = self._clean(name, "name")
        parts = [self.base_url, self.folder, relative] if self.folder else [self.base_url, relative]
        return "/".join(parts)

    def write_bytes(self, name: str, data: bytes, *, replace: bool = False) -> EvidenceRef:
        url = self.url_for(name)
        target = _storage_path(url)
        try:
            if target.exists() and not replace:
                raise EvidenceError(f"evidence file {name!r} already exists at {url}; evidence is written once")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except EvidenceError:
            raise
        except OSError as exc:
            raise EvidenceError(f"cannot write evidence {name!r} to {url}: {exc}") from exc
        return EvidenceRef(path=url, sha256=sha256_of(data), size=len(data))

    def write_text(self, name: str, text: str, *, replace: bool = False) -> EvidenceRef:
        return self.write_bytes(name, text.encode("utf-8"), replace=replace)

    def write_json(self, name: str, document: Any, *, replace: bool = False) -> EvidenceRef:
        text = json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
        return self.write_text(name, text, replace=replace)

    def read_bytes(self, name: str) -> bytes:
        return read_url(self.url_for(name))

    def exists(self, name: str) -> bool:
        return bool(_storage_path(self.url_for(name)).exists())

    def names(self) -> list[str]:
        """Every file under this store's folder, as paths relative to it (none when it does not exist)."""
        root = _storage_path("/".join([self.base_url, self.folder]) if self.folder else self.base_url)
        if not root.exists():
            return []
        return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())

    @staticmethod
    def _clean(name: str, what: str) -> str:
        path = PurePosixPath(name)
        if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "://" in name:
            raise EvidenceError(f"evidence {what} {name!r} must be a relative path inside the evidence base")
        return str(path)


def read_url(url: str) -> bytes:
    """Read an evidence file by the URL the ledger recorded."""
    return bytes(_storage_path(url).read_bytes())
