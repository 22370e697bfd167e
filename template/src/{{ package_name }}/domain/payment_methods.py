"""Saved payment methods: what a processor keeps for a customer, known here by reference.

A method is collected by the processor (its hosted page: a checkout that keeps the method,
or a setup without payment) and reaches this service only through the processor's events
(`observe`): its reference, and what may be shown of it (brand, last four digits, expiry).
No card number ever passes through the service. The customer's first method becomes their
default; the merchant may choose another (`set_default`) or remove one (`remove`: the
processor forgets it first, then this service).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..models import Customer, Payment, PaymentMethod, ProcessorCustomer
from ..processors.base import (
    KeepRequest,
    Processor,
    ProcessorError,
    SavedMethods,
    SetupRequest,
    WebhookEvent,
)
from .customers import linked_customer, processor_customer
from .errors import NotFound, Unprocessable
from .facts import PaymentMethodObserved
from .payments import KEEP_METHOD, PAID_STATES, Payments

log = logging.getLogger(__name__)


def observe(
    session: Session,
    event: WebhookEvent,
    fact: PaymentMethodObserved,
    _: Mapping[str, Processor],
) -> None:
    """A method the processor's event says it keeps, or no longer keeps."""
    record(session, event.processor, fact, event.event_id)


def record(session: Session, processor: str, fact: PaymentMethodObserved, source: str) -> None:
    """A method the processor keeps (recorded, or its display data brought up to date), or
    no longer keeps (removed here too). A method of a customer this service does not know
    is not this service's: ignored (`source`, the event or call that said so, is logged)."""
    method = session.scalars(
        select(PaymentMethod)
        .where(
            PaymentMethod.processor == processor,
            PaymentMethod.processor_payment_method_id == fact.processor_payment_method_id,
        )
        .with_for_update()
    ).first()
    if fact.removed:
        if method is not None:
            forget(session, method)
        return
    if method is None:
        customer_id = session.scalars(
            select(ProcessorCustomer.customer_id).where(
                ProcessorCustomer.processor == processor,
                ProcessorCustomer.processor_customer_id == fact.processor_customer_id,
            )
        ).first()
        if customer_id is None:
            log.info("payment method of a customer not made here", extra={"event": source})
            return
        has_default = session.scalar(
            select(PaymentMethod.id).where(
                PaymentMethod.customer_id == customer_id, PaymentMethod.is_default.is_(True)
            )
        )
        method = PaymentMethod(
            customer_id=customer_id,
            processor=processor,
            processor_payment_method_id=fact.processor_payment_method_id,
            type=fact.type or "card",
            is_default=has_default is None,
        )
        session.add(method)
    for name in ("type", "brand", "last4", "exp_month", "exp_year"):
        value = getattr(fact, name)
        if value is not None:
            setattr(method, name, value)


def keep_after_payment(
    session: Session,
    event: WebhookEvent,
    payment: Payment,
    processors: Mapping[str, Processor],
) -> None:
    """A paid checkout that asked to keep its method: where the processor keeps it only
    when asked after the payment (Square), ask it, once, in the event's transaction (a
    failed call fails the event, which is retried; the call is idempotent per payment)."""
    if payment.status not in PAID_STATES or payment.metadata_.get(KEEP_METHOD) != "asked":
        return
    adapter = processors.get(payment.processor)
    if not isinstance(adapter, SavedMethods) or payment.customer_id is None:
        return
    customer_ref = linked_customer(session, payment.customer_id, payment.processor)
    if customer_ref is None or payment.processor_payment_id is None:
        return
    kept = adapter.keep_paid_method(
        KeepRequest(payment.id, payment.processor_payment_id, customer_ref)
    )
    if kept is not None:
        observe(session, event, kept, processors)
    payment.metadata_ = {**payment.metadata_, KEEP_METHOD: "kept"}


def forget(session: Session, method: PaymentMethod) -> None:
    """Remove a method here; if it was the default, the customer's newest other becomes it."""
    session.delete(method)
    session.flush()
    if method.is_default:
        newest = session.scalars(
            select(PaymentMethod)
            .where(PaymentMethod.customer_id == method.customer_id)
            .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
        ).first()
        if newest is not None:
            newest.is_default = True


class Wallet:
    """The merchant's side: list a customer's methods, choose the default, remove one, and
    start a setup where the customer saves one."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        payments: Payments,
        completion_url: Callable[[str, str], str],
    ) -> None:
        self.sessions = sessions
        self.payments = payments
        #: (processor, the merchant's success URL) -> this service's page where a setup the
        #: service completes itself returns (`links.SetupReturns`).
        self.completion_url = completion_url

    def _customer(self, session: Session, customer_id: str) -> Customer:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"no customer {customer_id}")
        return customer

    def list(self, customer_id: str) -> list[PaymentMethod]:
        with self.sessions() as session:
            self._customer(session, customer_id)
            return list(
                session.scalars(
                    select(PaymentMethod)
                    .where(PaymentMethod.customer_id == customer_id)
                    .order_by(PaymentMethod.created_at, PaymentMethod.id)
                )
            )

    def _method(self, session: Session, customer_id: str, method_id: str) -> PaymentMethod:
        self._customer(session, customer_id)
        method = session.get(PaymentMethod, method_id, with_for_update=True)
        if method is None or method.customer_id != customer_id:
            raise NotFound(f"no payment method {method_id} for this customer")
        return method

    def set_default(self, customer_id: str, method_id: str) -> PaymentMethod:
        with self.sessions.begin() as session:
            method = self._method(session, customer_id, method_id)
            session.execute(
                update(PaymentMethod)
                .where(PaymentMethod.customer_id == customer_id, PaymentMethod.id != method_id)
                .values(is_default=False)
            )
            method.is_default = True
        return method

    def remove(self, customer_id: str, method_id: str) -> None:
        """The processor forgets the method, then this service does. A failed call leaves
        it here (asking again is safe: a method already forgotten is not an error)."""
        with self.sessions() as session:
            method = self._method(session, customer_id, method_id)
            processor, reference = method.processor, method.processor_payment_method_id
        self.payments.saved_methods(processor).detach_payment_method(reference)
        with self.sessions.begin() as session:
            found = session.get(PaymentMethod, method_id, with_for_update=True)
            if found is not None:
                forget(session, found)

    def setup(
        self, customer_id: str, processor: str, setup_id: str, success_url: str, cancel_url: str
    ) -> str:
        """The processor's page where the customer saves a method without paying."""
        adapter = self.payments.saved_methods(processor)
        if not adapter.setup_page:
            raise Unprocessable(
                f"{processor} has no page to save a method without paying: use "
                "save_payment_method on a checkout"
            )
        with self.sessions() as session:
            customer = self._customer(session, customer_id)
        customer_ref = processor_customer(self.sessions, adapter, customer)
        checkout = adapter.create_setup(
            SetupRequest(
                setup_id,
                customer_id,
                customer_ref,
                success_url,
                cancel_url,
                completion_url=self.completion_url(processor, success_url),
            )
        )
        if checkout.url is None:
            raise ProcessorError("error", "the processor gave no page to save a method on")
        return checkout.url

    def complete_setup(self, processor: str, approval: str) -> None:
        """The customer approved a setup the service completes itself (PayPal): the method
        is kept at the processor, then recorded here (its event, later, changes nothing)."""
        kept = self.payments.saved_methods(processor).complete_setup(approval)
        with self.sessions.begin() as session:
            record(session, processor, kept, f"{processor} setup {approval}")
