"""The composition root: builds the real pieces from :class:`~mailcard.settings.Settings`.

Nothing is built at import time anywhere in mailcard; the CLI, the server and the tests call
:func:`build` (tests may pass their own settings, or swap a piece such as the transport for a fake).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from mailcard.crm.customers import CustomerStore
from mailcard.crm.stores import StoreStore
from mailcard.crm.templates import TemplateStore
from mailcard.crypto import SecretBox, load_or_create_key
from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.delivery.settings import SmtpSettings, parse_smtp_url
from mailcard.delivery.smtp import SmtpTransport
from mailcard.delivery.transport import Transport
from mailcard.delivery.worker import DeliveryWorker, WorkerOptions
from mailcard.devinbox import DevInboxStore
from mailcard.identity.credentials import Credentials
from mailcard.identity.users import UserStore
from mailcard.outbox.retry import RetryPolicy
from mailcard.outbox.sql import SqlOutboxStore
from mailcard.settings import Settings, load_settings
from mailcard.smtp_accounts import SmtpAccountStore

if TYPE_CHECKING:
    # Content pieces (templates, validation, MIME) load only where messages are composed, not in workers.
    from mailcard.card import CardService
    from mailcard.compose import Composer
    from mailcard.flows import FlowEngine, FlowRunner, FlowService
    from mailcard.mailings import MailingRunner, MailingService
    from mailcard.rendering import TemplateEngine
    from mailcard.senders.addresses import SenderAddressStore
    from mailcard.senders.choices import SenderChoices
    from mailcard.senders.confirmations import SenderConfirmations


@dataclass
class Container:
    settings: Settings
    engine: Engine
    outbox: SqlOutboxStore
    accounts: SmtpAccountStore
    secrets: SecretBox
    devinbox: DevInboxStore
    users: UserStore
    credentials: Credentials
    customers: CustomerStore
    stores: StoreStore
    _templates: TemplateEngine | None = None

    def retry_policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(
            max_attempts=s.retry_max_attempts,
            base_delay_seconds=s.retry_base_seconds,
            max_delay_seconds=s.retry_max_delay_seconds,
            max_age_seconds=s.retry_max_age_seconds,
        )

    def worker_options(self, **overrides: Any) -> WorkerOptions:
        s = self.settings
        values: dict[str, Any] = {
            "concurrency": s.worker_concurrency,
            "batch_size": s.worker_batch_size,
            "lease_seconds": s.lease_seconds,
            "poll_seconds": s.worker_poll_seconds,
        }
        values.update(overrides)
        return WorkerOptions(**values)

    def transport(self) -> Transport:
        return SmtpTransport()

    def worker(self, *, transport: Transport | None = None, **overrides: Any) -> DeliveryWorker:
        return DeliveryWorker(
            self.outbox,
            transport or self.transport(),
            self.accounts,
            policy=self.retry_policy(),
            options=self.worker_options(**overrides),
        )

    @property
    def templates(self) -> TemplateEngine:
        if self._templates is None:
            from mailcard.rendering import TemplateEngine

            self._templates = TemplateEngine()
        return self._templates

    def composer(self) -> Composer:
        from mailcard.compose import Composer

        return Composer(self.outbox, templates=self.templates)

    @cached_property
    def templates_store(self) -> TemplateStore:
        # Shares the container's compiled-template cache with the composer and previews.
        return TemplateStore(self.engine, renderer=self.templates)

    @cached_property
    def sender_addresses(self) -> SenderAddressStore:
        from mailcard.senders.addresses import SenderAddressStore

        return SenderAddressStore(self.engine)

    @cached_property
    def sender_choices(self) -> SenderChoices:
        from mailcard.senders.choices import SenderChoices

        return SenderChoices(users=self.users, stores=self.stores, addresses=self.sender_addresses)

    @cached_property
    def confirmations(self) -> SenderConfirmations:
        from datetime import timedelta

        from mailcard.senders.confirmations import SenderConfirmations

        return SenderConfirmations(
            self.engine,
            users=self.users,
            stores=self.stores,
            addresses=self.sender_addresses,
            composer=self.composer(),
            public_url=self.settings.public_url,
            system_sender=self.settings.system_sender_address(),
            lifetime=timedelta(hours=self.settings.confirmation_hours),
        )

    @cached_property
    def card(self) -> CardService:
        from mailcard.card import CardService

        return CardService(
            engine=self.engine,
            customers=self.customers,
            stores=self.stores,
            templates=self.templates_store,
            users=self.users,
            choices=self.sender_choices,
            accounts=self.accounts,
            composer=self.composer(),
            outbox=self.outbox,
            engine_templates=self.templates,
        )

    def flows(self) -> FlowService:
        from mailcard.flows import FlowService, FlowStore
        from mailcard.flows.check import FlowChecker

        checker = FlowChecker(self.templates, self.accounts, self.users)
        return FlowService(FlowStore(self.engine), checker, self.accounts, self.templates)

    def flow_engine(self) -> FlowEngine:
        from mailcard.flows import FlowEngine, FlowStore
        from mailcard.flows.customers import customer_context

        return FlowEngine(
            FlowStore(self.engine),
            composer=self.composer(),
            outbox=self.outbox,
            accounts=self.accounts,
            users=self.users,
            templates=self.templates,
            customers=lambda customer_id: customer_context(self.customers, customer_id),
            system_sender=self.settings.system_sender_address(),
            lease_seconds=self.settings.lease_seconds,
        )

    def flow_runner(self) -> FlowRunner:
        """Advances flow runs; runs beside the delivery worker in ``mailcard run`` and ``mailcard worker``."""
        from mailcard.flows import FlowRunner

        return FlowRunner(
            self.flow_engine(),
            poll_seconds=self.settings.worker_poll_seconds,
            batch_size=self.settings.worker_batch_size,
        )

    def mailings(self) -> MailingService:
        from mailcard.crm.template_data import customer_template_data
        from mailcard.flows.customers import find_customer
        from mailcard.mailings import MailingService, SqlMailingStore

        def customer_data(customer_id: str) -> dict[str, Any] | None:
            customer = find_customer(self.customers, customer_id)
            if customer is None:
                return None
            return customer_template_data(customer, users=self.users, stores=self.stores)

        return MailingService(
            SqlMailingStore(self.engine),
            self.composer(),
            self.outbox,
            self.accounts,
            customer_data,
            templates=self.templates_store,
        )

    def mailing_runner(self) -> MailingRunner:
        """Composes mailings; runs beside the delivery worker in ``mailcard run`` and ``mailcard worker``."""
        from mailcard.mailings import MailingRunner, SqlMailingStore

        return MailingRunner(
            SqlMailingStore(self.engine),
            self.composer(),
            self.outbox,
            lease_seconds=self.settings.lease_seconds,
            poll_seconds=self.settings.worker_poll_seconds,
        )

    def with_default_ca(self, settings: SmtpSettings) -> SmtpSettings:
        """``settings`` with the installation's CA file when they name none (applied at use, never stored)."""
        ca_file = self.settings.smtp_ca_file
        if ca_file and settings.ca_file is None:
            return replace(settings, ca_file=ca_file)
        return settings

    def dispose(self) -> None:
        self.engine.dispose()


def build(settings: Settings | None = None, *, migrate: bool = True) -> Container:
    settings = settings or load_settings()
    engine = create_db_engine(settings.resolved_database_url())
    if migrate:
        upgrade(engine)
    key = load_or_create_key(
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        settings.data_dir / "secret.key",
    )
    secrets = SecretBox(key)
    # Without a CA file OpenSSL uses the system store, which SSL_CERT_FILE already overrides.
    ca_file = settings.smtp_ca_file
    fallback = None
    if settings.smtp_url:
        fallback = parse_smtp_url(settings.smtp_url)
        if ca_file and fallback.ca_file is None:
            fallback = replace(fallback, ca_file=ca_file)
    accounts = SmtpAccountStore(
        engine, secrets, fallback=fallback, devinbox_port=settings.devinbox_port, default_ca_file=ca_file
    )
    users = UserStore(engine)
    return Container(
        settings=settings,
        engine=engine,
        outbox=SqlOutboxStore(engine),
        accounts=accounts,
        secrets=secrets,
        devinbox=DevInboxStore(settings.devinbox_dir),
        users=users,
        credentials=Credentials(engine, users, session_hours=settings.session_hours),
        customers=CustomerStore(engine),
        stores=StoreStore(engine),
    )
