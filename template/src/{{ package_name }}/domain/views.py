"""Our objects as the API shows them (`GET /api/...`): the one place that says so."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Customer, Dispute, Invoice, Payment, PaymentMethod, Refund


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
        "customer_id": payment.customer_id,
        "payment_method_id": payment.payment_method_id,
        "capture_method": payment.capture_method,
        # What a manually captured payment held (`amount`: what was captured of it).
        "amount_authorized": payment.amount_authorized,
        # Where the customer authenticates, while the payment waits for it.
        "action_url": payment.checkout_url if payment.status == "requires_action" else None,
        # The processor's receipt page, where it has one (Stripe, Square).
        "receipt_url": payment.receipt_url,
        # The promotion code given, and what a code took off (`amount` is after it).
        "promotion_code": payment.promotion_code,
        "amount_discount": payment.amount_discount or 0,
        # The tax the processor added (TAX_MODE=processor), included in `amount`.
        "amount_tax": payment.amount_tax or 0,
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "processor": refund.processor,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def dispute_view(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": dispute.id,
        "payment_id": dispute.payment_id,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "status": dispute.status,
        "reason": dispute.reason,
        "evidence_due_by": _iso(dispute.evidence_due_by),
        "processor": dispute.processor,
        "processor_dispute_id": dispute.processor_dispute_id,
    }


def invoice_view(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "customer_id": invoice.customer_id,
        "subscription_id": invoice.subscription_id,
        "status": invoice.status,
        "number": invoice.number,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "amount_tax": invoice.amount_tax,
        "currency": invoice.currency,
        "attempt_count": invoice.attempt_count,
        "hosted_invoice_url": invoice.hosted_invoice_url,
        "invoice_pdf": invoice.invoice_pdf,
        "period_start": _iso(invoice.period_start),
        "period_end": _iso(invoice.period_end),
        "processor": invoice.processor,
    }


def customer_view(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "external_id": customer.external_id,
        "email": customer.email,
        "name": customer.name,
    }


def payment_method_view(method: PaymentMethod) -> dict[str, Any]:
    return {
        "id": method.id,
        "customer_id": method.customer_id,
        "processor": method.processor,
        "type": method.type,
        "brand": method.brand,
        "last4": method.last4,
        "exp_month": method.exp_month,
        "exp_year": method.exp_year,
        "default": method.is_default,
    }
