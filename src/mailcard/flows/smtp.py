"""Which SMTP account a send_email block uses, and keeping inline passwords out of stored flows.

A block names a saved account, gives inline settings (host, port, TLS, username, password, as the
product's Send Email block does), or nothing (the default account). At activation every inline
setting is saved as an ``inline`` account with its password encrypted
(:meth:`SmtpAccountStore.save_inline`), and the stored definition keeps only ``account_ref``.
"""

from __future__ import annotations

from mailcard.delivery.settings import SmtpSettings
from mailcard.errors import ConfigurationError, NotFoundError, SmtpUrlError
from mailcard.flows.model import FlowDefinition, InlineSmtp, SendEmailBlock
from mailcard.secret import Secret
from mailcard.smtp_accounts import SmtpAccountStore

__all__ = ["account_id_for", "inline_settings", "seal_inline_secrets", "settings_for"]


def inline_settings(spec: InlineSmtp) -> SmtpSettings:
    """The settings typed into the block (raises :class:`SmtpUrlError` with a hint when unusable)."""
    return SmtpSettings(
        host=spec.host,
        port=spec.port,
        security=spec.resolved_security(),
        username=spec.username or None,
        password=Secret(spec.password) if spec.password else None,
        name=f"{spec.host}:{spec.port}",
    )


def seal_inline_secrets(definition: FlowDefinition, accounts: SmtpAccountStore) -> FlowDefinition:
    """A copy whose inline SMTP settings are saved accounts: no password left in the definition."""
    blocks = []
    for block in definition.blocks:
        if isinstance(block, SendEmailBlock) and isinstance(block.smtp, InlineSmtp) and block.smtp.password:
            account = accounts.save_inline(inline_settings(block.smtp))
            sealed = block.smtp.model_copy(update={"password": None, "account_ref": account.name})
            block = block.model_copy(update={"smtp": sealed})
        blocks.append(block)
    return definition.model_copy(update={"blocks": blocks})


def account_id_for(block: SendEmailBlock, accounts: SmtpAccountStore) -> int | None:
    """The outbox's ``smtp_account_id`` for this block; ``None`` is the default account."""
    smtp = block.smtp
    if smtp is None:
        return None
    if isinstance(smtp, str):
        return accounts.by_name(smtp).id
    if smtp.account_ref:
        return accounts.by_name(smtp.account_ref).id
    # Inline settings without a password (an open relay) are saved on first use; same settings, same row.
    return accounts.save_inline(inline_settings(smtp)).id


def settings_for(block: SendEmailBlock, accounts: SmtpAccountStore) -> SmtpSettings:
    """The settings the block would send with (for the From check and the probe).

    Raises :class:`NotFoundError` for an unknown account name, :class:`SmtpUrlError` for unusable inline
    settings, :class:`ConfigurationError` for an account whose secret cannot be decrypted.
    """
    smtp = block.smtp
    if smtp is None:
        return accounts.resolve(None).settings
    if isinstance(smtp, str):
        return accounts.settings_for(accounts.by_name(smtp).id)
    if smtp.account_ref and not smtp.password:
        try:
            return accounts.settings_for(accounts.by_name(smtp.account_ref).id)
        except NotFoundError:
            raise ConfigurationError(
                f"The saved password of this block's SMTP settings ({smtp.account_ref}) is gone.",
                code="smtp_account_missing",
                hint="Type the SMTP password into the block again and activate the flow.",
            ) from None
    if smtp.username and not smtp.password:
        raise SmtpUrlError(
            "An SMTP username was given without a password.",
            code="smtp_password_missing",
            hint="Type the password (or the provider's app password) into the block.",
        )
    return inline_settings(smtp)
