"""The README's commands, run exactly as written (but for destinations and side effects)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import yaml

from tests.conftest import ROOT, project_env, uv
from tests.fake_langfuse import FakeLangfuse
from tests.releases import current_version, git, previous_version, tagged_template
from tests.updating import (
    commit_all,
    conflict_leftovers,
    copier_env,
    edit_locally,
    edits_hold,
    uv_run,
)

README = (ROOT / "README.md").read_text()
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
GENERATE = SHELL_BLOCKS[0].strip()
UPDATE_SECTION = README.split("## Updating a generated service")[1].split("\n## ")[0]
UPDATE_COMMANDS = [
    line.removeprefix("$ ")
    for block in re.findall(r"```console\n(.*?)```", UPDATE_SECTION, flags=re.S)
    for line in block.splitlines()
    if line.startswith("$ ")
]


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-ec", script],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_readme_gives_exactly_two_commands() -> None:
    commands = [line for block in SHELL_BLOCKS for line in block.strip().splitlines()]
    assert len(commands) == 2, commands
    assert "copier copy" in commands[0]
    assert commands[1] == "uv run pytest"
    assert "uv run pytest" in (ROOT / ".ci" / "run").read_text()


def test_readme_generate_command(tmp_path: Path) -> None:
    assert GENERATE.endswith(' "$PWD" ../acme-payments')
    destination = tmp_path / "acme-payments"
    # The same command, into a temporary directory, with side effects (the trace) off.
    command = GENERATE.replace("../acme-payments", f"--data testing=true {destination}")
    result = bash(command, ROOT, project_env())
    assert result.returncode == 0, result.stderr
    assert (destination / "src" / "acme_payments" / "app.py").is_file()
    assert "uv run acme-payments serve" in result.stdout + result.stderr
    # The template is recorded by its absolute path, so `copier update` finds it again.
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(ROOT)
    # The console script the README tells the user to start works in the new service.
    check = subprocess.run(
        [uv(), "run", "--quiet", "acme-payments", "check-config"],
        cwd=destination,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "default processor: fake" in check.stdout


def test_readme_update_section(tmp_path: Path) -> None:
    """A service generated from the previous release, edited and committed, then updated
    with the README's commands as written: edits kept, release applied, tests pass."""
    assert UPDATE_COMMANDS[0] == "cd ../acme-payments"
    assert any(c.startswith("uvx --from copier==9.19.1 copier update") for c in UPDATE_COMMANDS)
    template = tagged_template(tmp_path / "copier-payments")
    spool = tmp_path / "spool"
    env = copier_env(spool)
    previous = GENERATE.replace(
        ' "$PWD"', f' --vcs-ref {previous_version()} --data testing=true "$PWD"'
    )
    generated = bash(previous, template, env)
    assert generated.returncode == 0, generated.stderr
    project = tmp_path / "acme-payments"
    git("init", "-q", cwd=project)  # as the section says: a git repository, work committed
    commit_all(project, "generated")
    edit_locally(project)
    commit_all(project, "local edits")

    result = bash("\n".join(UPDATE_COMMANDS), template, env)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert edits_hold(project) == []
    assert conflict_leftovers(project) == []
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == current_version()
    assert "ci" in answers  # the answers migration ran
    assert "github_actions" not in answers
    # `uv run pytest`, the last command, ran the project's suite (the user's test too).
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "failed" not in summary, summary
    if os.environ.get("TEST_DATABASE_URL"):
        assert "skipped" not in summary, summary
    alembic = uv_run(project, "alembic", "check", env=env)
    assert alembic.returncode == 0, alembic.stdout + alembic.stderr
    # The update was traced once, as an update (spooled: no Langfuse credentials here).
    records = [json.loads(p.read_text()) for p in spool.glob("*.json")]
    assert [r["trace"]["metadata"]["operation"] for r in records] == ["update"]


def test_the_generate_command_delivers_its_trace(tmp_path: Path) -> None:
    """The README's generate command verbatim, with Langfuse credentials set: copier runs
    from uvx, whose environment has no langfuse, and the trace still arrives (the hook's
    background sender runs through uv, with langfuse beside copier's interpreter)."""
    destination = tmp_path / "acme-payments"
    spool = tmp_path / "spool"
    env = {
        k: v
        for k, v in project_env().items()
        if not k.startswith(("LANGFUSE_", "COAIA_", "COPIER_PAYMENTS_"))
    }
    with FakeLangfuse() as fake:
        env |= {
            "LANGFUSE_PUBLIC_KEY": "pk-lf-readme",
            "LANGFUSE_SECRET_KEY": "sk-lf-readme",
            "LANGFUSE_BASE_URL": fake.url,
            "COPIER_PAYMENTS_SPOOL_DIR": str(spool),
            "COPIER_PAYMENTS_TRACE_TIMEOUT": "20",
        }
        result = bash(GENERATE.replace("../acme-payments", str(destination)), ROOT, env)
        assert result.returncode == 0, result.stderr
        output = result.stdout + result.stderr
        assert "sending to Langfuse" in output, output
        trace_id = output.split("copier-payments trace: ")[1].split()[0]
        spans = fake.wait_for_spans(11)
        logs = {p.name: p.read_text() for p in spool.glob("*.log")}
    assert len(spans) == 11, logs
    assert {s.trace_id for s in spans} == {trace_id}
    assert {s.name for s in spans} >= {"copier-payments copy", "answers", "render", "summary"}
