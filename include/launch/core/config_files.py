"""Config files a change edits, wherever they live.

A location is a local path (a volume the target shares with the workers, as in docker-compose) or
an fsspec URL (``s3://bucket/accubooks/service.env``, ``file:///shared/...``) read and written
through Airflow's ObjectStoragePath, so the worker that runs a change needs no disk in common
with the target: the target reads the same object.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def config_file(location: str | Path) -> Any:
    """A Path for a local location, an ObjectStoragePath for a URL; both offer read_text/write_text."""
    text = str(location)
    if "://" in text:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(text)
    return Path(text)


def write_config(path: Any, text: str) -> None:
    """Replace the whole file at once: readers see the old or the new text, never half of it.

    Locally through a temporary file and rename (mode kept); an object store replaces an object
    atomically on upload.
    """
    if not isinstance(path, Path):
        path.write_text(text)
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as fh:
        fh.write(text)
    os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
    os.replace(temporary, path)
