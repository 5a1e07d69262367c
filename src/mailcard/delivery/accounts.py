"""What the worker needs to know about an SMTP account: connection settings and send limits.

The worker asks an :class:`AccountResolver` (a seam) and never touches account storage itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mailcard.delivery.settings import SmtpSettings


@dataclass(frozen=True, slots=True)
class AccountLimits:
    max_connections: int = 4
    per_second: float | None = None
    window_limit: int | None = None
    window_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ResolvedAccount:
    key: str  # stable identity for pooling, limits and logs (never contains the password)
    settings: SmtpSettings
    limits: AccountLimits = AccountLimits()


class AccountResolver(Protocol):
    def resolve(self, account_id: int | None) -> ResolvedAccount:
        """The account a message goes through; ``None`` means the default account (or the dev inbox).

        Raises ``ConfigurationError`` when the account is missing or its secret cannot be decrypted.
        """
        ...


class StaticAccountResolver:
    """Every message through one account: for tests, benchmarks and one-off CLI sends."""

    def __init__(self, account: ResolvedAccount) -> None:
        self._account = account

    def resolve(self, account_id: int | None) -> ResolvedAccount:
        return self._account
