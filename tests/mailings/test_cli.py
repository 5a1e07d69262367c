"""``mailcard mailing`` through the real CLI against the real Postfix + Dovecot, with no server or
worker running: the command composes and delivers the mailing itself, and ``--json`` tells scripts
how it went."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.acceptance.conftest import Cli
from tests.acceptance.test_cli_postfix import submission_url

if TYPE_CHECKING:
    from tests.support.postfix import PostfixServer

pytestmark = pytest.mark.postfix


def test_a_mailing_from_the_shell_reaches_each_mailbox_and_reports_a_refusal(
    cli: Cli, postfix: PostfixServer, tmp_path: Path
) -> None:
    people = [("Анна", postfix.fresh_address("anna")), ("王芳", postfix.fresh_address("wang"))]
    lines = [
        json.dumps({"to": f"{name} <{to}>", "context": {"name": name, "n": n}})
        for n, (name, to) in enumerate(people)
    ]
    # Its data makes this one's body carry a frame (printed raw): refused alone, the others sent.
    blocked_to = postfix.fresh_address("frame")
    lines.append(
        json.dumps(
            {
                "to": blocked_to,
                "context": {"name": "X", "n": 9, "extra": "<iframe src='https://x.example'></iframe>"},
            }
        )
    )
    (tmp_path / "people.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "body.html").write_text(
        "<p>Здравствуйте, {{ name }}! Ваш номер: {{ n }}.</p>{{ extra|default('')|raw }}", encoding="utf-8"
    )
    result = cli(
        "mailing", "create", "--name", "Номера", "--from", f"客服团队 <{postfix.sender}>",
        "--subject", "{{ name }}, ваш номер {{ n }}", "--html-file", str(tmp_path / "body.html"),
        "--recipients", str(tmp_path / "people.jsonl"),
        "--smtp", submission_url(postfix), "--ca-file", str(postfix.ca_file), "--json",
    )  # fmt: skip
    assert result.code == 1, result.stdout + result.stderr  # a recipient was refused
    progress = result.json["progress"]
    assert progress == {
        "status": "finished",
        "recipients": 3,
        "composed": 3,
        "refused": 1,
        "messages": {"sent": 2},
    }
    for n, (name, to) in enumerate(people):
        [raw] = postfix.wait_for_messages(to, 1)
        assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == f"{name}, ваш номер {n}"
    assert postfix.messages(blocked_to) == []

    listed = cli("mailing", "recipients", result.json["id"], "--json")
    assert [r["status"] for r in listed.json["items"]] == ["sent", "sent", "refused"]
    assert listed.json["items"][2]["error"]["code"] == "content_blocked"
    shown = cli("mailing", "show", result.json["id"], "--json")
    assert shown.code == 0 and shown.json["progress"] == progress
    assert cli("mailing", "list", "--json").json["items"][0]["id"] == result.json["id"]


def test_a_stored_mailing_is_cancelled_from_the_shell(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "people.jsonl").write_text(
        '{"to": "a@example.com"}\n{"to": "b@example.com"}\n', encoding="utf-8"
    )
    (tmp_path / "t.txt").write_text("Привет", encoding="utf-8")
    stored = cli(
        "mailing", "create", "--name", "x", "--from", "shop@example.com", "--subject", "s",
        "--text-file", str(tmp_path / "t.txt"), "--recipients", str(tmp_path / "people.jsonl"), "--no-wait", "--json",
    )  # fmt: skip
    assert stored.code == 0 and stored.json["progress"]["status"] == "composing", (
        stored.stdout + stored.stderr
    )
    cancelled = cli("mailing", "cancel", stored.json["id"], "--json")
    assert cancelled.code == 0 and cancelled.json["progress"]["status"] == "cancelled"
    assert cli("mailing", "cancel", "0" * 32, "--json").json["error"]["code"] == "mailing_not_found"


def test_bad_recipient_lines_are_usage_errors_and_nothing_is_stored(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"to": "a@example.com"}\nnot json\n', encoding="utf-8")
    result = cli(
        "mailing", "create", "--name", "x", "--from", "shop@example.com", "--subject", "s",
        "--recipients", str(tmp_path / "bad.jsonl"), "--json",
    )  # fmt: skip
    assert result.code == 2 and "line 2" in result.json["error"]["message"]
    (tmp_path / "addr.jsonl").write_text('{"to": "a@example.com"}\n{"to": "nobody"}\n', encoding="utf-8")
    (tmp_path / "t.txt").write_text("Привет", encoding="utf-8")
    refused = cli(
        "mailing", "create", "--name", "x", "--from", "shop@example.com", "--subject", "s",
        "--text-file", str(tmp_path / "t.txt"), "--recipients", str(tmp_path / "addr.jsonl"), "--json",
    )  # fmt: skip
    assert refused.code == 2, refused.stdout + refused.stderr
    error = refused.json["error"]
    assert error["code"] == "invalid_recipients" and error["recipients"][0]["index"] == 1
    assert cli("mailing", "list", "--json").json["total"] == 0
