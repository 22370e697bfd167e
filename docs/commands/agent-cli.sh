#!/usr/bin/env bash
# The agent CLI as docs/agents.md shows it, run by tests/test_docs_site.py from the
# template's root (DEST: where to generate; the docs use ../acme-payments).
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST="${DEST:-../acme-payments}"
# --8<-- [start:agent-cli]
uv run copier-payments options
uv run copier-payments schema
uv run copier-payments generate "$DEST" --data-file examples/all-processors.yml
uv run copier-payments check-update "$DEST"
# --8<-- [end:agent-cli]
