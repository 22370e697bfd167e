"""Render each matrix entry once per session, with its own virtual environment."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from pytest_copie.plugin import Copie

from tests.matrix import MATRIX, SAME_CODE_AS, STATIC_ONLY

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def load_hook(name: str) -> ModuleType:
    """A program of hooks/, as a module (it is not a package: copier runs it as a file)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "hooks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


trace_generation = load_hook("trace_generation")


@dataclass
class Rendered:
    name: str
    path: Path
    answers: dict[str, Any]
    static_only: bool

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project's own environment; the output is kept for failures."""
        return subprocess.run(
            args,
            cwd=self.path,
            env={**project_env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def uv_run(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run(uv(), "run", "--no-sync", *args, **kwargs)


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: `pip install uv` (the README's test command does it)")
    return found


def project_env() -> dict[str, str]:
    """The environment of a generated project's commands: ours, minus this venv's."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["UV_PYTHON"] = RUNTIME_PYTHON
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    return env


def check(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {result.returncode}):\n{result.stdout[-6000:]}\n"
            f"{result.stderr[-6000:]}"
        )


def wait_until_ready(url: str, process: subprocess.Popen[str], seconds: float) -> None:
    """Poll `url` until it answers 200; fail with the process's output if the process
    exits first or the time runs out (the caller stops whatever the process started)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            try:
                output = process.communicate(timeout=30)[0]
            except subprocess.TimeoutExpired:  # its children still hold the pipe
                output = "(no output: processes it started still run)"
            pytest.fail(f"{url} never answered:\n{output}")
        time.sleep(0.2)


def install(project: Rendered) -> None:
    """Give the project its own environment.

    A project targeting the installed Python is synced with uv, as its README says. One
    targeting a newer Python (not installed here) gets its dependencies installed into an
    environment of the installed Python, so that ruff and mypy can check it for its target.
    """
    if not project.static_only:
        check(project.run(uv(), "sync", "--quiet"), "uv sync")
        return
    pyproject = tomllib.loads((project.path / "pyproject.toml").read_text())
    deps = pyproject["project"]["dependencies"] + pyproject["dependency-groups"]["dev"]
    check(project.run(uv(), "venv", "--quiet", "--python", RUNTIME_PYTHON), "uv venv")
    check(project.run(uv(), "pip", "install", "--quiet", *deps), "uv pip install")


@pytest.fixture(scope="session")
def rendered_projects() -> dict[str, Rendered]:
    return {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Static checks run on every entry; runtime ones only where the target Python runs."""
    if "project" not in metafunc.fixturenames:
        return
    names = set(MATRIX)
    if "runnable" in metafunc.fixturenames:
        names -= STATIC_ONLY | set(SAME_CODE_AS)
    # Under xdist (`--dist loadgroup`), one worker takes all of an entry's tests: each
    # entry is rendered and installed once, and the entries' own suites run in parallel.
    params = [pytest.param(name, marks=pytest.mark.xdist_group(name)) for name in sorted(names)]
    metafunc.parametrize("project", params, indirect=True)


def rendered(name: str, copie: Copie, cache: dict[str, Rendered]) -> Rendered:
    """Matrix entry `name`, rendered and installed once per session."""
    if name not in cache:
        result = copie.copy(extra_answers={**MATRIX[name], "testing": True})
        if result.exception is not None or result.project_dir is None:
            pytest.fail(f"rendering {name} failed: {result.exception!r}")
        project = Rendered(name, result.project_dir, result.answers, name in STATIC_ONLY)
        install(project)
        cache[name] = project
    return cache[name]


@pytest.fixture
def project(
    request: pytest.FixtureRequest,
    copie_session: Copie,
    rendered_projects: dict[str, Rendered],
) -> Rendered:
    """A matrix entry, rendered and installed once per session."""
    return rendered(request.param, copie_session, rendered_projects)


@pytest.fixture
def runnable(project: Rendered) -> Rendered:
    """A matrix entry whose target Python is installed: it is migrated and tested too."""
    assert not project.static_only
    return project
