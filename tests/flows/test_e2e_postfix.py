"""Flows against the real Postfix + Dovecot: delivered mail, a wrong SMTP password, a 450 recipient.

The delivery worker and the flow runner run together in-process as ``mailcard run`` runs them; the
send_email blocks use inline SMTP settings (host, port, TLS, username, password) to the Postfix
submission port, as a user types them into the block.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.flows.conftest import run_until

from mailcard.bootstrap import Container, build
from mailcard.flows import IncomingEvent
from mailcard.settings import Settings

if TYPE_CHECKING:
    from tests.support.postfix import PostfixServer

pytestmark = pytest.mark.postfix


@pytest.fixture()
def mailcard(tmp_path: Path, postfix: PostfixServer) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path, devinbox_port=1, smtp_ca_file=str(postfix.ca_file)))
    try:
        yield built
    finally:
        built.dispose()


def inline_smtp(postfix: PostfixServer, password: str | None = None) -> dict[str, Any]:
    return {
        "host": postfix.host,
        "port": postfix.submission_port,
        "tls": True,
        "username": postfix.sender,
        "password": password if password is not None else postfix.users[postfix.sender],
    }


def order_flow(
    postfix: PostfixServer, *, password: str | None = None, retry: dict[str, Any] | None = None
) -> dict[str, Any]:
    mail: dict[str, Any] = {
        "id": "confirm",
        "type": "send_email",
        "to": "{{ customer.lastName }}{{ customer.firstName }} <{{ customer.email }}>",
        "from": f"客服团队 <{postfix.sender}>",
        "subject": "订单 {{ order.number }} 已发货",
        "text": "{{ customer.lastName }}{{ customer.firstName }}，您好！您的订单 {{ order.number }} 已发货。",
        "smtp": inline_smtp(postfix, password),
        "on_failure": "tell",
    }
    if retry:
        mail["retry"] = retry
    return {
        "id": "shipped",
        "name": "Order shipped",
        "trigger": {"event": "order.shipped"},
        "blocks": [
            mail,
            {
                "id": "tell",
                "type": "notify_agent",
                "assignee": "customer.manager",
                "task": "Shipping e-mail failed: {{ email.error.reason }} (SMTP {{ email.error.smtp_code }})",
                "message": "{{ email.error.message }}",
            },
        ],
    }


def shipped(to: str, n: int = 1) -> IncomingEvent:
    customer = {"email": to, "firstName": "芳", "lastName": "王"}
    return IncomingEvent(f"ship-{to}-{n}", "order.shipped", customer, {"order": {"number": f"A-{n}"}})


def finished(mailcard: Container, run_id: str) -> Any:
    run = mailcard.flows().store.get_run(run_id)
    return run if run.status in ("completed", "failed") else None


def test_an_event_becomes_an_email_in_the_real_mailbox(mailcard: Container, postfix: PostfixServer) -> None:
    mailcard.flows().activate(order_flow(postfix))
    to = postfix.fresh_address("wang")
    [run] = mailcard.flow_engine().accept(shipped(to)).runs
    done = run_until(mailcard, lambda: finished(mailcard, run.id))
    assert done.status == "completed" and done.context["email"]["status"] == "sent"
    [raw] = postfix.wait_for_messages(to, 1)
    received = email.message_from_bytes(raw, policy=policy.default)
    assert received["Subject"] == "订单 A-1 已发货"
    assert str(received["From"]) == f"客服团队 <{postfix.sender}>"
    assert "王芳，您好！" in received.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert [(s.block_id, s.edge) for s in mailcard.flows().store.steps(run.id)] == [("confirm", "success")]


def test_a_wrong_smtp_password_takes_the_failure_branch_and_the_task_names_auth_failed(
    mailcard: Container, postfix: PostfixServer
) -> None:
    mailcard.flows().activate(order_flow(postfix, password="wrong password"))
    to = postfix.fresh_address("nobody-gets-this")
    [run] = mailcard.flow_engine().accept(shipped(to)).runs
    done = run_until(mailcard, lambda: finished(mailcard, run.id))
    error = done.context["email"]["error"]
    assert (error["reason"], error["smtp_code"]) == ("auth_failed", 535)
    [task], _ = mailcard.flows().store.tasks()
    assert task.title == "Shipping e-mail failed: auth_failed (SMTP 535)"
    assert task.status == "open" and task.run_id == run.id
    assert postfix.messages(to) == []
    [message] = mailcard.outbox.list(flow_run_id=run.id)
    assert message.attempt_count == 1, "a wrong password is permanent: never retried"


def test_a_450_recipient_is_retried_as_the_block_says_then_fails(
    mailcard: Container, postfix: PostfixServer
) -> None:
    mailcard.flows().activate(order_flow(postfix, retry={"attempts": 3, "backoff_seconds": 0.2}))
    [run] = mailcard.flow_engine().accept(shipped(postfix.defer_address)).runs
    done = run_until(mailcard, lambda: finished(mailcard, run.id), timeout=30)
    error = done.context["email"]["error"]
    assert error["smtp_code"] == 450
    [message] = mailcard.outbox.list(flow_run_id=run.id)
    attempts = mailcard.outbox.attempts(message.id)
    assert [a.outcome for a in attempts] == ["transient"] * 3 and message.status == "failed"
    [task], _ = mailcard.flows().store.tasks()
    assert "(SMTP 450)" in task.title and error["reason"] in task.title
    trace = mailcard.flows().store.steps(run.id)
    assert trace[0].edge == "failure" and trace[0].output["attempts"] == 3
