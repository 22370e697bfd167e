"""Helpers of the update tests: copier as a user runs it, local edits, project trees."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import project_env, uv
from tests.releases import git

TREE_SKIP = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
PACKAGE = "acme_payments"
#: Copier's inline conflict markers, each a whole line (`--conflict inline`, the default).
MARKERS = {b"<<<<<<< before updating", b">>>>>>> after updating"}


def copier_env(spool: Path) -> dict[str, str]:
    """The project environment, with the trace (if any runs) spooled where the test says."""
    env = {k: v for k, v in project_env().items() if not k.startswith(("LANGFUSE_", "COAIA_"))}
    env["COPIER_PAYMENTS_SPOOL_DIR"] = str(spool)
    return env


def copier(
    *args: str,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m copier ...` as a user runs it, with no terminal. The default environment
    is the project's: callers that do not pass `testing=true` pass their own."""
    return subprocess.run(
        [python, "-m", "copier", *args],
        cwd=cwd,
        env=env if env is not None else project_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def uv_run(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`uv run` in a generated project; the output is kept for failures."""
    return subprocess.run(
        [uv(), "run", "--quiet", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def generate(template: Path, destination: Path, ref: str, *data: str) -> Path:
    """`copier copy` at release `ref`, side effects off; the project is then committed."""
    flags = [item for d in ("testing=true", *data) for item in ("--data", d)]
    succeeded(
        copier("copy", "--trust", "--defaults", "--vcs-ref", ref, *flags, str(template),
               str(destination)),
        f"copier copy {ref}",
    )  # fmt: skip
    git("init", "-q", cwd=destination)
    commit_all(destination, "generated")
    return destination


def commit_all(project: Path, message: str) -> None:
    git("add", "-A", cwd=project)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=project)


def update(project: Path, *data: str) -> str:
    flags = [item for d in ("testing=true", *data) for item in ("--data", d)]
    return succeeded(copier("update", "--trust", "--defaults", *flags, cwd=project), "update")


def tree(root: Path) -> dict[str, bytes]:
    """Every file of a project (but git's and tools' own), by relative path."""
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in TREE_SKIP]
        for name in filenames:
            path = Path(dirpath) / name
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def differences(actual: dict[str, bytes], expected: dict[str, bytes]) -> list[str]:
    """Paths that differ between two trees, with what is wrong with each."""
    wrong = [f"missing: {p}" for p in sorted(expected.keys() - actual.keys())]
    wrong += [f"unexpected: {p}" for p in sorted(actual.keys() - expected.keys())]
    wrong += [f"differs: {p}" for p in sorted(expected.keys() & actual.keys())
              if expected[p] != actual[p]]  # fmt: skip
    return wrong


def conflict_leftovers(root: Path) -> list[str]:
    """`.rej` files and conflict markers: what an update must leave only on a real conflict."""
    found = []
    for path, content in tree(root).items():
        if path.endswith((".rej", ".orig")):
            found.append(path)
        elif MARKERS & {line.rstrip() for line in content.splitlines()}:
            found.append(f"{path}: conflict markers")
    return found


@dataclass(frozen=True)
class Edit:
    """A local change a user makes to a generated project, and how to find it afterwards."""

    path: str
    anchor: str  # an existing line; the edit replaces it with `replacement`
    replacement: str

    def apply(self, root: Path) -> None:
        file = root / self.path
        text = file.read_text()
        assert text.count(self.anchor) == 1, f"{self.path}: anchor not found once"
        file.write_text(text.replace(self.anchor, self.replacement))

    def holds(self, root: Path) -> bool:
        return self.replacement in (root / self.path).read_text()


#: The user's local edits: the worker's retries changed, the README and `.env.example`
#: edited (files every release keeps where they are: see test_update for moved files).
EDITS = [
    Edit(
        f"src/{PACKAGE}/webhooks/worker.py",
        "MAX_ATTEMPTS = 8\n",
        "# Local change: a day of retries more before an event is dead.\nMAX_ATTEMPTS = 12\n",
    ),
    Edit(
        "README.md",
        "# Acme Payments\n",
        "# Acme Payments\n\nOwned by the payments team; on-call runbook in docs/runbook.md.\n",
    ),
    Edit(
        ".env.example",
        "# Empty values count as unset.",
        "# Production values live in the vault, never here.\n# Empty values count as unset.",
    ),
]

#: A file the user adds: a test of their own, which the project's suite then runs.
ADDED = (
    "tests/test_local_rules.py",
    '"""The team\'s own rule, added after generation."""\n\n'
    f"from {PACKAGE}.webhooks import worker\n\n\n"
    "def test_events_get_twelve_attempts() -> None:\n"
    "    assert worker.MAX_ATTEMPTS == 12\n",
)


def edit_locally(root: Path) -> None:
    for edit in EDITS:
        edit.apply(root)
    (root / ADDED[0]).write_text(ADDED[1])


def edits_hold(root: Path) -> list[str]:
    """The local edits that did not survive (empty when all did)."""
    lost = [edit.path for edit in EDITS if not edit.holds(root)]
    added = root / ADDED[0]
    if not added.is_file() or added.read_text() != ADDED[1]:
        lost.append(ADDED[0])
    return lost


def edited_paths() -> set[str]:
    return {edit.path for edit in EDITS} | {ADDED[0]}
