"""Sender identities: which From addresses a user may send from, and proving ownership of them.

Owns the three kinds of From a card offers (the customer's manager, the customer's store, the
additional addresses of the system mail settings), their confirmation by link or code, and the rule
that only confirmed, allowed addresses send. It does not send anything itself: confirmation e-mails
go through :mod:`mailcard.compose` like every other message.
"""
