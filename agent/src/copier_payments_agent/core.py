"""Generate, update and check copier-payments services, non-interactively, for agents.

Copier runs in a child process (`python -m copier`, the interpreter this package runs in),
so that its tasks, its output and the trace hook's environment (the calling agent's trace
and session ids) stay out of the server's own process. Every failure is an `AgentError`:
a stable code, one clear line, and the question it concerns when there is one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from packaging.version import InvalidVersion, Version

from copier_payments_agent.options import Question, answers_schema, load_questions

#: Exit codes of the `copier-payments` CLI, one per kind of failure (docs/agents.md).
EXIT_CODES = {
    "invalid_answers": 2,
    "destination_not_empty": 3,
    "untrusted_template": 4,
    "source_unreachable": 5,
    "not_a_generated_project": 6,
    "project_not_clean": 7,
    "copier_failed": 1,
}
#: The hook's line naming the trace: 32 hex, or the agent's own id where it is not.
TRACE_LINE = re.compile(r"copier-payments trace: (\S+) ")
#: How copier refuses an answer given with --data (a validator's message, or a choice).
COPIER_REFUSAL = re.compile(
    r"(?:Validation error for question|Invalid choice for) '(\w+)': (.*)", re.S
)
CONFLICT_MARKER = "<<<<<<< before updating"
COPIER_TIMEOUT_S = 600


@dataclass
class AgentError(Exception):
    code: str
    message: str
    question: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.question:
            error["question"] = self.question
        if self.details:
            error["details"] = self.details
        return {"error": error}


@dataclass(frozen=True)
class TraceContext:
    """The calling agent's coaia-fuse ids, passed to the generation trace."""

    trace_id: str | None = None
    session_id: str | None = None
    parent_observation_id: str | None = None

    def env(self) -> dict[str, str]:
        names = {
            "COAIA_TRACE_ID": self.trace_id,
            "COAIA_SESSION_ID": self.session_id,
            "COAIA_PARENT_OBSERVATION_ID": self.parent_observation_id,
        }
        return {k: v for k, v in names.items() if v}


# --------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------


def template_source() -> str:
    """COPIER_PAYMENTS_TEMPLATE (a path or git URL), else the checkout this package is in."""
    explicit = os.environ.get("COPIER_PAYMENTS_TEMPLATE")
    if explicit:
        return explicit
    for parent in Path(__file__).resolve().parents:
        if (parent / "copier.yml").is_file() and (parent / "template").is_dir():
            return str(parent)
    raise AgentError(
        "source_unreachable",
        "no template: set COPIER_PAYMENTS_TEMPLATE to the copier-payments repository "
        "(a path or a git URL)",
    )


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


#: copier's URL shortcuts, as `_src_path` may record them.
SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}


def git_url(source: str) -> str:
    for prefix, base in SHORTCUTS.items():
        if source.startswith(prefix):
            return base + source.removeprefix(prefix)
    return source


def releases(source: str) -> list[str]:
    """The template's release tags, oldest first (PEP 440 order, no pre-releases)."""
    listed = _git("ls-remote", "--tags", "--refs", git_url(source))
    if listed.returncode != 0:
        raise AgentError(
            "source_unreachable", f"cannot read the template at {source}: {_last(listed)}"
        )
    tags = [line.rsplit("refs/tags/", 1)[-1] for line in listed.stdout.splitlines()]
    found = [(v, t) for t in tags if (v := _version(t)) is not None and not v.is_prerelease]
    return [t for _, t in sorted(found)]


def latest_release(source: str) -> str | None:
    """The newest release tag: the version copier renders when given no ref."""
    tags = releases(source)
    return tags[-1] if tags else None


@contextlib.contextmanager
def checked_out(source: str, ref: str | None = None) -> Iterator[Path]:
    """The template's files as copier renders them for `ref`: the latest release when no
    ref is given, a local checkout as it is (uncommitted changes included) for HEAD."""
    ref = ref or latest_release(source) or "HEAD"
    local = Path(source).expanduser()
    if ref == "HEAD" and local.is_dir() and (local / "copier.yml").is_file():
        yield local
        return
    with tempfile.TemporaryDirectory(prefix="copier-payments-") as tmp:
        clone = Path(tmp) / "template"
        cloned = _git("clone", "--quiet", git_url(source), str(clone))
        if cloned.returncode != 0:
            raise AgentError(
                "source_unreachable", f"cannot read the template at {source}: {_last(cloned)}"
            )
        switched = _git("checkout", "--quiet", ref, cwd=clone)
        if switched.returncode != 0:
            raise AgentError("source_unreachable", f"the template has no version {ref}")
        yield clone


def _last(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else f"exit code {result.returncode}"


def describe_options(source: str | None = None, ref: str | None = None) -> dict[str, Any]:
    with checked_out(source or template_source(), ref) as template:
        questions = load_questions(template)
        return {
            "questions": [q.describe() for q in questions],
            "answers_schema": answers_schema(questions),
        }


# --------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------


def validate_answers(
    answers: Mapping[str, Any],
    template: Path,
    questions: list[Question] | None = None,
    *,
    copier_too: bool = True,
) -> None:
    """Refuse answers that copier would refuse, before anything is written: unknown keys
    and wrong types by the JSON Schema, the rest by copier's own validators (a pretend
    copy; `copier_too=False` leaves them to the copy itself, which runs them before it
    writes). `questions`: the template's, when the caller has read them already."""
    schema = answers_schema(questions if questions is not None else load_questions(template))
    validator = jsonschema.Draft202012Validator(schema)
    # Patterns are left to copier's validators below, which say them in their own words.
    problems = sorted(
        (e for e in validator.iter_errors(dict(answers)) if e.validator != "pattern"),
        key=lambda e: [str(part) for part in e.path],
    )
    if problems:
        details = []
        for problem in problems:
            key = str(problem.path[0]) if problem.path else ""
            if not key and problem.validator == "additionalProperties":
                unknown = sorted(set(answers) - set(schema["properties"]))
                details += [{"question": k, "message": "no such question"} for k in unknown]
            else:
                details.append({"question": key, "message": problem.message})
        first = details[0]
        raise AgentError(
            "invalid_answers",
            f"{first['question']}: {first['message']}",
            question=first["question"],
            details=details,
        )
    if copier_too:
        copier_validators(answers, template)


def copier_validators(answers: Mapping[str, Any], template: Path) -> None:
    """copier's validators, run by copier itself: a pretend copy writes nothing."""
    from copier import run_copy

    with (
        tempfile.TemporaryDirectory(prefix="copier-payments-check-") as tmp,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # copier's note that a checkout has local changes
        try:
            run_copy(
                str(template),
                Path(tmp) / "check",
                data={**answers, "testing": True},
                defaults=True,
                pretend=True,
                quiet=True,
                unsafe=True,
                skip_tasks=True,
                vcs_ref="HEAD",
            )
        except ValueError as exc:
            found = COPIER_REFUSAL.search(str(exc))
            if not found:
                raise AgentError("invalid_answers", _one_line(str(exc))) from None
            question, message = found.groups()
            raise AgentError(
                "invalid_answers",
                f"{question}: {_one_line(message)}",
                question=question,
                details=[{"question": question, "message": _one_line(message)}],
            ) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------------
# Running copier
# --------------------------------------------------------------------------------------


def _copier(
    args: list[str], cwd: Path | None, trace: TraceContext
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COAIA_TRACE", "COAIA_SESSION", "COAIA_PARENT"))
    }
    env.update(trace.env())
    return subprocess.run(
        [sys.executable, "-m", "copier", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COPIER_TIMEOUT_S,
        check=False,
    )


def _copier_failure(result: subprocess.CompletedProcess[str], source: str) -> AgentError:
    line = _last(result)
    if result.returncode == 4:
        return AgentError("untrusted_template", line)
    if "Local template must be a directory" in line or "git ls-remote" in result.stderr:
        return AgentError("source_unreachable", f"cannot read the template at {source}")
    found = COPIER_REFUSAL.search(line)
    if found:
        return AgentError("invalid_answers", f"{found[1]}: {found[2]}", question=found[1])
    return AgentError("copier_failed", line)


def _trace_id(output: str) -> str | None:
    found = TRACE_LINE.search(output)
    return found.group(1) if found else None


def _files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )


def _data_file(answers: Mapping[str, Any], directory: Path) -> Path:
    path = directory / "answers.yml"
    path.write_text(yaml.safe_dump(dict(answers), sort_keys=True), encoding="utf-8")
    return path


def generate(
    destination: str | Path,
    answers: Mapping[str, Any],
    *,
    source: str | None = None,
    vcs_ref: str | None = None,
    trace: TraceContext | None = None,
) -> dict[str, Any]:
    """`copier copy` of the template into a new (or empty) directory."""
    source = source or template_source()
    trace = trace or TraceContext()
    target = Path(destination).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AgentError(
            "destination_not_empty",
            f"{target} is not empty: generate into a new or empty directory",
        )
    with checked_out(source, vcs_ref) as template:
        # copier's own validators run in the copy below, before it writes anything (and it
        # removes the new directory on a refusal): a pretend copy first would render twice.
        validate_answers(answers, template, copier_too=False)
    with tempfile.TemporaryDirectory(prefix="copier-payments-answers-") as tmp:
        data = _data_file(answers, Path(tmp))
        args = ["copy", "--trust", "--defaults", "--data-file", str(data)]
        if vcs_ref:
            args += ["--vcs-ref", vcs_ref]
        result = _copier([*args, source, str(target)], None, trace)
    if result.returncode != 0:
        raise _copier_failure(result, source)
    recorded = yaml.safe_load((target / ".copier-answers.yml").read_text(encoding="utf-8"))
    slug = recorded["project_slug"]
    return {
        "destination": str(target),
        "template_version": recorded.get("_commit"),
        "answers": {k: v for k, v in recorded.items() if not k.startswith("_")},
        "files": _files(target),
        "trace_id": _trace_id(result.stdout + result.stderr),
        "next_steps": [
            f"cd {target}",
            "uv run pytest  # the service's own tests",
            f"uv run {slug} serve  # http://127.0.0.1:8000, SQLite, test mode, no .env needed",
            f"cp .env.example .env, then uv run {slug} check-config",
        ],
    }


def _answers_file(project: Path) -> dict[str, Any]:
    path = project / ".copier-answers.yml"
    if not path.is_file():
        raise AgentError(
            "not_a_generated_project", f"{project} has no .copier-answers.yml: not generated"
        )
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}


def update(
    project: str | Path,
    changes: Mapping[str, Any] | None = None,
    *,
    vcs_ref: str | None = None,
    trace: TraceContext | None = None,
) -> dict[str, Any]:
    """`copier update` of a generated service (a git repository with its work committed)."""
    trace = trace or TraceContext()
    root = Path(project).expanduser().resolve()
    before = _answers_file(root)
    status = _git("status", "--porcelain", cwd=root)
    if status.returncode != 0:
        raise AgentError("project_not_clean", f"{root} is not a git repository")
    if status.stdout.strip():
        raise AgentError(
            "project_not_clean", f"{root} has uncommitted changes: commit them, then update"
        )
    changes = dict(changes or {})
    if changes:
        with checked_out(str(before.get("_src_path") or template_source()), vcs_ref) as template:
            questions = load_questions(template)
            known = {q.key for q in questions}
            # Answers of an older release may name questions since renamed (its
            # migrations rename them during the update): only today's are checked.
            kept = {k: v for k, v in before.items() if k in known and k not in changes}
            validate_answers({**kept, **changes}, template, questions)
    with tempfile.TemporaryDirectory(prefix="copier-payments-answers-") as tmp:
        args = ["update", "--trust", "--defaults", "--skip-answered"]
        if changes:
            args += ["--data-file", str(_data_file(changes, Path(tmp)))]
        if vcs_ref:
            args += ["--vcs-ref", vcs_ref]
        result = _copier(args, root, trace)
    if result.returncode != 0:
        raise _copier_failure(result, str(before.get("_src_path")))
    after = _answers_file(root)
    changed = [
        line[3:].strip()
        for line in _git(
            "status", "--porcelain", "--untracked-files=all", cwd=root
        ).stdout.splitlines()
    ]
    conflicts = [name for name in changed if conflicted(root, name)]
    return {
        "project": str(root),
        "version_from": before.get("_commit"),
        "version_to": after.get("_commit"),
        "files_changed": changed,
        "conflicts": conflicts,
        "trace_id": _trace_id(result.stdout + result.stderr),
        "next_steps": (
            [f"resolve the conflict markers in {', '.join(conflicts)}"] if conflicts else []
        )
        + ["uv run pytest", "git add -A && git commit"],
    }


def conflicted(root: Path, name: str) -> bool:
    """The update left conflict markers in this file (more marker lines than it had)."""
    path = root / name
    if not path.is_file():
        return False
    before = _git("show", f"HEAD:{name}", cwd=root).stdout  # empty for a new file
    after = path.read_text(encoding="utf-8", errors="replace")
    return _markers(after) > _markers(before)


def _markers(text: str) -> int:
    return sum(line.startswith(CONFLICT_MARKER) for line in text.splitlines())


def _version(tag: str) -> Version | None:
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def check_update(project: str | Path) -> dict[str, Any]:
    """Is a newer release of the template available for this service, and what changed."""
    root = Path(project).expanduser().resolve()
    answers = _answers_file(root)
    source = str(answers.get("_src_path") or template_source())
    current = str(answers.get("_commit", ""))
    tags = releases(source)
    latest = tags[-1] if tags else None
    current_version = _version(current.split("-")[0]) if current else None
    newer = [t for t in tags if current_version is None or Version(t) > current_version]
    changelog: dict[str, str] = {}
    if newer:
        with checked_out(source, latest) as template:
            path = template / "CHANGELOG.md"
            changelog = _changelog(path.read_text(encoding="utf-8") if path.is_file() else "")
    return {
        "project": str(root),
        "current": current or None,
        "latest": latest,
        "update_available": bool(newer),
        "newer_releases": newer,
        "changes": {t: changelog.get(t.lstrip("v"), "") for t in newer},
    }


def _changelog(text: str) -> dict[str, str]:
    """CHANGELOG.md's sections by version (`## v0.4.0 (date)` or `## 0.4.0`)."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        heading = re.match(r"^## v?(\d+\.\d+\.\d+\S*)", line)
        if heading:
            current = heading.group(1)
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return {k: v.strip() for k, v in sections.items()}


def dumps(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, indent=2, sort_keys=True)
