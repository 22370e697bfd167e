"""The template's releases, and git repositories of the template tagged like them.

Update tests need the template as a user's `copier update` sees it: a git repository whose
tags are releases. `tagged_template` builds one in a temporary directory from this
repository's history (each earlier release at its own commit) plus the working tree,
tagged as the current version, so the tests update from real older releases to the code
under test.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Earlier releases, oldest first: tag -> commit of this repository. Cutting a release
#: adds the one before it here (a commit cannot name its own hash).
RELEASES = {
    "v0.1.0": "cc1300a6f22093493d028fcd5023a03cd4623321",
    "v0.2.0": "c636fc73bd2b19fc0bebe1b77b53708faa471fd4",
    "v0.3.0": "2949273907e23f476a7e7020df0a04c7ed5af727",
    "v0.4.0": "dc09ab4c8d01217ddf942128d721c23e673cee19",
    "v0.5.0": "220a8f648f070c0ce717fae68e161a61efb7f1d4",
    "v0.6.0": "7659548fa781bda293464575066aaaf13a6ac1a9",
}

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
RELEASE_HEADING = re.compile(r"^## (v\d+\.\d+\.\d+) \(\d{4}-\d{2}-\d{2}\)$", re.M)


def changelog_versions() -> list[str]:
    """The releases CHANGELOG.md describes, newest first."""
    return RELEASE_HEADING.findall((ROOT / "CHANGELOG.md").read_text())


def current_version() -> str:
    return changelog_versions()[0]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def release_commit(tag: str) -> str:
    """The commit of an earlier release; the tests need this repository's history."""
    commit = RELEASES[tag]
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True
    )
    if found.returncode != 0:
        pytest.fail(
            f"release {tag} ({commit[:7]}) is not in this clone's history: the update tests "
            "need it (clone without --depth, or `git fetch --unshallow`)"
        )
    return commit


def working_tree_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _replace_contents(repo: Path, fill: Callable[[Path], None]) -> None:
    for entry in repo.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    fill(repo)


def _extract_release(commit: str) -> Callable[[Path], None]:
    def fill(repo: Path) -> None:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(repo, filter="data")

    return fill


def _copy_working_tree(repo: Path) -> None:
    for name in working_tree_files():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)


def commit_release(repo: Path, tag: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", tag, cwd=repo)
    git("tag", tag, cwd=repo)


def tagged_template(destination: Path) -> Path:
    """Every earlier release, then the working tree as the current version, each tagged."""
    destination.mkdir(parents=True)
    git("init", "-q", cwd=destination)
    for tag in RELEASES:
        _replace_contents(destination, _extract_release(release_commit(tag)))
        commit_release(destination, tag)
    _replace_contents(destination, _copy_working_tree)
    commit_release(destination, current_version())
    return destination


def previous_version() -> str:
    return list(RELEASES)[-1]


def first_version() -> str:
    return next(iter(RELEASES))
