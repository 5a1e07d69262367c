"""Runs: events in, blocks executed in order, e-mail through the outbox, Success and Failure, tasks.

The real engine, store (SQLite) and delivery worker; only the SMTP transport is the recording fake
(the real servers are in test_e2e_*.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.flows.conftest import run_until

from mailcard.bootstrap import Container, build
from mailcard.crm.customers import NewCustomer
from mailcard.delivery.fake import RecordingTransport
from mailcard.flows import IncomingEvent
from mailcard.identity import NewUser, Role
from mailcard.settings import Settings

ORDER = {"order": {"number": "1042A", "totalSumm": 2599.0}}


def activate(container: Container, *blocks: dict[str, Any], condition: str | None = None) -> None:
    trigger: dict[str, Any] = {"event": "order.created"}
    if condition:
        trigger["condition"] = condition
    container.flows().activate({"id": "f", "name": "F", "trigger": trigger, "blocks": list(blocks)})


def send(**fields: Any) -> dict[str, Any]:
    block = {
        "id": "mail",
        "type": "send_email",
        "to": "{{ customer.firstName }} <{{ customer.email }}>",
        "from": "客服团队 <support@company.com>",
        "subject": "Заказ {{ order.number }}",
        "text": "Здравствуйте, {{ customer.firstName }}! {{ vars.greeting ?? '' }}",
    }
    block.update(fields)
    return block


TELL = {
    "id": "tell",
    "type": "notify_agent",
    "assignee": "customer.manager",
    "task": "E-mail failed: {{ email.error.reason }} (SMTP {{ email.error.smtp_code }})",
    "message": "{{ email.error.message }}",
}


def event(n: int = 1, customer: Any = None) -> IncomingEvent:
    return IncomingEvent(
        f"evt-{n}", "order.created", customer or {"email": "anna@example.com", "firstName": "Анна"}, ORDER
    )


def finished(container: Container, run_id: str) -> Any:
    run = container.flows().store.get_run(run_id)
    return run if run.status in ("completed", "failed") else None


def test_an_event_sends_the_email_and_the_run_completes_with_a_trace(container: Container) -> None:
    activate(container, send(on_success="done"), {"id": "done", "type": "end"})
    transport = RecordingTransport()
    [run] = container.flow_engine().accept(event()).runs
    done = run_until(container, lambda: finished(container, run.id), transport=transport)
    assert done.status == "completed" and done.context["email"]["status"] == "sent"
    [sent] = transport.sends
    assert sent.envelope.recipients == ("anna@example.com",)
    assert "Subject: =?utf-8?" in sent.data.decode() and b"support@company.com" in sent.data
    trace = container.flows().store.steps(run.id)
    assert [(s.block_id, s.edge) for s in trace] == [("mail", "success"), ("done", None)]
    assert trace[0].input["to"] == "Анна <anna@example.com>" and trace[0].input["subject"] == "Заказ 1042A"
    [message] = container.outbox.list(flow_run_id=run.id)
    assert trace[0].output["outbox_id"] == message.id and message.status == "sent"


def test_a_refused_email_takes_the_failure_branch_and_the_agent_task_names_the_reason(
    container: Container,
) -> None:
    manager = container.users.create(
        NewUser(login="olga", name="Ольга", email="olga@example.com", role=Role.MANAGER)
    )
    customer = container.customers.create(
        NewCustomer(email="gone@example.com", first_name="Иван", manager_id=manager.id)
    )
    activate(container, send(on_failure="tell"), TELL)
    transport = RecordingTransport()
    transport.refuse("gone@example.com", 550, "5.1.1 <gone@example.com>: Recipient address rejected")
    [run] = container.flow_engine().accept(event(customer=customer.id)).runs
    done = run_until(container, lambda: finished(container, run.id), transport=transport)
    assert done.status == "completed"
    assert done.context["email"]["error"]["reason"] == "recipient_rejected"
    [task], _ = container.flows().store.tasks(assignee_id=manager.id)
    assert task.title == "E-mail failed: recipient_rejected (SMTP 550)"
    assert "Recipient address rejected" in task.body
    assert task.details["email"]["error"]["smtp_code"] == 550
    assert [(s.block_id, s.edge) for s in container.flows().store.steps(run.id)] == [
        ("mail", "failure"),
        ("tell", "next"),
    ]


def test_a_failure_without_a_failure_branch_fails_the_run_with_the_reason(container: Container) -> None:
    activate(container, send())
    transport = RecordingTransport()
    transport.fail_next("auth_failed")
    [run] = container.flow_engine().accept(event()).runs
    done = run_until(container, lambda: finished(container, run.id), transport=transport)
    assert done.status == "failed" and "auth_failed" in (done.error or "")


def test_an_email_that_cannot_be_composed_takes_the_failure_branch(container: Container) -> None:
    activate(container, send(on_failure="tell"), TELL)
    [run] = container.flow_engine().accept(event(customer={"firstName": "Без адреса"})).runs
    container.flow_engine().advance_due()
    done = container.flows().store.get_run(run.id)
    assert done.status == "completed" and done.context["email"]["error"]["reason"] == "invalid_address"
    assert container.outbox.list(flow_run_id=run.id) == []


def test_the_blocks_retry_policy_is_honoured_then_failure(container: Container) -> None:
    activate(container, send(retry={"attempts": 2, "backoff_seconds": 0.1}, on_failure="tell"), TELL)
    transport = RecordingTransport()
    transport.fail_next("server_unavailable", times=10)
    [run] = container.flow_engine().accept(event()).runs
    done = run_until(container, lambda: finished(container, run.id), transport=transport)
    assert len(transport.sends) == 2, "two attempts, as the block says (the installation's default is 8)"
    assert done.context["email"]["error"]["reason"] == "server_unavailable"
    [task], _ = container.flows().store.tasks()
    assert "server_unavailable" in task.title and task.assignee_id is None


def test_conditions_variables_and_delays(container: Container) -> None:
    activate(
        container,
        {
            "id": "big",
            "type": "condition",
            "expression": "order.totalSumm > 1000",
            "on_true": "greet",
            "on_false": "mail",
        },
        {
            "id": "greet",
            "type": "set_variable",
            "name": "greeting",
            "value": "Спасибо за заказ на {{ order.totalSumm }} ₽!",
            "next": "pause",
        },
        {"id": "pause", "type": "delay", "seconds": 0.3, "next": "mail"},
        send(),
    )
    transport = RecordingTransport()
    engine = container.flow_engine()
    [run] = engine.accept(event()).runs
    engine.advance_due()
    waiting = container.flows().store.get_run(run.id)
    assert waiting.status == "waiting" and waiting.block_id == "mail" and not transport.sends
    assert engine.advance_due() == [], "not due before the delay is over"
    done = run_until(container, lambda: finished(container, run.id), transport=transport)
    assert done.status == "completed"
    assert "Спасибо за заказ на 2599 ₽!" in text_of(transport.sends[0].data)
    steps = container.flows().store.steps(run.id)
    assert [(s.block_id, s.edge) for s in steps] == [
        ("big", "true"),
        ("greet", "next"),
        ("pause", "next"),
        ("mail", "success"),
    ]
    assert steps[0].output == {"result": True} and steps[1].output == {"value": "Спасибо за заказ на 2599 ₽!"}


def test_events_are_idempotent_and_trigger_conditions_filter(container: Container) -> None:
    activate(container, send(), condition="order.totalSumm > 5000")
    engine = container.flow_engine()
    first = engine.accept(event(1))
    assert first.runs == [] and first.skipped == [{"flow_id": "f", "reason": "condition_false"}]
    container.flows().set_active("f", False)
    activate(container, send(), condition="order.totalSumm > 100")
    second = engine.accept(event(2))
    again = engine.accept(event(2))
    assert len(second.runs) == 1 and not again.created
    assert [r.id for r in again.runs] == [r.id for r in second.runs]
    assert container.flows().store.list_runs()[1] == 1


def test_an_unknown_customer_id_is_refused(container: Container) -> None:
    from mailcard.errors import InputError

    with pytest.raises(InputError) as raised:
        container.flow_engine().accept(event(customer=999))
    assert raised.value.code == "customer_not_found"


def test_notify_agent_can_email_the_assignee(container: Container) -> None:
    container.users.create(NewUser(login="support", name="Support", email="support-team@example.com"))
    activate(container, send(on_failure="tell"), TELL | {"assignee": "support", "email": True})
    transport = RecordingTransport()
    transport.fail_next("auth_failed")
    [run] = container.flow_engine().accept(event()).runs
    run_until(
        container, lambda: finished(container, run.id) and len(transport.sends) == 2, transport=transport
    )
    [task], _ = container.flows().store.tasks()
    notification = next(s for s in transport.sends if s.envelope.recipients == ("support-team@example.com",))
    assert "auth_failed" in text_of(notification.data) and task.notify_message_id is not None


def test_two_engines_never_advance_one_run_and_a_dead_owners_run_is_resumed(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path, devinbox_port=1, lease_seconds=0.3))
    try:
        activate(container, send())
        first, second = container.flow_engine(), container.flow_engine()
        first.owner, second.owner = "first", "second"
        [run] = first.accept(event()).runs
        [claimed] = first.store.claim_runs("first", limit=10, lease_seconds=0.3, now=_now())
        assert second.advance_due() == [], "leased by the first engine"
        # The first engine "dies" holding the lease; once it expires the second takes the run over.
        import time

        time.sleep(0.35)  # the lease must really expire; nothing to poll for
        assert second.advance_due() == [run.id]
        assert first.advance_due(ids=[run.id]) == []
        assert len(container.outbox.list(flow_run_id=run.id)) == 1
        assert claimed.id == run.id
    finally:
        container.dispose()


def test_a_crash_between_enqueue_and_recording_the_step_sends_once(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    activate(container, send())
    engine = container.flow_engine()
    [run] = engine.accept(event()).runs
    real_progress = type(engine.store).progress

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise SystemExit("killed")  # the process dies after the outbox committed the message

    monkeypatch.setattr(type(engine.store), "progress", crash)
    with pytest.raises(SystemExit):
        engine.advance_due()
    monkeypatch.setattr(type(engine.store), "progress", real_progress)
    # A new process: the old lease is the dead one's; take it over as its owner would after expiry.
    engine.store.claim_runs(engine.owner, limit=1, lease_seconds=60, now=_now(), ids=[run.id])
    engine._advance(engine.store.get_run(run.id))
    transport = RecordingTransport()
    done = run_until(container, lambda: finished(container, run.id), transport=transport)
    assert done.status == "completed"
    assert len(container.outbox.list(flow_run_id=run.id)) == 1 and len(transport.sends) == 1


def text_of(data: bytes) -> str:
    import email
    from email import policy

    message = email.message_from_bytes(data, policy=policy.default)
    body = message.get_body(("plain",))  # type: ignore[attr-defined]
    return f"{message['Subject']}\n{body.get_content()}"


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
