"""A local stand-in for Langfuse's OTLP and batch ingestion endpoints that records what it
receives."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

TRACES_PATH = "/api/public/otel/v1/traces"
INGESTION_PATH = "/api/public/ingestion"


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.attributes.get("langfuse.observation.type", ""))

    def json(self, key: str) -> Any:
        """An observation attribute (input, output...), decoded from its JSON string."""
        return self.attr(f"langfuse.observation.{key}")

    def attr(self, key: str) -> Any:
        """An attribute, decoded when Langfuse sent it as a JSON string."""
        value = self.attributes.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: bytes
    spans: list[Span] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def basic_user(self) -> str:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        assert scheme == "Basic"
        return base64.b64decode(value).decode().split(":", 1)[0]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def decode(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return spans


class FakeLangfuse:
    """Answers `mode`: "ok" (200; batch ingestion 207, each event a success), "401",
    "500", "hang" (never answers in time), or "no-ingestion" (OTLP 200, batch ingestion 404:
    a Langfuse that no longer takes it)."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.received: list[Received] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
                received = Received(self.path, headers, raw, body)
                if self.path == TRACES_PATH:
                    received.spans = decode(body)
                elif self.path == INGESTION_PATH:
                    received.events = json.loads(body)["batch"]
                fake.received.append(received)
                if fake.mode == "hang":
                    fake.release.wait(30)
                    return
                status = {"ok": 200, "no-ingestion": 200, "401": 401, "500": 500}[fake.mode]
                kind = "application/x-protobuf"
                payload = ExportTraceServiceResponse().SerializeToString() if status == 200 else b""
                if self.path == INGESTION_PATH and status == 200:
                    status = 404 if fake.mode == "no-ingestion" else 207
                    accepted = [{"id": e["id"], "status": 201} for e in received.events]
                    answer = {"successes": accepted if status == 207 else [], "errors": []}
                    kind, payload = "application/json", json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def spans(self) -> list[Span]:
        accepted = ("ok", "no-ingestion")
        return [s for r in self.received if self.mode in accepted for s in r.spans]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The batch ingestion events accepted."""
        return [e for r in self.received if self.mode == "ok" for e in r.events]

    def wait_for_events(self, count: int, timeout: float = 120) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events

    def wait_for_spans(self, count: int, timeout: float = 120) -> list[Span]:
        """A liveness bound, not a timing claim: a loaded machine starts the background
        sender (langfuse, OpenTelemetry) slowly."""
        deadline = time.monotonic() + timeout
        while len(self.spans) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.spans

    def __enter__(self) -> FakeLangfuse:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
