"""The webhook benchmark still runs (with a handful of events); its figures are not checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CONFIG_VARIABLES

BENCH = Path(__file__).resolve().parents[2] / "bench" / "webhooks.py"
#: A handful of events, and one short round of `serve` against the bare no-op.
ARGS = ["--events", "60", "--clients", "4", "--wrk-seconds", "1", "--wrk-rounds", "1"]


def test_the_benchmark_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.pop("TEST_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, str(BENCH), *ARGS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # `serve` as the README runs it, against the bare no-op: one short round.
    assert "webhook/bare throughput ratio" in result.stdout
    assert "round 1: bare" in result.stdout
    assert "webhook/healthz throughput ratio" in result.stdout
    assert "worker drain: 60 events" in result.stdout
    assert "merchant events delivered: 60 in" in result.stdout
    assert "webhook to merchant: 60/60 arrived" in result.stdout
