"""The documentation site: `mkdocs build --strict`, the README's two commands on it, and every
command it shows taken from a file that a test runs (and run here when no other test does)."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pytest_copie.plugin import Copie

from tests.conftest import ROOT, Rendered, check, project_env, rendered, wait_until_ready

DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
SNIPPET = re.compile(r'^--8<-- "([^":]+)(?::([\w-]+))?"$')
SHELL = {"sh", "bash", "console", "shell"}
COMMAND_START = ("$ ", "uv ", "uvx ", "copier ", "git ", "cd ", "stripe ", "curl ", "python ")

#: The files the site takes commands from, and the test that runs each of them.
RUN_BY_TESTS = {
    "README.md": "tests/test_readme.py",
    "docs/commands/agent-cli.sh": "tests/test_docs_site.py",
    "docs/commands/scale-out.sh": "tests/test_docs_site.py",
    "docs/commands/trace-replay.sh": "tests/test_trace.py",
    "agent/mcp.json": "tests/test_agent.py",
}


def page_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def test_the_site_builds_strict_with_the_readmes_two_commands(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    check(result, "mkdocs build --strict")
    readme_blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(readme_blocks) == 2
    start = page_text(site / "index.html")
    for command in readme_blocks:
        assert command.strip() in start
    for page in site.rglob("*.html"):
        assert "--8<--" not in page_text(page), page


def test_every_command_on_the_site_comes_from_a_file_tests_run() -> None:
    inline, references = [], []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        for language, body in FENCE.findall(text):
            lines = [line for line in body.splitlines() if line.strip()]
            snippets = [SNIPPET.match(line) for line in lines]
            references += [m.group(1) for m in snippets if m]
            if language in SHELL and not all(snippets):
                inline.append(f"{page.name}: {body.strip()[:60]}")
            elif language not in SHELL and not any(snippets):
                commands = [line for line in lines if line.startswith(COMMAND_START)]
                inline += [f"{page.name}: {line}" for line in commands]
        unfenced = FENCE.sub("", text)
        references += [m.group(1) for m in map(SNIPPET.match, unfenced.splitlines()) if m]
    assert inline == [], "commands written on the site instead of taken from a tested file"
    assert {"README.md", "docs/commands/agent-cli.sh"} <= set(references)
    for reference in references:
        if reference.endswith((".sh", ".md", ".json")):
            test = RUN_BY_TESTS.get(reference)
            assert test is not None, f"{reference}: no test runs it"
            assert reference.rsplit("/", 1)[-1] in (ROOT / test).read_text(), (
                f"{test} does not run {reference}"
            )


def test_the_agent_cli_commands_run_as_documented(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in project_env().items() if not k.startswith(("LANGFUSE_", "COAIA_"))},
        "DEST": str(tmp_path / "acme-payments"),
        "COPIER_PAYMENTS_SPOOL_DIR": str(tmp_path / "spool"),
    }
    result = subprocess.run(
        ["bash", str(DOCS / "commands" / "agent-cli.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    check(result, "docs/commands/agent-cli.sh")
    assert (
        tmp_path
        / "acme-payments"
        / "src"
        / "acme_payments"
        / "processors"
        / "square"
        / "adapter.py"
    ).is_file()
    assert '"update_available"' in result.stdout


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (TEST_DATABASE_URL's server), dropped afterwards."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: the scale-out commands need PostgreSQL")
    parts = urlsplit(url.replace("+psycopg", ""))
    name = f"scale_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])


@pytest.mark.xdist_group("default")
def test_the_scale_out_commands_run_as_documented(
    postgres_database: str, copie_session: Copie, rendered_projects: dict[str, Rendered]
) -> None:
    """Two API processes and two workers on one PostgreSQL database, as docs/scaling.md
    shows them: both API processes answer, and the workers keep running."""
    project = rendered("default", copie_session, rendered_projects)
    process = subprocess.Popen(
        ["bash", str(DOCS / "commands" / "scale-out.sh")],
        cwd=project.path,
        env={**project_env(), "DATABASE_URL": postgres_database, "UV_NO_SYNC": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for port in (8001, 8002):
            wait_until_ready(f"http://127.0.0.1:{port}/readyz", process, 120)
        workers = subprocess.run(
            ["pgrep", "-f", "-s", str(process.pid), "acme-payments worker"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert len(workers) >= 2, workers
        assert process.poll() is None
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
