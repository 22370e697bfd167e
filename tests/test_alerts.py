"""Each matrix entry's Prometheus rules (prometheus/alerts.yml): promtool parses them and
runs their unit test (prometheus/alerts.test.yml: each alert fires on the series that mean
trouble, and stays quiet otherwise). Where promtool is not installed, a structural check of
the rules stands in (`.ci/run` installs promtool, and requires it)."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from tests.conftest import Rendered, check

RULE_KEYS = {"alert", "expr", "for", "labels", "annotations"}


def promtool() -> str | None:
    return os.environ.get("PROMTOOL") or shutil.which("promtool")


def test_alert_rules_parse_and_fire(project: Rendered) -> None:
    rules = project.path / "prometheus" / "alerts.yml"
    tool = promtool()
    if tool is not None:
        check(project.run(tool, "check", "rules", str(rules)), "promtool check rules")
        tests = project.path / "prometheus" / "alerts.test.yml"
        check(project.run(tool, "test", "rules", str(tests)), "promtool test rules")
        return
    if os.environ.get("REQUIRE_PROMTOOL"):
        pytest.fail("promtool is not installed (.ci/run unpacks it from Debian's package)")
    groups = yaml.safe_load(rules.read_text())["groups"]
    assert [g["name"] for g in groups] == [project.answers["project_slug"]]
    for rule in groups[0]["rules"]:
        assert set(rule) <= RULE_KEYS, rule
        assert rule["alert"].startswith("Payments")
        assert rule["expr"].strip()
        assert rule["labels"]["severity"] in {"page", "warning"}
        assert rule["annotations"]["runbook"].startswith("docs/operations.md#")
