"""The real ``mailcard`` command: flow validate/activate, event send without a server (Postfix), and
``mailcard run`` taking events over HTTP into the dev inbox."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from tests.acceptance.conftest import Cli
from tests.flows.conftest import EXAMPLES
from tests.support.live_server import mailcard_run
from tests.support.postfix_tools import wait_for

from mailcard.bootstrap import build
from mailcard.identity import NewUser, Role
from mailcard.settings import Settings

if TYPE_CHECKING:
    from tests.support.postfix import PostfixServer


def test_validate_prints_every_finding_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    broken = yaml.safe_load((EXAMPLES / "order-follow-up.yaml").read_text("utf-8"))
    broken["blocks"][2]["subject"] = "{{ customer.frstName }}"
    broken["blocks"][2]["text"] = "<script>x</script> https://bit.ly/abc"
    broken["blocks"][2]["html"] = "<p>hi</p><iframe src='https://evil.example'></iframe>"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), "utf-8")
    result = cli("flow", "validate", str(path), "--json")
    assert result.code == 1, result.stderr
    found = {(f["code"], f["block_id"], f["severity"]) for f in result.json["findings"]}
    assert ("unresolved_variable", "follow_up", "error") in found
    assert ("shortened_link", "follow_up", "warning") in found
    assert any(code.startswith("unsafe_") and block == "follow_up" for code, block, _ in found)
    refused = cli("flow", "activate", str(path), "--json")
    assert refused.code == 1 and refused.json["error"]["code"] == "flow_invalid"
    assert cli("flow", "validate", str(tmp_path / "missing.yaml"), "--json").code == 2


@pytest.mark.postfix
def test_event_send_with_no_server_running_delivers_through_the_flow(
    cli: Cli, postfix: PostfixServer, tmp_path: Path
) -> None:
    flow = yaml.safe_load((EXAMPLES / "retry-then-notify.yaml").read_text("utf-8"))
    receipt = flow["blocks"][0]
    receipt["from"] = f"Shop <{postfix.sender}>"
    receipt["smtp"] = {
        "host": postfix.host,
        "port": postfix.submission_port,
        "username": postfix.sender,
        "password": postfix.users[postfix.sender],
    }
    path = tmp_path / "receipt.yaml"
    path.write_text(yaml.safe_dump(flow, allow_unicode=True), "utf-8")
    env = {"MAILCARD_SMTP_CA_FILE": str(postfix.ca_file)}
    assert cli("flow", "activate", str(path), "--json", env=env).code == 0
    to = postfix.fresh_address("anna")
    data = {"order": {"number": "1042A", "totalSumm": 2599, "currency": "RUB"}}
    sent = cli(
        "event", "send", "order.paid", "--customer", json.dumps({"email": to, "firstName": "Анна", "lastName": "Петрова"}),
        "--data", json.dumps(data), "--id", "pay-1042A", "--json", env=env,
    )  # fmt: skip
    assert sent.code == 0, sent.stdout + sent.stderr
    [run] = sent.json["runs"]
    assert run["status"] == "completed" and run["email"]["status"] == "sent"
    assert run["trace"][0]["input"]["to"] == f"Анна Петрова <{to}>"
    [raw] = postfix.wait_for_messages(to, 1)
    received = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(received, EmailMessage)
    body = received.get_body(("plain",))
    text = body.get_content().replace("\r\n", "\n") if body is not None else ""  # base64 keeps CRLF
    assert "Hello Анна,\nwe received 2,599.00 RUB for order 1042A." in text
    again = cli("event", "send", "order.paid", "--customer", json.dumps({"email": to}), "--data", json.dumps(data),
                "--id", "pay-1042A", "--json", env=env)  # fmt: skip
    assert again.json["duplicate"] is True and [r["id"] for r in again.json["runs"]] == [run["id"]]
    shown = cli("flow", "run", "show", run["id"], "--json", env=env).json
    assert shown["trace"][0]["edge"] == "success"
    assert cli("flow", "runs", "--flow", "retry-then-notify", "--json", env=env).json["total"] == 1
    assert len(postfix.messages(to)) == 1


@pytest.fixture
def running(mailcard_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with mailcard_run(mailcard_env, tmp_path / "run.log") as server:
        yield server.port, server.env


def test_mailcard_run_takes_events_over_http_into_the_dev_inbox(
    cli: Cli, running: tuple[int, dict[str, str]]
) -> None:
    api_port, env = running
    container = build(Settings(data_dir=Path(env["MAILCARD_DATA_DIR"])))
    try:
        admin = container.users.create(
            NewUser(login="shop", name="Shop", email="shop@example.com", role=Role.ADMIN)
        )
        token, _ = container.credentials.create_token(admin.id, "integration")
    finally:
        container.dispose()
    assert (
        cli("flow", "activate", str(EXAMPLES / "appointment-confirmation.yaml"), "--json", env=env).code == 0
    )
    event: dict[str, Any] = {
        "id": "booking-77",
        "type": "appointment.booked",
        "customer": {"email": "wang.fang@example.cn", "firstName": "芳", "lastName": "王", "locale": "zh-CN"},
        "data": {
            "appointment": {"date": "2026-11-25", "time": "14:30", "service": "咨询", "location": "上海"}
        },
    }
    answer = httpx.post(
        f"http://127.0.0.1:{api_port}/api/events", json=event, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 202, answer.text
    [run] = answer.json()["runs"]

    def captured() -> list[dict[str, Any]]:
        return list(cli("inbox", "list", "--json", env=env).json["messages"])

    wait_for(captured, 20, "the flow's e-mail in the dev inbox", interval=0.2)
    [message] = captured()
    assert message["subject"] == "预约确认：2026年11月25日 14:30" and message["recipients"] == [
        "wang.fang@example.cn"
    ]
    wait_for(
        lambda: cli("flow", "run", "show", run["id"], "--json", env=env).json["status"] == "completed",
        20,
        "the run to complete",
        interval=0.2,
    )
    trace = cli("flow", "run", "show", run["id"], "--json", env=env).json["trace"]
    assert [(s["block_id"], s["edge"]) for s in trace] == [
        ("language", "true"),
        ("confirm_zh", "success"),
        ("done", None),
    ]
