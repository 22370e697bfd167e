"""The fake Square's contract check against Square's published specification
(`tests/square/spec/api.json`): it refuses what Square's schemas refuse."""

from __future__ import annotations

from tests.square.fake_server import SPEC, event_problems


def test_the_contract_check_refuses_what_square_would_not_take() -> None:
    search = {
        "limit": 100,
        "query": {"filter": {"created_at": {"start_at": "2025-01-01T00:00:00Z"}}},
    }
    assert SPEC.request_problems("POST", "/v2/events", {}, search) == []
    (found,) = SPEC.request_problems("POST", "/v2/events", {}, {**search, "cursor": None})
    assert found.endswith('null is not of type "string" (at /cursor)')
    tender = {"order": {"id": "ORD1", "location_id": "L1", "tenders": [{"id": "T1"}]}}
    (missing,) = SPEC.response_problems("GET", "/v2/orders/ORD1", 200, tender)
    assert '"type" is a required property' in missing


def test_a_dispute_event_is_checked_under_either_key() -> None:
    dispute = {"id": "DSP1", "state": "EVIDENCE_REQUIRED", "reason": "NOT_AS_DESCRIBED"}
    for key in ("object", "dispute"):
        event = {
            "merchant_id": "M1",
            "type": "dispute.created",
            "event_id": "e1",
            "created_at": "2025-01-01T00:00:00Z",
            "data": {"type": "dispute", "id": "DSP1", "object": {key: dispute}},
        }
        assert event_problems(event) == []
    assert event_problems({**event, "type": "dispute.created", "data": {"object": {"x": {}}}})
