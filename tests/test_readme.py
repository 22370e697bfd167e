"""The README's generate command, run exactly as written (but for the destination)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from tests.conftest import ROOT, project_env, uv

README = (ROOT / "README.md").read_text()
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def test_readme_gives_exactly_two_commands() -> None:
    commands = [line for block in SHELL_BLOCKS for line in block.strip().splitlines()]
    assert len(commands) == 2, commands
    assert "copier copy" in commands[0]
    assert commands[1] == "uv run pytest"
    assert "uv run pytest" in (ROOT / ".ci" / "run").read_text()


def test_readme_generate_command(tmp_path: Path) -> None:
    command = shlex.split(SHELL_BLOCKS[0].strip())
    assert command[-1] == "../acme-payments"
    destination = tmp_path / "acme-payments"
    # The same command, into a temporary directory, with side effects (the trace) off.
    command = [*command[:-2], "--data", "testing=true", command[-2], str(destination)]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=project_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (destination / "src" / "acme_payments" / "app.py").is_file()
    assert "uv run acme-payments serve" in result.stdout + result.stderr
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
