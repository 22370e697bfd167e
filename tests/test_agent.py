"""The template as an agent's tool: answers files, one-line failures, the JSON Schema of the
answers, and the MCP server (driven by the official `mcp` SDK's client, in process and over
stdio)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from copier_payments_agent import core
from copier_payments_agent.options import load_questions, markdown_table, schema_text
from copier_payments_agent.server import server
from mcp import Client, StdioServerParameters

from tests.conftest import ROOT, check, project_env, uv
from tests.fake_langfuse import FakeLangfuse
from tests.matrix import EXAMPLES, MATRIX
from tests.releases import current_version, previous_version, tagged_template
from tests.updating import copier

SCHEMA = json.loads((ROOT / "answers.schema.json").read_text())
AGENT_CLI = [sys.executable, "-m", "copier_payments_agent.cli"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def agent_env(tmp_path: Path) -> dict[str, str]:
    """The environment an agent's copier runs in: this clone as the template, the trace
    spooled under tmp_path, no Langfuse credentials unless a test adds them."""
    env = {
        k: v
        for k, v in project_env().items()
        if not k.startswith(("LANGFUSE_", "COAIA_", "COPIER_PAYMENTS_"))
    }
    env["COPIER_PAYMENTS_TEMPLATE"] = str(ROOT)
    env["COPIER_PAYMENTS_SPOOL_DIR"] = str(tmp_path / "spool")
    return env


# --------------------------------------------------------------------------------------
# Answers: written once, in copier.yml
# --------------------------------------------------------------------------------------


def test_the_answers_schema_is_generated_from_copier_yml() -> None:
    assert (ROOT / "answers.schema.json").read_text() == schema_text(ROOT), (
        "answers.schema.json is stale: `uv run copier-payments schema > answers.schema.json`"
    )
    assert set(SCHEMA["properties"]) == {q.key for q in load_questions(ROOT)}


def test_the_options_reference_is_generated_from_copier_yml() -> None:
    options = (ROOT / "docs" / "options.md").read_text()
    block = options.split("<!-- options:start")[1].split("\n", 1)[1].split("<!-- options:end")[0]
    assert block == markdown_table(load_questions(ROOT)), (
        "docs/options.md is stale: paste `uv run copier-payments options --markdown`"
    )


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_every_example_is_a_valid_answers_file(name: str) -> None:
    jsonschema.validate(MATRIX[name], SCHEMA)


CANDIDATES: list[dict[str, Any]] = [
    {},
    {"project_name": "Zeta Pay", "processors": ["square"]},
    {"project_name": "   "},
    {"project_slug": "Bad Slug"},
    {"project_slug": "x--y"},
    {"package_name": "9lives"},
    {"author_email": "nobody"},
    {"processors": []},
    {"processors": ["bitcoin"]},
    {"license": "GPL"},
    {"python_version": "3.10"},
    {"subscriptions": False, "web_pages": False, "ci": "none"},
]


@pytest.mark.parametrize("answers", CANDIDATES, ids=json.dumps)
def test_the_schema_never_refuses_what_copier_accepts(answers: dict[str, Any]) -> None:
    """Both are derived from copier.yml; the schema may accept less than copier checks
    (some validators compare answers), never refuse well-typed answers copier accepts. (It
    is stricter on types by design: copier reads any string as a bool, "no" included.)"""
    schema_ok = jsonschema.Draft202012Validator(SCHEMA).is_valid(answers)
    refusal = copier_refusal(answers)
    if refusal is not None:
        assert (refusal.code, refusal.question in answers) == ("invalid_answers", True)
    assert schema_ok or refusal is not None, "the schema refuses answers copier accepts"


def copier_refusal(answers: dict[str, Any]) -> core.AgentError | None:
    try:
        core.copier_validators(answers, ROOT)
    except core.AgentError as error:
        return error
    return None


def test_an_answers_file_generates_with_no_terminal(tmp_path: Path) -> None:
    """`copier copy --trust --defaults --data-file`, stdin closed, as an agent runs it."""
    destination = tmp_path / "svc"
    result = copier(
        "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "--data", "testing=true",
        "--data-file", str(EXAMPLES / "all-processors.yml"), str(ROOT), str(destination),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert answers["processors"] == ["stripe", "paypal", "square"]


# --------------------------------------------------------------------------------------
# Failures: a non-zero exit and one clear line
# --------------------------------------------------------------------------------------


def agent_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT_CLI, *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_failure_is_one_line_and_its_own_exit_code(
    tmp_path: Path, agent_env: dict[str, str]
) -> None:
    crowded = tmp_path / "crowded"
    crowded.mkdir()
    (crowded / "README.md").write_text("mine\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    loose = tmp_path / "loose"  # generated, but not (yet) a git repository
    loose.mkdir()
    (loose / ".copier-answers.yml").write_text("_src_path: /nowhere\nproject_slug: loose\n")
    cases = [
        (["generate", "svc", "--vcs-ref", "HEAD", "--data", "project_slug=Bad Slug"],
         agent_env, "invalid_answers", "project_slug: \"Bad Slug\" is not valid"),
        (["generate", "svc", "--vcs-ref", "HEAD", "--data", "colour=red"],
         agent_env, "invalid_answers", "colour: no such question"),
        (["generate", "svc", "--vcs-ref", "HEAD", "--data", "checkout_form=embedded",
          "--data", "processors=[paypal]"],
         agent_env, "invalid_answers", "checkout_form: embedded checkout needs stripe"),
        (["generate", str(crowded)], agent_env, "destination_not_empty", "is not empty"),
        (["generate", "svc"], {**agent_env, "COPIER_PAYMENTS_TEMPLATE": str(tmp_path / "nowhere")},
         "source_unreachable", "cannot read the template"),
        (["update", str(plain)], agent_env, "not_a_generated_project", "not generated"),
        (["update", str(loose)], agent_env, "project_not_clean", "is not a git repository"),
    ]  # fmt: skip
    for args, env, code, message in cases:
        result = agent_cli(*args, env=env, cwd=tmp_path)
        assert result.returncode == core.EXIT_CODES[code], (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith(f"copier-payments: {code}: "), lines
        assert message in lines[0], lines
        assert result.stdout == ""
    assert not (tmp_path / "svc").exists()
    assert (crowded / "README.md").read_text() == "mine\n"


def test_copier_itself_fails_with_an_exit_code_and_a_last_line(tmp_path: Path) -> None:
    """What copier prints without the agent CLI (docs/agents.md): an untrusted template
    exits 4; a missing answer with no terminal, or a file it would overwrite, 1; each
    with one last line saying so."""
    untrusted = copier("copy", "--defaults", "--vcs-ref", "HEAD", str(ROOT), str(tmp_path / "a"))
    assert untrusted.returncode == 4
    assert "unsafe feature" in untrusted.stderr
    asked = copier("copy", "--trust", "--vcs-ref", "HEAD", str(ROOT), str(tmp_path / "b"))
    assert asked.returncode == 1
    assert asked.stderr.strip().splitlines()[-1].startswith("Interactive session required")
    crowded = tmp_path / "c"
    crowded.mkdir()
    (crowded / "README.md").write_text("mine\n")
    collided = copier(
        "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "--data", "testing=true",
        str(ROOT), str(crowded),
    )  # fmt: skip
    assert collided.returncode == 1
    last = collided.stderr.strip().splitlines()[-1]
    assert last == "Interactive session required: Consider using `--overwrite`"
    assert (crowded / "README.md").read_text() == "mine\n"


# --------------------------------------------------------------------------------------
# The MCP server
# --------------------------------------------------------------------------------------

TOOLS = {"describe_options", "generate_payments_service", "update_payments_service", "check_update"}


@pytest.mark.anyio
async def test_tools_are_listed_and_bad_answers_refused_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPIER_PAYMENTS_TEMPLATE", str(ROOT))
    async with Client(server) as client:
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == TOOLS
        for tool in listed.tools:
            assert tool.description, tool.name
        described = await client.call_tool("describe_options", {})
        assert not described.is_error
        assert described.structured_content is not None
        keys = [q["key"] for q in described.structured_content["questions"]]
        assert "processors" in keys
        refused = await client.call_tool(
            "generate_payments_service",
            {
                "destination": str(tmp_path / "svc"),
                "answers": {"project_slug": "Bad Slug", "processors": ["stripe"]},
                "vcs_ref": "HEAD",
            },
        )
    assert refused.is_error
    assert refused.structured_content is not None
    error = refused.structured_content["error"]
    assert (error["code"], error["question"]) == ("invalid_answers", "project_slug")
    assert "is not valid" in error["message"]
    assert not (tmp_path / "svc").exists()


def stdio_server(env: dict[str, str]) -> StdioServerParameters:
    """The server as agent/mcp.json (the configuration docs/agents.md shows) starts it."""
    config = json.loads((ROOT / "agent" / "mcp.json").read_text())["mcpServers"]
    server = config["copier-payments"]
    args = [str(ROOT) if a == "/path/to/copier-payments" else a for a in server["args"]]
    assert str(ROOT) in args
    command = uv() if server["command"] == "uv" else server["command"]
    return StdioServerParameters(command=command, args=args, env=env)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def with_langfuse(env: dict[str, str], url: str) -> dict[str, str]:
    """The agent's environment with Langfuse credentials for the fake at `url`."""
    return {
        **env,
        "LANGFUSE_PUBLIC_KEY": "pk-lf-agent-test",
        "LANGFUSE_SECRET_KEY": "sk-lf-agent-test",
        "LANGFUSE_BASE_URL": url,
        "COPIER_PAYMENTS_TRACE_TIMEOUT": "20",
    }


def test_the_cli_joins_a_coaiapy_trace_by_its_exact_id(
    tmp_path: Path, agent_env: dict[str, str]
) -> None:
    """`generate --trace-id` with coaiapy's kind of id (a dashed uuid4): the generation's
    observations go into that very trace, and the result names it."""
    agent_trace = str(uuid.uuid4())
    with FakeLangfuse() as langfuse:
        env = with_langfuse(agent_env, langfuse.url)
        args = ["generate", "svc", "--vcs-ref", "HEAD", "--trace-id", agent_trace]
        result = agent_cli(*args, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        events = langfuse.wait_for_events(11)
    assert json.loads(result.stdout)["trace_id"] == agent_trace
    assert len(events) == 11
    assert {e["body"]["traceId"] for e in events} == {agent_trace}


#: The generated tests an agent's service runs here: configuration, schema, health, the CLI
#: and a payment through the offline fake processor.
AGENT_SMOKE = (
    "tests/test_config.py",
    "tests/test_migrations.py",
    "tests/test_health.py",
    "tests/test_cli.py",
    "tests/test_fake_checkout.py",
)


@pytest.mark.anyio
async def test_an_agent_generates_a_service_that_passes_its_own_tests(
    tmp_path: Path, agent_env: dict[str, str]
) -> None:
    """Over stdio, as an agent's MCP client runs the server: the generation joins the
    agent's trace, and the service it made installs, migrates, serves and pays offline (its
    own tests of that; its whole suite, for these same answers, is test_matrix's
    `default`, whose code test_code_is_the_same_where_the_matrix_says_so holds equal)."""
    destination = tmp_path / "agent-pay"
    agent_trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with FakeLangfuse() as langfuse:
        env = with_langfuse(agent_env, langfuse.url)
        async with Client(stdio_server(env)) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            made = structured(
                await client.call_tool(
                    "generate_payments_service",
                    {
                        "destination": str(destination),
                        "answers": {"project_name": "Agent Pay"},
                        "vcs_ref": "HEAD",
                        "trace_id": agent_trace,
                        "session_id": "agent-session-7",
                        "parent_observation_id": parent,
                    },
                )
            )
        spans = langfuse.wait_for_spans(11)
    assert made["trace_id"] == agent_trace
    assert made["answers"]["project_slug"] == "agent-pay"
    assert "src/agent_pay/app.py" in made["files"]
    assert "uv run agent-pay serve" in " ".join(made["next_steps"])
    roots = [s for s in spans if s.name == "copier-payments copy"]
    logs = {p.name: p.read_text() for p in (tmp_path / "spool").glob("*") if p.is_file()}
    assert len(roots) == 1, f"the trace never arrived; the spool holds {logs}"
    root = roots[0]
    assert (root.trace_id, root.parent_span_id) == (agent_trace, parent)
    assert root.attributes["session.id"] == "agent-session-7"
    env = project_env()
    check(subprocess.run([uv(), "sync", "--quiet"], cwd=destination, env=env,
                         capture_output=True, text=True, timeout=900), "uv sync")  # fmt: skip
    suite = subprocess.run(
        [
            uv(),
            "run",
            "--no-sync",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--show-capture=no",
            *AGENT_SMOKE,
        ],
        cwd=destination,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    check(suite, "the generated service's own tests")
    assert " passed" in suite.stdout.strip().splitlines()[-1]


@pytest.mark.anyio
async def test_an_agent_checks_for_and_applies_an_update(
    tmp_path: Path, agent_env: dict[str, str]
) -> None:
    template = tagged_template(tmp_path / "template")
    project = tmp_path / "svc"
    env = {**agent_env, "COPIER_PAYMENTS_TEMPLATE": str(template)}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    async with Client(stdio_server(env)) as client:
        structured(
            await client.call_tool(
                "generate_payments_service",
                {"destination": str(project), "vcs_ref": previous_version()},
            )
        )
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "generated"]):
            subprocess.run([*git, *args], cwd=project, check=True)
        status = structured(await client.call_tool("check_update", {"path": str(project)}))
        assert status["update_available"] is True
        assert status["latest"] == current_version()
        assert current_version() in status["newer_releases"]
        assert status["changes"][current_version()]
        refused = await client.call_tool(
            "update_payments_service", {"path": str(project), "answers": {"license": "GPL"}}
        )
        assert refused.is_error
        assert refused.structured_content is not None
        assert refused.structured_content["error"]["question"] == "license"
        updated = structured(
            await client.call_tool(
                "update_payments_service", {"path": str(project), "answers": {"ci": "gitlab"}}
            )
        )
        after = structured(await client.call_tool("check_update", {"path": str(project)}))
    assert updated["version_from"] == previous_version()
    assert updated["version_to"] == current_version()
    assert updated["conflicts"] == []
    assert ".gitlab-ci.yml" in updated["files_changed"]
    assert ".copier-answers.yml" in updated["files_changed"]
    assert updated["trace_id"]  # spooled under tmp_path (no credentials), never lost
    assert after["update_available"] is False
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["ci"] == "gitlab"
    assert list((tmp_path / "spool").glob("*.json"))  # the update trace, spooled


def test_a_conflict_is_a_new_marker_line_not_a_mention(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "README.md").write_text("Resolve `<<<<<<< before updating` blocks.\n")
    (tmp_path / "app.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    (tmp_path / "README.md").write_text("Resolve `<<<<<<< before updating` blocks, then commit.\n")
    (tmp_path / "app.py").write_text(
        "<<<<<<< before updating\nx = 2\n=======\nx = 3\n>>>>>>> after updating\n"
    )
    assert not core.conflicted(tmp_path, "README.md")
    assert core.conflicted(tmp_path, "app.py")


def test_copiers_url_shortcuts_are_expanded_for_git() -> None:
    assert core.git_url("gh:acme/copier-payments") == "https://github.com/acme/copier-payments"
    assert core.git_url("gl:acme/copier-payments") == "https://gitlab.com/acme/copier-payments"
    assert core.git_url("/srv/copier-payments") == "/srv/copier-payments"
