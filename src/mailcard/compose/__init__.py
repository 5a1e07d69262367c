"""Compose: the single way in for "send an e-mail".

Resolves sender and recipients, renders templates, validates content, builds the MIME message and
enqueues it in the outbox. It does not know SMTP exists.
"""

from mailcard.compose.service import BulkItem, Composer, EmailRequest, PreparedEmail, Submission

__all__ = ["BulkItem", "Composer", "EmailRequest", "PreparedEmail", "Submission"]
