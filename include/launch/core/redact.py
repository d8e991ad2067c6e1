"""Keep secrets out of ledger rows, evidence and Slack: mask by key name and by shape."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|webhook|dsn|credential)", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<pw>[^/\s@]+)@", re.I)
_SHAPES = [
    re.compile(r"https?://hooks\.slack\.com/\S+", re.I),
    re.compile(r"xox[abprs]-[0-9A-Za-z-]+"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"),
]


def redact_text(text: str) -> str:
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    for shape in _SHAPES:
        text = shape.sub(MASK, text)
    return text


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-named keys masked and secret-shaped strings masked."""
    if isinstance(value, dict):
        return {key: (MASK if _SECRET_KEY.search(str(key)) and val else redact(val)) for key, val in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
