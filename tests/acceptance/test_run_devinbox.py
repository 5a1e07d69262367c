"""What `make run` gives a newcomer: the API, a worker and the dev inbox; mail is captured locally."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.acceptance.conftest import Cli
from tests.support.browser import ScriptWatch
from tests.support.live_server import mailcard_run
from tests.support.postfix_tools import wait_for


@pytest.fixture
def running(mailcard_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with mailcard_run(mailcard_env, tmp_path / "run.log") as server:
        yield server.port, server.env


def test_send_with_no_smtp_configured_lands_in_the_dev_inbox(
    cli: Cli, running: tuple[int, dict[str, str]]
) -> None:
    api_port, env = running
    assert httpx.get(f"http://127.0.0.1:{api_port}/openapi.json").json()["info"]["title"] == "mailcard"
    ready = httpx.get(f"http://127.0.0.1:{api_port}/readyz").json()
    assert ready["status"] == "ok" and "never delivered" in ready["devinbox"]
    sent = cli(
        "send", "--to", "王芳 <wang.fang@example.cn>, anna@example.ru", "--from", "客服团队 <support@company.com>",
        "--subject", "您的订单已发货", "--text", "您好，王芳！您的订单已发货。", "--json", env=env,
    )  # fmt: skip
    assert sent.code == 0, sent.stdout + sent.stderr
    assert sent.json["status"] == "sent"
    listed = cli("inbox", "list", "--json", env=env).json["messages"]
    assert len(listed) == 1
    [captured] = listed
    assert captured["subject"] == "您的订单已发货"
    assert sorted(captured["recipients"]) == ["anna@example.ru", "wang.fang@example.cn"]
    assert captured["sender"] == "support@company.com"
    assert "客服团队" in captured["from"]
    shown = cli("inbox", "show", captured["id"], "--raw", env=env)
    assert sent.json["message_id"] in shown.stdout


def test_queued_message_is_delivered_by_the_servers_worker(
    cli: Cli, running: tuple[int, dict[str, str]], chromium: ScriptWatch
) -> None:
    _, env = running
    queued = cli(
        "send", "--to", "ivan@example.ru", "--from", "shop@example.com", "--subject", "Привет",
        "--html", "<p>Здравствуйте, <b>Иван</b>! <a href='https://example.com/orders/7'>Заказ</a></p>",
        "--no-wait", "--json", env=env,
    )  # fmt: skip
    assert queued.code == 0 and queued.json["status"] == "queued"
    wait_for(
        lambda: cli("outbox", "show", queued.json["id"], "--json", env=env).json["status"] == "sent",
        20,
        "the worker to deliver",
        interval=0.2,
    )
    [captured] = cli("inbox", "list", "--json", env=env).json["messages"]
    raw = cli("inbox", "show", captured["id"], "--raw", env=env).stdout
    assert "multipart/alternative" in raw and "text/plain" in raw and "text/html" in raw
    # The captured HTML, as a document to open in a browser: it shows the message and runs no script.
    document = cli("inbox", "show", captured["id"], "--preview", env=env).stdout
    assert document.startswith('<meta http-equiv="Content-Security-Policy"')
    assert chromium.load(document) == []
    assert chromium.text().startswith("Здравствуйте, Иван! Заказ")
    assert chromium.load(document, click=True) == []
