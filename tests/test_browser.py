"""A real browser buys from a freshly generated service, with no .env and no account.

Headless Chromium (Debian's `chromium` package), driven by Playwright's Python package with
`executable_path`: pricing page -> the fake processor's checkout -> the success page, which
must show "succeeded"; the API must agree. `.ci/run` installs Chromium and sets
REQUIRE_BROWSER=1, so in CI this test runs or fails; elsewhere it skips, saying why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pytest_copie.plugin import Copie

from tests.conftest import Rendered, project_env, rendered, uv, wait_until_ready

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "browser-test-token-" + "b" * 24
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (REQUIRE_BROWSER is set) but not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium): browser test skipped")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def service(
    copie_session: Copie, rendered_projects: dict[str, Rendered], tmp_path: Path
) -> Iterator[str]:
    """The default service, started as its README says, on SQLite with no .env."""
    project = rendered("default", copie_session, rendered_projects)
    port = free_port()
    workdir = tmp_path / "run"
    workdir.mkdir()
    env = {**project_env(), "API_TOKEN": TOKEN, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(
        [uv(), "run", "--no-sync", "--project", str(project.path), project.answers["project_slug"],
         "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base}/readyz", process, 60)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_browser_pays_through_the_fake_processor(
    chromium: str, service: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{service}/pricing")
            page.click("#buy-starter-kit")
            page.wait_for_url("**/fake-checkout/**")
            page.get_by_role("button", name="Pay (succeeds)").click()
            page.wait_for_url("**/checkout/success?payment_id=*")
            expect(page.locator("#status")).to_have_text("succeeded", timeout=15_000)
            page.screenshot(path=str(tmp_path / "success.png"))
            payment_id = page.url.rsplit("=", 1)[1]
        finally:
            browser.close()
    payment = httpx.get(
        f"{service}/api/payments/{payment_id}", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    assert payment["status"] == "succeeded"
    assert payment["amount"] == 1999
    assert payment["processor"] == "fake"


def test_a_browser_subscribes_through_the_fake_processor(chromium: str, service: str) -> None:
    """Plans work offline from the first `serve`: pricing -> trial -> the account page."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{service}/pricing")
            page.fill("#email-pro-monthly", "ada@example.com")
            page.click("#subscribe-pro-monthly")
            page.wait_for_url("**/fake-checkout/**")
            page.get_by_role("button", name="Pay (succeeds)").click()
            page.wait_for_url("**/account?customer_id=*")
            # Incomplete until the in-process worker applies the fake processor's events.
            status = page.locator(".subscription .status")
            deadline = time.monotonic() + 15
            while status.inner_text() == "incomplete" and time.monotonic() < deadline:
                time.sleep(0.5)
                page.reload()
            expect(status).to_have_text("trialing")
            expect(page.locator("#access")).to_have_attribute("data-access", "true")
            customer_id = parse_qs(urlsplit(page.url).query)["customer_id"][0]
        finally:
            browser.close()
    access = httpx.get(
        f"{service}/api/customers/{customer_id}/entitlements",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()
    assert (access["has_access"], access["plan"], access["status"]) == (
        True,
        "pro-monthly",
        "trialing",
    )
    assert access["features"] == ["basic", "pro"]
