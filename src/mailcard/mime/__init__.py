"""MIME building: ``MessageDraft`` -> ``BuiltMessage`` (bytes for SMTP DATA plus envelope facts).

Owns: header encoding (RFC 2047 / RFC 6532), IDNA for address domains, transfer-encoding choice,
multipart/alternative layout, Message-ID and Date. Not owned: dot-stuffing (the SMTP client) and the
SMTPUTF8 capability check (the transport). See docs/mime.md.
"""

from mailcard.mime.builder import build_message
from mailcard.mime.message import BuiltMessage, MessageDraft

__all__ = ["BuiltMessage", "MessageDraft", "build_message"]
