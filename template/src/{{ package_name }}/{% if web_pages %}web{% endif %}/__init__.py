"""Server-rendered pages. The service never serves a card field of its own."""
