"""Customers: identified by the merchant's own id (`external_id`), never by an email.

An email is contact data: two people may type the same one, and whoever types someone
else's must not reach that customer's subscriptions or billing portal. So nothing here
finds a customer by email; `POST /api/customers` with the merchant's user id is the one
way to name the same customer twice (account links then open its pages: `links.py`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..models import Customer
from .errors import NotFound


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
