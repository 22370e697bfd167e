"""PayPal's variables: wrong values stop start-up with one line naming the variable."""

from __future__ import annotations

import pytest

from tests.conftest import PRODUCTION_ENV, error_for


def test_paypal_live_environment_is_refused_outside_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = error_for(monkeypatch, PAYPAL_ENVIRONMENT="live")
    assert error.variable == "PAYPAL_ENVIRONMENT"


def test_paypal_sandbox_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    error = error_for(monkeypatch, **{**PRODUCTION_ENV, "PAYPAL_ENVIRONMENT": "sandbox"})
    assert error.variable == "PAYPAL_ENVIRONMENT"


def test_paypal_partial_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    error = error_for(monkeypatch, PAYPAL_CLIENT_ID="client-id")
    assert error.variable == "PAYPAL_CLIENT_SECRET"
