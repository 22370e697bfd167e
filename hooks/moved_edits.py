#!/usr/bin/env python3
"""Before `copier update` crosses a release that moves files: keep their local edits.

Copier deletes a file that the newer release no longer renders, local edits and all: they
survive only in git's history, and nothing says so. v0.7.0 moves every processor into a
folder of its own and its webhook code out of `webhooks/` (CHANGELOG). Copier runs this in
the project before it updates (a `_migrations` entry, with the template's interpreter): it
renders the release the project is at, compares each file the newer release moves with
that rendering, writes every local edit to `copier-payments-<version>-moved-edits.patch`
at the project's root, and says where each file's code went. A project without such edits
is left as it is, and nothing is printed.

    python hooks/moved_edits.py VERSION [ANSWERS_FILE]

Standard library, plus copier and PyYAML, which the template's interpreter has.
"""

from __future__ import annotations

import difflib
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

#: Per release: each file it moves (`{package}` is the package name), and where its code is.
MOVES: dict[str, dict[str, str]] = {
    "v0.7.0": {
        "src/{package}/processors/stripe.py": (
            "processors/stripe/: adapter.py (SDK calls), events.py (webhooks), catalog.py, "
            "subscriptions.py"
        ),
        "src/{package}/processors/paypal.py": (
            "processors/paypal/: adapter.py, catalog.py, subscriptions.py"
        ),
        "src/{package}/processors/paypal_shapes.py": (
            "processors/paypal/shapes.py, events.py (the event parser)"
        ),
        "src/{package}/processors/square.py": (
            "processors/square/: adapter.py, errors.py, events.py (signature), catalog.py, "
            "subscriptions.py"
        ),
        "src/{package}/processors/square_shapes.py": (
            "processors/square/shapes.py, events.py (the event parser)"
        ),
        "src/{package}/processors/fake.py": (
            "processors/fake/: adapter.py, events.py (its events now carry neutral facts), "
            "subscriptions.py"
        ),
        "src/{package}/webhooks/handlers.py": (
            "reading Stripe's events: processors/stripe/events.py (subscriptions.py for "
            "subscriptions and invoices); what they do: domain/apply.py, domain/payments.py, "
            "domain/disputes.py"
        ),
        "src/{package}/webhooks/paypal.py": (
            "processors/paypal/events.py (subscriptions.py for subscriptions); what they do: "
            "domain/"
        ),
        "src/{package}/webhooks/square.py": (
            "processors/square/events.py (subscriptions.py for subscriptions and invoices); "
            "what they do: domain/"
        ),
        "src/{package}/webhooks/subscriptions.py": (
            "domain/subscriptions.py (snapshots, dunning), domain/invoices.py"
        ),
        "tests/fake_stripe.py": "tests/stripe/fake_server.py",
        "tests/test_stripe_payments.py": (
            "tests/stripe/: test_payments.py, test_config.py, test_hosted_checkout.py or "
            "test_embedded_checkout.py"
        ),
        "tests/test_subscriptions.py": "tests/stripe/test_subscriptions.py",
        "tests/test_bench.py": "tests/stripe/test_bench.py",
        "tests/fake_paypal.py": "tests/paypal/fake_server.py",
        "tests/test_paypal.py": (
            "tests/paypal/: test_payments.py, test_subscriptions.py, test_pages.py"
        ),
        "tests/fake_square.py": "tests/square/fake_server.py",
        "tests/test_square.py": (
            "tests/square/: test_payments.py, test_subscriptions.py, test_pages.py, "
            "test_subscription_pages.py"
        ),
    },
}


def moved_here(version: str, package: str, project: Path) -> dict[str, str]:
    """The files `version` moves that this project has: path -> where the code went."""
    moves = {path.format(package=package): home for path, home in MOVES[version].items()}
    return {path: home for path, home in moves.items() if (project / path).is_file()}


def render_release(answers: dict[str, Any], destination: Path) -> None:
    """The project as its recorded release renders it, with its answers, side effects off."""
    from copier import run_copy

    data = {k: v for k, v in answers.items() if not k.startswith("_")}
    run_copy(
        str(answers["_src_path"]),
        destination,
        data={**data, "testing": True},
        vcs_ref=str(answers["_commit"]),
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=True,
        skip_tasks=True,
    )


def local_edits(project: Path, rendered: Path | None, paths: list[str]) -> list[str]:
    """A unified diff (from the release to the project) of each path edited locally; with no
    rendering of the release (it failed), each file whole, as an edit of nothing."""
    edits = []
    for path in paths:
        before: list[str] = []
        if rendered is not None:
            original = rendered / path
            if not original.is_file():
                continue  # not the template's at that release: the project's own file
            before = original.read_text(encoding="utf-8").splitlines(keepends=True)
        after = (project / path).read_text(encoding="utf-8").splitlines(keepends=True)
        if before != after:
            edits.append("".join(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}")))
    return edits


def report(version: str, project: Path, answers: dict[str, Any]) -> Path | None:
    """Write the patch of local edits in files `version` moves; its path (None: none)."""
    moved = moved_here(version, str(answers.get("package_name", "")), project)
    if not moved or "_src_path" not in answers or "_commit" not in answers:
        return None
    with tempfile.TemporaryDirectory(prefix="copier-payments-release-") as tmp:
        rendered: Path | None = Path(tmp) / "project"
        try:
            render_release(answers, Path(tmp) / "project")
        except Exception as exc:  # keep the files whole rather than lose an edit
            print(f"moved_edits: could not render {answers['_commit']} ({exc}): keeping the "
                  "moved files whole", file=sys.stderr)  # fmt: skip
            rendered = None
        edits = local_edits(project, rendered, sorted(moved))
    if not edits:
        return None
    patch = project / f"copier-payments-{version}-moved-edits.patch"
    edited = [path for path in sorted(moved) if f"+++ b/{path}\n" in "".join(edits)]
    header = [
        f"# Your edits of files that copier-payments {version} moves (see its CHANGELOG).",
        "# The update removes these files; carry each change to where the code is now,",
        "# then delete this patch. `git apply --check` shows it still applies to the files",
        "# as they were (git's history keeps them).",
        "#",
        *(f"#   {path} -> {moved[path]}" for path in edited),
        "",
    ]
    patch.write_text("\n".join(header) + "\n" + "".join(edits), encoding="utf-8")
    print(f"copier-payments {version} moves files you edited; your edits are kept in {patch.name}:")
    for path in edited:
        print(f"  {path} -> {moved[path]}")
    return patch


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in MOVES:
        print(f"usage: moved_edits.py {{{','.join(MOVES)}}} [ANSWERS_FILE]", file=sys.stderr)
        return 2
    path = Path(argv[1] if len(argv) > 1 else ".copier-answers.yml")
    if not path.is_file():
        print(f"moved_edits: no answers file at {path}", file=sys.stderr)
        return 1
    answers: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    report(argv[0], path.resolve().parent, answers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
