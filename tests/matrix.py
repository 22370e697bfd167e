"""The curated option matrix: every supported combination the tests render and check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

#: The answers files of examples/, one per entry (name -> answers, on top of the defaults):
#: what agents and people pass to `copier copy --data-file`, rendered by the tests.
EXAMPLES = ROOT / "examples"
MATRIX: dict[str, dict[str, Any]] = {
    path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for path in sorted(EXAMPLES.glob("*.yml"))
}

#: `static` entries target a Python that is not installed here: they are rendered, linted
#: and type-checked for their target version, but neither migrated nor tested.
STATIC_ONLY = {"python-3.13"}

#: Entries whose answers change no code, only files around it (CI, container, agent guide,
#: license): their source, tests and migrations are byte-identical to another entry's (a
#: test checks it, but for the tests of those files), so that entry's migrations and suite
#: stand for theirs.
SAME_CODE_AS = {"no-ci-no-container": "default"}
