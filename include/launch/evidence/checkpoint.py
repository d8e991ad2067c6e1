"""Signed checkpoints of the ledger's chain head, kept outside the ledger database (issue 21).

A hash chain alone does not survive its database admin: deleting the newest rows, or rewriting a
row and recomputing every later hash, leaves a chain that verifies. So every row the engine records
is followed by a checkpoint: ``{seq, row_hash, signed_at, key_id}`` signed with an Ed25519 key
(``cryptography``) that is not in the ledger database (the plan's ``connections.signing_key``
Airflow connection, whose password is the base64 of the 32-byte private seed), and written to the
evidence store under ``ledger_checkpoints/``. ``checkpoint_problems`` then finds a deleted newest
row (a checkpoint names a seq the ledger no longer has), a rewritten row (its hash differs from the
one signed for its seq), a forged or foreign checkpoint (the signature does not verify), and rows no
checkpoint covers.

    python -m include.launch.ledger keygen     # a new key: the connection's password and the key id
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from include.launch.evidence.store import EvidenceStore

FOLDER = "ledger_checkpoints"
log = logging.getLogger(__name__)


class SigningKeyError(ValueError):
    """The signing key is missing or unreadable; the message names the connection."""


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint an auditor can compare with the one the launch published."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def public_key_from(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))


def new_key() -> tuple[str, str, str]:
    """(private seed base64, public key base64, key id) of a fresh key."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key()
    return base64.b64encode(seed).decode(), base64.b64encode(public_bytes(public)).decode(), key_id(public)


def signing_key(conn_id: str) -> Ed25519PrivateKey:
    """The private key from the Airflow connection ``conn_id`` (password: base64 of the 32-byte seed)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    from include.launch.core.connections import get_connection

    try:
        secret = get_connection(conn_id).password or ""
    except AirflowNotFoundException:
        raise SigningKeyError(f"no signing key: Airflow connection {conn_id!r} is not defined") from None
    try:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret, validate=True))
    except ValueError:
        raise SigningKeyError(f"signing key connection {conn_id!r}: the password is not the base64 of a 32-byte "
                              "Ed25519 seed (python -m include.launch.ledger keygen makes one)") from None


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    row_hash: str
    signed_at: str
    key_id: str
    signature: str = ""

    def message(self) -> bytes:
        return json.dumps({"seq": self.seq, "row_hash": self.row_hash, "signed_at": self.signed_at,
                           "key_id": self.key_id}, sort_keys=True, separators=(",", ":")).encode()

    def verifies(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(base64.b64decode(self.signature), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(int(data["seq"]), str(data["row_hash"]), str(data["signed_at"]), str(data["key_id"]),
                   str(data.get("signature", "")))


def sign(key: Ed25519PrivateKey, seq: int, row_hash: str) -> Checkpoint:
    unsigned = Checkpoint(seq, row_hash, datetime.now(UTC).isoformat(), key_id(key.public_key()))
    signature = base64.b64encode(key.sign(unsigned.message())).decode()
    return Checkpoint(unsigned.seq, unsigned.row_hash, unsigned.signed_at, unsigned.key_id, signature)


def name_of(seq: int) -> str:
    return f"seq_{seq:010d}.json"


def publish(base: str, checkpoint: Checkpoint) -> None:
    """Write the checkpoint once (a second checkpoint for a seq would be a rewrite: refused)."""
    EvidenceStore(base, FOLDER).write_json(name_of(checkpoint.seq), asdict(checkpoint))


def read_all(base: str) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint in the store, by seq, and the files that are not one (a finding each)."""
    store = EvidenceStore(base, FOLDER)
    found, problems = [], []
    for name in store.names():
        try:
            found.append(Checkpoint.from_dict(json.loads(store.read_bytes(name))))
        except (ValueError, KeyError, TypeError):
            problems.append(f"checkpoint file {FOLDER}/{name} is not a checkpoint")
    return sorted(found, key=lambda c: c.seq), problems


def checkpoint_problems(rows: list[Any], checkpoints: list[Checkpoint], key: Ed25519PublicKey) -> list[str]:
    """What the signed checkpoints say about the rows (oldest first): each problem names its row."""
    problems: list[str] = []
    valid = []
    for checkpoint in checkpoints:
        if checkpoint.key_id != key_id(key) or not checkpoint.verifies(key):
            problems.append(f"checkpoint seq={checkpoint.seq}: its signature does not verify with key "
                            f"{key_id(key)} (forged, edited, or signed with another key)")
        else:
            valid.append(checkpoint)
    if not valid:
        return [*problems, "no signed checkpoint verifies: the newest rows and any rewrite cannot be vouched for"]
    by_seq = {row.seq: row for row in rows}
    for checkpoint in valid:
        row = by_seq.get(checkpoint.seq)
        if row is None:
            problems.append(f"row seq={checkpoint.seq}: missing, but a checkpoint signed at {checkpoint.signed_at} "
                            "names it (rows deleted)")
        elif row.row_hash != checkpoint.row_hash:
            problems.append(f"row seq={checkpoint.seq} ({row.event}): rewritten: its hash differs from the one "
                            f"signed at {checkpoint.signed_at}")
    newest = valid[-1].seq
    uncovered = [row.seq for row in rows if row.seq > newest]
    if uncovered:
        problems.append(f"rows seq={uncovered[0]}..{uncovered[-1]}: after the newest signed checkpoint (seq {newest}); "
                        "nothing vouches for them")
    return problems


class CheckpointWriter:
    """Signs and publishes a checkpoint after each row a run records; without a key it says so once
    (``verify`` then reports the rows as not covered)."""

    def __init__(self, conn_id: str, base: str) -> None:
        self.conn_id, self.base = conn_id, base
        self._key: Ed25519PrivateKey | None = None
        self._missing = ""
        self.last: Checkpoint | None = None

    def after(self, seq: int, row_hash: str) -> Checkpoint | None:
        if self._key is None and not self._missing:
            try:
                self._key = signing_key(self.conn_id)
            except SigningKeyError as exc:
                self._missing = str(exc)
                log.warning("ledger checkpoints not written: %s", exc)
        if self._key is None:
            return None
        checkpoint = sign(self._key, seq, row_hash)
        publish(self.base, checkpoint)
        self.last = checkpoint
        return checkpoint
