"""Activation: every finding at once, inline SMTP passwords never stored, versions."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import select

from mailcard.bootstrap import Container
from mailcard.db.schema import flow_versions, smtp_accounts
from mailcard.errors import FlowInvalidError
from mailcard.flows import IncomingEvent


def flow(*blocks: dict[str, Any], event: str = "order.created", **extra: Any) -> dict[str, Any]:
    return {"id": "f", "name": "F", "trigger": {"event": event}, "blocks": list(blocks), **extra}


def send(**fields: Any) -> dict[str, Any]:
    block = {
        "id": "mail",
        "type": "send_email",
        "to": "{{ customer.email }}",
        "from": "客服团队 <support@company.com>",
        "subject": "Заказ {{ order.number }}",
        "text": "Здравствуйте, {{ customer.firstName }}!",
    }
    block.update(fields)
    return block


def codes(findings: list[Any]) -> set[tuple[str, str | None, str | None]]:
    return {(f.code, f.block_id, f.field) for f in findings}


def test_a_good_flow_has_no_findings(container: Container) -> None:
    result = container.flows().validate(flow(send()))
    assert result.valid and result.findings == []


def test_every_problem_is_reported_at_once(container: Container) -> None:
    definition = flow(
        send(
            to="{{ customer.email }}, not an address",
            subject="Заказ {{ ordr.number }}",
            html='<p>Hi</p><script>alert(1)</script><a href="https://bit.ly/abc">track</a>',
            on_failure="nowhere",
        ),
        {"id": "check", "type": "condition", "expression": "order.totalSumm >"},
        {"id": "tell", "type": "notify_agent", "assignee": "nobody", "task": "x"},
    )
    result = container.flows().validate(definition)
    found = codes(result.findings)
    assert not result.valid
    assert ("unresolved_variable", "mail", "subject") in found
    assert ("invalid_address", "mail", "to") in found
    assert ("unsafe_script", "mail", "html") in {(c, b, f) for c, b, f in found if c.startswith("unsafe")}
    assert ("shortened_link", "mail", "html") in found
    assert ("unknown_block", "mail", "on_failure") in found
    assert ("template_syntax_error", "check", "expression") in found
    assert ("assignee_not_found", "tell", "assignee") in found
    assert ("unreachable_block", "check", None) in found
    unresolved = next(f for f in result.findings if f.code == "unresolved_variable")
    assert "ordr; did you mean order?" in unresolved.message and unresolved.line == 1
    severities = {f.code: f.severity for f in result.findings}
    assert severities["shortened_link"] == "warning" and severities["unsafe_script"] == "error"


def test_activation_refuses_with_all_findings(container: Container) -> None:
    with pytest.raises(FlowInvalidError) as raised:
        container.flows().activate(flow(send(subject="{{ ordr.number }}", to="nope")))
    data = raised.value.to_dict()
    assert data["code"] == "flow_invalid"
    assert {f["code"] for f in data["findings"]} >= {"unresolved_variable", "invalid_address"}
    assert container.flows().store.list_flows() == []


def test_templates_are_checked_with_the_variables_of_the_trigger_event(container: Container) -> None:
    uses_order = send(subject="{{ order.number }}")
    assert container.flows().validate(flow(uses_order, event="order.created")).valid
    on_customer_event = container.flows().validate(flow(uses_order, event="customer.created"))
    assert ("unresolved_variable", "mail", "subject") in codes(on_customer_event.findings)
    custom = flow(send(subject="{{ ticket.id }}"), event="helpdesk.ticket")
    custom["trigger"]["sample"] = {"ticket": {"id": 7}}
    assert container.flows().validate(custom).valid
    unknown = flow(send(), event="helpdesk.ticket")
    assert ("unknown_event_type", None, "trigger.event") in codes(
        container.flows().validate(unknown).findings
    )


def test_email_error_variables_are_known_to_later_blocks(container: Container) -> None:
    definition = flow(
        send(on_failure="tell"),
        {
            "id": "tell",
            "type": "notify_agent",
            "assignee": "customer.manager",
            "task": "Failed: {{ email.error.reason }} ({{ email.error.smtp_code }})",
            "message": "{{ email.error.message }}",
        },
    )
    assert container.flows().validate(definition).valid


def test_from_differing_from_the_smtp_login_warns(container: Container) -> None:
    inline = {"host": "smtp.example.com", "port": 587, "username": "shop@example.com", "password": "secret"}
    result = container.flows().validate(flow(send(smtp=inline, **{"from": "Other <other@elsewhere.com>"})))
    [warning] = [f for f in result.findings if f.code == "sender_account_mismatch"]
    assert warning.severity == "warning" and "may fail or land in spam" in warning.message
    assert result.valid, "a warning does not block activation"


def test_inline_smtp_port_and_security_mismatch_warns(container: Container) -> None:
    inline = {"host": "smtp.example.com", "port": 465, "security": "starttls"}
    result = container.flows().validate(flow(send(smtp=inline)))
    assert ("tls_mismatch", "mail", "smtp.port") in codes(result.findings)


def test_unknown_saved_account_is_an_error(container: Container) -> None:
    result = container.flows().validate(flow(send(smtp="no-such-account")))
    assert ("smtp_account_not_found", "mail", "smtp") in codes(result.findings)


def test_the_stored_definition_never_contains_the_inline_password(container: Container) -> None:
    inline = {
        "host": "smtp.example.com",
        "port": 587,
        "username": "support@company.com",
        "password": "s3cr3t-pa55",
    }
    activation = container.flows().activate(flow(send(smtp=inline)))
    stored = activation.version.definition["blocks"][0]["smtp"]
    assert "password" not in stored and stored["account_ref"].startswith("inline:")
    with container.engine.connect() as conn:
        raw = json.dumps([r.definition for r in conn.execute(select(flow_versions))])
        encrypted = conn.execute(
            select(smtp_accounts.c.password_encrypted).where(smtp_accounts.c.name == stored["account_ref"])
        ).scalar_one()
    assert "s3cr3t-pa55" not in raw and "s3cr3t-pa55" not in encrypted
    account = container.accounts.by_name(stored["account_ref"])
    settings = container.accounts.settings_for(account.id)
    assert settings.password is not None and settings.password.reveal() == "s3cr3t-pa55"
    again = container.flows().activate(flow(send(smtp=inline)))
    assert not again.created, "the same definition (same password) is the same version"
    from_stored = container.flows().activate(activation.version.definition)
    assert not from_stored.created, "the stored form activates as the same version"


def test_a_changed_definition_is_a_new_version_and_runs_keep_theirs(container: Container) -> None:
    service, engine = container.flows(), container.flow_engine()
    first = service.activate(flow(send()))
    run_v1 = engine.accept(
        IncomingEvent("e1", "order.created", {"email": "a@example.com"}, {"order": {"number": "1"}})
    ).runs[0]
    changed = copy.deepcopy(flow(send(subject="Новый заказ {{ order.number }}")))
    second = service.activate(changed)
    assert (first.version.version, second.version.version, second.created) == (1, 2, True)
    run_v2 = engine.accept(
        IncomingEvent("e2", "order.created", {"email": "a@example.com"}, {"order": {"number": "2"}})
    ).runs[0]
    assert (run_v1.version, run_v2.version) == (1, 2)
    engine.advance_due()
    trace_v1 = service.store.steps(run_v1.id)[0]
    assert trace_v1.input["subject"] == "Заказ 1", "the run started on version 1 sends version 1's subject"
    assert service.store.steps(run_v2.id)[0].input["subject"] == "Новый заказ 2"
    assert [v.version for v in service.store.versions("f")] == [2, 1]


def test_only_active_flows_start_runs(container: Container) -> None:
    service, engine = container.flows(), container.flow_engine()
    service.activate(flow(send()))
    service.set_active("f", False)
    accepted = engine.accept(
        IncomingEvent("e1", "order.created", {"email": "a@example.com"}, {"order": {"number": "1"}})
    )
    assert accepted.runs == []
    service.set_active("f", True)
    accepted = engine.accept(
        IncomingEvent("e2", "order.created", {"email": "a@example.com"}, {"order": {"number": "1"}})
    )
    assert len(accepted.runs) == 1


def test_the_shipped_examples_are_valid_and_activate(container: Container) -> None:
    from tests.flows.conftest import EXAMPLES

    for path in sorted(EXAMPLES.glob("*.yaml")):
        checked = container.flows().validate(path.read_text("utf-8"), filename=path.name)
        assert checked.valid and checked.findings == [], (path.name, checked.findings)
        assert container.flows().activate(path.read_text("utf-8")).version.version == 1
    ids = {f.id for f in container.flows().store.list_flows()}
    assert ids == {"appointment-confirmation", "order-follow-up", "retry-then-notify"}
