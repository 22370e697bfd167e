"""Wall time of a default generation with the trace hook and without it, and through the
agent CLI (answers checked against the JSON Schema, then the same traced copy, whose own
validators run before it writes), in one run.

    uv run python -m benchmarks.generation [--runs 5]

Each run is a fresh `copier copy --trust --defaults` in a subprocess, as a user runs it.
"With the hook", Langfuse credentials point at a local fake receiver; "without", the hidden
`testing` answer turns the hook off. Runs alternate so that both see the same machine
state. Prints each time, the medians and their ratios, and how long the background
delivery took to reach the receiver. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fake_langfuse import FakeLangfuse

ROOT = Path(__file__).resolve().parent.parent
SPANS_PER_TRACE = 11


def generate(destination: Path, env: dict[str, str], hook: bool) -> float:
    command = [sys.executable, "-m", "copier", "copy", "-q", "--trust", "--defaults"]
    command += ["--vcs-ref", "HEAD"]  # this clone as it is, not its latest release tag
    if not hook:
        command += ["--data", "testing=true"]
    started = time.perf_counter()
    subprocess.run(
        [*command, str(ROOT), str(destination)],
        env=env,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def generate_as_agent(destination: Path, env: dict[str, str]) -> float:
    """`copier-payments generate`: the JSON Schema and copier's validators, then the copy."""
    command = [sys.executable, "-m", "copier_payments_agent.cli", "generate", str(destination)]
    started = time.perf_counter()
    subprocess.run(
        [*command, "--vcs-ref", "HEAD"],
        env={**env, "COPIER_PAYMENTS_TEMPLATE": str(ROOT)},
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def settle(fake: FakeLangfuse, spool: Path, expected: int) -> float:
    """Wait for the background sender to deliver; how long it took."""
    started = time.perf_counter()
    fake.wait_for_spans(expected)
    waited = time.perf_counter() - started
    # Let the background sender finish before the next run is timed.
    while list(spool.glob("*.json")):
        time.sleep(0.02)
    time.sleep(0.3)
    return waited


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeLangfuse() as fake:
        env = {
            **os.environ,
            "LANGFUSE_PUBLIC_KEY": "pk-lf-bench",
            "LANGFUSE_SECRET_KEY": "sk-lf-bench",
            "LANGFUSE_BASE_URL": fake.url,
            "COPIER_PAYMENTS_SPOOL_DIR": str(Path(tmp) / "spool"),
        }
        spool = Path(tmp) / "spool"
        with_hook: list[float] = []
        without: list[float] = []
        agent: list[float] = []
        delivery: list[float] = []
        for run in range(args.runs):
            without.append(generate(Path(tmp) / f"plain{run}", env, hook=False))
            expected = len(fake.spans) + SPANS_PER_TRACE
            with_hook.append(generate(Path(tmp) / f"traced{run}", env, hook=True))
            delivery.append(settle(fake, spool, expected))
            expected = len(fake.spans) + SPANS_PER_TRACE
            agent.append(generate_as_agent(Path(tmp) / f"agent{run}", env))
            settle(fake, spool, expected)
            print(
                f"run {run + 1}: without hook {without[-1]:.3f}s, with hook {with_hook[-1]:.3f}s, "
                f"delivered {delivery[-1]:.3f}s after generation ended; "
                f"agent CLI {agent[-1]:.3f}s"
            )
        spooled = list(spool.glob("*.json"))
        base, hooked = statistics.median(without), statistics.median(with_hook)
        print(f"median without hook: {base:.3f}s (min {min(without):.3f}s)")
        print(f"median with hook:    {hooked:.3f}s (min {min(with_hook):.3f}s)")
        print(f"ratio with/without:  {hooked / base:.2f}")
        agent_median = statistics.median(agent)
        print(f"median agent CLI:    {agent_median:.3f}s (min {min(agent):.3f}s)")
        print(f"ratio agent/with:    {agent_median / hooked:.2f}")
        print(
            f"traces received: {len(fake.spans) // SPANS_PER_TRACE} of {2 * args.runs}; "
            f"left in the spool: {len(spooled)}"
        )


if __name__ == "__main__":
    main()
