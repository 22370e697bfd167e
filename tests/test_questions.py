"""The questionnaire: derived defaults, validators, and failures that leave nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_copie.plugin import Copie

from tests.conftest import ROOT

QUESTIONS = {
    key: spec
    for key, spec in yaml.safe_load((ROOT / "copier.yml").read_text()).items()
    if not key.startswith("_")
}
PUBLIC_KEYS = {
    "project_name",
    "project_slug",
    "package_name",
    "description",
    "author_name",
    "author_email",
    "processors",
    "subscriptions",
    "web_pages",
    "checkout_form",
    "python_version",
    "license",
    "ci",
    "container",
    "agent_files",
    "coaia_mcp",
    "coaia_conda_env",
}


def test_public_keys_are_exactly_the_documented_ones() -> None:
    hidden = {"testing", "pins"}  # never asked, never recorded
    assert set(QUESTIONS) - hidden == PUBLIC_KEYS
    assert all(QUESTIONS[key]["when"] is False for key in hidden)


def test_every_question_has_help_and_a_default() -> None:
    for key in PUBLIC_KEYS:
        assert QUESTIONS[key].get("help"), key
        assert "default" in QUESTIONS[key], key


def test_no_question_asks_for_a_secret() -> None:
    for key, spec in QUESTIONS.items():
        assert not spec.get("secret"), key
        assert not any(word in key for word in ("key", "secret", "token", "password")), key


def test_derived_names(copie: Copie) -> None:
    result = copie.copy(extra_answers={"project_name": "Acme  Payments!", "testing": True})
    assert result.exception is None, result.exception
    assert result.answers["project_slug"] == "acme-payments"
    assert result.answers["package_name"] == "acme_payments"
    assert result.project_dir is not None
    assert (result.project_dir / "src" / "acme_payments" / "app.py").is_file()
    pyproject = (result.project_dir / "pyproject.toml").read_text()
    assert 'acme-payments = "acme_payments.cli:main"' in pyproject


@pytest.mark.parametrize(
    ("answers", "question", "message"),
    [
        ({"project_slug": "Bad Slug!"}, "project_slug", "lowercase letters"),
        ({"project_slug": "-lead"}, "project_slug", "lowercase letters"),
        ({"package_name": "1payments"}, "package_name", "not a valid Python identifier"),
        ({"package_name": "stripe"}, "package_name", "would shadow"),
        ({"author_email": "not-an-email"}, "author_email", "not a valid email"),
        ({"processors": []}, "processors", "choose at least one"),
        ({"project_name": "  "}, "project_name", "must not be empty"),
        ({"python_version": "3.9"}, "python_version", "3.9"),
        ({"processors": ["stripe", "bitcoin"]}, "processors", "bitcoin"),
    ],
)
def test_invalid_answers_fail_naming_the_question(
    copie: Copie, answers: dict[str, Any], question: str, message: str
) -> None:
    result = copie.copy(extra_answers={**answers, "testing": True})
    assert result.exit_code != 0
    assert f"'{question}'" in str(result.exception)
    assert message in str(result.exception)


def test_processor_dependencies_follow_the_choice(copie: Copie) -> None:
    result = copie.copy(extra_answers={"processors": ["square"], "testing": True})
    assert result.project_dir is not None
    pyproject = (result.project_dir / "pyproject.toml").read_text()
    assert '"squareup' in pyproject
    assert '"stripe' not in pyproject
    assert '"paypal-server-sdk' not in pyproject


def test_cli_invalid_answer_leaves_the_destination_empty(tmp_path: Path) -> None:
    """Non-interactive `copier copy --defaults --data` with a bad answer, as an agent runs it."""
    destination = tmp_path / "service"
    destination.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "project_slug=Bad Slug!",
            str(ROOT),
            str(destination),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    # Copier prints its own traceback for a --data answer; its last line is our message.
    last_line = result.stderr.strip().splitlines()[-1]
    assert "Validation error for question 'project_slug'" in last_line
    assert '"Bad Slug!" is not valid' in last_line
    assert list(destination.iterdir()) == []
