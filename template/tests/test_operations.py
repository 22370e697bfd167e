"""The operator's files agree with the service: every alert in prometheus/alerts.yml reads
metrics the service exposes and links to a runbook of docs/operations.md, and that page
documents every metric a scrape returns. (`promtool test rules` checks the alerts fire.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import METRICS_TOKEN, serve_offline

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "prometheus" / "alerts.yml"
GUIDE = ROOT / "docs" / "operations.md"
#: A sample's suffix on its family's name.
SUFFIX = re.compile(r"_(total|created|bucket|count|sum)$")


@pytest.fixture
def exposed(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """The names a scrape of the service returns: families, and their samples' names."""
    monkeypatch.setenv("METRICS_TOKEN", METRICS_TOKEN)
    for client in serve_offline(sqlite_url, monkeypatch):
        yield names(client)


def names(client: TestClient) -> set[str]:
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    families = list(text_string_to_metric_families(text))
    return {f.name for f in families} | {s.name for f in families for s in f.samples}


def alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def anchor(heading: str) -> str:
    """A heading's anchor as GitHub and MkDocs make it."""
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-")


def test_every_alert_reads_exposed_metrics(exposed: set[str]) -> None:
    for rule in alerts():
        used = set(re.findall(r"\bpayments_\w+", str(rule["expr"])))
        assert used, rule["alert"]
        unknown = {name for name in used if name not in exposed}
        assert not unknown, f"{rule['alert']} reads metrics the service does not expose: {unknown}"


def test_every_alert_has_a_runbook() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    headings = {anchor(h) for h in re.findall(r"^#+ (.+)$", guide, re.M)}
    for rule in alerts():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        page, _, section = str(annotations["runbook"]).partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert section in headings, f"{rule['alert']}: no section #{section} in {page}"
        assert f"`{rule['alert']}`" in guide, rule["alert"]


def test_the_guide_documents_every_metric(exposed: set[str]) -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    documented = {SUFFIX.sub("", name) for name in re.findall(r"`(payments_\w+)", guide)}
    families = {SUFFIX.sub("", name) for name in exposed if name.startswith("payments_")}
    assert families - documented == set(), "docs/operations.md does not list these"
