"""Pages, each with a per-request CSP nonce: only scripts and styles we sign can run."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def page_csp(nonce: str, script_src: str = "", frame_src: str = "") -> str:
    """A strict page policy; checkout pages add their processor's script and frame hosts."""
    frames = frame_src or "'none'"
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}' {script_src}; "
        f"style-src 'self' 'nonce-{nonce}'; frame-src {frames}; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'; object-src 'none'"
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(
        request,
        "index.html",
        {"title": request.app.title, "nonce": nonce, "env": request.app.state.settings.environment},
    )
    response.headers["Content-Security-Policy"] = page_csp(nonce)
    return response
