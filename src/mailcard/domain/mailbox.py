"""``Mailbox``: one e-mail address with an optional display name, already validated.

Parsing user text into mailboxes is :mod:`mailcard.validation.addresses`' job; this module only
holds the value that every other layer passes around.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mailbox:
    """An address such as ``客服团队 <support@company.com>``.

    ``address`` is normalised (domain lower-cased, IDN kept in Unicode form); the MIME layer decides
    how to encode it on the wire.
    """

    address: str
    display_name: str = ""

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def is_ascii(self) -> bool:
        return self.address.isascii()

    def __str__(self) -> str:
        if not self.display_name:
            return self.address
        return f"{self.display_name} <{self.address}>"
