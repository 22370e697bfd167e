"""The curated option matrix: every supported combination the tests render and check."""

from __future__ import annotations

from typing import Any

#: name -> answers (on top of the defaults). `static` entries target a Python that is not
#: installed here: they are rendered, linted and type-checked for their target version,
#: but neither migrated nor tested.
MATRIX: dict[str, dict[str, Any]] = {
    "default": {},
    "all-processors": {"processors": ["stripe", "paypal", "square"]},
    "paypal-square": {"processors": ["paypal", "square"], "project_name": "Globex Billing"},
    "no-subscriptions": {"subscriptions": False, "checkout_form": "embedded"},
    "no-web-pages": {"web_pages": False, "ci": "gitlab", "processors": ["stripe", "paypal"]},
    "python-3.13": {"python_version": "3.13", "license": "Apache-2.0"},
    "no-ci-no-container": {
        "ci": "none",
        "container": False,
        "agent_files": False,
        "license": "Proprietary",
    },
}

STATIC_ONLY = {"python-3.13"}

#: Entries whose answers change no code, only files around it (CI, container, agent guide,
#: license): their source, tests and migrations are byte-identical to another entry's (a
#: test checks it), so that entry's migrations and suite stand for theirs.
SAME_CODE_AS = {"no-ci-no-container": "default"}
