"""Structured logging that never writes card data or secrets.

Every line goes through a `Redactor`: card numbers (13-19 digits passing the Luhn check,
whole or in groups; see `contains_card_number`) keep only their last four digits,
CVC-labelled values and secrets (Stripe keys, webhook secrets, bearer tokens, and every
secret value the configuration holds) are masked. The redaction covers the formatted
message, extra fields and tracebacks alike, and percent-encoded text (a URL) once decoded.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

MASK = "[REDACTED]"

#: Characters other than decimal digits (`\d`: every script's, fullwidth too) that Unicode
#: gives a digit value: superscripts, subscripts, circled and parenthesized digits...
#: (tests/test_card_data.py checks the list against `unicodedata`).
OTHER_DIGITS = (
    "\u00b2\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468"
    "\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788"
    "\u278a-\u2792\U00010a40-\U00010a43\U00010e60-\U00010e68\U00011052-\U0001105a"
    "\U0001f100-\U0001f10a"
)
_DIGIT = rf"[\d{OTHER_DIGITS}]"
#: What may stand between a card number's groups: one to five of any space (no-break and
#: thin ones, tabs, line breaks), invisible format characters (zero-width space, soft hyphen,
#: word joiner), dashes of any kind, dots, slashes, underscores, plus signs. (Not commas or
#: colons: lists of numbers and times would read as card numbers.)
SEPARATORS = (
    "\\s\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff\u2010-\u2015\u2212\ufe58\ufe63"
    "\uff0d\u30fb\uff65\u00b7\\-._/\\\\+"
)
_SEPARATOR = "[" + SEPARATORS + "]{1,5}"
# Digit groups joined by separators: every shape a card number can be written in.
_DIGIT_RUN = re.compile(rf"(?<!{_DIGIT}){_DIGIT}+(?:{_SEPARATOR}{_DIGIT}+)*(?!{_DIGIT})")
_GROUP_SPLIT = re.compile(_SEPARATOR)
#: Percent-encoding (`%34%32` is "42"; `+` is a space in a query).
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_SECRET_PATTERNS = (
    re.compile(r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]+"),
    re.compile(r"whsec_[0-9A-Za-z+/=]+"),
    re.compile(r"((?i:bearer)|Basic)\s+[A-Za-z0-9\-._~+/]{8,}=*"),
)
_CVC = re.compile(
    r"(?i)(\b(?:cvc2?|cvv2?|cvn|cid|csc|security[_ -]?code|card[_ -]?code)\b"
    r"[\"']?\s*[:=]\s*[\"']?)[0-9]{3,4}(?![0-9])"
)
# LogRecord attributes, and uvicorn's colored duplicate of the message.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def ascii_digits(group: str) -> str:
    """A group of digits of any script as ASCII digits."""
    return group if group.isascii() else "".join(str(unicodedata.digit(c)) for c in group)


def _card_spans(groups: list[str]) -> list[tuple[int, int]]:
    """(first, last) indices of every stretch of whole digit groups that forms a card number:
    13-19 digits passing the Luhn check.

    Linear in the number of groups: each window's Luhn sum comes from prefix sums (one per
    parity of the window's last digit), so a long run of short groups costs no more than its
    length (a body or a URL made of such runs cannot make the check slow).
    """
    groups = [ascii_digits(group) for group in groups]
    digits = "".join(groups)
    if len(digits) < 13:
        return []
    # plain[p] / doubled[p]: the Luhn sum of digits[:p] when even positions are left as they
    # are (odd ones doubled), or when odd positions are.
    plain, doubled = [0], [0]
    for position, char in enumerate(digits):
        value = ord(char) - 48
        twice = value * 2 - 9 if value > 4 else value * 2
        even = position % 2 == 0
        plain.append(plain[-1] + (value if even else twice))
        doubled.append(doubled[-1] + (twice if even else value))
    ends = []
    offset = 0
    for group in groups:
        offset += len(group)
        ends.append(offset)
    spans = []
    for first in range(len(groups)):
        start = ends[first] - len(groups[first])
        for last in range(first, len(groups)):
            end = ends[last]
            if end - start > 19:
                break
            # The last digit is never doubled: digits of its parity are left as they are.
            sums = plain if (end - 1) % 2 == 0 else doubled
            if end - start >= 13 and (sums[end] - sums[start]) % 10 == 0:
                spans.append((first, last))
    return spans


def _mask_card_numbers(run: str) -> str:
    """Mask every stretch of whole digit groups in `run` that forms a card number."""
    groups = _GROUP_SPLIT.split(run)
    spans = _card_spans(groups)
    if not spans:
        return run
    seps = _GROUP_SPLIT.findall(run)
    masked = [False] * len(groups)
    for first, last in spans:
        for index in range(first, last + 1):
            masked[index] = True
    out: list[str] = []
    index = 0
    while index < len(groups):
        if not masked[index]:
            out.append(groups[index])
        else:
            end = index
            while end + 1 < len(groups) and masked[end + 1]:
                end += 1
            digits = ascii_digits("".join(groups[index : end + 1]))
            out.append(f"[PAN ****{digits[-4:]}]")
            index = end
        if index < len(seps):
            out.append(seps[index])
        index += 1
    return "".join(out)


def contains_card_number(text: str) -> bool:
    """Whether `text` holds a card number: a Luhn-valid run of 13-19 digits of any script,
    written whole or in groups joined by separators (`SEPARATORS`)."""
    return any(_card_spans(_GROUP_SPLIT.split(m.group(0))) for m in _DIGIT_RUN.finditer(text))


def card_numbers_in(text: str) -> list[str]:
    """Every card number `contains_card_number` finds in `text`, as ASCII digits."""
    found = []
    for run in _DIGIT_RUN.finditer(text):
        groups = _GROUP_SPLIT.split(run.group(0))
        for first, last in _card_spans(groups):
            found.append(ascii_digits("".join(groups[first : last + 1])))
    return found


def percent_decoded(text: str) -> str:
    """`text` with its percent-encoding undone, twice-encoded too (a URL in a URL)."""
    for _ in range(3):
        if not _PERCENT.search(text):
            break
        text = unquote_plus(text)
    return text


class Redactor:
    """Masks card data and secrets in text; knows the configured secret values too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so that a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: f"{m.group(1)} {MASK}" if m.lastindex else MASK, text)
        # A card number percent-encoded (in a URL) is masked in the decoded text.
        decoded = percent_decoded(text)
        if decoded != text and contains_card_number(decoded):
            text = decoded
        # Card numbers first: a CVC label before one must not split it (its first group
        # would read as a CVC and leave the rest unrecognised).
        text = _DIGIT_RUN.sub(lambda m: _mask_card_numbers(m.group(0)), text)
        return _CVC.sub(lambda m: f"{m.group(1)}***", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exception.

    Each value is redacted before it is serialized, so escaping cannot hide a secret.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.redactor(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                plain = isinstance(value, bool | int | float) or value is None
                entry[key] = value if plain else self.redactor(str(value))
        if record.exc_info:
            entry["exc"] = self.redactor(self.formatException(record.exc_info))
        return json.dumps(entry)


class TextFormatter(logging.Formatter):
    """A plain line, redacted as a whole (traceback included)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor(super().format(record))


def configure_logging(
    level: str = "INFO",
    fmt: Literal["json", "text"] = "json",
    secrets: Iterable[str] = (),
    stream: Any = None,
) -> logging.Handler:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one redacting handler."""
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else TextFormatter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # The server's access log stays off, whatever configured it: the app writes its own
    # (ACCESS_LOG, edge.py). uvicorn logs access lines wherever that logger has a handler,
    # its parents' included: each process of `serve --workers N` configures logging after
    # uvicorn turned it off, and would turn it back on.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    return handler
