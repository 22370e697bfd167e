"""Processor-neutral rules, and the only code that changes money state (payments, refunds,
disputes, subscriptions, invoices, customers). It never imports a processor SDK: adapters
hand it neutral types (`processors/base.py`) and facts (`facts.py`)."""
