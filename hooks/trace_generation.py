#!/usr/bin/env python3
"""Record a copier-payments generation as a coaia-fuse trace in Langfuse.

Copier runs this file with its own interpreter after `copier copy` (a `_tasks` entry) and
after `copier update` (a versionless `_migrations` entry). It must never fail a
generation, never make it wait, and never lose the record:

1. `record` scans the generated project, builds the trace (the coaia-fuse shape documented
   in docs/tracing.md) and writes it to the spool directory, atomically. This uses the
   standard library only and takes a fraction of a second. It always exits 0.
2. It then starts `deliver` in a detached process, which sends the spooled trace through
   the official `langfuse` SDK, gives up within a few seconds, deletes the spool file once
   the trace is accepted and otherwise keeps it, noting why. Where copier's environment
   has no langfuse (`uvx --from copier copier copy ...`), `deliver` runs through
   `uv run --with langfuse==LANGFUSE_VERSION`, beside copier's interpreter.
3. `replay` sends every spooled trace again, deleting what was delivered and keeping what
   was not: `uv run --with langfuse python hooks/trace_generation.py replay`.

Nothing secret ever enters a trace: the answers have no secret questions (and any key
that looks secret is dropped), configuration is described by variable names only, and
credentials are read at send time, from the environment or coaia.json, never stored.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = "copier-payments.trace/1"
TEMPLATE = "copier-payments"
SEND_TIMEOUT_S = 3
SKIP_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
SECRET_NAME = re.compile(r"secret|token|password|passwd|api_?key|private", re.I)
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
PREFIX = "copier-payments trace:"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Identifiers: joining an agent's trace
# --------------------------------------------------------------------------------------


def normalize_trace_id(value: str) -> str:
    """A Langfuse/OpenTelemetry trace id (32 lowercase hex) from what an agent passes.

    32 hex characters are used as they are (lowercased): the spans join that trace. Any
    other id is written into exactly (`Sender.ingest`); this id is then the fallback's, used
    only where Langfuse no longer takes batch ingestion: a UUID without its dashes, any
    other string hashed as langfuse's `create_trace_id(seed=...)` does.
    """
    candidate = value.strip().lower()
    if HEX32.match(candidate.replace("-", "")) and len(candidate) in (32, 36):
        return candidate.replace("-", "")
    return hashlib.sha256(value.strip().encode("utf-8")).digest()[:16].hex()


def first_env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True)
class Identity:
    #: The OpenTelemetry trace id (32 hex) the spans go under.
    trace_id: str
    session_id: str
    user_id: str
    joined: bool
    parent_observation_id: str | None
    #: The agent's own trace id where OTLP cannot carry it (a dashed UUID, any other
    #: string): the observations are written into that very trace, as coaia-fuse writes.
    exact_trace_id: str | None = None


def identity() -> Identity:
    given = first_env("COAIA_TRACE_ID", "LANGFUSE_TRACE_ID")
    exact = given if given and not HEX32.match(given.lower()) else None
    parent = first_env("COAIA_PARENT_OBSERVATION_ID", "LANGFUSE_PARENT_OBSERVATION_ID")
    if exact is None:  # an OpenTelemetry span id, or none
        parent = parent.lower() if parent and HEX16.match(parent.lower()) else None
    session = first_env("COAIA_SESSION_ID", "LANGFUSE_SESSION_ID")
    user = first_env("COAIA_USER_ID", "LANGFUSE_USER_ID")
    if user is None:
        with contextlib.suppress(Exception):
            import getpass

            user = getpass.getuser()
    return Identity(
        trace_id=normalize_trace_id(given) if given else secrets.token_hex(16),
        session_id=session or f"{TEMPLATE}-{uuid.uuid4()}",
        user_id=user or "unknown",
        joined=given is not None,
        parent_observation_id=parent if given else None,
        exact_trace_id=exact,
    )


# --------------------------------------------------------------------------------------
# What was generated: artifact areas, each with its files, hashes and facts
# --------------------------------------------------------------------------------------


def project_files(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(dirpath)
        found += sorted((base / f).relative_to(root).as_posix() for f in filenames)
    return found


def _read(root: Path, relative: str) -> str:
    try:
        return (root / relative).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def schema_facts(root: Path, files: list[str]) -> dict[str, Any]:
    tables: list[str] = []
    revisions: dict[str, str | None] = {}
    for name in files:
        if name.startswith("migrations/versions/") and name.endswith(".py"):
            text = _read(root, name)
            tables += re.findall(r"op\.create_table\(\s*[\"'](\w+)[\"']", text)
            rev = re.search(r"^revision(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", text, re.M)
            down = re.search(r"^down_revision(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", text, re.M)
            if rev:
                revisions[rev.group(1)] = down.group(1) if down else None
    heads = sorted(set(revisions) - {d for d in revisions.values() if d})
    return {"tables": sorted(set(tables)), "alembic_revisions": sorted(revisions), "heads": heads}


def webhook_facts(root: Path, files: list[str]) -> dict[str, Any]:
    """Event types handled, by processor: the data each processor's folder declares
    (`processors/<name>/events.json`), never read out of code."""
    by_processor: dict[str, list[str]] = {}
    for name in files:
        declared = EVENTS_FILE.search(name)
        if declared:
            try:
                types = json.loads(_read(root, name) or "[]")
            except ValueError:
                types = []
            by_processor[declared.group(1)] = sorted(str(t) for t in types)
    return {
        "event_types": sorted({t for types in by_processor.values() for t in types}),
        "event_types_by_processor": dict(sorted(by_processor.items())),
    }


def config_facts(root: Path, files: list[str]) -> dict[str, Any]:
    names: list[str] = []
    for name in files:
        if name.endswith(".env.example"):
            names += re.findall(r"^([A-Z][A-Z0-9_]*)=", _read(root, name), re.M)
    # Variable names only: values (even examples) never enter a trace.
    return {"variables": sorted(set(names))}


def pci_facts(root: Path, files: list[str]) -> dict[str, Any]:
    items: list[str] = []
    for name in files:
        if name.endswith(".md"):
            items += re.findall(r"^\s*[-*] \[[ xX]\] (.+)$", _read(root, name), re.M)
    return {"items": items}


def test_facts(root: Path, files: list[str]) -> dict[str, Any]:
    count = sum(
        len(re.findall(r"^\s*(?:async\s+)?def test_\w+", _read(root, n), re.M))
        for n in files
        if n.endswith(".py")
    )
    return {"test_functions": count}


#: A processor's declared event types, and its modules that read events and variables.
EVENTS_FILE = re.compile(r"/processors/(\w+)/events\.json$")
EVENT_MODULE = re.compile(r"/processors/\w+/events\.(?:json|py)$")
SETTINGS = re.compile(r"/processors/\w+/settings\.py$")

Area = tuple[str, Callable[[str], bool], Callable[[Path, list[str]], dict[str, Any]] | None]

#: Artifact areas, in order; each file belongs to the first area that claims it.
AREAS: list[Area] = [
    ("tests", lambda p: p.startswith("tests/"), test_facts),
    (
        "database_schema",
        lambda p: p.startswith("migrations/") or p.endswith("/models.py") or p == "alembic.ini",
        schema_facts,
    ),
    (
        "webhooks",
        lambda p: "/webhooks/" in p or bool(EVENT_MODULE.search(p)),
        webhook_facts,
    ),
    (
        "configuration",
        lambda p: p == ".env.example" or p.endswith("/config.py") or bool(SETTINGS.search(p)),
        config_facts,
    ),
    ("pci_checklist", lambda p: p == "docs/pci-checklist.md", pci_facts),
    ("application_code", lambda p: p.startswith("src/"), None),
    ("project_files", lambda p: True, None),
]


def describe_areas(root: Path) -> list[dict[str, Any]]:
    remaining = project_files(root)
    described = []
    for name, claims, facts in AREAS:
        mine = [p for p in remaining if claims(p)]
        remaining = [p for p in remaining if not claims(p)]
        hashes = {p: sha256((root / p).read_bytes()) for p in mine}
        aggregate = sha256("".join(f"{p}\0{h}\n" for p, h in hashes.items()).encode())
        output: dict[str, Any] = {"files": len(mine), "sha256": aggregate, "hashes": hashes}
        if facts is not None:
            output.update(facts(root, mine))
        described.append({"area": name, "files": mine, "output": output})
    return described


# --------------------------------------------------------------------------------------
# The record: one trace, observations after coaia-fuse
# --------------------------------------------------------------------------------------


def public_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers, minus copier's private keys and anything that looks secret."""
    return {k: v for k, v in answers.items() if not k.startswith("_") and not SECRET_NAME.search(k)}


def copier_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("copier")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_record(
    operation: str, answers: dict[str, Any], root: Path, who: Identity
) -> dict[str, Any]:
    started = now()
    public = public_answers(answers)
    versions = {
        "from": os.environ.get("VERSION_PEP440_FROM") or os.environ.get("VERSION_FROM"),
        "to": os.environ.get("VERSION_PEP440_TO") or os.environ.get("VERSION_TO"),
    }
    metadata: dict[str, Any] = {
        "template": TEMPLATE,
        "template_source": str(answers.get("_src_path", "")),
        "template_version": str(answers.get("_commit", "") or versions["to"] or "unknown"),
        "copier_version": copier_version(),
        "operation": operation,
    }
    if operation == "update":
        metadata["version_from"] = str(versions["from"] or "unknown")
        metadata["version_to"] = str(versions["to"] or "unknown")

    def obs_id() -> str:
        return secrets.token_hex(8)

    root_id = obs_id()
    render_id = obs_id()
    observations: list[dict[str, Any]] = []
    areas = describe_areas(root)
    for area in areas:
        observations.append(
            {
                "id": obs_id(),
                "parent_id": render_id,
                "type": "SPAN",
                "name": area["area"],
                "input": {"files": area["files"]},
                "output": area["output"],
                "metadata": {},
                "start_time": now(),
                "end_time": now(),
            }
        )
    totals = {a["area"]: a["output"]["files"] for a in areas}
    summary = {
        "project": public.get("project_slug"),
        "operation": operation,
        "files": sum(totals.values()),
        "files_by_area": totals,
        "processors": public.get("processors"),
        "tables": next(a for a in areas if a["area"] == "database_schema")["output"]["tables"],
    }
    ended = now()
    head: list[dict[str, Any]] = [
        {
            "id": root_id,
            "parent_id": who.parent_observation_id,
            "type": "SPAN",
            "name": f"{TEMPLATE} {operation}",
            "input": public,
            "output": summary,
            "metadata": metadata,
            "start_time": started,
            "end_time": ended,
        },
        {
            "id": obs_id(),
            "parent_id": root_id,
            "type": "EVENT",
            "name": "answers",
            "input": public,
            "output": {
                "project_slug": public.get("project_slug"),
                "package_name": public.get("package_name"),
                "processors": public.get("processors"),
            },
            "metadata": {},
            "start_time": started,
            "end_time": started,
        },
        {
            "id": render_id,
            "parent_id": root_id,
            "type": "SPAN",
            "name": "render",
            "input": {"answers": sorted(public)},
            "output": totals,
            "metadata": {},
            "start_time": started,
            "end_time": ended,
        },
    ]
    tail = {
        "id": obs_id(),
        "parent_id": root_id,
        "type": "EVENT",
        "name": "summary",
        "input": totals,
        "output": summary,
        "metadata": {},
        "start_time": ended,
        "end_time": ended,
    }
    return {
        "schema": SCHEMA,
        "created_at": started,
        "trace": {
            "id": who.trace_id,
            "name": f"{TEMPLATE} {operation} {public.get('project_slug', '')}".strip(),
            "session_id": who.session_id,
            "user_id": who.user_id,
            "tags": [TEMPLATE, operation],
            "input": public,
            "output": summary,
            "metadata": metadata,
            "joined": who.joined,
            "exact_id": who.exact_trace_id,
        },
        "observations": [*head, *observations, tail],
        "delivery": {"attempts": 0, "last_error": None, "last_attempt_at": None},
    }


# --------------------------------------------------------------------------------------
# The spool
# --------------------------------------------------------------------------------------


def spool_dir() -> Path:
    explicit = os.environ.get("COPIER_PAYMENTS_SPOOL_DIR")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / TEMPLATE / "traces"


def write_atomically(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


@contextlib.contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """An exclusive, non-blocking claim on a spool file: one sender at a time."""
    try:
        import fcntl
    except ImportError:  # Windows: no locking; at worst a trace is sent twice.
        yield True
        return
    try:
        handle = path.open("rb")
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


# --------------------------------------------------------------------------------------
# Sending, through the official langfuse SDK
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    public_key: str
    secret_key: str
    base_url: str


def coaia_config() -> dict[str, Any]:
    """coaiapy's config file (coaia.json), where coaia-fuse users keep their keys."""
    home = Path.home()
    candidates = [
        os.environ.get("COAIA_CONFIG", ""),
        str(home / ".config" / "jgwill" / "coaia.json"),
        str(home / "coaia.json"),
        str(home / ".coaia.json"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(Path(candidate).read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    return loaded
    return {}


def credentials() -> Credentials | None:
    """The environment wins; coaia.json fills what it does not set."""
    config = coaia_config()
    public = first_env("LANGFUSE_PUBLIC_KEY") or config.get("langfuse_public_key")
    secret = first_env("LANGFUSE_SECRET_KEY") or config.get("langfuse_secret_key")
    base = (
        first_env("LANGFUSE_BASE_URL", "LANGFUSE_HOST")
        or config.get("langfuse_base_url")
        or config.get("langfuse_host")
        or "https://cloud.langfuse.com"
    )
    if not (isinstance(public, str) and isinstance(secret, str) and public and secret):
        return None
    return Credentials(public, secret, str(base).rstrip("/"))


class Sender:
    """One Langfuse client for this process (the SDK caches its client per public key)."""

    def __init__(self, creds: Credentials, timeout: float = SEND_TIMEOUT_S) -> None:
        #: A send outlived its deadline: the SDK is not to be waited for again.
        self.stuck = False
        import base64
        import logging

        from langfuse import Langfuse
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

        # Failures are reported by this program in one line, not by the SDKs' loggers.
        for name in ("langfuse", "opentelemetry"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)

        class RecordingExporter(SpanExporter):
            """Langfuse's OTLP exporter, with each batch's outcome made visible."""

            def __init__(self, inner: SpanExporter) -> None:
                self.inner = inner
                self.exported = 0
                self.failures = 0
                self.closed = False

            def export(self, spans: Any) -> SpanExportResult:
                if self.closed:
                    return SpanExportResult.FAILURE
                try:
                    result = self.inner.export(spans)
                except Exception:
                    result = SpanExportResult.FAILURE
                if result == SpanExportResult.SUCCESS:
                    self.exported += len(spans)
                else:
                    self.failures += 1
                return result

            def shutdown(self) -> None:
                self.inner.shutdown()

            def force_flush(self, timeout_millis: int = 30000) -> bool:
                return self.inner.force_flush(timeout_millis)

        self.base_url = creds.base_url
        self.timeout = timeout
        auth = base64.b64encode(f"{creds.public_key}:{creds.secret_key}".encode()).decode()
        self.auth = auth
        self.exporter = RecordingExporter(
            OTLPSpanExporter(
                endpoint=f"{creds.base_url}/api/public/otel/v1/traces",
                headers={
                    "Authorization": f"Basic {auth}",
                    "x-langfuse-sdk-name": "python",
                    "x-langfuse-public-key": creds.public_key,
                    "x-langfuse-ingestion-version": "4",
                },
                timeout=timeout,
                compression=Compression.Gzip,
            )
        )
        self.client = Langfuse(
            public_key=creds.public_key,
            secret_key=creds.secret_key,
            base_url=creds.base_url,
            timeout=int(timeout),
            span_exporter=self.exporter,
            flush_interval=60,
        )

    def send(self, record: dict[str, Any]) -> str | None:
        """Send one record; None when every observation was accepted, else the reason.

        Into the agent's own trace by its exact id where OTLP cannot carry that id (batch
        ingestion); where this Langfuse no longer takes that, over OTLP under the derived id,
        with the agent's id in the trace's metadata and tags, saying so in the spool."""
        exact = record["trace"].get("exact_id")
        if exact:
            try:
                return self.ingest(record)
            except IngestionRefused as refused:
                note_fallback(record, str(refused))
                record = fallback(record)
        return self.send_otlp(record)

    def ingest(self, record: dict[str, Any]) -> str | None:
        """The observations, into the trace named `exact_id`, through Langfuse's batch
        ingestion (`POST /api/public/ingestion`), as coaia-fuse writes them: None when
        every one was accepted, else the reason (kept, tried again); `IngestionRefused`
        where this Langfuse does not take them."""
        import urllib.error
        import urllib.request

        trace_id = record["trace"]["exact_id"]
        batch = [ingestion_event(trace_id, item) for item in record["observations"]]
        request = urllib.request.Request(
            f"{self.base_url}/api/public/ingestion",
            data=json.dumps({"batch": batch}).encode("utf-8"),
            method="POST",
            headers={"Authorization": f"Basic {self.auth}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, b""
        if status in INGESTION_GONE:
            raise IngestionRefused(f"{self.base_url} answered {status} to batch ingestion")
        if status not in (200, 201, 207):
            return f"Langfuse at {self.base_url} answered {status} to batch ingestion"
        try:
            errors = json.loads(body or b"{}").get("errors") or []
        except (ValueError, AttributeError):
            return f"Langfuse at {self.base_url} gave an unreadable ingestion answer"
        if errors:
            raise IngestionRefused(f"{len(errors)} of {len(batch)} observations refused")
        return None

    def send_otlp(self, record: dict[str, Any]) -> str | None:
        """The record as OpenTelemetry spans, through the langfuse SDK."""
        from langfuse import propagate_attributes
        from langfuse.types import TraceContext

        trace = record["trace"]
        observations = record["observations"]
        root = observations[0]
        before_exported, before_failures = self.exporter.exported, self.exporter.failures
        context: TraceContext = {"trace_id": trace["id"]}
        if root.get("parent_id"):
            context["parent_span_id"] = root["parent_id"]
        attributes: dict[str, Any] = {
            "session_id": trace["session_id"],
            "user_id": trace["user_id"],
            "tags": trace["tags"],
            "metadata": {k: str(v)[:200] for k, v in trace["metadata"].items()},
        }
        if not trace.get("joined"):
            attributes["trace_name"] = trace["name"]
        with propagate_attributes(**attributes):
            span = self.client.start_observation(
                trace_context=context,
                name=root["name"],
                input=root["input"],
                output=root["output"],
                metadata={**root["metadata"], "recorded_at": root["start_time"]},
            )
            made = {root["id"]: span}
            for item in observations[1:]:
                parent = made.get(item["parent_id"], span)
                common = {
                    "name": item["name"],
                    "input": item["input"],
                    "output": item["output"],
                    "metadata": {**item["metadata"], "recorded_at": item["start_time"]},
                }
                if item["type"] == "EVENT":
                    parent.create_event(**common)
                else:
                    made[item["id"]] = parent.start_observation(as_type="span", **common)
            for child in reversed(list(made.values())):
                child.end()
        self.client.flush()
        sent = self.exporter.exported - before_exported
        failed = self.exporter.failures - before_failures
        if failed or sent < len(observations):
            return f"Langfuse at {self.base_url} did not accept the trace"
        return None

    def close(self) -> None:
        # Never let the SDK's shutdown retry what was already given up on, nor wait for a
        # send that is stuck (the process exits; its daemon threads go with it).
        self.exporter.closed = True
        if self.stuck:
            return
        with contextlib.suppress(Exception):
            self.client.shutdown()


#: What a Langfuse that does not take batch ingestion (any more) answers it.
INGESTION_GONE = (404, 405, 410, 501)


class IngestionRefused(Exception):
    """This Langfuse does not take batch ingestion, or refused the observations."""


def ingestion_event(trace_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """One observation as a batch ingestion event (`span-create` or `event-create`)."""
    body: dict[str, Any] = {
        "id": item["id"],
        "traceId": trace_id,
        "parentObservationId": item.get("parent_id"),
        "name": item["name"],
        "startTime": item["start_time"],
        "input": item["input"],
        "output": item["output"],
        "metadata": {**item["metadata"], "recorded_at": item["start_time"]},
    }
    if item["type"] == "SPAN":
        body["endTime"] = item["end_time"]
    kind = "span-create" if item["type"] == "SPAN" else "event-create"
    return {"id": str(uuid.uuid4()), "type": kind, "timestamp": now(), "body": body}


def fallback(record: dict[str, Any]) -> dict[str, Any]:
    """The record for OTLP under the derived id: the agent's id in the trace's metadata and
    tags (the session kept), a parent only where it is a span id."""
    trace = {**record["trace"], "joined": False}  # a trace of its own: named by us
    exact = trace.pop("exact_id")
    trace["metadata"] = {**trace["metadata"], "coaia_trace_id": exact}
    trace["tags"] = [*trace["tags"], f"coaia_trace_id:{exact}"]
    observations = [dict(item) for item in record["observations"]]
    parent = observations[0].get("parent_id")
    if parent and not HEX16.match(str(parent)):
        observations[0]["parent_id"] = None
    return {**record, "trace": trace, "observations": observations}


def note_fallback(record: dict[str, Any], reason: str) -> None:
    """Say, in the spool's lasting log, that a trace went under the derived id."""
    line = (
        f"{now()} {record['trace']['id']}: {reason}; sent over OTLP under this id, with "
        f"coaia_trace_id={record['trace']['exact_id']} in its metadata and tags\n"
    )
    print(line.strip(), file=sys.stderr)
    with contextlib.suppress(OSError):
        spool_dir().mkdir(parents=True, exist_ok=True)
        with (spool_dir() / FALLBACK_LOG).open("a", encoding="utf-8") as log:
            log.write(line)


#: Beside the spooled records: each trace sent under the derived id instead of the exact one.
FALLBACK_LOG = "fallbacks.log"


def send_timeout() -> float:
    """Seconds to wait for Langfuse: COPIER_PAYMENTS_TRACE_TIMEOUT, else SEND_TIMEOUT_S."""
    try:
        value = float(os.environ.get("COPIER_PAYMENTS_TRACE_TIMEOUT", ""))
    except ValueError:
        return SEND_TIMEOUT_S
    return value if 0 < value <= 300 else SEND_TIMEOUT_S


def make_sender() -> tuple[Sender | None, str | None]:
    creds = credentials()
    if creds is None:
        return None, "no Langfuse credentials (LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY)"
    try:
        return Sender(creds, timeout=send_timeout()), None
    except ImportError:
        return None, "langfuse is not installed in copier's environment"
    except Exception as exc:
        return None, f"the Langfuse client could not start ({type(exc).__name__})"


#: However the SDK behaves, one delivery gives up after this many send timeouts.
SEND_DEADLINE_FACTOR = 5


def send_within(sender: Sender, record: dict[str, Any], seconds: float) -> str | None:
    """`sender.send(record)`, given up after `seconds` (the SDK's own waits are not all
    bounded): None when delivered, else why not."""
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            outcome.append(sender.send(record))
        except Exception as exc:
            outcome.append(f"sending failed ({type(exc).__name__})")

    worker = threading.Thread(target=attempt, name="trace-send", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive() or not outcome:
        sender.stuck = True
        return f"Langfuse did not answer within {seconds:.0f}s"
    return outcome[0]


def sender_program() -> Path:
    """This program, copied into the spool directory for the background sender to run.

    Copier runs the hook from its temporary clone of the template and deletes that clone
    as soon as the generation ends: a sender started from it could find its own file gone
    before the interpreter opened it (it happened on a loaded CI machine). The copy is
    named by its content, so versions and concurrent generations never collide."""
    data = Path(__file__).resolve().read_bytes()
    target = spool_dir() / "sender" / f"trace_generation-{sha256(data)[:16]}.py"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
    return target


def log_path(record: Path) -> Path:
    return record.with_suffix(".log")


def note_attempt(path: Path, record: dict[str, Any], reason: str) -> None:
    """Keep the record, with one more attempt and why it failed."""
    record["delivery"] = {
        "attempts": int(record.get("delivery", {}).get("attempts", 0)) + 1,
        "last_error": reason,
        "last_attempt_at": now(),
    }
    write_atomically(path, record)


def deliver_file(
    path: Path, sender: Sender | None, problem: str | None, settled: set[Path] | None = None
) -> bool:
    """Send one spooled record; delete it when delivered, else note why and keep it.
    `settled` collects the files this process has finished with (see `watchdog`)."""
    with claimed(path) as mine:
        if not mine:
            return False
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        reason = problem
        if sender is not None:
            reason = send_within(sender, record, SEND_DEADLINE_FACTOR * send_timeout())
        if settled is not None:
            settled.add(path)
        if reason is None:
            path.unlink(missing_ok=True)
            log_path(path).unlink(missing_ok=True)
            return True
        note_attempt(path, record, reason)
        return False


#: The background sender's start-up (imports, the SDK's client) may take this long on a
#: loaded machine before its send deadline starts.
START_UP_ALLOWANCE_S = 60


def stuck_where(thread: threading.Thread) -> str:
    """Where a thread is: the innermost frames' file, line and function, no values."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None:
        return f"{thread.name}: gone"
    frames = traceback.extract_stack(frame)[-3:]
    return f"{thread.name}: " + " < ".join(
        f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames)
    )


def watchdog(paths: list[Path], settled: set[Path], seconds: float) -> threading.Timer:
    """The background sender's last resort. Whatever it is stuck in (start-up, the SDK, a
    crash of its own making), after `seconds` every record it has not finished with gets
    an attempt saying where it was stuck, and the process exits."""

    def fire() -> None:
        where = "; ".join(
            stuck_where(t)
            for t in threading.enumerate()
            if t is threading.main_thread() or t.name == "trace-send"
        )
        for path in paths:
            if path in settled:
                continue
            with contextlib.suppress(OSError, ValueError):
                record = json.loads(path.read_text(encoding="utf-8"))
                note_attempt(path, record, f"the sender was stuck for {seconds:.0f}s ({where})")
        os._exit(1)

    timer = threading.Timer(seconds, fire)
    timer.name = "trace-watchdog"
    timer.daemon = True
    timer.start()
    return timer


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------

ENABLE_HINT = (
    "set LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_BASE_URL (or coaia.json) and "
    "have uv on PATH (or run copier with langfuse, e.g. `uvx --with langfuse copier ...`); "
    "replay with `uv run --with langfuse python hooks/trace_generation.py replay`"
)


def langfuse_importable() -> bool:
    from importlib.util import find_spec

    return find_spec("langfuse") is not None


#: The langfuse release the sender runs with where copier's environment has none (the one
#: the template's own tests send with: uv.lock).
LANGFUSE_VERSION = "5.0.4"


def sender_command(path: Path) -> tuple[list[str] | None, str | None]:
    """How to run `deliver` for this record: with copier's own interpreter where langfuse
    is importable, else through uv with langfuse beside the same interpreter (uv is what
    ran copier, through `uvx`); or why it cannot run."""
    program = [str(sender_program()), "deliver", str(path)]
    if langfuse_importable():
        return [sys.executable, *program], None
    import shutil

    uv = shutil.which("uv")
    if uv is None:
        return None, "langfuse is not installed in copier's environment, and uv is not on PATH"
    return [
        uv, "run", "--no-project", "--quiet", "--python", sys.executable,
        "--with", f"langfuse=={LANGFUSE_VERSION}", "python", *program,
    ], None  # fmt: skip


def cmd_record(args: argparse.Namespace) -> None:
    answers = json.loads(args.answers)
    root = Path(args.dst or ".").resolve()
    record = build_record(args.operation, answers, root, identity())
    trace_id = record["trace"]["id"]
    path = spool_dir() / f"{record['created_at'][:19].replace(':', '')}-{trace_id}.json"
    write_atomically(path, record)
    shown = record["trace"]["exact_id"] or trace_id
    command: list[str] | None = None
    reason: str | None = "no Langfuse credentials"
    if credentials() is not None:
        command, reason = sender_command(path)
    if command is not None:
        # The sender's own account of itself (start, signals, crashes: no trace data) goes
        # to a log beside the record, deleted with it once delivered.
        with log_path(path).open("ab") as log:
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        print(f"{PREFIX} {shown} sending to Langfuse (kept in {path} until delivered)")
        return
    record["delivery"]["last_error"] = reason
    write_atomically(path, record)
    print(f"{PREFIX} {shown} spooled to {path}: {reason}; to deliver, {ENABLE_HINT}")


def cmd_deliver(args: argparse.Namespace) -> None:
    import faulthandler
    import signal

    print(f"{now()} sender {os.getpid()} started", file=sys.stderr, flush=True)
    faulthandler.enable(file=sys.stderr)  # a crash leaves its stack in the log
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):  # so does a signal (where it can)
        number = getattr(signal, name, None)
        if number is not None and hasattr(faulthandler, "register"):
            faulthandler.register(number, file=sys.stderr, chain=True)
    paths = [Path(name) for name in args.files]
    settled: set[Path] = set()
    per_file = SEND_DEADLINE_FACTOR * send_timeout()
    watchdog(paths, settled, START_UP_ALLOWANCE_S + per_file * len(paths))
    sender, problem = make_sender()
    try:
        for path in paths:
            deliver_file(path, sender, problem, settled)
    finally:
        if sender is not None:
            sender.close()
    if sender is not None and sender.stuck:
        os._exit(1)  # the attempt is recorded; the SDK's stuck threads must not keep us


def cmd_replay(args: argparse.Namespace) -> int:
    directory = Path(args.spool_dir) if args.spool_dir else spool_dir()
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        print(f"{PREFIX} nothing to replay in {directory}")
        return 0
    sender, problem = make_sender()
    delivered = 0
    try:
        for path in files:
            delivered += deliver_file(path, sender, problem)
    finally:
        if sender is not None:
            sender.close()
    kept = len(files) - delivered
    detail = f" ({problem})" if problem else ""
    print(f"{PREFIX} replayed {len(files)}: {delivered} delivered, {kept} kept{detail}")
    if sender is not None and sender.stuck:
        sys.stdout.flush()
        os._exit(1)  # as in cmd_deliver: never wait for the SDK's stuck threads
    return 0 if kept == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record", help="record a generation (run by copier)")
    record.add_argument("--operation", choices=["copy", "update"], required=True)
    record.add_argument("--answers", required=True, help="the answers, as JSON")
    record.add_argument("--dst", help="the generated project (default: the current directory)")
    deliver = commands.add_parser("deliver", help="send spooled records (run by record)")
    deliver.add_argument("files", nargs="+")
    replay = commands.add_parser("replay", help="send every spooled record again")
    replay.add_argument("--spool-dir", help=f"default: {spool_dir()}")
    args = parser.parse_args(argv)
    if args.command == "replay":
        return cmd_replay(args)
    try:
        cmd_record(args) if args.command == "record" else cmd_deliver(args)
    except Exception as exc:
        print(f"{PREFIX} not recorded ({type(exc).__name__}: {exc})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
