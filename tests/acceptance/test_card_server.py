"""Sending from a customer card through the running server (``mailcard run``), as the README walks through.

Two set-ups, both real processes: the dev inbox with the demo data (``MAILCARD_DEMO_DATA=true``, what
``make run`` gives), and a real Postfix + Dovecot as the SMTP server (STARTTLS + AUTH), where the
server's own 250 and 553 are what the customer's timeline shows. Tokens come from the CLI, as a
newcomer gets them; everything else goes through the HTTP API.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest
from tests.acceptance.conftest import MAILCARD, Cli, CliResult
from tests.support.live_server import RunningMailcard, mailcard_run
from tests.support.postfix_tools import wait_for

if TYPE_CHECKING:
    from tests.support.postfix import PostfixServer

NOT_VERIFIED = (
    "Transactional e-mail is disabled for this user: confirm the address and allow it to be used as a sender."
)
DELIVERY_SECONDS = 30


@pytest.fixture
def demo(mailcard_env: dict[str, str], tmp_path: Path) -> Iterator[RunningMailcard]:
    env = mailcard_env | {"MAILCARD_DEMO_DATA": "true", "MAILCARD_WORKER_POLL_SECONDS": "0.1"}
    with mailcard_run(env, tmp_path / "run.log") as server:
        yield server


def token_for(cli: Cli, server: RunningMailcard, login: str) -> str:
    made = cli("token", "create", "--user", login, "--name", "acceptance", "--json", env=server.env)
    assert made.code == 0, made.stdout + made.stderr
    token: str = made.json["token"]
    return token


def find_customer(client: httpx.Client, words: str) -> dict[str, Any]:
    found = client.get("/api/customers", params={"q": words})
    assert found.status_code == 200, found.text
    [customer] = found.json()["items"]
    return dict(customer)


def wait_for_status(client: httpx.Client, message_id: str, wanted: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def settled() -> bool:
        seen.update(client.get(f"/api/messages/{message_id}").json())
        return seen.get("status") in ("sent", "failed")

    try:
        wait_for(settled, DELIVERY_SECONDS, f"message {message_id} to settle", interval=0.1)
    except TimeoutError:
        raise AssertionError(f"message {message_id} did not settle: {seen}") from None
    assert seen["status"] == wanted, seen
    return seen


def captured(cli: Cli, server: RunningMailcard, recipient: str) -> list[email.message.EmailMessage]:
    """Messages the dev inbox holds for ``recipient``, newest first, parsed from the bytes received."""
    listed = cli("inbox", "list", "--json", env=server.env)
    assert listed.code == 0, listed.stderr
    found = []
    for summary in listed.json["messages"]:
        if recipient in summary["recipients"]:
            raw = cli("inbox", "show", summary["id"], "--raw", env=server.env).stdout
            found.append(email.message_from_string(raw, policy=email.policy.default))
    return found


def wait_captured(cli: Cli, server: RunningMailcard, recipient: str) -> email.message.EmailMessage:
    found: list[email.message.EmailMessage] = []

    def arrived() -> bool:
        found[:] = captured(cli, server, recipient)
        return bool(found)

    wait_for(arrived, DELIVERY_SECONDS, f"a message for {recipient} in the dev inbox", interval=0.2)
    return found[0]


def confirmation_code(message: email.message.EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"code: (\d{6})", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def html_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def hidden(preheader: str, html: str) -> bool:
    """The preheader sits in a display:none block at the top of the body, as inbox previews read it."""
    return re.search(r'<div style="display:none;[^"]*">' + re.escape(preheader) + "</div>", html) is not None


# -- the dev inbox and the demo data -------------------------------------------------------------------


def test_a_demo_manager_sends_from_the_card_and_it_lands_in_the_dev_inbox(
    cli: Cli, demo: RunningMailcard
) -> None:
    olga = demo.client(token_for(cli, demo, "olga"))
    anna = find_customer(olga, "Анна")
    assert anna["email"] == "anna.ivanova@example.com"

    options = olga.get(f"/api/customers/{anna['id']}/senders").json()
    assert [(o["kind"], o["usable"]) for o in options] == [
        ("manager", True),
        ("store", True),
        ("address", True),
    ]
    [template] = [
        t
        for t in olga.get("/api/templates", params={"event": "customer"}).json()["items"]
        if "(RU)" in t["name"]
    ]
    body = {"from": "manager", "template_id": template["id"]}

    preview = olga.post(f"/api/customers/{anna['id']}/emails/preview", json=body).json()
    assert preview["can_send"] is True and preview["verdict"] == "ok", preview
    assert preview["subject"] == "Анна, ждём вас в магазине «Ромашка на Тверской»"

    sent = olga.post(f"/api/customers/{anna['id']}/emails", json=body, headers={"Idempotency-Key": "anna-1"})
    assert sent.status_code == 202, sent.text
    again = olga.post(f"/api/customers/{anna['id']}/emails", json=body, headers={"Idempotency-Key": "anna-1"})
    assert again.json()["message_id"] == sent.json()["message_id"] and again.json()["created"] is False
    message_id = sent.json()["message_id"]
    wait_for_status(olga, message_id, "sent")

    message = wait_captured(cli, demo, "anna.ivanova@example.com")
    assert message["Subject"] == "Анна, ждём вас в магазине «Ромашка на Тверской»"
    assert message["From"].addresses[0].addr_spec == "olga@shop.example.com"
    assert message["From"].addresses[0].display_name == "Ольга Смирнова"
    assert str(message["To"]) == "Анна Иванова <anna.ivanova@example.com>"
    html = html_of(message)
    assert hidden("На вашем счёте 350 бонусов", html)
    assert "Ваш менеджер — Ольга Смирнова" in html
    assert len(captured(cli, demo, "anna.ivanova@example.com")) == 1, "the repeated key sent it twice"

    [item] = olga.get(f"/api/customers/{anna['id']}/emails").json()["items"]
    assert item["id"] == message_id and item["status"] == "sent"
    assert item["from_kind"] == "manager" and item["template_id"] == template["id"]
    [attempt] = item["attempts"]
    assert attempt["outcome"] == "sent" and attempt["smtp_code"] == 250


def test_the_unconfirmed_demo_manager_is_refused_then_confirms_by_code_and_sends(
    cli: Cli, demo: RunningMailcard
) -> None:
    wang = demo.client(token_for(cli, demo, "wang"))
    me = wang.get("/api/me").json()
    assert me["sender_confirmed"] is False
    fang = find_customer(wang, "王芳")
    body = {
        "from": "manager",
        "subject": "{{ customer.firstName }}，您的订单已发货",
        "preheader": "{{ store.name }}：预计明天送达",
        "html": "<p>{{ customer.firstName }}，您好！您的客户经理 {{ manager.name }}</p>",
    }

    refused = wang.post(f"/api/customers/{fang['id']}/emails", json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "sender_not_verified"
    assert refused.json()["message"] == NOT_VERIFIED
    confirm = refused.json()["confirm"]
    assert confirm["body"] == {"kind": "user", "id": me["id"]}

    started = wang.post(confirm["path"], json=confirm["body"])
    assert started.status_code == 202, started.text
    code = confirmation_code(wait_captured(cli, demo, "wang@shop.example.com"))
    done = wang.post("/api/senders/confirmations/code", json={**confirm["body"], "code": code})
    assert done.status_code == 200 and done.json()["confirmed"] is True, done.text

    sent = wang.post(f"/api/customers/{fang['id']}/emails", json=body, headers={"Idempotency-Key": "fang-1"})
    assert sent.status_code == 202, sent.text
    wait_for_status(wang, sent.json()["message_id"], "sent")
    message = wait_captured(cli, demo, "wang.fang@example.net")
    assert message["Subject"] == "王芳，您的订单已发货"
    assert message["From"].addresses[0].addr_spec == "wang@shop.example.com"
    assert str(message["To"]) == "王芳 <wang.fang@example.net>"
    assert hidden("罗马什卡上海店：预计明天送达", html_of(message))
    [item] = wang.get(f"/api/customers/{fang['id']}/emails").json()["items"]
    assert item["status"] == "sent" and item["attempts"][0]["smtp_code"] == 250


def test_a_second_start_keeps_the_demo_data_as_it_is(
    cli: Cli, mailcard_env: dict[str, str], tmp_path: Path
) -> None:
    env = mailcard_env | {"MAILCARD_DEMO_DATA": "true"}
    for _ in range(2):
        with mailcard_run(env, tmp_path / "run.log") as server:
            users = cli("user", "list", "--json", env=server.env).json
            assert [u["login"] for u in users["users"]] == ["admin", "olga", "wang"]
            admin = server.client(token_for(cli, server, "admin"))
            assert admin.get("/api/customers").json()["total"] == 6
    refused = cli("demo", "load", "--json", env=env)
    assert refused.code == 1 and refused.json["error"]["code"] == "database_not_empty"


# -- a real Postfix + Dovecot --------------------------------------------------------------------------


def submission_url(postfix: PostfixServer) -> str:
    user = postfix.sender
    password = quote(postfix.users[user], safe="")
    return f"smtp+starttls://{quote(user, safe='')}:{password}@{postfix.host}:{postfix.submission_port}"


def add_user(env: dict[str, str], login: str, email_address: str, role: str) -> CliResult:
    done = subprocess.run(
        [MAILCARD, "user", "add", login, "--name", login.title(), "--email", email_address,
         "--role", role, "--password-stdin", "--json"],
        env=env, input="a long pass phrase\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return CliResult(done.returncode, done.stdout, done.stderr)


def postfix_code(postfix: PostfixServer, address: str, count: int) -> str:
    """The code of the newest confirmation e-mail Postfix delivered to ``address``."""
    raw = postfix.wait_for_messages(address, count, timeout=DELIVERY_SECONDS)[-1]
    return confirmation_code(email.message_from_bytes(raw, policy=email.policy.default))


def confirm(client: httpx.Client, kind: str, sender_id: int, read_code: Callable[[], str]) -> None:
    started = client.post("/api/senders/confirmations", json={"kind": kind, "id": sender_id})
    assert started.status_code == 202, started.text
    done = client.post(
        "/api/senders/confirmations/code", json={"kind": kind, "id": sender_id, "code": read_code()}
    )
    assert done.status_code == 200, done.text


@pytest.mark.postfix
def test_card_sends_through_real_postfix_with_its_250_and_a_refused_from_ends_as_sender_rejected(
    cli: Cli, postfix: PostfixServer, mailcard_env: dict[str, str], tmp_path: Path
) -> None:
    env = mailcard_env | {
        "MAILCARD_SMTP_URL": submission_url(postfix),
        "MAILCARD_SMTP_CA_FILE": str(postfix.ca_file),
        # Confirmation e-mail goes out through the same account, so it must come from its login too.
        "MAILCARD_SYSTEM_SENDER": postfix.sender,
        "MAILCARD_WORKER_POLL_SECONDS": "0.1",
    }
    add_user(env, "admin", f"admin@{postfix.local_domain}", "admin")
    manager_id = add_user(env, "petr", postfix.sender, "manager").json["user"]["id"]
    with mailcard_run(env, tmp_path / "run.log") as server:
        admin = server.client(token_for(cli, server, "admin"))
        petr = server.client(token_for(cli, server, "petr"))
        to = postfix.fresh_address("anna")
        made = admin.post(
            "/api/customers",
            json={"email": to, "first_name": "Анна", "last_name": "Петрова", "manager_id": manager_id},
        )
        assert made.status_code == 201, made.text
        customer_id = made.json()["id"]
        body = {
            "from": "manager",
            "subject": "{{ customer.firstName }}, заказ №1042 готов",
            "preheader": "Заберите сегодня до 20:00",
            "text": "Здравствуйте, {{ customer.firstName }}!\nВаш менеджер — {{ manager.name }}.",
        }
        refused = petr.post(f"/api/customers/{customer_id}/emails", json=body)
        assert refused.status_code == 403 and refused.json()["code"] == "sender_not_verified"

        already = len(postfix.messages(postfix.sender))
        confirm(petr, "user", manager_id, lambda: postfix_code(postfix, postfix.sender, already + 1))
        sent = petr.post(
            f"/api/customers/{customer_id}/emails", json=body, headers={"Idempotency-Key": "1042"}
        )
        assert sent.status_code == 202, sent.text
        wait_for_status(petr, sent.json()["message_id"], "sent")
        [raw] = postfix.wait_for_messages(to, 1, timeout=DELIVERY_SECONDS)
        delivered = email.message_from_bytes(raw, policy=email.policy.default)
        assert delivered["Subject"] == "Анна, заказ №1042 готов"
        assert delivered["From"].addresses[0].addr_spec == postfix.sender
        assert delivered["To"].addresses[0].addr_spec == to
        [item] = petr.get(f"/api/customers/{customer_id}/emails").json()["items"]
        assert item["status"] == "sent"
        [attempt] = item["attempts"]
        assert attempt["outcome"] == "sent" and attempt["smtp_code"] == 250
        assert "queued as" in (attempt["server_text"] or ""), attempt

        # A From the user owns (confirmed by code) but the SMTP login may not use: Postfix says 553.
        other = postfix.fresh_address("shop")
        address = admin.post("/api/sender-addresses", json={"email": other, "all_users": True})
        assert address.status_code == 201, address.text
        address_id = address.json()["id"]
        confirm(admin, "address", address_id, lambda: postfix_code(postfix, other, 1))
        rejected = petr.post(
            f"/api/customers/{customer_id}/emails",
            json=body | {"from": "address", "from_address_id": address_id},
        )
        assert rejected.status_code == 202, rejected.text
        wait_for_status(petr, rejected.json()["message_id"], "failed")
        latest = petr.get(f"/api/customers/{customer_id}/emails").json()["items"][0]
        assert latest["id"] == rejected.json()["message_id"]
        assert latest["status"] == "failed" and latest["reason"] == "sender_rejected", latest
        assert latest["from_kind"] == "address"
        [attempt] = latest["attempts"]
        assert attempt["smtp_code"] == 553 and attempt["reason"] == "sender_rejected", attempt
