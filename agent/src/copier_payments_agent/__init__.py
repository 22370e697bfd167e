"""copier-payments for AI agents: an MCP server and a CLI (see docs/agents.md)."""
