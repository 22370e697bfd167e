#!/usr/bin/env bash
# Replaying spooled generation traces as docs/tracing.md shows it, run by tests/test_trace.py
# from the template's root (COPIER_PAYMENTS_SPOOL_DIR and the Langfuse variables set).
set -euo pipefail
cd "$(dirname "$0")/../.."
# --8<-- [start:replay]
uv run --with langfuse python hooks/trace_generation.py replay
# --8<-- [end:replay]
