"""JWT-style bearer tokens (HS256) for the reconciliation API.

The secret comes only from JWT_SECRET (env file or $DEMO_TARGET_JWT_SECRET); without it every
token is refused: there is no fallback secret. ``mint`` is what a login service would do; the
launch checks and the load generator use it with the secret from the secrets backend.
"""

from __future__ import annotations

import hashlib
import time

import jwt

ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 16


def mint(secret: str, user_id: int | str, ttl_seconds: float = 3600.0) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "iat": now, "exp": now + int(ttl_seconds)}, secret, algorithm=ALGORITHM)


def subject(secret: str, header: str) -> str | None:
    """The token's user id, or None when there is no valid token (or no secret configured)."""
    if not secret or not header.lower().startswith("bearer "):
        return None
    try:
        claims = jwt.decode(header[7:], secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.PyJWTError:
        return None
    return str(claims["sub"])


def fingerprint(secret: str) -> str:
    """A short SHA-256 of the secret: lets a check confirm which secret is loaded without reading it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else ""
