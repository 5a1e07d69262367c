"""The flow definition: what users write in JSON or YAML, as pydantic models.

This module owns the shape of a flow (trigger, blocks, edges) and its published JSON Schema
(:func:`flow_json_schema`, shipped as ``docs/flow.schema.json``). It does not check that templates
compile or addresses parse (:mod:`mailcard.flows.check`), nor run anything (:mod:`mailcard.flows.engine`).

Edges live on the block they leave: ``on_success``/``on_failure`` on ``send_email``,
``on_true``/``on_false`` on ``condition``, ``next`` on the others. A missing edge ends the run. The
names avoid bare ``true``/``false``/``on`` keys, which YAML 1.1 reads as booleans.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Block",
    "ConditionBlock",
    "DelayBlock",
    "EndBlock",
    "FlowDefinition",
    "InlineSmtp",
    "NotifyAgentBlock",
    "RetryPolicySpec",
    "SendEmailBlock",
    "SetVariableBlock",
    "Trigger",
    "flow_json_schema",
]

# A longer wait is almost certainly a typo (days for minutes), and would overflow a date.
MAX_DELAY_DAYS = 366

BlockId = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$", description="Unique in the flow.")
]
Edge = Annotated[BlockId | None, Field(description="The block to go to; none ends the run.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Trigger(_Strict):
    """Which event starts a run, and on which condition."""

    event: str = Field(min_length=1, max_length=100, description="Event type, e.g. `order.created`.")
    condition: str | None = Field(
        None,
        description="Twig expression over the event (`order.totalSumm > 100`); the run starts only when true.",
    )
    sample: dict[str, Any] | None = Field(
        None,
        description=(
            "Example `data` of the event, for checking templates at activation when the event type is "
            "not one mailcard knows."
        ),
    )


class InlineSmtp(_Strict):
    """SMTP settings typed into the block, as in mail apps: host, port, TLS, username, password.

    The password is encrypted when the flow is activated; the stored definition keeps only
    ``account_ref``, the name of the account that holds it.
    """

    host: str = Field(min_length=1, max_length=255, description="e.g. smtp.gmail.com")
    port: int = Field(587, ge=1, le=65535, description="587 (STARTTLS) or 465 (SSL/TLS).")
    tls: bool = Field(True, description="Use a secure connection: STARTTLS on 587, implicit TLS on 465.")
    security: Literal["starttls", "tls", "none"] | None = Field(
        None, description="Overrides `tls`: starttls, tls (implicit, port 465) or none."
    )
    username: str | None = Field(None, max_length=320, description="Usually the full e-mail address.")
    password: str | None = Field(
        None, max_length=1024, description="Password or app password; never stored in the definition."
    )
    account_ref: str | None = Field(
        None, max_length=200, description="Set by mailcard: the account holding the encrypted password."
    )

    def resolved_security(self) -> Literal["starttls", "tls", "none"]:
        if self.security is not None:
            return self.security
        if not self.tls:
            return "none"
        return "tls" if self.port == 465 else "starttls"


class RetryPolicySpec(_Strict):
    """How often a temporarily refused message is tried, and how long to wait in between."""

    attempts: int = Field(3, ge=1, le=50, description="Attempts in all, the first included.")
    backoff_seconds: float = Field(
        30.0, gt=0, le=86400, description="Wait before the first retry; doubles after each attempt."
    )


class _BlockBase(_Strict):
    id: BlockId
    title: str | None = Field(None, max_length=200, description="A label for people.")


class SendEmailBlock(_BlockBase):
    """Send an e-mail; the run waits until the outbox settles it, then follows Success or Failure."""

    type: Literal["send_email"]
    to: str = Field(
        min_length=1,
        description="Recipients, comma-separated; `Name <addr>` and variables (`{{ customer.email }}`).",
    )
    sender: str = Field(
        alias="from", min_length=1, description="`Name <addr>`, e.g. `客服团队 <support@company.com>`."
    )
    subject: str = Field(min_length=1, description="Twig template.")
    text: str | None = Field(None, description="Plain-text body, a Twig template.")
    html: str | None = Field(None, description="HTML body (optional), a Twig template.")
    preheader: str | None = None
    smtp: str | InlineSmtp | None = Field(
        None, description="A saved account's name, inline settings, or nothing for the default account."
    )
    retry: RetryPolicySpec | None = Field(None, description="Default: the installation's retry policy.")
    on_success: Edge = None
    on_failure: Edge = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _has_body(self) -> SendEmailBlock:
        if not self.text and not self.html:
            raise ValueError("a send_email block needs a text or an html body")
        return self


class ConditionBlock(_BlockBase):
    """Branch on a Twig expression: ``on_true`` or ``on_false``."""

    type: Literal["condition"]
    expression: str = Field(
        min_length=1, description="Twig expression, e.g. `email.error.reason == 'auth_failed'`."
    )
    on_true: Edge = None
    on_false: Edge = None


class DelayBlock(_BlockBase):
    """Wait, durably (a restart does not lose or shorten the wait)."""

    type: Literal["delay"]
    seconds: float = Field(0, ge=0, allow_inf_nan=False)
    minutes: float = Field(0, ge=0, allow_inf_nan=False)
    hours: float = Field(0, ge=0, allow_inf_nan=False)
    days: float = Field(0, ge=0, allow_inf_nan=False)
    next: Edge = None

    @property
    def total_seconds(self) -> float:
        return self.seconds + 60 * self.minutes + 3600 * self.hours + 86400 * self.days

    @model_validator(mode="after")
    def _at_most_a_year(self) -> DelayBlock:
        if self.total_seconds > MAX_DELAY_DAYS * 86400:
            raise ValueError(f"a delay can be at most {MAX_DELAY_DAYS} days")
        return self


class SetVariableBlock(_BlockBase):
    """Set ``vars.<name>``; a string value is a Twig template."""

    type: Literal["set_variable"]
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    value: Any = Field(description="A Twig template (string) or any JSON value.")
    next: Edge = None


class NotifyAgentBlock(_BlockBase):
    """Create a task for a person (a manager or support user), optionally e-mailed to them."""

    type: Literal["notify_agent"]
    assignee: str = Field(
        min_length=1,
        description="A user's login, or `customer.manager` for the customer's manager.",
    )
    task: str = Field(min_length=1, description="Task title, a Twig template.")
    message: str = Field("", description="Task details, a Twig template.")
    email: bool = Field(False, description="Also e-mail the task to the assignee.")
    next: Edge = None


class EndBlock(_BlockBase):
    """End the run."""

    type: Literal["end"]


Block = Annotated[
    SendEmailBlock | ConditionBlock | DelayBlock | SetVariableBlock | NotifyAgentBlock | EndBlock,
    Field(discriminator="type"),
]


class FlowDefinition(_Strict):
    """A flow: when an event of ``trigger.event`` arrives, run the blocks from ``start``."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$", description="Stable identifier, e.g. `order-follow-up`."
    )
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    trigger: Trigger
    start: BlockId | None = Field(None, description="The first block; default: the first in the list.")
    blocks: list[Block] = Field(min_length=1, max_length=200)

    @property
    def start_block(self) -> str:
        return self.start or self.blocks[0].id

    def block(
        self, block_id: str
    ) -> SendEmailBlock | ConditionBlock | DelayBlock | SetVariableBlock | NotifyAgentBlock | EndBlock:
        for block in self.blocks:
            if block.id == block_id:
                return block
        raise KeyError(block_id)

    def stored_form(self) -> dict[str, Any]:
        """The JSON kept in the database and compared between versions (``from``, not ``sender``)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def edges_of(block: Any) -> dict[str, str | None]:
    """The block's outgoing edges by name (success, failure, true, false, next)."""
    if isinstance(block, SendEmailBlock):
        return {"success": block.on_success, "failure": block.on_failure}
    if isinstance(block, ConditionBlock):
        return {"true": block.on_true, "false": block.on_false}
    if isinstance(block, EndBlock):
        return {}
    return {"next": block.next}


def flow_json_schema() -> dict[str, Any]:
    """The published JSON Schema of a flow definition (``docs/flow.schema.json``)."""
    schema = FlowDefinition.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://mailcard.invalid/flow.schema.json"
    return schema
