"""The template's questions, read from its `copier.yml`: described for agents, and turned
into a JSON Schema of an answers file. Nothing here is written twice: types, choices,
defaults, help and validation rules all come from `copier.yml`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

JSON_TYPES = {"str": "string", "bool": "boolean", "int": "integer", "float": "number"}
TAG = re.compile(r"{%.*?%}", re.S)
EXPRESSION = re.compile(r"{{.*?}}", re.S)
REGEX_SEARCH = re.compile(r"regex_search\('((?:[^'\\]|\\.)*)'\)")


@dataclass(frozen=True)
class Question:
    key: str
    type: str
    help: str
    default: Any
    choices: dict[str, Any] | None
    multiselect: bool
    validator: str | None
    when: str | None

    @property
    def derived_default(self) -> bool:
        """The default is computed from other answers (a Jinja expression)."""
        return isinstance(self.default, str) and "{{" in self.default

    @property
    def rules(self) -> list[str]:
        """The validator's messages, in the words copier.yml gives them."""
        if not self.validator:
            return []
        messages = []
        for chunk in TAG.split(self.validator):
            text = EXPRESSION.sub("…", chunk).strip()
            if text:
                messages.append(text)
        return messages

    @property
    def pattern(self) -> str | None:
        """The regular expression the validator requires, when it requires one."""
        found = REGEX_SEARCH.search(self.validator or "")
        return found.group(1).replace("\\\\", "\\") if found else None

    def describe(self) -> dict[str, Any]:
        """What an agent needs to answer this question."""
        described: dict[str, Any] = {"key": self.key, "type": self.type, "help": self.help}
        if self.multiselect:
            described["type"] = "list"
        if self.choices is not None:
            described["choices"] = list(self.choices.values())
        if self.derived_default:
            described["default_expression"] = self.default
        else:
            described["default"] = self.default
        if self.when is not None:
            described["asked_when"] = self.when
        if self.pattern:
            described["pattern"] = self.pattern
        if self.rules:
            described["validation"] = self.rules
        return described


def load_questions(template: Path) -> list[Question]:
    """The public questions of the template at `template` (hidden ones, `when: false`,
    are internal switches such as `testing`, and left out)."""
    config = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))
    questions = []
    for key, spec in config.items():
        if key.startswith("_") or not isinstance(spec, dict) or spec.get("when") is False:
            continue
        choices = spec.get("choices")
        if isinstance(choices, list):
            choices = {str(c): c for c in choices}
        when = spec.get("when")
        questions.append(
            Question(
                key=key,
                type=str(spec.get("type", "str")),
                help=" ".join(str(spec.get("help", "")).split()),
                default=spec.get("default"),
                choices=choices,
                multiselect=bool(spec.get("multiselect")),
                validator=spec.get("validator"),
                when=None if when is None else str(when),
            )
        )
    return questions


def answers_schema(questions: list[Question]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of an answers file (`--data-file`)."""
    properties: dict[str, Any] = {}
    for q in questions:
        prop: dict[str, Any] = {"description": q.help}
        scalar = JSON_TYPES.get(q.type, "string")
        choices = list(q.choices.values()) if q.choices is not None else None
        if q.multiselect:
            items: dict[str, Any] = {"type": scalar}
            if choices is not None:
                items["enum"] = choices
            prop.update(type="array", items=items, uniqueItems=True, minItems=1)
        else:
            prop["type"] = scalar
            if choices is not None:
                prop["enum"] = choices
        if q.pattern:
            prop["pattern"] = q.pattern
        if any("must not be empty" in rule for rule in q.rules) and not q.pattern:
            prop["pattern"] = r"\S"  # copier.yml trims before it checks
        if q.derived_default:
            prop["description"] += f" (default: {q.default})"
        else:
            prop["default"] = q.default
        properties[q.key] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "copier-payments answers",
        "description": "Answers for `copier copy --data-file`; generated from copier.yml.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def schema_text(template: Path) -> str:
    return json.dumps(answers_schema(load_questions(template)), indent=2) + "\n"


def markdown_table(questions: list[Question]) -> str:
    """The options reference table of docs/options.md."""
    lines = ["| key | type | default | validation |", "| --- | --- | --- | --- |"]
    for q in questions:
        kind = "list" if q.multiselect else q.type
        if q.derived_default:
            default = f"`{q.default}`".replace("|", "\\|")
        else:
            default = f"`{json.dumps(q.default)}`"
        rules = []
        if q.choices is not None:
            rules.append("one of " if not q.multiselect else "any of ")
            rules[-1] += ", ".join(f"`{c}`" for c in q.choices.values())
        rules += [r.replace("|", "\\|") for r in q.rules]
        if q.when is not None:
            rules.append(f"asked when `{q.when}`")
        lines.append(f"| `{q.key}` | {kind} | {default} | {'; '.join(rules)} |")
    return "\n".join(lines) + "\n"
