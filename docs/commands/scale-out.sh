#!/usr/bin/env bash
# Scaling out as docs/scaling.md shows it, run by tests/test_docs_site.py in a generated
# service (slug acme-payments) with DATABASE_URL pointing at PostgreSQL.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL database}"
# --8<-- [start:scale-out]
uv run acme-payments migrate
uv run acme-payments serve --host 127.0.0.1 --port 8001 &
uv run acme-payments serve --host 127.0.0.1 --port 8002 &
uv run acme-payments worker &
uv run acme-payments worker &
# --8<-- [end:scale-out]
wait
