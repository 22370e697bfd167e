"""The copier-payments MCP server (the official `mcp` SDK), over stdio.

Tools: `describe_options`, `generate_payments_service`, `update_payments_service`,
`check_update`. A refusal is a tool error (`isError`) whose structured content is
`{"error": {"code", "message", "question"?, "details"?}}`; success is structured content.
Each generating tool takes the calling agent's coaia-fuse ids, so that the generation's
trace joins the agent's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from copier_payments_agent import core

server: MCPServer = MCPServer(
    name="copier-payments",
    instructions=(
        "Generate and update payments services (Stripe, PayPal, Square) from the "
        "copier-payments template. Call describe_options first; answers are validated "
        "before anything is written."
    ),
)


async def _run(work: Callable[[], dict[str, Any]]) -> CallToolResult:
    """Run blocking work off the event loop; an AgentError becomes a structured tool error."""
    try:
        payload = await anyio.to_thread.run_sync(work)
    except core.AgentError as error:
        refusal = error.as_dict()
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(refusal))],
            structured_content=refusal,
            is_error=True,
        )
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(payload))],
        structured_content=payload,
    )


@server.tool()
async def describe_options() -> CallToolResult:
    """The template's questions (help, type, choices, defaults, validation rules), read from
    its copier.yml, and the JSON Schema of an answers object."""
    return await _run(core.describe_options)


@server.tool()
async def generate_payments_service(
    destination: str,
    answers: dict[str, Any] | None = None,
    vcs_ref: str | None = None,
    trace_id: str | None = None,
    session_id: str | None = None,
    parent_observation_id: str | None = None,
) -> CallToolResult:
    """Generate a payments service into `destination` (a new or empty directory).

    `answers` maps question keys to values (see describe_options); unanswered questions
    take their defaults. They are validated first: nothing is written when one is wrong.
    `vcs_ref` picks a template version (default: the latest release). `trace_id`,
    `session_id` and `parent_observation_id` are the calling agent's coaia-fuse ids: the
    generation's observations go into that trace, whatever its id (coaiapy's dashed UUIDs
    included). Returns the files created, the trace id and next steps.
    """
    trace = core.TraceContext(trace_id, session_id, parent_observation_id)
    return await _run(
        lambda: core.generate(destination, answers or {}, vcs_ref=vcs_ref, trace=trace)
    )


@server.tool()
async def update_payments_service(
    path: str,
    answers: dict[str, Any] | None = None,
    vcs_ref: str | None = None,
    trace_id: str | None = None,
    session_id: str | None = None,
    parent_observation_id: str | None = None,
) -> CallToolResult:
    """Update the generated service at `path` (a git repository with its work committed) to
    the latest template release (or `vcs_ref`), applying any answer changes in `answers`.
    Returns the files changed, the files left with conflict markers, and the trace id."""
    trace = core.TraceContext(trace_id, session_id, parent_observation_id)
    return await _run(lambda: core.update(path, answers, vcs_ref=vcs_ref, trace=trace))


@server.tool()
async def check_update(path: str) -> CallToolResult:
    """Whether a newer template release is available for the service at `path`, and what
    each newer release changes (from the template's CHANGELOG)."""
    return await _run(lambda: core.check_update(path))


def main() -> None:
    """Console script `copier-payments-mcp`: serve over stdio."""
    server.run("stdio")


if __name__ == "__main__":
    main()
