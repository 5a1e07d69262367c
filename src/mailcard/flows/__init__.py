"""Automated flows: an event starts a run that sends e-mail, branches, waits and notifies people.

Modules: :mod:`.model` (the definition users write, and its JSON Schema), :mod:`.parse` (JSON/YAML
in), :mod:`.check` (activation findings), :mod:`.smtp` (a block's SMTP account; inline secrets
sealed), :mod:`.events` (event types and template variables), :mod:`.store` (SQL, leases),
:mod:`.engine` (running blocks; :class:`FlowRunner`), :mod:`.service` (validate, activate, events
in: what the API and CLI call).

Flows sit beside the API and CLI in the one-way data flow: they compose e-mail through
:mod:`mailcard.compose` and learn the outcome from the outbox row, never from the delivery code.
"""

from mailcard.flows.engine import AcceptedEvent, FlowEngine, FlowRunner, IncomingEvent
from mailcard.flows.findings import FlowFinding
from mailcard.flows.model import FlowDefinition, flow_json_schema
from mailcard.flows.service import Activation, FlowService, Validation
from mailcard.flows.store import FlowStore

__all__ = [
    "AcceptedEvent",
    "Activation",
    "FlowDefinition",
    "FlowEngine",
    "FlowFinding",
    "FlowRunner",
    "FlowService",
    "FlowStore",
    "IncomingEvent",
    "Validation",
    "flow_json_schema",
]
