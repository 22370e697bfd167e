"""Console script `copier-payments`: the MCP tools from a shell, with one-line errors.

    copier-payments options [--markdown]         the questions, as JSON (or a table)
    copier-payments schema                       the JSON Schema of an answers file
    copier-payments generate DEST [--data-file answers.yml] [--data key=value ...]
    copier-payments update PATH [--data-file ...] [--data ...]
    copier-payments check-update PATH

Results are JSON on stdout. A failure prints one line, `copier-payments: <code>: <message>`,
on stderr and exits with the code's number (docs/agents.md lists them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from copier_payments_agent import core
from copier_payments_agent.options import load_questions, markdown_table, schema_text


def _answers(args: argparse.Namespace) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if args.data_file:
        try:
            loaded = yaml.safe_load(Path(args.data_file).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise core.AgentError(
                "invalid_answers", f"cannot read {args.data_file}: {exc}"
            ) from None
        if not isinstance(loaded, dict):
            raise core.AgentError("invalid_answers", f"{args.data_file} is not a mapping")
        answers.update(loaded)
    for item in args.data or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise core.AgentError("invalid_answers", f"--data {item!r}: expected key=value")
        answers[key] = yaml.safe_load(value)  # as copier reads --data: YAML values
    return answers


def _trace(args: argparse.Namespace) -> core.TraceContext:
    return core.TraceContext(args.trace_id, args.session_id, args.parent_observation_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="copier-payments", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    options = commands.add_parser("options", help="the questions, as JSON")
    options.add_argument(
        "--markdown", action="store_true", help="the options table of docs/options.md"
    )
    commands.add_parser("schema", help="the JSON Schema of an answers file")
    for name, target in (("generate", "destination"), ("update", "path")):
        command = commands.add_parser(name)
        command.add_argument(target)
        command.add_argument("--data-file")
        command.add_argument("--data", action="append", metavar="KEY=VALUE")
        command.add_argument("--vcs-ref")
        command.add_argument("--trace-id", help="the agent's coaia-fuse trace: any id")
        command.add_argument("--session-id")
        command.add_argument("--parent-observation-id")
    commands.add_parser("check-update").add_argument("path")
    args = parser.parse_args(argv)
    try:
        if args.command == "options" and args.markdown:
            with core.checked_out(core.template_source(), "HEAD") as template:
                sys.stdout.write(markdown_table(load_questions(template)))
            return 0
        if args.command == "options":
            result: dict[str, Any] = core.describe_options()
        elif args.command == "schema":
            with core.checked_out(core.template_source(), "HEAD") as template:
                sys.stdout.write(schema_text(template))
            return 0
        elif args.command == "generate":
            result = core.generate(
                args.destination, _answers(args), vcs_ref=args.vcs_ref, trace=_trace(args)
            )
        elif args.command == "update":
            result = core.update(
                args.path, _answers(args), vcs_ref=args.vcs_ref, trace=_trace(args)
            )
        else:
            result = core.check_update(args.path)
    except core.AgentError as error:
        print(f"copier-payments: {error.code}: {error.message}", file=sys.stderr)
        return core.EXIT_CODES[error.code]
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
