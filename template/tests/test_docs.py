"""docs/testing-payments.md names the test that covers each edge case: each must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "testing-payments.md"
NAMED = re.compile(r"`(tests/(?:\w+/)?test_\w+\.py)::(test_\w+)`")


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_the_guide_names_exists() -> None:
    named = NAMED.findall(GUIDE.read_text(encoding="utf-8"))
    assert len(named) >= 10, "the edge-case table names no tests"
    missing = [
        f"{file}::{name}"
        for file, name in named
        if not (ROOT / file).is_file() or name not in defined_tests(ROOT / file)
    ]
    assert missing == [], f"docs/testing-payments.md names tests that do not exist: {missing}"
