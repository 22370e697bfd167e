"""Each matrix entry's supply chain: the linters GitHub-hosted projects use find nothing,
the image builds from the lock (and only from it), versions are exact, dependency updates
are configured, and the audit fails on a known vulnerability unless it is accepted."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pytest_copie.plugin import Copie

from tests.conftest import Rendered, check, rendered, uv
from tests.fake_osv import FakeOsv, advisory

BIN = Path(sys.executable).parent
#: The CI's last step (GitHub and GitLab alike); `uv audit` is a preview command of the uv
#: version CI pins, which the flag acknowledges.
AUDIT = "uv audit --locked --preview-features audit-command"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
#: An image at an exact version: `name:1.2` or `name:1.2.3`, optionally with a variant.
EXACT_IMAGE = re.compile(r"^[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.-]+)?$")


def lint(project: Rendered, tool: str, *args: str) -> None:
    """Run a linter of this environment (a dev dependency) in the project: no finding."""
    result = project.run(str(BIN / tool), *args)
    check(result, f"{tool} {' '.join(args)}")


def test_linters_find_nothing(project: Rendered) -> None:
    """actionlint (node20 actions, expressions, schema), zizmor (unpinned actions, persisted
    credentials, permissions; offline: no GitHub API) and hadolint (the Dockerfile), at
    their default settings, on whatever the entry generates. zizmor's pedantic persona
    would also ask the CI database's image for a digest: docs/supply-chain.md says why it
    is an exact tag."""
    github = project.path / ".github"
    if github.is_dir():
        lint(project, "actionlint", ".github/workflows/ci.yml")
        lint(project, "zizmor", "--offline", "--no-progress", ".github")
    if (project.path / "Dockerfile").is_file():
        lint(project, "hadolint", "Dockerfile")
    if not github.is_dir() and not (project.path / "Dockerfile").is_file():
        assert project.answers["ci"] != "github"
        assert not project.answers["container"]


def images(project: Rendered) -> list[str]:
    """Every image the entry's CI, Dockerfile and compose file name."""
    found = []
    dockerfile = project.path / "Dockerfile"
    if dockerfile.is_file():
        found += re.findall(r"^FROM (\S+)", dockerfile.read_text(), re.M)
    compose = project.path / "compose.yaml"
    if compose.is_file():
        services = yaml.safe_load(compose.read_text())["services"]
        found += [s["image"] for s in services.values() if "image" in s]
    workflow = project.path / ".github" / "workflows" / "ci.yml"
    if workflow.is_file():
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            found += [s["image"] for s in job.get("services", {}).values()]
    gitlab = project.path / ".gitlab-ci.yml"
    if gitlab.is_file():
        job = yaml.safe_load(gitlab.read_text())["test"]
        found += [job["image"], *(s["name"] for s in job["services"])]
    return found


def uv_versions(project: Rendered) -> set[str]:
    """The uv versions the entry's CI and image install."""
    texts = [
        p.read_text()
        for p in (project.path / "Dockerfile", project.path / ".gitlab-ci.yml")
        if p.is_file()
    ]
    found = {v for text in texts for v in re.findall(r"(?:uv==|astral-sh/uv:)([\d.]+)", text)}
    workflow = project.path / ".github" / "workflows" / "ci.yml"
    if workflow.is_file():
        for step in yaml.safe_load(workflow.read_text())["jobs"]["test"]["steps"]:
            if step.get("uses", "").startswith("astral-sh/setup-uv@"):
                found.add(step["with"]["version"])
    return found


def test_versions_are_exact_and_updates_are_configured(project: Rendered) -> None:
    """Actions by full commit hash (the version in a comment), images and uv at exact
    versions (one uv everywhere), and the updater of the entry's host configured for all
    of them: Dependabot on GitHub, Renovate elsewhere (GitLab, or no CI chosen)."""
    ci = project.answers["ci"]
    for image in images(project):
        assert EXACT_IMAGE.match(image), image
    assert len(uv_versions(project)) <= 1, uv_versions(project)
    if ci == "github":
        workflow = (project.path / ".github" / "workflows" / "ci.yml").read_text()
        uses = re.findall(r"uses: (.+)$", workflow, re.M)
        assert uses
        assert all(SHA_PIN.match(u) for u in uses), uses
        parsed = yaml.safe_load(workflow)
        assert parsed["permissions"] == {}
        assert parsed["concurrency"]["cancel-in-progress"] is True
        steps = parsed["jobs"]["test"]["steps"]
        assert steps[0]["with"]["persist-credentials"] is False
        dependabot = yaml.safe_load((project.path / ".github" / "dependabot.yml").read_text())
        ecosystems = {u["package-ecosystem"] for u in dependabot["updates"]}
        containers = {"docker", "docker-compose"} if project.answers["container"] else set()
        assert ecosystems == {"uv", "github-actions", *containers}
        assert all(u["cooldown"]["default-days"] >= 7 for u in dependabot["updates"])
        assert not (project.path / "renovate.json").exists()
    else:
        renovate = json.loads((project.path / "renovate.json").read_text())
        assert renovate["extends"] == ["config:recommended"]
        assert renovate["pinDigests"] is True
        assert renovate["minimumReleaseAge"] == "7 days"
        assert renovate["lockFileMaintenance"]["enabled"] is True
        assert not (project.path / ".github").exists()
    audit = (project.path / "pyproject.toml").read_text()
    assert "[tool.uv.audit]\nignore = []\nignore-until-fixed = []\n" in audit


def instructions(dockerfile: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (instruction, arguments), continuation
    lines joined and comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    stages: list[list[tuple[str, str]]] = []
    for line in filter(None, (line.strip() for line in joined.splitlines())):
        keyword, _, rest = line.partition(" ")
        if keyword == "FROM":
            stages.append([])
        stages[-1].append((keyword, rest.strip()))
    return stages


def ignored(relative: Path, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `relative` out of the build context (its patterns are
    relative to the context's root: `*.db` is a file at the root, as Docker reads it)."""
    parts = relative.parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(p, pattern) for p in prefixes for pattern in patterns)


def copy_sources(stage: list[tuple[str, str]]) -> list[str]:
    """What a stage copies from the build context (not from another stage)."""
    sources = []
    for keyword, rest in stage:
        if keyword == "COPY" and "--from=" not in rest:
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            sources += args[:-1]
    return sources


def test_the_image_builds_from_the_lock(runnable: Rendered, tmp_path: Path) -> None:
    """The Dockerfile's build stage, run as written in a copy of the build context (what
    .dockerignore lets through): uv.lock is in it, the dependencies install exactly as
    locked, and the service's CLI runs from the result with the files the runtime stage
    adds. A lock that no longer matches pyproject.toml fails the build instead of
    resolving afresh (before: no lock copied, `uv sync --no-dev` resolved anew). No
    container engine runs here: hadolint lints the file itself (test above)."""
    if not runnable.answers["container"]:
        pytest.skip("this entry generates no Dockerfile (container: false)")
    root = runnable.path
    dockerignore = root / ".dockerignore"
    patterns = dockerignore.read_text().split() if dockerignore.is_file() else []
    stages = instructions((root / "Dockerfile").read_text())
    build = next(s for s in stages if s[0][1].endswith(" AS build"))
    runtime = stages[-1]
    for source in copy_sources(build) + copy_sources(runtime):
        assert (root / source).exists(), f"COPY {source}: not in the build context"
        assert not ignored(Path(source), patterns), f"COPY {source}: .dockerignore drops it"
    assert "uv.lock" in copy_sources(build)

    context = tmp_path / "app"
    env = {"UV_PYTHON": runnable.answers["python_version"]}
    runs = []
    for keyword, rest in build:
        if keyword == "COPY" and "--from=" not in rest:
            for source in shlex.split(rest)[:-1]:
                target = context / source
                target.parent.mkdir(parents=True, exist_ok=True)
                if (root / source).is_dir():
                    shutil.copytree(root / source, target, ignore=shutil.ignore_patterns(".*"))
                else:
                    shutil.copy2(root / source, target)
        elif keyword == "ENV":
            env |= dict(pair.split("=", 1) for pair in shlex.split(rest))
        elif keyword == "RUN":
            runs.append(shlex.split(rest))
    # The image's paths, here: the environment beside the copied context. (UV_NO_CACHE
    # keeps the image small; here the machine's cache only saves downloads.)
    env["UV_PROJECT_ENVIRONMENT"] = str(context / ".venv")
    env.pop("UV_NO_CACHE", None)
    assert runs
    assert all(r[:2] == ["uv", "sync"] and "--locked" in r for r in runs), runs
    for command in runs:
        check(
            runnable.run(uv(), *command[1:], "--directory", str(context), env=env),
            " ".join(command),
        )
    slug = runnable.answers["project_slug"]
    for source in copy_sources(runtime):
        target = context / source
        if (root / source).is_dir():
            shutil.copytree(root / source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(root / source, target)
    cli = runnable.run(str(context / ".venv" / "bin" / slug), "--help")
    check(cli, f"{slug} --help from the image's environment")
    assert "serve" in cli.stdout

    # A dependency added without relocking: the build stops at the lock.
    pyproject = context / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("dependencies = [", 'dependencies = [\n    "six>=1.16",', 1)
    )
    stale = runnable.run(uv(), *runs[0][1:], "--directory", str(context), env=env)
    assert stale.returncode != 0
    assert "needs to be updated" in stale.stderr, stale.stderr


def container_engine() -> str | None:
    """A container engine that answers (`docker info`), or None."""
    engine = shutil.which("docker") or shutil.which("podman")
    if engine is None:
        return None
    info = subprocess.run([engine, "info"], capture_output=True, check=False, timeout=60)
    return engine if info.returncode == 0 else None


@pytest.mark.xdist_group("default")
def test_the_image_builds_with_a_container_engine(
    copie_session: Copie, rendered_projects: dict[str, Rendered]
) -> None:
    """Where an engine answers, the default entry's image is built as the Dockerfile's
    first line says, and its CLI runs. (CI's machines have the docker client but no daemon
    and reach no image registry: the test above runs the build stage without one.)"""
    engine = container_engine()
    if engine is None:
        pytest.skip("no container engine answers here (docker info); the build stage ran above")
    runnable = rendered("default", copie_session, rendered_projects)
    tag = f"{runnable.answers['project_slug']}:supply-chain-test"
    check(runnable.run(engine, "build", "-t", tag, ".", timeout=1800), "docker build")
    slug = runnable.answers["project_slug"]
    result = runnable.run(engine, "run", "--rm", tag, slug, "--help")
    check(result, f"{slug} --help in the image")
    assert "serve" in result.stdout


def audit_copy(project: Rendered, destination: Path) -> Path:
    """The files `uv audit --locked` reads, copied so that an accepted finding can be
    written without touching the shared rendering."""
    destination.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(project.path / name, destination / name)
    return destination


def audit(
    project: Rendered, where: Path, service: str, retries: int = 3
) -> subprocess.CompletedProcess[str]:
    command = shlex.split(AUDIT)
    return project.run(
        uv(), *command[1:], "--service-url", service, "--directory", str(where),
        env={"UV_HTTP_RETRIES": str(retries)},
    )  # fmt: skip


def locked_version(lock: Path, package: str) -> str:
    text = lock.read_text()
    found = re.search(rf'\[\[package\]\]\nname = "{package}"\nversion = "([^"]+)"', text)
    assert found, f"{package} is not in {lock}"
    return found.group(1)


def test_the_audit_fails_on_a_known_vulnerability_until_it_is_accepted(
    runnable: Rendered, tmp_path: Path
) -> None:
    """CI's last step, against a local OSV service: it asks about every locked package,
    fails naming a vulnerability of a locked version, passes once that id is accepted in
    pyproject.toml's [tool.uv.audit] (docs/supply-chain.md), and fails, not passes, when
    the service is down."""
    ci = runnable.answers["ci"]
    if ci == "github":
        steps = yaml.safe_load((runnable.path / ".github/workflows/ci.yml").read_text())
        assert steps["jobs"]["test"]["steps"][-1]["run"] == AUDIT
    elif ci == "gitlab":
        assert (
            yaml.safe_load((runnable.path / ".gitlab-ci.yml").read_text())["test"]["script"][-1]
            == AUDIT
        )
    where = audit_copy(runnable, tmp_path / "project")
    version = locked_version(where / "uv.lock", "starlette")
    finding = advisory("GHSA-7q3m-9vwx-4fh2", "starlette", version, fixed="99.0.0")

    with FakeOsv(finding) as osv:
        refused = audit(runnable, where, osv.url)
        assert refused.returncode != 0, refused.stdout + refused.stderr
        assert "GHSA-7q3m-9vwx-4fh2" in refused.stdout + refused.stderr
        asked = {q["package"]["name"] for q in osv.queries}
        assert {"starlette", "fastapi", "sqlalchemy"} <= asked

        pyproject = where / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text().replace(
                "[tool.uv.audit]\nignore = []",
                '[tool.uv.audit]\nignore = ["GHSA-7q3m-9vwx-4fh2"]  # test: accepted',
            )
        )
        accepted = audit(runnable, where, osv.url)
        check(accepted, "uv audit with the finding accepted")

    with FakeOsv(down=True) as osv:
        outage = audit(runnable, where, osv.url, retries=0)
        assert outage.returncode != 0, outage.stdout + outage.stderr
