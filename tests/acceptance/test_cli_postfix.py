"""`mailcard send` and `mailcard smtp test` through the real CLI against real Postfix + Dovecot.

No server or worker runs: the CLI stores the message in the outbox and delivers it itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from tests.acceptance.conftest import Cli

if TYPE_CHECKING:
    from tests.support.postfix import PostfixServer


def submission_url(postfix: PostfixServer, user: str | None = None, password: str | None = None) -> str:
    user = user or postfix.sender
    password = password if password is not None else postfix.users[user]
    return f"smtp+starttls://{quote(user, safe='')}:{quote(password, safe='')}@{postfix.host}:{postfix.submission_port}"


def test_send_delivers_into_the_real_mailbox(cli: Cli, postfix: PostfixServer) -> None:
    to = postfix.fresh_address("anna")
    result = cli(
        "send", "--to", f"Анна Петрова <{to}>", "--from", f"Магазин «Ромашка» <{postfix.sender}>",
        "--subject", "Ваш заказ №1042 готов", "--text", "Здравствуйте, Анна!\nЗаказ можно забрать сегодня.",
        "--smtp", submission_url(postfix), "--ca-file", str(postfix.ca_file), "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    data = result.json
    assert data["status"] == "sent" and data["reason"] is None and data["message_id"].startswith("<")
    [raw] = postfix.wait_for_messages(to, 1)
    assert data["message_id"].encode() in raw
    assert b"Subject: =?utf-8?" in raw


def test_send_greets_with_the_urls_local_hostname(cli: Cli, postfix: PostfixServer) -> None:
    # The EHLO name is part of the account the URL becomes, so the delivery uses it (Postfix
    # records it in the Received header it adds).
    to = postfix.fresh_address("helo")
    result = cli(
        "send", "--to", to, "--from", postfix.sender, "--subject", "helo", "--text", "x",
        "--smtp", submission_url(postfix) + "?local_hostname=shop-mailer.example.com",
        "--ca-file", str(postfix.ca_file), "--json",
    )  # fmt: skip
    assert result.code == 0 and result.json["status"] == "sent", result.stdout + result.stderr
    [raw] = postfix.wait_for_messages(to, 1)
    assert b"Received: from shop-mailer.example.com" in raw


def test_idempotency_key_sends_once(cli: Cli, postfix: PostfixServer) -> None:
    to = postfix.fresh_address("once")
    args = (
        "send", "--to", to, "--from", postfix.sender, "--subject", "Once", "--text", "only once",
        "--smtp", submission_url(postfix), "--ca-file", str(postfix.ca_file), "--idempotency-key", f"key-{to}", "--json",
    )  # fmt: skip
    first, second = cli(*args), cli(*args)
    assert first.code == second.code == 0
    assert first.json["id"] == second.json["id"] and second.json["status"] == "sent"
    # The same key for a different e-mail is refused: usage error, nothing queued or sent.
    changed = list(args)
    changed[changed.index("only once")] = "a different text"
    refused = cli(*changed)
    assert refused.code == 2, refused.stdout + refused.stderr
    error = refused.json["error"]
    assert error["code"] == "idempotency_key_reused" and error["message_id"] == first.json["id"]
    assert len(postfix.wait_for_messages(to, 1)) == 1
    shown = cli("outbox", "show", first.json["id"], "--json")
    assert len(shown.json["attempts"]) == 1
    assert cli("outbox", "list", "--json").json["messages"][0]["id"] == first.json["id"]


def test_wrong_password_fails_with_auth_failed_and_the_servers_evidence(
    cli: Cli, postfix: PostfixServer
) -> None:
    result = cli(
        "send", "--to", postfix.fresh_address(), "--from", postfix.sender, "--subject", "x", "--text", "x",
        "--smtp", submission_url(postfix, password="wrong password"), "--ca-file", str(postfix.ca_file), "--json",
    )  # fmt: skip
    assert result.code == 1
    data = result.json
    assert data["status"] == "failed" and data["reason"] == "auth_failed" and data["smtp_code"] == 535
    assert "password" not in result.stdout.lower() or "wrong password" not in result.stdout


def test_temporary_refusal_leaves_the_message_queued_for_retry(cli: Cli, postfix: PostfixServer) -> None:
    result = cli(
        "send", "--to", postfix.defer_address, "--from", postfix.sender, "--subject", "x", "--text", "x",
        "--smtp", submission_url(postfix), "--ca-file", str(postfix.ca_file), "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert result.json["status"] == "queued" and result.json["smtp_code"] == 450
    listed = cli("outbox", "list", "--status", "retry", "--json").json["messages"]
    assert [m["id"] for m in listed] == [result.json["id"]]


def test_sender_not_allowed_for_the_login_is_sender_rejected(cli: Cli, postfix: PostfixServer) -> None:
    result = cli(
        "send", "--to", postfix.fresh_address(), "--from", f"someone-else@{postfix.local_domain}",
        "--subject", "x", "--text", "x",
        "--smtp", submission_url(postfix), "--ca-file", str(postfix.ca_file), "--json",
    )  # fmt: skip
    assert result.code == 1
    assert result.json["reason"] == "sender_rejected" and result.json["smtp_code"] == 553


def test_smtp_test_contract_ok_and_nothing_is_sent(cli: Cli, postfix: PostfixServer) -> None:
    to = postfix.fresh_address("probe")
    result = cli(
        "smtp", "test", "--smtp", submission_url(postfix), "--ca-file", str(postfix.ca_file),
        "--from", postfix.sender, "--to", to, "--json",
    )  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    data = result.json
    assert set(data) == {"ok", "reason", "transient", "smtp_code", "enhanced_code", "message", "hint"}
    assert data["ok"] is True and data["reason"] is None
    assert postfix.messages(to) == []


def test_smtp_test_names_a_465_587_mix_up(cli: Cli, postfix: PostfixServer) -> None:
    user, password = quote(postfix.sender), quote(postfix.users[postfix.sender])
    wrong = f"smtp+starttls://{user}:{password}@{postfix.host}:{postfix.smtps_port}"
    result = cli("smtp", "test", "--smtp", wrong, "--ca-file", str(postfix.ca_file), "--json", timeout=90)
    assert result.code == 1
    assert result.json["reason"] == "tls_mismatch"
    assert "465" in (result.json["hint"] or "") or "implicit" in (result.json["hint"] or "").lower()


def test_smtp_test_wrong_password(cli: Cli, postfix: PostfixServer) -> None:
    result = cli(
        "smtp",
        "test",
        "--smtp",
        submission_url(postfix, password="nope"),
        "--ca-file",
        str(postfix.ca_file),
        "--json",
    )
    assert result.code == 1
    data = result.json
    assert data["ok"] is False and data["reason"] == "auth_failed" and data["transient"] is False
    assert data["smtp_code"] == 535


def test_saved_account_is_used_by_name_and_its_password_never_shown(cli: Cli, postfix: PostfixServer) -> None:
    password = postfix.users[postfix.sender]
    saved = cli("smtp", "add", "shop", submission_url(postfix), "--default", "--json")
    assert saved.code == 0, saved.stderr
    assert password not in saved.stdout
    listed = cli("smtp", "list", "--json")
    assert password not in listed.stdout and listed.json["accounts"][0]["has_password"] is True
    to = postfix.fresh_address("saved")
    env = {"MAILCARD_SMTP_CA_FILE": str(postfix.ca_file)}
    result = cli(
        "send",
        "--to",
        to,
        "--from",
        postfix.sender,
        "--subject",
        "by name",
        "--text",
        "x",
        "--smtp",
        "shop",
        "--json",
        env=env,
    )
    assert result.code == 0, result.stdout + result.stderr
    assert len(postfix.wait_for_messages(to, 1)) == 1
