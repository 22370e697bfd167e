"""Customers: identified by the merchant's own id (`external_id`), never by an email.

An email is contact data: two people may type the same one, and whoever types someone
else's must not reach that customer's subscriptions or billing portal. So nothing here
finds a customer by email; `POST /api/customers` with the merchant's user id is the one
way to name the same customer twice (account links then open its pages: `links.py`).
"""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..models import Customer, ProcessorCustomer
from ..processors.base import CustomerRequest
from .errors import NotFound

log = logging.getLogger(__name__)


class KeepsCustomers(Protocol):
    """A processor side that has customers of its own (saved methods, subscriptions)."""

    @property
    def name(self) -> str: ...

    def ensure_customer(self, request: CustomerRequest) -> str: ...


def linked_customer(session: Session, customer_id: str, processor: str) -> str | None:
    """The processor's customer for ours, if one was made."""
    return session.scalars(
        select(ProcessorCustomer.processor_customer_id).where(
            ProcessorCustomer.customer_id == customer_id,
            ProcessorCustomer.processor == processor,
        )
    ).first()


def link_customer(
    sessions: sessionmaker[Session], customer_id: str, processor: str, processor_customer_id: str
) -> None:
    """Record the processor's customer; a concurrent request may have done it first."""
    try:
        with sessions.begin() as session:
            session.add(
                ProcessorCustomer(
                    customer_id=customer_id,
                    processor=processor,
                    processor_customer_id=processor_customer_id,
                )
            )
    except IntegrityError:
        # Same customer, same idempotency key: the processor answered with the same id.
        log.info("processor customer already linked", extra={"customer_id": customer_id})


def processor_customer(
    sessions: sessionmaker[Session], adapter: KeepsCustomers, customer: Customer
) -> str:
    """The processor's customer for `customer`: the one linked, or one made now (the call is
    idempotent per customer, so a concurrent request gets the same one)."""
    with sessions() as session:
        linked = linked_customer(session, customer.id, adapter.name)
    if linked is None:
        linked = adapter.ensure_customer(CustomerRequest(customer.id, customer.email))
        link_customer(sessions, customer.id, adapter.name, linked)
    return linked


class Customers:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def get(self, customer_id: str) -> Customer:
        with self.sessions() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"no customer {customer_id}")
            return customer

    def ensure(
        self, external_id: str, email: str | None = None, name: str | None = None
    ) -> tuple[Customer, bool]:
        """The customer for the merchant's `external_id`, created if there is none:
        (customer, created). An existing one is returned as it is."""
        named = select(Customer).where(Customer.external_id == external_id)
        with self.sessions() as session:
            found = session.scalars(named).first()
            if found is not None:
                return found, False
            customer = Customer(external_id=external_id, email=email, name=name)
            session.add(customer)
            try:
                session.commit()
            except IntegrityError:  # another request created it at the same time
                session.rollback()
                return session.scalars(named).one(), False
            return customer, True
