#!/usr/bin/env python3
"""Re-shape a generated project's recorded answers for a newer template version.

Copier runs this as a `before` migration during `copier update`, in the project, with the
new template's interpreter (`_migrations` in copier.yml), once for each release that
changed an answer and that lies between the project's version and the target one. It
rewrites `.copier-answers.yml`; copier then reads the migrated answers, so the project is
re-rendered as if it had been generated with them.

    python hooks/migrate_answers.py VERSION [ANSWERS_FILE]

Each release's step must be idempotent: it leaves answers that are already in the new
shape as they are. Standard library plus PyYAML, which copier itself depends on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Answers = dict[str, Any]

HEADER = "# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY\n"


def v0_2_0(answers: Answers) -> Answers:
    """`github_actions` (bool) became `ci` (`github`, `gitlab` or `none`)."""
    if "github_actions" in answers:
        enabled = answers.pop("github_actions")
        answers.setdefault("ci", "github" if enabled else "none")
    return answers


STEPS: dict[str, Callable[[Answers], Answers]] = {"v0.2.0": v0_2_0}


def migrate(path: Path, version: str) -> bool:
    """Apply `version`'s step to the answers file at `path`; whether anything changed."""
    answers: Answers = yaml.safe_load(path.read_text()) or {}
    migrated = STEPS[version](dict(answers))
    if migrated == answers:
        return False
    path.write_text(HEADER + yaml.safe_dump(migrated, sort_keys=True))
    return True


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in STEPS:
        print(f"usage: migrate_answers.py {{{','.join(STEPS)}}} [ANSWERS_FILE]", file=sys.stderr)
        return 2
    path = Path(argv[1] if len(argv) > 1 else ".copier-answers.yml")
    if not path.is_file():
        print(f"migrate_answers: no answers file at {path}", file=sys.stderr)
        return 1
    if migrate(path, argv[0]):
        print(f"copier-payments: answers migrated to the {argv[0]} shape ({path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
