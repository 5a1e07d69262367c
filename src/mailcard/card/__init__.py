"""Sending from the customer card: To from the customer, From from the sender choices, content from a
"Customer" template or free text, then through :mod:`mailcard.compose` into the outbox.

Owns the card's use cases (sender options, preview, send, test send, the customer's e-mail
timeline). Rendering, validation and delivery belong to the layers it calls.
"""

from mailcard.card.service import CardEmail, CardService

__all__ = ["CardEmail", "CardService"]
