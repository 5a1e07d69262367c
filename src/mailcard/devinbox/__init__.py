"""The dev inbox: an embedded capture SMTP server for development. Nothing it receives leaves the machine.

Messages are kept as files (``<id>.eml`` with a ``<id>.json`` summary) so ``mailcard inbox`` can read
them without the server running.
"""

from mailcard.devinbox.server import BANNER, DevInbox
from mailcard.devinbox.store import CapturedMessage, DevInboxStore

__all__ = ["BANNER", "CapturedMessage", "DevInbox", "DevInboxStore"]
