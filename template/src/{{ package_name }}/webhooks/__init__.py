"""Webhooks: verify, store durably (the inbox), then apply to the domain."""
