"""The generation trace: recorded for every copy and update, never failing, never lost."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from langfuse import Langfuse

from tests.conftest import ROOT, trace_generation, uv
from tests.fake_langfuse import FakeLangfuse, Span
from tests.releases import current_version, previous_version, tagged_template
from tests.updating import copier

HOOK = ROOT / "hooks" / "trace_generation.py"
PUBLIC_KEY = "pk-lf-copier-payments-test"
SENTINELS = {
    "LANGFUSE_SECRET_KEY": "sk-lf-SENTINEL-langfuse-secret",
    "STRIPE_SECRET_KEY": "sk_test_SENTINELstripe0000000000",
    "API_TOKEN": "SENTINEL-api-token-value",
    "AWS_SECRET_ACCESS_KEY": "SENTINEL-aws-secret",
}
AREAS = {
    "application_code",
    "database_schema",
    "webhooks",
    "configuration",
    "pci_checklist",
    "tests",
    "project_files",
}


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def hook_env(spool: Path, home: Path, base_url: str | None, **extra: str) -> dict[str, str]:
    """A clean environment: our spool and HOME, sentinel secrets, no inherited trace ids."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "COAIA_", "COPIER_PAYMENTS_", "XDG_STATE"))
    }
    env.update(SENTINELS)
    env.update({"COPIER_PAYMENTS_SPOOL_DIR": str(spool), "HOME": str(home)})
    # A loaded CI machine can be slower than the default 3 s to answer: only the test of a
    # Langfuse that hangs keeps a short wait.
    env["COPIER_PAYMENTS_TRACE_TIMEOUT"] = "20"
    if base_url is not None:
        env.update({"LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_BASE_URL": base_url})
    else:
        env.pop("LANGFUSE_SECRET_KEY")
    env.update(extra)
    return env


def copy(destination: Path, env: dict[str, str], *data: str, **kwargs: Any) -> str:
    """`copier copy` as a user runs it (of this clone as it is); returns its output."""
    flags = ["--vcs-ref", "HEAD", *(item for d in data for item in ("--data", d))]
    result = copier(
        "copy", "--trust", "--defaults", *flags, str(ROOT), str(destination), env=env, **kwargs
    )
    assert result.returncode == 0, result.stderr
    assert (destination / "src" / "acme_payments" / "app.py").is_file()
    return result.stdout + result.stderr


@functools.cache
def uv_cache() -> str:
    """uv's own cache, for the replay command run with HOME pointing elsewhere."""
    return subprocess.run([uv(), "cache", "dir"], capture_output=True, text=True).stdout.strip()


def replay(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The documented replay command, run from the file docs/tracing.md shows."""
    return subprocess.run(
        ["bash", str(ROOT / "docs" / "commands" / "trace-replay.sh")],
        env={"UV_CACHE_DIR": uv_cache(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def spooled(spool: Path) -> list[dict[str, Any]]:
    files = sorted(spool.glob("*.json")) if spool.is_dir() else []
    return [json.loads(f.read_text()) for f in files]


# The background sender is a detached process: on a loaded machine (the matrix's suites run
# beside this test) its start-up alone can take tens of seconds. Its own watchdog ends it,
# with the attempt recorded, within START_UP_ALLOWANCE_S + 5 send timeouts (160 s here).
SENDER_WAIT_S = 200


def wait_until_settled(spool: Path, timeout: float = SENDER_WAIT_S) -> list[dict[str, Any]]:
    """Wait for the background sender to finish with every record: delivered (gone) or
    attempted (kept, saying why). A liveness bound, not a timing claim."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = spooled(spool)
        if all(r["delivery"]["attempts"] >= 1 for r in records):
            return records
        time.sleep(0.1)
    pytest.fail(
        f"the background sender did not finish in {timeout}s: {spooled(spool)}; "
        f"its logs: {sender_logs(spool)}"
    )


def sender_logs(spool: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(spool.glob("*.log"))}


def by_name(spans: list[Span]) -> dict[str, Span]:
    return {s.name: s for s in spans}


def assert_no_secret(*blobs: bytes | str) -> None:
    for blob in blobs:
        text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
        for value in SENTINELS.values():
            assert value not in text


def test_copy_is_traced(tmp_path: Path, spool: Path) -> None:
    with FakeLangfuse() as fake:
        output = copy(tmp_path / "svc", hook_env(spool, tmp_path, fake.url))
        spans = fake.wait_for_spans(11)
        assert wait_until_settled(spool) == []
    trace_id = output.split("copier-payments trace: ")[1].split()[0]
    names = by_name(spans)
    root = names["copier-payments copy"]
    assert {s.trace_id for s in spans} == {trace_id}
    assert set(names) == {"copier-payments copy", "answers", "render", "summary"} | AREAS
    assert [names[n].type for n in ("answers", "summary")] == ["event", "event"]
    assert [names[n].type for n in ("copier-payments copy", "render")] == ["span", "span"]
    for child in ("answers", "render", "summary"):
        assert names[child].parent_span_id == root.span_id
    for area in AREAS:
        assert names[area].parent_span_id == names["render"].span_id
        assert names[area].json("output")["files"] == len(names[area].json("input")["files"])
    assert root.attributes["langfuse.trace.name"] == "copier-payments copy acme-payments"
    assert root.attributes["session.id"].startswith("copier-payments-")
    assert root.attr("langfuse.trace.metadata.operation") == "copy"
    assert root.json("input")["project_slug"] == "acme-payments"
    assert "testing" not in root.json("input")
    schema = names["database_schema"].json("output")
    shipped = sorted(p.name[:4] for p in (ROOT / "template/migrations/versions").glob("0*.py"))
    assert schema["alembic_revisions"] == shipped
    assert schema["heads"] == shipped[-1:]
    assert {"payments", "webhook_events", "idempotency_keys"} <= set(schema["tables"])
    webhooks = names["webhooks"].json("output")
    events = webhooks["event_types"]
    assert {"checkout.session.completed", "payment_intent.payment_failed"} <= set(events)
    assert {"customer.subscription.updated", "invoice.paid"} <= set(events)  # subscriptions
    by_processor = webhooks["event_types_by_processor"]
    assert set(by_processor) == {"stripe", "fake"}  # the default answers: Stripe
    assert "refund.updated" in by_processor["stripe"]
    assert sorted({t for types in by_processor.values() for t in types}) == events
    config = names["configuration"].json("output")
    assert "STRIPE_SECRET_KEY" in config["variables"]
    assert all(fake.received[i].basic_user == PUBLIC_KEY for i in range(len(fake.received)))
    assert_no_secret(*(r.raw for r in fake.received), *(r.body for r in fake.received))


@pytest.mark.parametrize("mode", ["refused", "hang", "401", "500"])
def test_failed_delivery_is_spooled_then_replayed(tmp_path: Path, spool: Path, mode: str) -> None:
    with FakeLangfuse("ok" if mode == "refused" else mode) as fake:
        url = "http://127.0.0.1:9" if mode == "refused" else fake.url
        output = copy(
            tmp_path / "svc", hook_env(spool, tmp_path, url, COPIER_PAYMENTS_TRACE_TIMEOUT="3")
        )
        assert "sending to Langfuse" in output
        (record,) = wait_until_settled(spool)
    assert record["delivery"]["last_error"]
    assert record["schema"] == "copier-payments.trace/1"
    assert_no_secret(*(p.read_bytes() for p in spool.glob("*.json")))
    # A replay that cannot deliver keeps the record and says so.
    kept = replay(hook_env(spool, tmp_path, "http://127.0.0.1:9"))
    assert kept.returncode == 1
    assert "0 delivered, 1 kept" in kept.stdout
    assert spooled(spool)[0]["delivery"]["attempts"] == 2
    with FakeLangfuse() as receiver:
        result = replay(hook_env(spool, tmp_path, receiver.url))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 delivered, 0 kept" in result.stdout
        assert {s.trace_id for s in receiver.spans} == {record["trace"]["id"]}
    assert spooled(spool) == []


def test_a_stuck_sender_records_where_it_was_stuck_and_exits(tmp_path: Path) -> None:
    """Whatever the background sender hangs in (here its start-up), its watchdog records the
    attempt, naming where it was stuck, and ends the process."""
    record = trace_generation.build_record(
        "copy", {"project_slug": "x"}, tmp_path, trace_generation.identity()
    )
    path = tmp_path / "spool" / "record.json"
    trace_generation.write_atomically(path, record)
    stuck = (
        f"import sys, time; sys.path.insert(0, {str(HOOK.parent)!r})\n"
        "import trace_generation as hook\n"
        "def make_sender():\n    time.sleep(600)\n"
        "hook.make_sender = make_sender\n"
        "hook.START_UP_ALLOWANCE_S = 1\n"
        f"hook.main(['deliver', {str(path)!r}])\n"
    )
    env = {**os.environ, "COPIER_PAYMENTS_TRACE_TIMEOUT": "0.2"}
    result = subprocess.run(
        [sys.executable, "-c", stuck], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    (kept,) = spooled(path.parent)
    assert kept["delivery"]["attempts"] == 1
    assert kept["delivery"]["last_error"].startswith("the sender was stuck for 2s (MainThread:")
    assert "make_sender" in kept["delivery"]["last_error"], kept["delivery"]
    assert kept["trace"] == record["trace"]


def test_the_sender_outlives_copiers_clone_of_the_template(tmp_path: Path, spool: Path) -> None:
    """Copier deletes its temporary clone of the template (the hook's own directory) as
    soon as the generation ends; the background sender must not need it. Here the hook's
    directory is deleted the moment `record` returns, and the trace still arrives."""
    clone = tmp_path / "copier-clone" / "hooks"
    clone.mkdir(parents=True)
    shutil.copy(HOOK, clone / HOOK.name)
    (tmp_path / "svc").mkdir()
    answers = json.dumps({"project_slug": "svc", "processors": ["stripe"]})
    with FakeLangfuse() as fake:
        env = hook_env(spool, tmp_path, fake.url)
        recorded = subprocess.run(
            [sys.executable, str(clone / HOOK.name), "record", "--operation", "copy",
             "--answers", answers, "--dst", str(tmp_path / "svc")],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(clone.parent)
        assert "sending to Langfuse" in recorded.stdout, recorded.stdout + recorded.stderr
        assert wait_until_settled(spool) == []
        assert fake.spans
    assert len(list(spool.glob("sender/trace_generation-*.py"))) == 1  # what the sender ran


def test_no_credentials_spools_and_says_how_to_enable(tmp_path: Path, spool: Path) -> None:
    output = copy(tmp_path / "svc", hook_env(spool, tmp_path, None))
    assert "no Langfuse credentials" in output
    assert "set LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY" in output
    assert "have uv on PATH" in output
    (record,) = spooled(spool)
    assert record["delivery"]["last_error"] == "no Langfuse credentials"
    assert_no_secret(*(p.read_bytes() for p in spool.glob("*.json")))


@pytest.fixture(scope="session")
def python_without_langfuse(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Copier installed alone, as `uvx copier` gives it: no langfuse beside it."""
    venv = tmp_path_factory.mktemp("copier-only") / ".venv"
    subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([uv(), "pip", "install", "-q", "--python", python, "copier==9.19.1"], check=True)
    return python


def test_langfuse_absent_sends_through_uv_else_spools(
    tmp_path: Path, spool: Path, python_without_langfuse: str
) -> None:
    """Copier alone, as `uvx copier` gives it: the sender runs through uv with langfuse
    beside copier's interpreter, and the trace arrives. With no uv on PATH either, the
    record is spooled, saying why, and a replay delivers it."""
    with FakeLangfuse() as fake:
        env = hook_env(spool, tmp_path, fake.url, UV_CACHE_DIR=uv_cache())
        output = copy(tmp_path / "svc", env, python=python_without_langfuse)
        assert "sending to Langfuse" in output
        spans = fake.wait_for_spans(11)
        assert wait_until_settled(spool) == []
    assert len(spans) == 11
    with FakeLangfuse() as fake:
        env = hook_env(spool, tmp_path, fake.url, PATH="/usr/bin:/bin")
        assert shutil.which("uv", path=env["PATH"]) is None
        output = copy(tmp_path / "again", env, python=python_without_langfuse)
        assert "langfuse is not installed in copier's environment, and uv is not" in output
        (record,) = spooled(spool)
        assert fake.received == []
        # The same record is delivered by a replay (which runs with langfuse).
        assert "1 delivered" in replay(hook_env(spool, tmp_path, fake.url)).stdout
        assert {s.trace_id for s in fake.spans} == {record["trace"]["id"]}


def test_testing_switch_turns_the_hook_off(tmp_path: Path, spool: Path) -> None:
    with FakeLangfuse() as fake:
        output = copy(tmp_path / "svc", hook_env(spool, tmp_path, fake.url), "testing=true")
        time.sleep(0.5)
        assert "copier-payments trace" not in output
        assert fake.received == []
    assert spooled(spool) == []


def agents_env(spool: Path, home: Path, url: str, trace_id: str, parent: str) -> dict[str, str]:
    """`hook_env` as an agent sets it to join its trace: its trace, session and parent."""
    return hook_env(
        spool,
        home,
        url,
        COAIA_TRACE_ID=trace_id,
        COAIA_SESSION_ID="agent-session-42",
        COAIA_PARENT_OBSERVATION_ID=parent,
    )


def test_joining_an_agents_trace(tmp_path: Path, spool: Path) -> None:
    """An id of 32 hex characters: the spans go under it over OTLP, unchanged."""
    agent_trace = uuid.uuid4().hex.upper()
    parent = "0123456789abcdef"
    with FakeLangfuse() as fake:
        output = copy(tmp_path / "svc", agents_env(spool, tmp_path, fake.url, agent_trace, parent))
        spans = fake.wait_for_spans(11)
    expected = agent_trace.lower()
    assert f"copier-payments trace: {expected}" in output
    assert {s.trace_id for s in spans} == {expected}
    assert not any(r.path == "/api/public/ingestion" for r in fake.received)
    root = by_name(spans)["copier-payments copy"]
    assert root.parent_span_id == parent
    assert root.attributes["session.id"] == "agent-session-42"
    assert "langfuse.trace.name" not in root.attributes  # the agent names its own trace


@pytest.mark.parametrize(
    "agent_trace", [str(uuid.uuid4()), "agent-run-17/b"], ids=["coaiapy-uuid", "any-string"]
)
def test_an_agents_trace_of_any_id_is_joined_exactly(
    tmp_path: Path, spool: Path, agent_trace: str
) -> None:
    """coaiapy's ids (uuid4 strings, dashes and all) and any other string, which OTLP
    cannot carry: the observations are written into that very trace through Langfuse's
    batch ingestion, as coaia-fuse writes them, under the agent's parent observation."""
    parent = str(uuid.uuid4())
    with FakeLangfuse() as fake:
        output = copy(tmp_path / "svc", agents_env(spool, tmp_path, fake.url, agent_trace, parent))
        events = fake.wait_for_events(11)
        assert wait_until_settled(spool) == []
    assert f"copier-payments trace: {agent_trace} " in output
    assert fake.spans == []
    assert {e["body"]["traceId"] for e in events} == {agent_trace}
    named = {e["body"]["name"]: e for e in events}
    assert set(named) == {"copier-payments copy", "answers", "render", "summary"} | AREAS
    root = named["copier-payments copy"]
    assert (root["type"], root["body"]["parentObservationId"]) == ("span-create", parent)
    assert [named[n]["type"] for n in ("answers", "summary")] == ["event-create"] * 2
    for child in ("answers", "render", "summary"):
        assert named[child]["body"]["parentObservationId"] == root["body"]["id"]
    for area in AREAS:
        assert named[area]["body"]["parentObservationId"] == named["render"]["body"]["id"]
        assert named[area]["type"] == "span-create"
    assert root["body"]["input"]["project_slug"] == "acme-payments"
    assert all(r.basic_user == PUBLIC_KEY for r in fake.received)
    assert_no_secret(*(r.raw for r in fake.received))


def test_a_langfuse_without_batch_ingestion_gets_the_trace_over_otlp(
    tmp_path: Path, spool: Path
) -> None:
    """Batch ingestion refused (404): the trace goes over OTLP under the derived id, the
    agent's id in its metadata and tags, its session kept, and the spool says so."""
    agent_trace = str(uuid.uuid4())
    with FakeLangfuse("no-ingestion") as fake:
        env = hook_env(
            spool, tmp_path, fake.url, COAIA_TRACE_ID=agent_trace, COAIA_SESSION_ID="s-42"
        )
        copy(tmp_path / "svc", env)
        spans = fake.wait_for_spans(11)
        assert wait_until_settled(spool) == []
    derived = agent_trace.replace("-", "")
    assert {s.trace_id for s in spans} == {derived}
    assert any(r.path == "/api/public/ingestion" for r in fake.received)
    root = by_name(spans)["copier-payments copy"]
    assert root.attr("langfuse.trace.metadata.coaia_trace_id") == agent_trace
    assert f"coaia_trace_id:{agent_trace}" in root.attributes["langfuse.trace.tags"]
    assert root.attributes["session.id"] == "s-42"
    noted = (spool / "fallbacks.log").read_text()
    assert derived in noted
    assert agent_trace in noted


def test_coaia_config_file_and_environment_precedence(tmp_path: Path, spool: Path) -> None:
    with FakeLangfuse() as fake:
        config = {
            "langfuse_public_key": PUBLIC_KEY,
            "langfuse_secret_key": SENTINELS["LANGFUSE_SECRET_KEY"],
            "langfuse_base_url": "http://127.0.0.1:9",  # overridden by the environment
        }
        (tmp_path / "coaia.json").write_text(json.dumps(config))
        env = hook_env(spool, tmp_path, None, LANGFUSE_BASE_URL=fake.url)
        copy(tmp_path / "svc", env)
        assert fake.wait_for_spans(11)
        assert fake.received[0].basic_user == PUBLIC_KEY
        assert wait_until_settled(spool) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("4bf92f35-77b3-4da6-a3ce-929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("my-agent-run-17", Langfuse.create_trace_id(seed="my-agent-run-17")),
    ],
    ids=["hex32", "uuid", "seed"],
)
def test_trace_id_formats(given: str, expected: str) -> None:
    assert trace_generation.normalize_trace_id(given) == expected


def test_secret_looking_answers_never_enter_a_record(tmp_path: Path) -> None:
    answers = {"project_slug": "x", "stripe_api_key": "sk_live_x", "_commit": "v1"}
    assert trace_generation.public_answers(answers) == {"project_slug": "x"}


@pytest.fixture
def template_releases(tmp_path: Path) -> Path:
    """The template as a git repository: the previous release, then this tree, tagged."""
    return tagged_template(tmp_path / "template")


def test_update_is_traced_once_with_versions(
    tmp_path: Path, spool: Path, template_releases: Path
) -> None:
    project = tmp_path / "svc"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    with FakeLangfuse() as fake:
        env = hook_env(spool, tmp_path, fake.url)
        result = copier(
            "copy", "--trust", "--defaults", "--vcs-ref", previous_version(),
            str(template_releases), str(project), env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        copies = fake.wait_for_spans(11)
        subprocess.run([*git, "init", "-q"], cwd=project, check=True)
        subprocess.run([*git, "add", "-A"], cwd=project, check=True)
        subprocess.run([*git, "commit", "-qm", "generated"], cwd=project, check=True)
        result = copier("update", "--trust", "--defaults", env=env, cwd=project)
        assert result.returncode == 0, result.stderr
        spans = fake.wait_for_spans(22)
        time.sleep(1.5)  # an extra (wrong) trace would arrive by now
        spans = fake.spans
    assert f"_commit: {current_version()}" in (project / ".copier-answers.yml").read_text()
    roots = [s for s in spans if s.name.startswith("copier-payments ")]
    assert sorted(r.name for r in roots) == ["copier-payments copy", "copier-payments update"]
    update = next(r for r in roots if r.name == "copier-payments update")
    assert update.attr("langfuse.trace.metadata.operation") == "update"
    assert update.attr("langfuse.trace.metadata.version_from") == previous_version()[1:]
    assert update.attr("langfuse.trace.metadata.version_to") == current_version()[1:]
    assert len(spans) == 2 * len(copies)
