"""Domain errors, each with the HTTP status the API answers with."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 422
    code = "invalid_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Unprocessable(DomainError):
    status_code = 422
    code = "invalid_request"


class IllegalTransition(Conflict):
    code = "illegal_transition"
