"""Telling the merchant's application what happened: the merchant-facing events that
`domain/events.py` writes (the outbox) are published in order (`publish`), then delivered
to each `MERCHANT_WEBHOOK_URL`, signed per Standard Webhooks, and to the merchant's
`hooks.py` (`deliver`): at least once, in order per object and destination, retried with
backoff, dead-lettered, replayable (`admin`, the `events` CLI)."""

from .envelope import Event

__all__ = ["Event"]
