"""Our objects as the API shows them (`GET /api/...`): the one place that says so."""

from __future__ import annotations

from typing import Any

from ..models import Customer, Payment, Refund


def payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "amount_refunded": payment.amount_refunded,
        "processor": payment.processor,
        "processor_ref": payment.processor_ref,
        "reference": payment.reference,
        # Why it failed, or "amount_mismatch": the processor confirmed another amount.
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
    }


def customer_view(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "external_id": customer.external_id,
        "email": customer.email,
        "name": customer.name,
    }
