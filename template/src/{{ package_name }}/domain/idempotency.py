"""Idempotency-Key for every POST: one effect per key, whatever the retries.

- A new key is recorded (`in_progress`) with a fingerprint of the request before any work;
  the record keeps that fingerprint for its whole life, failures included.
- The same key with the same request returns the stored response, with no new work.
- The same key with a different request is refused (422), even after a failed attempt.
- A concurrent request with a key in progress waits for the first one's response (409 if
  it takes too long).
- A request holds its key for a lease (`IDEMPOTENCY_LEASE_SECONDS`). An answer that may
  change with time (5xx "try again", 404, 409) is not stored: the lease ends at once, so
  the retry runs again. An attempt that died with its process leaves its lease to run out;
  then the retry takes the key over. Either way the ids derived from the key make the
  retry resume the same operation, with the same key to the processor, not duplicate it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .. import limits
from ..ids import new_id, stable_id, utcnow
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
    return new_id(prefix) if key is None else stable_id(prefix, f"{scope}\0{key}")


@dataclass(frozen=True)
class Stored:
    status: int
    body: str


class IdempotencyKeys:
    def __init__(self, sessions: sessionmaker[Session], lease: float = 30.0) -> None:
        self.sessions = sessions
        self.lease = timedelta(seconds=lease)

    def begin(self, scope: str, key: str, request_fingerprint: str) -> Stored | None:
        """Claim `key` for this request; return the stored response if it already ran."""
        if not key or len(key) > limits.IDEMPOTENCY_KEY:
            raise Unprocessable(f"Idempotency-Key must be 1 to {limits.IDEMPOTENCY_KEY} characters")
        deadline = time.monotonic() + WAIT_FOR_IN_PROGRESS_S
        while True:
            try:
                with self.sessions.begin() as session:
                    session.add(
                        IdempotencyKey(
                            scope=scope,
                            key=key,
                            request_fingerprint=request_fingerprint,
                            expires_at=utcnow() + self.lease,
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
                continue  # forgotten meanwhile: claim it again
            if row.status == "completed" and row.expires_at < utcnow():
                self._forget(row)  # 24 hours on: the key may serve a new request
                continue
            if row.request_fingerprint != request_fingerprint:
                raise Unprocessable(
                    "this Idempotency-Key was already used with a different request body; "
                    "use a new key for a new request"
                )
            if row.status == "completed" and row.response_status is not None:
                return Stored(row.response_status, row.response_body or "")
            if row.expires_at <= utcnow() and self._take_over(row):
                return None  # its lease ran out: this request resumes the operation
            if time.monotonic() > deadline:
                raise Conflict("a request with this Idempotency-Key is still in progress")
            time.sleep(0.05)

    def _take_over(self, row: IdempotencyKey) -> bool:
        """Renew an expired lease, unless another request did first."""
        with self.sessions.begin() as session:
            taken = session.scalars(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.id == row.id,
                    IdempotencyKey.status == "in_progress",
                    IdempotencyKey.expires_at == row.expires_at,
                )
                .values(expires_at=utcnow() + self.lease)
                .returning(IdempotencyKey.id)
            ).all()
            return bool(taken)

    def _forget(self, row: IdempotencyKey) -> None:
        with self.sessions.begin() as session:
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.id == row.id, IdempotencyKey.expires_at == row.expires_at
                )
            )

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
            row.expires_at = utcnow() + KEY_TTL

    def release(self, scope: str, key: str) -> None:
        """End the lease now, keeping the request's fingerprint: a retry of the same request
        runs again, a different one is still refused."""
        with self.sessions.begin() as session:
            session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.scope == scope,
                    IdempotencyKey.key == key,
                    IdempotencyKey.status == "in_progress",
                )
                .values(expires_at=utcnow())
            )
