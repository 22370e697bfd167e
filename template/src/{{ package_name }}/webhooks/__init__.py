"""Webhooks: verify and store durably (the inbox), then apply (the worker). Nothing here is
specific to a processor: each adapter verifies its own deliveries and reads its own events
into neutral facts, which the domain applies."""
