"""`copier update` from older releases: local edits kept, releases applied, conflicts shown.

The template is a git repository built from this one's history (tests/releases.py): each
earlier release at its own commit and tag, and the working tree tagged as the current
version. (The README's update section, run as written on a project with local edits, with
the project's own tests and `alembic check` after it, is in tests/test_readme.py.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import check, project_env
from tests.releases import (
    commit_release,
    current_version,
    first_version,
    git,
    previous_version,
    tagged_template,
)
from tests.updating import (
    MARKERS,
    PACKAGE,
    Edit,
    commit_all,
    conflict_leftovers,
    differences,
    edit_locally,
    edited_paths,
    edits_hold,
    generate,
    tree,
    update,
    uv_run,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tagged_template(tmp_path_factory.mktemp("releases") / "copier-payments")


def fresh(template: Path, destination: Path, *data: str) -> dict[str, bytes]:
    """A fresh copy at the current version, as a tree."""
    return tree(generate(template, destination, current_version(), *data))


def answers(project: Path) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return loaded


@pytest.mark.parametrize(
    ("start", "old_answers", "new_answers"),
    [
        ("first", ("github_actions=false",), ("ci=none",)),
        ("previous", (), ()),
        ("current", (), ()),
    ],
    ids=["first-release-migrated-answer", "previous-release", "current-release"],
)
def test_update_equals_a_fresh_copy(
    template: Path,
    tmp_path: Path,
    start: str,
    old_answers: tuple[str, ...],
    new_answers: tuple[str, ...],
) -> None:
    """With no local edits, an updated project is exactly a fresh copy of the current version."""
    ref = {"first": first_version(), "previous": previous_version()}.get(start, current_version())
    project = generate(template, tmp_path / "acme-payments", ref, *old_answers)
    output = update(project)
    assert differences(tree(project), fresh(template, tmp_path / "fresh", *new_answers)) == []
    assert answers(project)["_commit"] == current_version()
    assert conflict_leftovers(project) == []
    if start == "previous":  # the locked, pinned, audited CI arrives by update (CHANGELOG)
        workflow = (project / ".github" / "workflows" / "ci.yml").read_text()
        assert "uv sync --locked" in workflow
        assert "persist-credentials: false" in workflow
        assert (project / ".github" / "dependabot.yml").is_file()
    if old_answers:  # the v0.2.0 answers migration ran, and said so
        assert "answers migrated to the v0.2.0 shape" in output
        assert "github_actions" not in answers(project)
        assert not (project / ".github").exists()


def test_local_edits_survive_and_the_release_is_applied(template: Path, tmp_path: Path) -> None:
    project = generate(template, tmp_path / "acme-payments", previous_version())
    edit_locally(project)
    commit_all(project, "local edits")
    update(project)

    assert edits_hold(project) == []
    assert conflict_leftovers(project) == []
    assert git("diff", "--name-only", "--diff-filter=U", cwd=project) == ""
    # Every file is the current release's, the edited ones with the edits on top.
    expected = tmp_path / "fresh"
    fresh(template, expected)
    edit_locally(expected)
    assert differences(tree(project), tree(expected)) == []
    # ... and the release did change files the user had not touched.
    old = tree(generate(template, tmp_path / "old", previous_version()))
    updated = tree(project)
    assert [p for p in old.keys() & updated.keys() - edited_paths() if old[p] != updated[p]]


#: A v0.6.0 file that v0.7.0 moves (its code is now in processors/stripe/ and domain/), and
#: a local edit of it.
MOVED = f"src/{PACKAGE}/webhooks/handlers.py"
MOVED_EDIT = Edit(
    MOVED,
    '    payment.failure_message = error.get("message")\n',
    "    # Local change: processor messages are kept to 500 characters.\n"
    '    payment.failure_message = (error.get("message") or "")[:500] or None\n',
)
PATCH = "copier-payments-v0.7.0-moved-edits.patch"


def test_edits_of_a_moved_file_are_kept_in_a_patch(template: Path, tmp_path: Path) -> None:
    """Copier deletes a file the newer release no longer renders, edits and all. Across
    v0.7.0 (one folder per processor), the update keeps such edits in a patch at the
    project's root and says where the file's code went; other edits merge as usual."""
    project = generate(template, tmp_path / "acme-payments", "v0.6.0")
    MOVED_EDIT.apply(project)
    edit_locally(project)
    commit_all(project, "local edits")
    output = update(project)

    assert not (project / MOVED).exists()  # the release moved it: copier removed it
    assert f"your edits are kept in {PATCH}" in output
    assert f"{MOVED} -> reading Stripe's events: processors/stripe/events.py" in output
    patch = (project / PATCH).read_text()
    assert f"#   {MOVED} -> reading Stripe's events" in patch
    assert MOVED_EDIT.replacement.splitlines()[1] in patch
    assert f"src/{PACKAGE}/processors/stripe.py" not in patch  # moved, but not edited
    assert edits_hold(project) == []
    assert conflict_leftovers(project) == []
    # The patch is exactly the edit: applied to the file as v0.6.0 made it, it gives the
    # edited file back.
    old = generate(template, tmp_path / "old", "v0.6.0")
    git("apply", str(project / PATCH), cwd=old)
    assert (old / MOVED).read_text() == git("show", f"HEAD:{MOVED}", cwd=project)
    # Nothing edited among the moved files: no patch, nothing said.
    quiet = generate(template, tmp_path / "quiet", "v0.6.0")
    assert "moves files you edited" not in update(quiet)
    assert not (quiet / PATCH).exists()


def changed_line(old: dict[str, bytes], new: dict[str, bytes]) -> tuple[str, str]:
    """A line of a file that the newer release changed: (path, line)."""
    for path in sorted(old.keys() & new.keys()):
        if path == ".copier-answers.yml" or old[path] == new[path]:
            continue
        kept = set(new[path].decode().splitlines())
        for line in old[path].decode().splitlines():
            if len(line.strip()) > 20 and line not in kept:
                return path, line
    pytest.fail("no line changed between the previous release and this one")


def test_a_real_conflict_is_shown_inline(template: Path, tmp_path: Path) -> None:
    old = tree(generate(template, tmp_path / "old", previous_version()))
    path, line = changed_line(old, fresh(template, tmp_path / "new"))
    project = generate(template, tmp_path / "acme-payments", previous_version())
    target = project / path
    target.write_text(target.read_text().replace(line, line + " (our own wording)", 1))
    edit_locally(project)  # and edits elsewhere, which merge cleanly
    commit_all(project, "local edits")
    update(project)

    text = target.read_text()
    assert {m.decode() for m in MARKERS} <= set(text.splitlines())
    assert line + " (our own wording)" in text  # the user's side is kept, not dropped
    assert git("diff", "--name-only", "--diff-filter=U", cwd=project).split() == [path]
    assert [p for p in conflict_leftovers(project) if not p.startswith(path)] == []
    assert edits_hold(project) == []


def test_changing_answers_on_update(template: Path, tmp_path: Path) -> None:
    """Enable PayPal and subscriptions, disable the web pages: a fresh copy plus the edits."""
    before = ("processors=[stripe]", "subscriptions=false", "web_pages=true")
    after = ('processors=["stripe", "paypal"]', "subscriptions=true", "web_pages=false")
    project = generate(template, tmp_path / "acme-payments", current_version(), *before)
    revisions = sorted(p.name for p in (project / "migrations" / "versions").iterdir())
    edit_locally(project)
    commit_all(project, "local edits")
    update(project, *after)

    expected = tmp_path / "fresh"
    fresh(template, expected, *after)
    edit_locally(expected)
    assert differences(tree(project), tree(expected)) == []
    assert conflict_leftovers(project) == []
    recorded = answers(project)
    assert (recorded["processors"], recorded["subscriptions"], recorded["web_pages"]) == (
        ["stripe", "paypal"],
        True,
        False,
    )
    assert not (project / "src" / PACKAGE / "web").exists()  # removed cleanly
    assert '"paypal-server-sdk' in (project / "pyproject.toml").read_text()
    assert (project / "src" / PACKAGE / "domain" / "subscriptions.py").is_file()
    # The schema is the same for every answer: no revision added.
    assert sorted(p.name for p in (project / "migrations" / "versions").iterdir()) == revisions


REVISION_NEXT = '''"""Payments record the processor's risk level.

Shipped by the copier-payments template. Never edit a shipped revision: add a new one.

Revision ID: {revision}
Revises: {head}
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "{revision}"
down_revision: str | None = "{head}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("risk_level", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("risk_level")
'''

FAILURE_MESSAGE = "    failure_message: Mapped[str | None] = mapped_column(Text)\n"

LOCAL_MODEL = '''

class LocalNote(Base):
    """A table of the project's own, added after generation."""

    __tablename__ = "local_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
'''


def next_revision(versions: Path) -> tuple[str, str]:
    """The file name and text of the revision after the template's newest one."""
    head = max(path.name[:4] for path in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))
    revision = f"{int(head) + 1:04d}"
    text = REVISION_NEXT.format(revision=revision, head=head)
    return f"{revision}_payment_risk_level.py", text


def schema_release(template: Path) -> str:
    """A next release that changes the schema: a model column and the next revision."""
    source = template / "template"
    models = source / "src" / "{{ package_name }}" / "models.py"
    text = models.read_text()
    assert text.count(FAILURE_MESSAGE) == 1
    risk = "    risk_level: Mapped[str | None] = mapped_column(String(20))\n"
    models.write_text(text.replace(FAILURE_MESSAGE, FAILURE_MESSAGE + risk))
    name, text = next_revision(source / "migrations" / "versions")
    (source / "migrations" / "versions" / name).write_text(text)
    major, minor, patch = current_version().removeprefix("v").split(".")
    tag = f"v{major}.{minor}.{int(patch) + 1}"
    commit_release(template, tag)
    return tag


def test_a_schema_release_beside_the_projects_own_revision(tmp_path: Path) -> None:
    """The template's new revision and the user's own make two heads: the README's merge."""
    template = tagged_template(tmp_path / "copier-payments")
    project = generate(template, tmp_path / "acme-payments", current_version())
    shipped = (project / "migrations/versions/0001_initial_schema.py").read_bytes()
    env = {**project_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return uv_run(project, *args, env=env)

    # The user's own table and revision, made the documented way.
    models = project / "src" / PACKAGE / "models.py"
    models.write_text(models.read_text() + LOCAL_MODEL)
    check(run("acme-payments", "migrate"), "migrate")
    check(run("alembic", "revision", "--autogenerate", "-m", "local notes"), "revision")
    check(run("acme-payments", "migrate"), "migrate to the user's revision")
    commit_all(project, "local notes")

    name, text = next_revision(template / "template" / "migrations" / "versions")
    tag = schema_release(template)
    update(project)
    assert answers(project)["_commit"] == tag
    assert (project / "migrations" / "versions" / name).read_text() == text
    assert (project / "migrations/versions/0001_initial_schema.py").read_bytes() == shipped
    assert "risk_level" in models.read_text()
    assert "class LocalNote(Base):" in models.read_text()
    assert conflict_leftovers(project) == []

    refused = run("acme-payments", "migrate")
    assert refused.returncode == 2
    assert "has 2 heads" in refused.stderr
    assert 'alembic merge heads -m "merge template revisions"' in refused.stderr
    check(run("alembic", "merge", "heads", "-m", "merge template revisions"), "merge heads")
    check(run("acme-payments", "migrate"), "migrate after the merge")
    check(run("alembic", "check"), "alembic check")
    suite = run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_migrations.py")
    check(suite, "the project's migration tests")


MY_HOOKS = '''"""My shop's hooks."""

from acme_payments.outbound import Event


def payment_succeeded(event: Event) -> None:
    print("ship", event.data["reference"])
'''


def test_the_merchants_hooks_file_is_never_overwritten(tmp_path: Path) -> None:
    """hooks.py is the merchant's: a release that changes the shipped one leaves theirs."""
    template = tagged_template(tmp_path / "copier-payments")
    project = generate(template, tmp_path / "acme-payments", current_version())
    hooks = project / "hooks.py"
    assert "def payment_succeeded(event: Event) -> None:" in hooks.read_text()
    hooks.write_text(MY_HOOKS)
    commit_all(project, "my hooks")

    shipped = template / "template" / "hooks.py.jinja"
    shipped.write_text(shipped.read_text() + "\n\ndef payment_captured(event: Event) -> None:\n")
    major, minor, patch = current_version().removeprefix("v").split(".")
    tag = f"v{major}.{minor}.{int(patch) + 1}"
    commit_release(template, tag)
    update(project)

    assert answers(project)["_commit"] == tag
    assert hooks.read_text() == MY_HOOKS
    assert conflict_leftovers(project) == []
