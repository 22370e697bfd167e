"""Square's variables: wrong values stop start-up with one line naming the variable."""

from __future__ import annotations

import pytest

from tests.conftest import error_for


def test_square_production_environment_is_refused_outside_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = error_for(monkeypatch, SQUARE_ENVIRONMENT="production")
    assert error.variable == "SQUARE_ENVIRONMENT"


def test_square_partial_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "EAAA" + "z" * 40
    error = error_for(monkeypatch, SQUARE_ACCESS_TOKEN=token)
    assert error.variable == "SQUARE_WEBHOOK_SIGNATURE_KEY"
    assert token not in str(error)
