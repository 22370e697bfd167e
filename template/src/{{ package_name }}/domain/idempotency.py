"""Idempotency-Key for every POST: one effect per key, whatever the retries.

- A new key is recorded (`in_progress`) with a fingerprint of the request before any work.
- The same key with the same request returns the stored response, with no new work.
- The same key with a different request is refused (422).
- A concurrent request with a key still in progress waits for the first one's response.
- A response that says "try again" (5xx) is not stored: the key is released, so the
  retry runs again, and the ids derived from the key make it resume, not duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .. import limits
from ..ids import new_id, utcnow
from ..models import IdempotencyKey
from .errors import Conflict, Unprocessable

KEY_TTL = timedelta(hours=24)
WAIT_FOR_IN_PROGRESS_S = 10.0


def fingerprint(body: Any) -> str:
    """SHA-256 of the request body in canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def derived_id(prefix: str, scope: str, key: str | None) -> str:
    """Our id for the object a request creates: stable per idempotency key, else random."""
    if key is None:
        return new_id(prefix)
    digest = hashlib.sha256(f"{scope}\0{key}".encode()).digest()[:15]
    return f"{prefix}_{base64.b32encode(digest).decode('ascii').lower()}"


@dataclass(frozen=True)
class Stored:
    status: int
    body: str


class IdempotencyKeys:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def begin(self, scope: str, key: str, request_fingerprint: str) -> Stored | None:
        """Claim `key` for this request; return the stored response if it already ran."""
        if not key or len(key) > limits.IDEMPOTENCY_KEY:
            raise Unprocessable(f"Idempotency-Key must be 1 to {limits.IDEMPOTENCY_KEY} characters")
        deadline = time.monotonic() + WAIT_FOR_IN_PROGRESS_S
        while True:
            try:
                with self.sessions.begin() as session:
                    session.execute(
                        delete(IdempotencyKey).where(
                            IdempotencyKey.scope == scope,
                            IdempotencyKey.key == key,
                            IdempotencyKey.expires_at < utcnow(),
                        )
                    )
                    session.add(
                        IdempotencyKey(
                            scope=scope,
                            key=key,
                            request_fingerprint=request_fingerprint,
                            expires_at=utcnow() + KEY_TTL,
                        )
                    )
                return None
            except IntegrityError:
                pass
            with self.sessions() as session:
                row = session.scalars(
                    select(IdempotencyKey).where(
                        IdempotencyKey.scope == scope, IdempotencyKey.key == key
                    )
                ).one_or_none()
            if row is None:
                continue  # released meanwhile: claim it again
            if row.request_fingerprint != request_fingerprint:
                raise Unprocessable(
                    "this Idempotency-Key was already used with a different request body; "
                    "use a new key for a new request"
                )
            if row.status == "completed" and row.response_status is not None:
                return Stored(row.response_status, row.response_body or "")
            if time.monotonic() > deadline:
                raise Conflict("a request with this Idempotency-Key is still in progress")
            time.sleep(0.05)

    def complete(self, scope: str, key: str, status: int, body: str) -> None:
        with self.sessions.begin() as session:
            row = session.scalars(
                select(IdempotencyKey).where(
                    IdempotencyKey.scope == scope, IdempotencyKey.key == key
                )
            ).one()
            row.status = "completed"
            row.response_status = status
            row.response_body = body

    def release(self, scope: str, key: str) -> None:
        with self.sessions.begin() as session:
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.scope == scope, IdempotencyKey.key == key
                )
            )
