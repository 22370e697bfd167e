"""Accepted vulnerabilities (docs/supply-chain.md): every id pyproject.toml's [tool.uv.audit]
lets CI's audit pass says why, and until when: a review date CI holds it to."""

from __future__ import annotations

import datetime
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: An accepted id's line: the id, then a comment with the reason and `review YYYY-MM-DD`.
REVIEW = re.compile(r"#\s*(?P<reason>.*?\S)\s*\(review (?P<date>\d{4}-\d{2}-\d{2})\)")


def acceptance_problems(pyproject: str, today: datetime.date) -> list[str]:
    """What is wrong with the vulnerabilities pyproject.toml accepts: each id needs, on its
    line, a comment giving the reason and `(review YYYY-MM-DD)`, a date not yet past."""
    audit = tomllib.loads(pyproject).get("tool", {}).get("uv", {}).get("audit", {})
    problems = []
    for key in ("ignore", "ignore-until-fixed"):
        for vuln_id in audit.get(key, []):
            line = next((ln for ln in pyproject.splitlines() if f'"{vuln_id}"' in ln), "")
            found = REVIEW.search(line)
            if found is None:
                problems.append(f"{vuln_id}: no reason and `(review YYYY-MM-DD)` on its line")
            elif datetime.date.fromisoformat(found["date"]) < today:
                problems.append(f"{vuln_id}: its review date {found['date']} has passed")
    return problems


def test_every_accepted_vulnerability_says_why_and_until_when() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert acceptance_problems(pyproject, datetime.date.today()) == []


def test_an_acceptance_without_a_reason_or_past_its_review_is_refused() -> None:
    pyproject = """
[tool.uv.audit]
ignore = [
    "GHSA-aaaa-bbbb-cccc",
    "GHSA-dddd-eeee-ffff",  # the vulnerable parser is never called (review 2026-01-31)
]
ignore-until-fixed = ["PYSEC-2026-1"]  # no fix yet; upgrade when one exists (review 2026-03-01)
"""
    assert acceptance_problems(pyproject, datetime.date(2026, 2, 1)) == [
        "GHSA-aaaa-bbbb-cccc: no reason and `(review YYYY-MM-DD)` on its line",
        "GHSA-dddd-eeee-ffff: its review date 2026-01-31 has passed",
    ]
