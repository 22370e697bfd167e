"""A local stand-in for the OSV API (https://api.osv.dev), which `uv audit` asks about each
locked package: POST /v1/querybatch answers, per query, the ids and `modified` times of the
vulnerabilities affecting that version (an empty object when none), and GET /v1/vulns/{id}
the full OSV record (schema 1.6), as osv.dev documents them (docs/api/post-v1-querybatch.md,
get-v1-vulns.md); an unknown id is a 404 with OSV's error body."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODIFIED = "2026-11-20T09:14:03.512841Z"


def advisory(vuln_id: str, package: str, version: str, fixed: str | None) -> dict[str, Any]:
    """An OSV record of a vulnerability in `package` affecting `version` (fixed in `fixed`,
    or with no fix yet), shaped like the GitHub advisories osv.dev serves."""
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed is not None:
        events.append({"fixed": fixed})
    return {
        "schema_version": "1.6.0",
        "id": vuln_id,
        "modified": MODIFIED,
        "published": "2026-11-18T17:30:00Z",
        "aliases": ["CVE-2026-99901"],
        "summary": f"{package} request smuggling through a crafted header",
        "details": f"A crafted header makes {package} read two requests as one.",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package, "purl": f"pkg:pypi/{package}"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": [version],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": f"https://github.com/advisories/{vuln_id}"},
        ],
        "database_specific": {"severity": "HIGH", "github_reviewed": True},
    }


class FakeOsv:
    """Knows the records in `vulnerabilities` (each affecting the one version it lists);
    `down` answers every request 503, as an outage would."""

    def __init__(self, *vulnerabilities: dict[str, Any], down: bool = False) -> None:
        self.records = {v["id"]: v for v in vulnerabilities}
        self.down = down
        self.queries: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                if fake.down:
                    self.answer(503, {"code": 14, "message": "The service is unavailable."})
                    return
                if self.path != "/v1/querybatch":
                    self.answer(404, {"code": 5, "message": "Not found."})
                    return
                queries = json.loads(raw)["queries"]
                fake.queries += queries
                self.answer(200, {"results": [fake.result(q) for q in queries]})

            def do_GET(self) -> None:
                vuln_id = self.path.removeprefix("/v1/vulns/")
                if fake.down:
                    self.answer(503, {"code": 14, "message": "The service is unavailable."})
                elif vuln_id in fake.records:
                    self.answer(200, fake.records[vuln_id])
                else:
                    self.answer(404, {"code": 5, "message": "Bug not found."})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def result(self, query: dict[str, Any]) -> dict[str, Any]:
        """One querybatch result: the ids affecting the queried version, or `{}`."""
        package = query["package"]
        assert package["ecosystem"] == "PyPI", query
        vulns = [
            {"id": record["id"], "modified": record["modified"]}
            for record in self.records.values()
            for affected in record["affected"]
            if affected["package"]["name"] == package["name"]
            and query["version"] in affected["versions"]
        ]
        return {"vulns": vulns} if vulns else {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeOsv:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
