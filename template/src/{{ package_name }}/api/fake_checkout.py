"""The fake processor's hosted checkout page (development and test only)."""

from __future__ import annotations

import secrets
from html import escape
from string import Template
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..errors import ApiError
from ..processors.fake.adapter import FakeProcessor, Outcome
from .deps import services
from .webhooks import ingest

router = APIRouter(include_in_schema=False)

PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake checkout</title>
<style nonce="$nonce">
body { font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto }
button { display: block; width: 100%; margin: .5rem 0; padding: .6rem }
.error { color: #b00 }
</style>
</head><body>
<h1>Fake checkout</h1>
<p>$description: <strong>$amount</strong></p>
<p class="error" role="alert">$error</p>
<p>Test mode: no card is asked for and no money moves.</p>
<form method="post">$buttons</form>
</body></html>""")
CHOICES = (
    ("succeed", "Pay (succeeds)"),
    ("decline", "Pay (declined)"),
    ("authenticate", "Pay (requires authentication)"),
    ("cancel", "Cancel"),
)
OUTCOMES: dict[str, Outcome] = {
    "succeed": "succeed",
    "decline": "decline",
    "authentication_failed": "authentication_failed",
}
AUTH_CHOICES = (
    ("succeed", "Complete authentication"),
    ("authentication_failed", "Fail authentication"),
)


def fake(request: Request) -> FakeProcessor:
    adapter = services(request).processors.get("fake")
    if not isinstance(adapter, FakeProcessor):
        raise ApiError(404, "not_found", "the fake processor is not enabled")
    return adapter


def page(ref: str, adapter: FakeProcessor, error: str = "", authenticate: bool = False) -> Response:
    found = adapter.session(ref)
    nonce = secrets.token_urlsafe(16)
    buttons = "".join(
        f'<button name="outcome" value="{value}">{label}</button>'
        for value, label in (AUTH_CHOICES if authenticate else CHOICES)
    )
    html = PAGE.substitute(
        nonce=nonce,
        description=escape(found.description),
        amount=escape(found.price),
        error=escape(error),
        buttons=buttons,
    )
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return response


@router.get("/fake-checkout/{ref}")
def show(ref: str, request: Request) -> Response:
    return page(ref, fake(request))


@router.post("/fake-checkout/{ref}")
async def choose(ref: str, request: Request) -> Response:
    adapter = fake(request)
    form = parse_qs((await request.body()).decode())
    choice = form.get("outcome", [""])[0]
    checkout = adapter.session(ref).request
    if choice == "cancel":
        return RedirectResponse(checkout.cancel_url, status_code=303)
    if choice == "authenticate":
        return page(ref, adapter, authenticate=True)
    outcome = OUTCOMES.get(choice)
    if outcome is None:
        raise ApiError(422, "validation_error", "unknown choice")
    for body, headers in adapter.complete(ref, outcome):
        await ingest(services(request), adapter, body, headers)
    if outcome == "succeed":
        return RedirectResponse(checkout.success_url, status_code=303)
    message = "Your card was declined." if outcome == "decline" else "Authentication failed."
    return page(ref, adapter, error=f"{message} Try again or cancel.")
