"""The template's own code is held to the standard of the code it generates."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "--no-cache", "."],
        ["ruff", "format", "--check", "--no-cache", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_template_code_is_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: A conditional in a template file's name (`{% if web_pages %}web{% endif %}` is `web`).
CONDITION = re.compile(r"\{%-? (?:if [^%]+|endif) -?%\}")
#: The README's table of the Python files that keep template logic.
LISTED = re.compile(r"^\| `([^`]+\.py\.jinja)` \| ", re.M)


def test_template_logic_in_python_files_is_listed() -> None:
    """Options switch files; the few Python files with a `{%` inside are the README's list."""
    found = set()
    for path in (ROOT / "template").rglob("*"):
        name = CONDITION.sub("", path.relative_to(ROOT / "template").as_posix())
        if path.is_file() and ".py" in name and "{%" in path.read_text(encoding="utf-8"):
            found.add(name)
    section = (ROOT / "README.md").read_text().split("## Template logic in Python files")[1]
    assert found == set(LISTED.findall(section.split("\n## ")[0]))
