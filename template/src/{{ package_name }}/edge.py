"""The service's edge: one pure ASGI middleware, outermost, around every request.

- Every answer gets the baseline security headers (API answers: `no-store` too; pages set
  a stricter, nonce-based Content-Security-Policy of their own).
- Whatever nothing else handled (a database outage, a bug) is answered here, logged once.
  Without it, Starlette's outermost error middleware answers 500 and raises the exception
  on to the server, which logs it a second time.
- Each request is counted and timed by route template when METRICS_TOKEN is set
  (`metrics.py`, GET /metrics).
- The access log (`ACCESS_LOG`): `errors` (the default) logs each request answered 4xx or
  5xx, `all` every request, `off` none. Each line goes through the redacting log pipeline
  like any other: a card number in a URL is masked. The ASGI server's own access log is
  off (`serve`; with your own server, turn its access log off likewise).

One layer instead of three: each layer costs every request a coroutine and a wrapper of
`send`, and the webhook route is measured against a bare no-op (bench/, README
"Benchmark").
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import failure
from .metrics import UNMATCHED, observe_http

log = logging.getLogger(f"{__package__}.access")

AccessLog = Literal["errors", "all", "off"]

# Baseline headers on every response. API responses are JSON and never framed.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(self)"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
DEFAULT_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
WITH_HSTS = (*SECURITY_HEADERS, HSTS)
NO_STORE = (b"cache-control", b"no-store")


#: Methods counted under their own name (any other: `other`; labels are never unbounded).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


def route_label(scope: Scope) -> str:
    """The template of the route that answered (`/api/payments/{payment_id}`), never the
    path itself: a path is whatever a client sends."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class Edge:
    def __init__(
        self, app: ASGIApp, *, hsts: bool, access_log: AccessLog = "errors", metrics: bool = False
    ) -> None:
        self.app = app
        #: Count requests (only where something scrapes them: METRICS_TOKEN is set).
        self.metrics = metrics
        #: Behind HTTPS: the public URL is https://, or the request came over it (directly,
        #: or through a proxy trusted with `serve --proxy-headers`).
        self.hsts = hsts
        self.log_all = access_log == "all"
        self.log_errors = access_log != "off"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self.hsts or scope.get("scheme") == "https"
        extra = WITH_HSTS if https else SECURITY_HEADERS
        api = scope["path"].startswith("/api/")
        status = 0
        started = perf_counter()

        async def respond(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in extra if h[0] not in present]
                if b"content-security-policy" not in present:
                    headers.append(DEFAULT_CSP)
                if api:
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, respond)
        except Exception as exc:  # noqa: BLE001 - the last resort: anything at all
            response = failure(f"{scope['method']} {scope['path']}", exc)
            if not status:  # else the client sees the connection close: all it can get
                await response(scope, receive, respond)
        seconds = perf_counter() - started
        if self.metrics:
            observe_http(method_label(scope["method"]), route_label(scope), status or 499, seconds)
        if self.log_all or (self.log_errors and status >= 400):
            self.access(scope, status, seconds)

    @staticmethod
    def access(scope: Scope, status: int, seconds: float) -> None:
        client = scope.get("client")
        query = scope.get("query_string", b"").decode("latin-1")
        target = f"{scope['path']}?{query}" if query else scope["path"]
        log.info(
            '%s - "%s %s" %d %.1f ms',
            client[0] if client else "-",
            scope["method"],
            target,
            status or 499,
            seconds * 1000,
        )
