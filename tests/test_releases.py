"""Release rules: PEP 440 tags with a changelog, answers migrations, shipped revisions."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from tests.conftest import load_hook
from tests.releases import RELEASES, ROOT, changelog_versions, current_version, release_commit

VERSIONS = ROOT / "template" / "migrations" / "versions"

migrate_answers = load_hook("migrate_answers")
MOVES = load_hook("moved_edits").MOVES


def test_versions_are_pep440_tags_described_newest_first() -> None:
    versions = changelog_versions()
    assert versions, "CHANGELOG.md has no release heading"
    parsed = [Version(v) for v in versions]
    assert parsed == sorted(parsed, reverse=True)
    assert len(set(parsed)) == len(parsed)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert f"v{pyproject['project']['version']}" == current_version()
    # Every earlier release is recorded with its commit, the newest one included.
    assert list(RELEASES) == sorted(versions[1:], key=Version)


def test_release_tags_point_at_the_recorded_commits() -> None:
    for tag in RELEASES:
        commit = release_commit(tag)
        tagged = subprocess.run(
            ["git", "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if tagged.returncode == 0:  # a clone may carry no tags; where it does, they agree
            assert tagged.stdout.strip() == commit, tag


def test_every_versioned_migration_is_a_release_with_a_step() -> None:
    """Each versioned `_migrations` entry runs, before the update, the step its release has:
    re-shaping the answers (hooks/migrate_answers.py), or keeping the local edits of the
    files the release moves (hooks/moved_edits.py)."""
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    versioned = [m for m in config["_migrations"] if "version" in m]
    scripts = {"migrate_answers.py": set(migrate_answers.STEPS), "moved_edits.py": set(MOVES)}
    for script, steps in scripts.items():
        entries = {m["version"] for m in versioned if m["command"][1].endswith(f"/{script}")}
        assert entries == steps, script
        assert steps <= set(changelog_versions()), script
    assert len(versioned) == sum(len(steps) for steps in scripts.values())
    for migration in versioned:
        assert migration["when"] == "{{ _stage == 'before' }}"
        assert migration["command"][2] == migration["version"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"github_actions": True, "container": True}, {"ci": "github", "container": True}),
        ({"github_actions": False}, {"ci": "none"}),
        ({"ci": "gitlab"}, {"ci": "gitlab"}),  # already in the new shape: left alone
    ],
)
def test_v0_2_0_renames_github_actions(
    tmp_path: Path, before: dict[str, object], after: dict[str, object]
) -> None:
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(yaml.safe_dump({"_commit": "v0.1.0", **before}))
    original = answers.read_text()
    assert migrate_answers.main(["v0.2.0", str(answers)]) == 0
    assert yaml.safe_load(answers.read_text()) == {"_commit": "v0.1.0", **after}
    if before == after:
        assert answers.read_text() == original  # untouched, byte for byte
    # A second run changes nothing.
    migrated = answers.read_text()
    assert migrate_answers.main(["v0.2.0", str(answers)]) == 0
    assert answers.read_text() == migrated


def test_migrate_answers_refuses_unknown_versions_and_missing_files(tmp_path: Path) -> None:
    script = str(ROOT / "hooks/migrate_answers.py")
    unknown = subprocess.run([sys.executable, script, "v9.9.9"], capture_output=True, text=True)
    assert unknown.returncode == 2
    assert "usage" in unknown.stderr
    missing = subprocess.run(
        [sys.executable, script, "v0.2.0", str(tmp_path / "none.yml")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1
    assert "no answers file" in missing.stderr


def revision_ids(text: str) -> tuple[str, str | None]:
    revision = re.search(r'^revision: str = "(\w+)"$', text, re.M)
    down = re.search(r'^down_revision: str \| None = (None|"(\w+)")$', text, re.M)
    assert revision is not None
    assert down is not None
    return revision.group(1), down.group(2)


def test_template_revisions_are_numbered_and_linear() -> None:
    files = sorted(VERSIONS.glob("*.py"))
    assert files
    previous = None
    for number, path in enumerate(files, 1):
        revision, down = revision_ids(path.read_text())
        assert path.name.startswith(f"{number:04d}_"), path.name
        assert (revision, down) == (f"{number:04d}", previous), path.name
        previous = revision


def test_no_release_edited_a_shipped_revision() -> None:
    """Every revision an earlier release shipped is still here, byte for byte."""
    for tag in RELEASES:
        commit = release_commit(tag)
        shipped = subprocess.run(
            ["git", "ls-tree", "--name-only", f"{commit}:template/migrations/versions"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert shipped, tag
        for name in shipped:
            blob = subprocess.run(
                ["git", "show", f"{commit}:template/migrations/versions/{name}"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            ).stdout
            assert (VERSIONS / name).read_bytes() == blob, f"{name} differs from {tag}'s"
