"""Each matrix entry: no leftover Jinja, lint, types, migrations, and its own test suite."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from pytest_copie.plugin import Copie

from tests.conftest import ROOT, Rendered, check, trace_generation
from tests.matrix import MATRIX, SAME_CODE_AS
from tests.test_supply_chain import AUDIT

SKIP_DIRS = {".venv", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}
ANSWER_KEYS = [
    key for key in yaml.safe_load((ROOT / "copier.yml").read_text()) if not key.startswith("_")
]
# A copier expression or tag: a reference to an answer or to copier's own variables
# (an attribute of the same name, such as `product.description`, is not one).
COPIER_JINJA = re.compile(
    r"(\{\{|\{%)[^}]*(?<![.\w])(" + "|".join(map(re.escape, ANSWER_KEYS)) + r"|_copier\w*)\b"
)
# (`${{ ... }}` is a GitHub Actions expression, never copier's.)
ANY_JINJA = re.compile(r"(?<!\$)\{\{|\{%|\{#")


def project_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        files += [Path(dirpath) / f for f in filenames]
    return files


def test_no_leftover_template_syntax(project: Rendered) -> None:
    leftovers = []
    for path in project_files(project.path):
        relative = path.relative_to(project.path)
        if path.suffix == ".jinja" or "{%" in str(relative) or "{{" in str(relative):
            leftovers.append(f"{relative}: unrendered file name")
            continue
        text = path.read_text(encoding="utf-8")
        # Runtime page templates use Jinja themselves; they must not use copier's variables.
        pattern = COPIER_JINJA if "templates" in relative.parts else ANY_JINJA
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                leftovers.append(f"{relative}:{number}: {line.strip()}")
    assert leftovers == []


def test_answers_file_records_public_answers_only(project: Rendered) -> None:
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == project.answers["project_slug"]
    assert "testing" not in answers
    assert not [k for k in answers if re.search(r"secret|token|password|key$", k)]


def test_subscription_code_only_when_chosen(project: Rendered) -> None:
    """With subscriptions off, none of their code is generated (their tables stay)."""
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    package = project.path / "src" / answers["package_name"]
    modules = sorted(
        p.relative_to(project.path).as_posix()
        for folder in (package, project.path / "tests")
        for p in folder.rglob("*subscription*.py")
    )
    code = [
        p.relative_to(project.path).as_posix()
        for p in package.rglob("*")
        if p.is_file()
        and p.name != "models.py"
        and re.search(
            r"SubscriptionSnapshot|customer\.subscription\.", p.read_text(errors="ignore")
        )
    ]
    if answers["subscriptions"]:
        assert f"src/{answers['package_name']}/domain/subscriptions.py" in modules
        assert f"src/{answers['package_name']}/processors/subscriptions.py" in modules
        for processor in ["fake", *answers["processors"]]:
            assert (package / "processors" / processor / "subscriptions.py").is_file()
        assert "plans:" in (project.path / "catalog.yml").read_text()
    else:
        assert (modules, code) == ([], [])
        assert "plans:" not in (project.path / "catalog.yml").read_text()
        assert "SUBSCRIPTION_GRACE_DAYS" not in (project.path / ".env.example").read_text()


def test_the_trace_reports_what_the_adapters_read(runnable: Rendered) -> None:
    """The generation trace's event types (hooks/trace_generation.py reads the processors'
    `events.json`) are exactly the types each built adapter has a reader for."""
    areas = {a["area"]: a["output"] for a in trace_generation.describe_areas(runnable.path)}
    reported = areas["webhooks"]["event_types_by_processor"]
    package = runnable.answers["package_name"]
    probe = (
        f"import json; from {package}.processors.registry import KINDS; "
        "print(json.dumps({k.name: sorted(k.adapter_class().readers) for k in KINDS}))"
    )
    result = runnable.uv_run("python", "-c", probe)
    check(result, "reading the adapters' readers")
    assert json.loads(result.stdout) == reported
    assert set(reported) == {"fake", *runnable.answers["processors"]}


def test_ci_runs_the_same_steps_everywhere(project: Rendered) -> None:
    """The chosen CI (and only it) installs the lock, lints, type-checks, tests against
    PostgreSQL and audits the lock (tests/test_supply_chain.py runs the audit)."""
    ci = project.answers["ci"]
    github = project.path / ".github" / "workflows" / "ci.yml"
    gitlab = project.path / ".gitlab-ci.yml"
    assert (github.is_file(), gitlab.is_file()) == (ci == "github", ci == "gitlab")
    if ci == "none":
        return
    steps = ["uv sync --locked", "uv run ruff check", "uv run ruff format --check", "uv run mypy"]
    if ci == "github":
        job = yaml.safe_load(github.read_text())["jobs"]["test"]
        commands = [step["run"] for step in job["steps"] if "run" in step]
        database = job["env"]["TEST_DATABASE_URL"]
    else:
        job = yaml.safe_load(gitlab.read_text())["test"]
        commands = job["script"]
        database = job["variables"]["TEST_DATABASE_URL"]
        assert job["image"].startswith(f"python:{project.answers['python_version']}.")
    assert commands == [*steps, "uv run pytest", AUDIT]
    assert database.startswith("postgresql+psycopg://")


def test_pci_checklist_is_tailored(project: Rendered) -> None:
    """docs/pci-checklist.md speaks of the processors chosen and the checkout form."""
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    checklist = (project.path / "docs" / "pci-checklist.md").read_text()
    names = {"stripe": "Stripe", "paypal": "PayPal", "square": "Square"}
    for key, name in names.items():
        chosen = key in answers["processors"]
        assert (f"Download {name}'s current Attestation" in checklist) == chosen, name
    embedded = answers["web_pages"] and answers.get("checkout_form") == "embedded"
    assert ("FAQ 1588's second way" in checklist) == embedded
    assert ("does not apply to a redirect" in checklist) == (not embedded)
    inventory = project.path / "docs" / "script-inventory.yml"
    assert inventory.is_file() == answers["web_pages"]
    if answers["web_pages"]:
        scripts = yaml.safe_load(inventory.read_text())["scripts"]
        assert [s["src"] for s in scripts] == (["https://js.stripe.com/v3/"] if embedded else [])


PROCESSOR_NAMES = {"stripe": "Stripe", "paypal": "PayPal", "square": "Square"}
#: Whatever looks like a credential, in a file meant to be committed.
SECRET_VALUE = re.compile(r"sk[-_](?:lf|live|test)|pk-lf-|whsec_|EAAA|Bearer |\$\{?\w*(SECRET|KEY)")


def test_agent_guide_names_only_what_exists(project: Rendered) -> None:
    """AGENTS.md: its commands are the service's, every file it names exists, it speaks
    of the processors chosen and states the rules that must never break."""
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    guide = project.path / "AGENTS.md"
    assert guide.is_file() == answers["agent_files"]
    if not answers["agent_files"]:
        return
    text = guide.read_text()
    package = project.path / "src" / answers["package_name"]
    named = re.findall(r"`([\w./-]+\.(?:py|md|yml|json|example))`", text)
    assert len(named) >= 10
    missing = [n for n in named if not (project.path / n).exists() and not (package / n).exists()]
    assert missing == []
    for command in ("serve", "migrate", "check-config", "catalog sync"):
        assert f"uv run {answers['project_slug']} {command}" in text
    introduction = text.split("## Commands")[0]
    for key, name in PROCESSOR_NAMES.items():
        assert (key in introduction) == (key in answers["processors"]), name
    for rule in ("card numbers", "idempotency key", "verified before it is stored"):
        assert rule in text


def test_coaia_mcp_configuration_holds_no_secret(project: Rendered) -> None:
    """.mcp.coaiapy.json runs the published coaiapy-mcp through uvx, .mcp.coaiapy-dev.json
    the one in the `coaia_conda_env` Conda environment (`conda run`, its output not
    captured: MCP speaks over stdio); both valid JSON, behind `coaia_mcp`, neither with a
    credential in it."""
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    published = project.path / ".mcp.coaiapy.json"
    development = project.path / ".mcp.coaiapy-dev.json"
    assert published.is_file() == development.is_file() == answers["coaia_mcp"]
    if not answers["coaia_mcp"]:
        return
    servers = json.loads(published.read_text())["mcpServers"]
    assert servers["coaiapy"]["command"] == "uvx"
    assert re.fullmatch(r"coaiapy-mcp==[\d.]+", servers["coaiapy"]["args"][-1])
    dev = json.loads(development.read_text())["mcpServers"]["coaiapy-dev"]
    assert dev["command"] == "conda"
    assert dev["args"] == [
        "run", "--no-capture-output", "-n", answers["coaia_conda_env"], "coaiapy-mcp"
    ]  # fmt: skip
    for path in (published, development):
        assert not SECRET_VALUE.search(path.read_text()), path.name


def test_testing_guide_covers_the_processors_chosen(project: Rendered) -> None:
    """docs/testing-payments.md: a section per processor chosen (sandbox, test cards, local
    webhooks), none for the others; the service's own test_docs.py checks its test names."""
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    guide = (project.path / "docs" / "testing-payments.md").read_text()
    for key, name in PROCESSOR_NAMES.items():
        assert (f"\n## {name}\n" in guide) == (key in answers["processors"]), name
    assert ("stripe listen --forward-to localhost:8000/webhooks/stripe" in guide) == (
        "stripe" in answers["processors"]
    )
    for scenario in ("Success", "Decline", "Insufficient funds", "3DS", "Dispute", "Refund"):
        assert guide.count(scenario) >= len(answers["processors"]), scenario
    assert (project.path / "tests" / "test_docs.py").is_file()


#: Tests of what surrounds the code (the container), generated with it.
AROUND_THE_CODE = {"tests/test_image.py"}


@pytest.mark.parametrize(("name", "reference"), sorted(SAME_CODE_AS.items()))
def test_code_is_the_same_where_the_matrix_says_so(
    name: str, reference: str, copie_session: Copie
) -> None:
    """An entry whose own suite is not run has exactly the code of the entry that stands for it
    (but for the tests of the files around the code: `tests/test_image.py` tests the
    Dockerfile, where there is one)."""

    def code(answers: dict[str, object]) -> dict[str, bytes]:
        result = copie_session.copy(extra_answers={**answers, "testing": True})
        assert result.project_dir is not None, result.exception
        root = result.project_dir
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for folder in ("src", "tests", "migrations")
            for p in project_files(root / folder)
            if p.relative_to(root).as_posix() not in AROUND_THE_CODE
        } | {file: (root / file).read_bytes() for file in ("alembic.ini", "catalog.yml")}

    assert code(MATRIX[name]) == code(MATRIX[reference])


def test_ruff_check(project: Rendered) -> None:
    check(project.uv_run("ruff", "check", "--no-cache", "."), "ruff check")


def test_ruff_format(project: Rendered) -> None:
    check(project.uv_run("ruff", "format", "--check", "--no-cache", "."), "ruff format --check")


def test_mypy_strict(project: Rendered) -> None:
    result = project.uv_run("mypy")
    check(result, "mypy")
    assert (
        f'python_version = "{project.answers["python_version"]}"'
        in (project.path / "pyproject.toml").read_text()
    )


def test_migrations_apply_with_no_drift(runnable: Rendered, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'check.db'}"}
    check(runnable.uv_run("alembic", "upgrade", "head", env=env), "alembic upgrade head")
    check(runnable.uv_run("alembic", "check", env=env), "alembic check")


def test_own_test_suite(runnable: Rendered) -> None:
    # Failures show their tracebacks, not the captured logs (which would fill the report).
    result = runnable.uv_run("pytest", "-q", "-p", "no:cacheprovider", "--show-capture=no")
    check(result, "the generated project's pytest")
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    if os.environ.get("TEST_DATABASE_URL"):
        # In CI the PostgreSQL tests must run, not skip.
        assert "skipped" not in summary, summary
