"""Mailings: one set of Twig templates sent to many recipients, each with their own data.

A mailing is stored whole when it is created (:class:`~mailcard.mailings.service.MailingService`
checks it first), then composed by the workers chunk by chunk (:class:`MailingRunner`) into the
outbox, from which the delivery worker sends each message as any other. Progress is read back from
the outbox rows, per recipient.
"""

from mailcard.mailings.model import Mailing, MailingContent, MailingProgress, NewRecipient, RecipientView
from mailcard.mailings.runner import MailingRunner
from mailcard.mailings.service import MailingService, RecipientInput
from mailcard.mailings.store import SqlMailingStore

__all__ = [
    "Mailing",
    "MailingContent",
    "MailingProgress",
    "MailingRunner",
    "MailingService",
    "NewRecipient",
    "RecipientInput",
    "RecipientView",
    "SqlMailingStore",
]
